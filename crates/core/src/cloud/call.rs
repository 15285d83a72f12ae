//! The one typed operation set of the Cloud SDK. Every `cloud.*` call —
//! from a local worker's pipe, from the Dify bridge, from the napi classes —
//! is decoded here into an [`Op`] (the wire name plus Extended-JSON
//! arguments, checked field by field), then applied by [`crate::cloud::Cloud::apply`].
//! Adding a collection method is one variant here, its arm in
//! `database.rs`, and its line in `sandbox/sdk.js`; the test
//! `prelude_and_core_name_the_same_operations` fails when the lists differ.
//!
//! The walls of a Cloud (see [`Op::check`]) are enforced here too, so no
//! transport can skip them.

use std::time::Duration;

use mongodb::bson::{Bson, Document};
use mongodb::options::UpdateModifications;
use serde_json::{Map, Value};

use super::ejson::to_document;
use crate::config::CloudConfig;
use crate::egress::EgressRequest;
use crate::error::{Error, Result};

/// The database methods, by their Node-driver names (wire: `db.<name>`).
pub const DB_METHODS: &[&str] = &[
    "find",
    "findOne",
    "insertOne",
    "insertMany",
    "updateOne",
    "updateMany",
    "replaceOne",
    "deleteOne",
    "deleteMany",
    "bulkWrite",
    "countDocuments",
    "aggregate",
    "distinct",
    "findOneAndUpdate",
    "findOneAndDelete",
    "findOneAndReplace",
    "createIndex",
    "indexes",
    "dropIndex",
    "drop",
];

/// The storage methods (wire: `storage.<name>`).
pub const STORAGE_METHODS: &[&str] = &[
    "writeFile",
    "readFile",
    "deleteFile",
    "listFiles",
    "getUploadUrl",
    "getDownloadUrl",
];

/// The other operations of `cloud.*` (`fetch`, a function's own HTTP, is
/// an operation too, but of the worker's `fetch` global, not of `cloud`).
pub const OTHER_OPS: &[&str] = &["invoke"];

/// Every wire name, as `db.find`, `storage.readFile`, `invoke`.
pub fn op_names() -> Vec<String> {
    DB_METHODS
        .iter()
        .map(|m| format!("db.{m}"))
        .chain(STORAGE_METHODS.iter().map(|m| format!("storage.{m}")))
        .chain(OTHER_OPS.iter().map(|m| m.to_string()))
        .collect()
}

/// Who sends an operation: host code (the napi classes) or a function.
/// Functions may not write the function store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Host,
    Function,
}

/// One `cloud.*` operation with typed arguments.
#[derive(Debug, Clone)]
// Built once per call and moved, never stored in bulk: boxing buys nothing.
#[allow(clippy::large_enum_variant)]
pub enum Op {
    Db {
        collection: String,
        call: DbCall,
    },
    Storage {
        bucket: Option<String>,
        call: StorageCall,
    },
    /// Served by the invocation scope (it needs the engine).
    Invoke {
        name: String,
        data: Value,
    },
    /// A function's own `fetch`, sent over the worker pipe; served by the
    /// invocation scope under `crate::egress`'s policy.
    Fetch(EgressRequest),
}

#[derive(Debug, Clone, Default)]
pub struct FindOptions {
    pub sort: Option<Document>,
    pub limit: Option<i64>,
    pub skip: Option<u64>,
    pub projection: Option<Document>,
}

#[derive(Debug, Clone)]
pub enum DbCall {
    Find {
        filter: Document,
        options: FindOptions,
    },
    FindOne {
        filter: Document,
        options: FindOptions,
    },
    InsertOne {
        doc: Document,
    },
    InsertMany {
        docs: Vec<Document>,
        /// false: insert every document it can, as the driver's
        /// `{ ordered: false }` does (the default stops at the first failure).
        ordered: Option<bool>,
    },
    UpdateOne {
        filter: Document,
        update: UpdateModifications,
        upsert: Option<bool>,
        array_filters: Option<Vec<Document>>,
    },
    UpdateMany {
        filter: Document,
        update: UpdateModifications,
        upsert: Option<bool>,
        array_filters: Option<Vec<Document>>,
    },
    ReplaceOne {
        filter: Document,
        replacement: Document,
        upsert: Option<bool>,
    },
    DeleteOne {
        filter: Document,
    },
    DeleteMany {
        filter: Document,
    },
    /// The Node driver's `bulkWrite`: its operations one after another on
    /// this collection, in one call from the function (not a transaction).
    /// `ordered` (the default) stops at the first failure.
    BulkWrite {
        ops: Vec<DbCall>,
        ordered: bool,
    },
    CountDocuments {
        filter: Document,
        limit: Option<u64>,
        skip: Option<u64>,
    },
    Aggregate {
        pipeline: Vec<Document>,
    },
    Distinct {
        field: String,
        filter: Document,
    },
    FindOneAndUpdate {
        filter: Document,
        update: UpdateModifications,
        return_after: bool,
        upsert: Option<bool>,
        projection: Option<Document>,
        sort: Option<Document>,
    },
    FindOneAndDelete {
        filter: Document,
        projection: Option<Document>,
        sort: Option<Document>,
    },
    FindOneAndReplace {
        filter: Document,
        replacement: Document,
        return_after: bool,
        upsert: Option<bool>,
        projection: Option<Document>,
        sort: Option<Document>,
    },
    /// The collection's indexes, as `listIndexes` gives them.
    Indexes,
    DropIndex {
        name: String,
    },
    /// The collection and its indexes.
    Drop,
    CreateIndex {
        keys: Document,
        unique: Option<bool>,
        name: Option<String>,
        sparse: Option<bool>,
        expire_after: Option<Duration>,
    },
}

impl DbCall {
    /// The Node-driver name of the method.
    pub fn method(&self) -> &'static str {
        match self {
            DbCall::Find { .. } => "find",
            DbCall::FindOne { .. } => "findOne",
            DbCall::InsertOne { .. } => "insertOne",
            DbCall::InsertMany { .. } => "insertMany",
            DbCall::UpdateOne { .. } => "updateOne",
            DbCall::UpdateMany { .. } => "updateMany",
            DbCall::ReplaceOne { .. } => "replaceOne",
            DbCall::DeleteOne { .. } => "deleteOne",
            DbCall::DeleteMany { .. } => "deleteMany",
            DbCall::BulkWrite { .. } => "bulkWrite",
            DbCall::CountDocuments { .. } => "countDocuments",
            DbCall::Aggregate { .. } => "aggregate",
            DbCall::Distinct { .. } => "distinct",
            DbCall::FindOneAndUpdate { .. } => "findOneAndUpdate",
            DbCall::FindOneAndDelete { .. } => "findOneAndDelete",
            DbCall::FindOneAndReplace { .. } => "findOneAndReplace",
            DbCall::CreateIndex { .. } => "createIndex",
            DbCall::Indexes => "indexes",
            DbCall::DropIndex { .. } => "dropIndex",
            DbCall::Drop => "drop",
        }
    }

    /// Whether the call changes the collection it names.
    fn writes(&self) -> bool {
        !matches!(
            self,
            DbCall::Find { .. }
                | DbCall::FindOne { .. }
                | DbCall::CountDocuments { .. }
                | DbCall::Aggregate { .. }
                | DbCall::Distinct { .. }
                | DbCall::Indexes
        )
    }

    /// The documents of the call that MongoDB reads as operators (filters,
    /// updates, projections, pipelines), not as data.
    fn operator_docs(&self) -> Vec<&Document> {
        let mut docs: Vec<&Document> = Vec::new();
        match self {
            DbCall::Find { filter, options } | DbCall::FindOne { filter, options } => {
                docs.push(filter);
                docs.extend(options.projection.as_ref());
            }
            DbCall::UpdateOne {
                filter,
                update: u,
                array_filters,
                ..
            } => {
                docs.push(filter);
                docs.extend(update_docs(u));
                docs.extend(array_filters.iter().flatten());
            }
            DbCall::UpdateMany {
                filter, update: u, ..
            } => {
                docs.push(filter);
                docs.extend(update_docs(u));
            }
            DbCall::FindOneAndUpdate {
                filter,
                update: u,
                projection,
                ..
            } => {
                docs.push(filter);
                docs.extend(update_docs(u));
                docs.extend(projection.as_ref());
            }
            DbCall::ReplaceOne { filter, .. }
            | DbCall::DeleteOne { filter }
            | DbCall::DeleteMany { filter }
            | DbCall::CountDocuments { filter, .. }
            | DbCall::Distinct { filter, .. } => docs.push(filter),
            DbCall::FindOneAndDelete {
                filter, projection, ..
            }
            | DbCall::FindOneAndReplace {
                filter, projection, ..
            } => {
                docs.push(filter);
                docs.extend(projection.as_ref());
            }
            DbCall::Aggregate { pipeline } => docs.extend(pipeline.iter()),
            DbCall::BulkWrite { ops, .. } => {
                for op in ops {
                    docs.extend(op.operator_docs());
                }
            }
            DbCall::InsertOne { .. }
            | DbCall::InsertMany { .. }
            | DbCall::CreateIndex { .. }
            | DbCall::Indexes
            | DbCall::DropIndex { .. }
            | DbCall::Drop => {}
        }
        docs
    }

    /// Decodes `method`'s Extended-JSON arguments (without `collection`).
    pub fn decode(method: &str, args: Document) -> Result<DbCall> {
        let mut a = Args {
            method: method.to_string(),
            fields: args,
        };
        Ok(match method {
            "find" | "findOne" => {
                let filter = a.doc_or_empty("filter")?;
                let o = a.options()?;
                let options = FindOptions {
                    sort: o.doc("sort")?,
                    limit: o.int("limit")?,
                    skip: o.int("skip")?.map(|n| n.max(0) as u64),
                    projection: o.doc("projection")?,
                };
                if method == "find" {
                    DbCall::Find { filter, options }
                } else {
                    DbCall::FindOne { filter, options }
                }
            }
            "insertOne" => DbCall::InsertOne { doc: a.doc("doc")? },
            "insertMany" => {
                let docs = a.docs("docs")?;
                if docs.is_empty() {
                    return Err(Error::invalid(
                        "insertMany: 'docs' must be a non-empty array",
                    ));
                }
                let ordered = a.options()?.bool("ordered")?;
                DbCall::InsertMany { docs, ordered }
            }
            "updateOne" | "updateMany" => {
                let filter = a.doc("filter")?;
                let update = a.update()?;
                let o = a.options()?;
                let (upsert, array_filters) = (o.bool("upsert")?, o.docs("arrayFilters")?);
                if method == "updateOne" {
                    DbCall::UpdateOne {
                        filter,
                        update,
                        upsert,
                        array_filters,
                    }
                } else {
                    DbCall::UpdateMany {
                        filter,
                        update,
                        upsert,
                        array_filters,
                    }
                }
            }
            "replaceOne" => {
                let filter = a.doc("filter")?;
                let replacement = a.replacement()?;
                DbCall::ReplaceOne {
                    filter,
                    replacement,
                    upsert: a.options()?.bool("upsert")?,
                }
            }
            "deleteOne" => DbCall::DeleteOne {
                filter: a.doc_or_empty("filter")?,
            },
            "deleteMany" => DbCall::DeleteMany {
                filter: a.doc_or_empty("filter")?,
            },
            "bulkWrite" => {
                let ops = match a.take("ops") {
                    Some(Bson::Array(ops)) => ops,
                    _ => {
                        return Err(Error::invalid(
                            "bulkWrite: 'ops' must be an array of operations",
                        ))
                    }
                };
                let ops = ops
                    .into_iter()
                    .enumerate()
                    .map(|(i, op)| bulk_op(i, op))
                    .collect::<Result<Vec<_>>>()?;
                let ordered = a.options()?.bool("ordered")?.unwrap_or(true);
                DbCall::BulkWrite { ops, ordered }
            }
            "countDocuments" => {
                let filter = a.doc_or_empty("filter")?;
                let o = a.options()?;
                DbCall::CountDocuments {
                    filter,
                    limit: o.int("limit")?.map(|n| n.max(0) as u64),
                    skip: o.int("skip")?.map(|n| n.max(0) as u64),
                }
            }
            "aggregate" => DbCall::Aggregate {
                pipeline: a.docs_or_empty("pipeline")?,
            },
            "distinct" => DbCall::Distinct {
                field: a.string("field")?,
                filter: a.doc_or_empty("filter")?,
            },
            "findOneAndUpdate" => {
                let filter = a.doc("filter")?;
                let update = a.update()?;
                let o = a.options()?;
                let return_after = o.return_after()?;
                DbCall::FindOneAndUpdate {
                    filter,
                    update,
                    return_after,
                    upsert: o.bool("upsert")?,
                    projection: o.doc("projection")?,
                    sort: o.doc("sort")?,
                }
            }
            "findOneAndReplace" => {
                let filter = a.doc("filter")?;
                let replacement = a.replacement()?;
                let o = a.options()?;
                DbCall::FindOneAndReplace {
                    filter,
                    replacement,
                    return_after: o.return_after()?,
                    upsert: o.bool("upsert")?,
                    projection: o.doc("projection")?,
                    sort: o.doc("sort")?,
                }
            }
            "findOneAndDelete" => {
                let filter = a.doc("filter")?;
                let o = a.options()?;
                DbCall::FindOneAndDelete {
                    filter,
                    projection: o.doc("projection")?,
                    sort: o.doc("sort")?,
                }
            }
            "createIndex" => {
                let keys = a.doc("keys")?;
                let o = a.options()?;
                DbCall::CreateIndex {
                    keys,
                    unique: o.bool("unique")?,
                    name: o.string("name")?,
                    sparse: o.bool("sparse")?,
                    expire_after: o
                        .int("expireAfterSeconds")?
                        .map(|s| Duration::from_secs(s.max(0) as u64)),
                }
            }
            "indexes" => DbCall::Indexes,
            "dropIndex" => DbCall::DropIndex {
                name: a.string("name")?,
            },
            "drop" => DbCall::Drop,
            other => {
                return Err(Error::invalid(format!(
                    "unknown database method {other:?}: expected one of {}",
                    DB_METHODS.join(", ")
                )))
            }
        })
    }
}

#[derive(Debug, Clone)]
pub enum StorageCall {
    WriteFile {
        key: String,
        data: Vec<u8>,
        content_type: Option<String>,
    },
    ReadFile {
        key: String,
    },
    DeleteFile {
        key: String,
    },
    ListFiles {
        prefix: Option<String>,
    },
    GetUploadUrl {
        key: String,
        expires_in: Option<u64>,
    },
    GetDownloadUrl {
        key: String,
        expires_in: Option<u64>,
    },
}

impl StorageCall {
    /// Decodes `method`'s arguments (without `bucket`).
    pub fn decode(method: &str, mut args: Document) -> Result<StorageCall> {
        if !STORAGE_METHODS.contains(&method) {
            return Err(Error::invalid(format!(
                "unknown storage method {method:?}: expected one of {}",
                STORAGE_METHODS.join(", ")
            )));
        }
        let mut take = |k: &str| args.remove(k).filter(|v| !is_null(v));
        let mut key = || match take("key") {
            Some(Bson::String(s)) => Ok(s),
            _ => Err(Error::invalid(format!("{method}: 'key' must be a string"))),
        };
        let key = if method == "listFiles" {
            String::new()
        } else {
            key()?
        };
        let expires = |v: Option<Bson>| -> Result<Option<u64>> {
            match v.map(|v| whole(&v)) {
                None => Ok(None),
                Some(Some(n)) if n >= 0 => Ok(Some(n as u64)),
                Some(_) => Err(Error::invalid(format!(
                    "{method}: 'expiresIn' must be a whole number of seconds"
                ))),
            }
        };
        Ok(match method {
            "writeFile" => {
                let bad = || Error::invalid("writeFile: 'data' must be a string or a Buffer");
                let data = match take("data") {
                    Some(Bson::String(s)) => s.into_bytes(),
                    Some(Bson::Binary(b)) => b.bytes,
                    _ => return Err(bad()),
                };
                let content_type = match take("contentType") {
                    None => None,
                    Some(Bson::String(s)) => Some(s),
                    Some(_) => {
                        return Err(Error::invalid("writeFile: 'contentType' must be a string"))
                    }
                };
                StorageCall::WriteFile {
                    key,
                    data,
                    content_type,
                }
            }
            "readFile" => StorageCall::ReadFile { key },
            "deleteFile" => StorageCall::DeleteFile { key },
            "listFiles" => StorageCall::ListFiles {
                prefix: match take("prefix") {
                    None => None,
                    Some(Bson::String(s)) => Some(s),
                    Some(_) => return Err(Error::invalid("listFiles: 'prefix' must be a string")),
                },
            },
            "getUploadUrl" => StorageCall::GetUploadUrl {
                key,
                expires_in: expires(take("expiresIn"))?,
            },
            "getDownloadUrl" => StorageCall::GetDownloadUrl {
                key,
                expires_in: expires(take("expiresIn"))?,
            },
            _ => return Err(Error::invalid(format!("{method}: not a storage method"))),
        })
    }

    /// The key the call names, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            StorageCall::WriteFile { key, .. }
            | StorageCall::ReadFile { key }
            | StorageCall::DeleteFile { key }
            | StorageCall::GetUploadUrl { key, .. }
            | StorageCall::GetDownloadUrl { key, .. } => Some(key),
            StorageCall::ListFiles { .. } => None,
        }
    }
}

impl Op {
    /// Decodes one wire operation: `db.<method>` with `{ collection, … }`,
    /// `storage.<method>` with `{ bucket?, key, … }` (Extended JSON), or
    /// `invoke` with `{ name, data }` (`data` is passed on as it came).
    pub fn decode(op: &str, args: Value) -> Result<Op> {
        let fields = match args {
            Value::Object(m) => m,
            Value::Null => Map::new(),
            _ => return Err(Error::invalid(format!("{op}: arguments must be an object"))),
        };
        if op == "fetch" {
            return EgressRequest::from_json(&Value::Object(fields)).map(Op::Fetch);
        }
        if op == "invoke" {
            let mut fields = fields;
            let name = match fields.remove("name") {
                Some(Value::String(s)) if !s.is_empty() => s,
                _ => {
                    return Err(Error::invalid(
                        "cloud.invoke: name must be a non-empty string",
                    ))
                }
            };
            let data = fields.remove("data").unwrap_or(Value::Null);
            return Ok(Op::Invoke { name, data });
        }
        Op::decode_doc(op, to_document(Value::Object(fields), op)?)
    }

    /// As [`Op::decode`], from arguments already in BSON (the napi edge).
    pub fn decode_doc(op: &str, mut fields: Document) -> Result<Op> {
        if let Some(method) = op.strip_prefix("db.") {
            let collection = match fields.remove("collection") {
                Some(Bson::String(s)) if !s.is_empty() => s,
                _ => {
                    return Err(Error::invalid(format!(
                        "{method}: 'collection' must be a non-empty string"
                    )))
                }
            };
            return Ok(Op::Db {
                collection,
                call: DbCall::decode(method, fields)?,
            });
        }
        if let Some(method) = op.strip_prefix("storage.") {
            let bucket = match fields.remove("bucket") {
                None | Some(Bson::Null) => None,
                Some(Bson::String(s)) => Some(s),
                Some(_) => {
                    return Err(Error::invalid(format!(
                        "{method}: 'bucket' must be a string"
                    )))
                }
            };
            return Ok(Op::Storage {
                bucket,
                call: StorageCall::decode(method, fields)?,
            });
        }
        Err(Error::invalid(format!(
            "unknown cloud operation {op:?}: expected db.<method>, storage.<method> or invoke"
        )))
    }

    /// The walls of a Cloud: a function reaches only its Cloud's database
    /// (no other database through aggregation stages, no `system.*`, no
    /// writes to the function store) and its Cloud's buckets, with keys
    /// that cannot leave the bucket.
    pub fn check(&self, config: &CloudConfig, caller: Caller) -> Result<()> {
        match self {
            Op::Db { collection, call } => {
                check_collection(collection)?;
                let store = &config.functions_collection;
                if caller == Caller::Function && collection == store && call.writes() {
                    return Err(Error::DatabaseForbidden(format!(
                        "{}: functions may not write the function store '{store}'",
                        call.method()
                    )));
                }
                if let DbCall::Aggregate { pipeline } = call {
                    for stage in pipeline {
                        check_stage_tree(stage, config, caller)?;
                    }
                }
                if caller == Caller::Function {
                    for d in call.operator_docs() {
                        check_no_server_js(call.method(), d)?;
                    }
                }
                Ok(())
            }
            Op::Storage { bucket, call } => {
                if let Some(b) = bucket.as_deref().filter(|b| !b.is_empty()) {
                    check_bucket(config, b)?;
                }
                if let Some(k) = call.key() {
                    check_key(k)?;
                }
                match call {
                    StorageCall::ListFiles {
                        prefix: Some(p), ..
                    } => check_prefix(p),
                    StorageCall::WriteFile {
                        content_type: Some(t),
                        ..
                    } => check_content_type(t),
                    _ => Ok(()),
                }
            }
            Op::Invoke { .. } | Op::Fetch(_) => Ok(()),
        }
    }
}

/// Largest key S3 accepts, in bytes.
pub const MAX_KEY_BYTES: usize = 1024;

/// A storage key that stays inside its bucket: not empty, not absolute, no
/// `.`/`..` segment, no NUL or other control character, at most 1 024 bytes.
pub fn check_key(key: &str) -> Result<()> {
    if key.is_empty() {
        return Err(Error::invalid("the file key must be a non-empty string"));
    }
    let bad = |why: &str| {
        let shown: String = key.chars().take(64).collect();
        let more = if shown.len() < key.len() { "…" } else { "" };
        Err(Error::invalid(format!(
            "invalid file key {:?}: {why}",
            format!("{shown}{more}")
        )))
    };
    if key.len() > MAX_KEY_BYTES {
        return bad(&format!(
            "it is {} bytes long; keys are at most {MAX_KEY_BYTES} bytes",
            key.len()
        ));
    }
    if key.starts_with('/') {
        return bad("keys are relative to the bucket and must not start with '/'");
    }
    if key.chars().any(char::is_control) {
        return bad("keys must not contain NUL or other control characters");
    }
    if key.split('/').any(|s| s == ".." || s == ".") {
        return bad("keys must not contain '.' or '..' path segments");
    }
    Ok(())
}

/// A `listFiles` prefix: as a key, but it may be empty. The SDK panics on
/// URLs over 64 KiB, so the length is checked before it is sent.
fn check_prefix(prefix: &str) -> Result<()> {
    if prefix.len() > MAX_KEY_BYTES {
        return Err(Error::invalid(format!(
            "listFiles: the prefix is {} bytes long; keys are at most {MAX_KEY_BYTES} bytes",
            prefix.len()
        )));
    }
    if prefix.chars().any(char::is_control) {
        return Err(Error::invalid(
            "listFiles: the prefix must not contain NUL or other control characters",
        ));
    }
    Ok(())
}

/// A `Content-Type` header value: printable ASCII, at most 256 bytes.
fn check_content_type(t: &str) -> Result<()> {
    if t.len() > 256 || !t.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        let shown: String = t.chars().take(64).collect();
        return Err(Error::invalid(format!(
            "writeFile: contentType {shown:?} must be printable ASCII of at most 256 bytes"
        )));
    }
    Ok(())
}

/// A bucket other than the Cloud's own is refused unless `buckets` lists it.
pub fn check_bucket(config: &CloudConfig, bucket: &str) -> Result<()> {
    let own = config.s3.bucket.as_deref() == Some(bucket);
    if own || config.s3.buckets.iter().any(|b| b == bucket) {
        return Ok(());
    }
    Err(Error::BucketNotAllowed(bucket.to_string()))
}

/// A database name MongoDB accepts and that cannot name a path: 1 to 63
/// bytes, none of `/\. "$*<>:|?` and no NUL.
pub fn check_database_name(name: &str) -> Result<()> {
    let bad = name.is_empty()
        || name.len() > 63
        || name
            .chars()
            .any(|c| "/\\. \"$*<>:|?\0".contains(c) || c.is_control());
    if bad {
        return Err(Error::invalid(format!(
            "invalid database name {name:?}: 1 to 63 bytes, without any of / \\ . space \" $ * < > : | ? or NUL"
        )));
    }
    Ok(())
}

/// A collection of the Cloud's own database: `system.*` collections are the
/// server's, and `$`/NUL make names that are not collections.
fn check_collection(name: &str) -> Result<()> {
    if name.starts_with("system.") {
        return Err(Error::DatabaseForbidden(format!(
            "collection {name:?}: system.* collections are not reachable"
        )));
    }
    if name.contains('$') || name.contains('\0') {
        return Err(Error::invalid(format!(
            "invalid collection name {name:?}: it must not contain '$' or NUL"
        )));
    }
    Ok(())
}

fn update_docs(u: &UpdateModifications) -> Vec<&Document> {
    match u {
        UpdateModifications::Document(d) => vec![d],
        UpdateModifications::Pipeline(p) => p.iter().collect(),
        _ => Vec::new(),
    }
}

/// Operators whose argument is JavaScript that the database server runs.
const SERVER_JS: &[&str] = &["$where", "$function", "$accumulator"];

/// A function's query may not run JavaScript on the database server: the
/// server is shared by every tenant, and a `$where: 'while (true) {}'` keeps
/// running there after the invocation's own deadline.
fn check_no_server_js(method: &str, d: &Document) -> Result<()> {
    each_key(d, &mut |k, _| {
        if SERVER_JS.contains(&k) {
            return Err(Error::DatabaseForbidden(format!(
                "{method}: {k} runs JavaScript on the database server, which functions may not do; use query operators or $expr instead"
            )));
        }
        Ok(())
    })
}

/// Calls `f` with every key of `d` and of every document nested in it
/// (through sub-documents and arrays): operators and stages can sit at
/// any depth of a filter or pipeline.
fn each_key(d: &Document, f: &mut impl FnMut(&str, &Bson) -> Result<()>) -> Result<()> {
    for (k, v) in d {
        f(k, v)?;
        match v {
            Bson::Document(sub) => each_key(sub, f)?,
            Bson::Array(items) => {
                for item in items {
                    if let Bson::Document(sub) = item {
                        each_key(sub, f)?;
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Stages that name another collection and, in some forms, another database.
const CROSS_STAGES: &[&str] = &["$out", "$merge", "$lookup", "$graphLookup", "$unionWith"];

/// Walks a pipeline stage and every pipeline nested in it (`$lookup`,
/// `$unionWith`, `$facet`), checking each stage that names a collection.
fn check_stage_tree(d: &Document, config: &CloudConfig, caller: Caller) -> Result<()> {
    each_key(d, &mut |k, v| {
        if CROSS_STAGES.contains(&k) {
            check_target(k, v, config, caller)?;
        }
        Ok(())
    })
}

/// The (database, collection) a cross-collection stage names.
fn check_target(stage: &str, v: &Bson, config: &CloudConfig, caller: Caller) -> Result<()> {
    let own = config.database.as_str();
    let forbid = |why: String| Err(Error::DatabaseForbidden(format!("{stage}: {why}")));
    // `{ db, coll }` as $out, $merge's `into` and $lookup's `from` allow.
    let named = |d: &Document| -> (Option<String>, Option<String>) {
        let s = |k: &str| match d.get(k) {
            Some(Bson::String(s)) => Some(s.clone()),
            _ => None,
        };
        (s("db"), s("coll"))
    };
    let (db, coll) = match (stage, v) {
        (_, Bson::String(c)) => (None, Some(c.clone())),
        ("$out", Bson::Document(d)) => named(d),
        ("$merge", Bson::Document(d)) => match d.get("into") {
            Some(Bson::String(c)) => (None, Some(c.clone())),
            Some(Bson::Document(into)) => named(into),
            _ => (None, None),
        },
        ("$lookup" | "$graphLookup", Bson::Document(d)) => match d.get("from") {
            Some(Bson::String(c)) => (None, Some(c.clone())),
            Some(Bson::Document(from)) => named(from),
            Some(_) => return forbid("'from' must be a collection name".into()),
            None => (None, None),
        },
        ("$unionWith", Bson::Document(d)) => match d.get("coll") {
            Some(Bson::String(c)) => (None, Some(c.clone())),
            _ => (None, None),
        },
        _ => (None, None),
    };
    if let Some(db) = db.filter(|db| db != own) {
        return forbid(format!(
            "it names database {db:?}; this Cloud reaches only its own database {own:?}"
        ));
    }
    if let Some(coll) = coll {
        if coll.starts_with("system.") {
            return forbid(format!(
                "collection {coll:?}: system.* collections are not reachable"
            ));
        }
        let writes = stage == "$out" || stage == "$merge";
        if writes && caller == Caller::Function && coll == config.functions_collection {
            return forbid(format!(
                "functions may not write the function store '{coll}'"
            ));
        }
    }
    Ok(())
}

fn is_null(v: &Bson) -> bool {
    matches!(v, Bson::Null | Bson::Undefined)
}

/// A whole number, from any of BSON's number types.
fn whole(v: &Bson) -> Option<i64> {
    match *v {
        Bson::Int32(n) => Some(n as i64),
        Bson::Int64(n) => Some(n),
        Bson::Double(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Some(f as i64),
        _ => None,
    }
}

/// What a value is, for messages.
fn type_name(b: &Bson) -> &'static str {
    match b {
        Bson::Array(_) => "an array",
        Bson::String(_) => "a string",
        Bson::Null | Bson::Undefined => "null",
        Bson::Boolean(_) => "a boolean",
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) => "a number",
        _ => "another type",
    }
}

/// The arguments of one method, taken out field by field with errors that
/// name the method and the field.
struct Args {
    method: String,
    fields: Document,
}

/// `v` as a document; `what` names it in the error.
fn doc_of(v: Bson, what: &str) -> Result<Document> {
    match v {
        Bson::Document(d) => Ok(d),
        other => Err(Error::invalid(format!(
            "{what} must be an object, got {}",
            type_name(&other)
        ))),
    }
}

/// The methods a `bulkWrite` operation may name.
pub const BULK_METHODS: &[&str] = &[
    "insertOne",
    "updateOne",
    "updateMany",
    "replaceOne",
    "deleteOne",
    "deleteMany",
];

/// Operation `i` of a `bulkWrite` on the wire: `{ method, args }`, with
/// `args` as that method's own call sends them.
fn bulk_op(i: usize, op: Bson) -> Result<DbCall> {
    let wrong = || {
        Error::invalid(format!(
            "bulkWrite operation {i} must be one of {{ {}: {{ … }} }}",
            BULK_METHODS.join(" | ")
        ))
    };
    let Bson::Document(mut op) = op else {
        return Err(wrong());
    };
    let method = match op.remove("method") {
        Some(Bson::String(m)) if BULK_METHODS.contains(&m.as_str()) => m,
        _ => return Err(wrong()),
    };
    let args = match op.remove("args") {
        Some(Bson::Document(args)) => args,
        _ => return Err(wrong()),
    };
    DbCall::decode(&method, args).map_err(|e| match e {
        Error::InvalidArgument(m) => Error::invalid(format!("bulkWrite operation {i}: {m}")),
        e => e,
    })
}

fn docs_of(v: Bson, what: &str) -> Result<Vec<Document>> {
    match v {
        Bson::Array(items) => items
            .into_iter()
            .enumerate()
            .map(|(i, v)| doc_of(v, &format!("{what}[{i}]")))
            .collect(),
        _ => Err(Error::invalid(format!(
            "{what} must be an array of objects"
        ))),
    }
}

impl Args {
    fn take(&mut self, key: &str) -> Option<Bson> {
        self.fields.remove(key).filter(|v| !is_null(v))
    }

    fn what(&self, key: &str) -> String {
        format!("{}: '{key}'", self.method)
    }

    fn doc(&mut self, key: &str) -> Result<Document> {
        match self.take(key) {
            Some(v) => doc_of(v, &self.what(key)),
            None => Err(Error::invalid(format!("{} is required", self.what(key)))),
        }
    }

    fn doc_or_empty(&mut self, key: &str) -> Result<Document> {
        match self.take(key) {
            Some(v) => doc_of(v, &self.what(key)),
            None => Ok(Document::new()),
        }
    }

    fn docs(&mut self, key: &str) -> Result<Vec<Document>> {
        let what = self.what(key);
        match self.take(key) {
            Some(v) => docs_of(v, &what),
            None => Err(Error::invalid(format!(
                "{what} must be an array of objects"
            ))),
        }
    }

    fn docs_or_empty(&mut self, key: &str) -> Result<Vec<Document>> {
        let what = self.what(key);
        match self.take(key) {
            Some(v) => docs_of(v, &what),
            None => Ok(Vec::new()),
        }
    }

    fn string(&mut self, key: &str) -> Result<String> {
        match self.take(key) {
            Some(Bson::String(s)) => Ok(s),
            _ => Err(Error::invalid(format!(
                "{} must be a string",
                self.what(key)
            ))),
        }
    }

    /// An update document, or an aggregation pipeline (array).
    fn update(&mut self) -> Result<UpdateModifications> {
        let what = self.what("update");
        match self.take("update") {
            Some(v @ Bson::Array(_)) => docs_of(v, &what).map(UpdateModifications::Pipeline),
            Some(Bson::Document(d)) => {
                if d.keys().next().is_some_and(|k| !k.starts_with('$')) {
                    return Err(Error::invalid(format!(
                        "{}: invalid update document: it must use update operators like $set (got key {:?})",
                        self.method,
                        d.keys().next().map(String::as_str).unwrap_or("")
                    )));
                }
                Ok(UpdateModifications::Document(d))
            }
            _ => Err(Error::invalid(format!(
                "{}: 'update' must be an update document (e.g. {{ $set: {{...}} }}) or a pipeline array",
                self.method
            ))),
        }
    }

    /// A whole document to store in place of a match: no update operators.
    fn replacement(&mut self) -> Result<Document> {
        let replacement = self.doc("replacement")?;
        if replacement.keys().any(|k| k.starts_with('$')) {
            return Err(Error::invalid(format!(
                "{}: the replacement document must not contain update operators like $set",
                self.method
            )));
        }
        Ok(replacement)
    }

    fn options(&mut self) -> Result<Opts> {
        match self.take("options") {
            None => Ok(Opts(Document::new(), self.method.clone())),
            Some(Bson::Document(m)) => Ok(Opts(m, self.method.clone())),
            Some(_) => Err(Error::invalid(format!(
                "{}: 'options' must be an object",
                self.method
            ))),
        }
    }
}

struct Opts(Document, String);

impl Opts {
    fn get(&self, key: &str) -> Option<&Bson> {
        self.0.get(key).filter(|v| !is_null(v))
    }

    fn doc(&self, key: &str) -> Result<Option<Document>> {
        self.get(key)
            .map(|v| doc_of(v.clone(), &format!("{}: options.{key}", self.1)))
            .transpose()
    }

    fn docs(&self, key: &str) -> Result<Option<Vec<Document>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Bson::Array(items)) => items
                .iter()
                .map(|v| doc_of(v.clone(), &format!("{}: options.{key}[]", self.1)))
                .collect::<Result<Vec<_>>>()
                .map(Some),
            Some(_) => Err(Error::invalid(format!(
                "{}: options.{key} must be an array",
                self.1
            ))),
        }
    }

    fn int(&self, key: &str) -> Result<Option<i64>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => whole(v).map(Some).ok_or_else(|| {
                Error::invalid(format!("{}: options.{key} must be an integer", self.1))
            }),
        }
    }

    /// `returnDocument`: 'before' (the default) or 'after'.
    fn return_after(&self) -> Result<bool> {
        match self.string("returnDocument")?.as_deref() {
            None | Some("before") => Ok(false),
            Some("after") => Ok(true),
            Some(other) => Err(Error::invalid(format!(
                "{}: returnDocument must be 'before' or 'after', got {other:?}",
                self.1
            ))),
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Bson::Boolean(b)) => Ok(Some(*b)),
            Some(_) => Err(Error::invalid(format!(
                "{}: options.{key} must be a boolean",
                self.1
            ))),
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Bson::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Error::invalid(format!(
                "{}: options.{key} must be a string",
                self.1
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> CloudConfig {
        let mut c = CloudConfig::from_vars(&[]);
        c.database = "own".into();
        c.s3.bucket = Some("mine".into());
        c.s3.buckets = vec!["shared".into()];
        c
    }

    fn check(op: &str, args: Value, caller: Caller) -> Result<()> {
        Op::decode(op, args)?.check(&config(), caller)
    }

    /// Every operation the JavaScript SDK (`sandbox/sdk.js`, host and
    /// function alike) sends is one the core decodes, and every one the core
    /// decodes is sent by the SDK.
    #[test]
    fn sdk_and_core_name_the_same_operations() {
        let prelude = include_str!("../../../../sandbox/sdk.js");
        let start = prelude.find("// cloud-ops:begin").expect("marker");
        let end = prelude.find("// cloud-ops:end").expect("marker");
        let block = &prelude[start..end];
        let mut js = Vec::new();
        for (prefix, call) in [
            ("db.", "q('"),
            ("storage.", "s('"),
            ("storage.", "url('"),
            ("", "rpc('"),
        ] {
            for part in block.split(call).skip(1) {
                let name = part.split('\'').next().unwrap_or_default();
                if !name.ends_with('.') {
                    js.push(format!("{prefix}{name}"));
                }
            }
        }
        js.sort();
        js.dedup();
        let mut rust = op_names();
        rust.sort();
        assert_eq!(js, rust, "sdk.js and call.rs list different operations");
    }

    #[test]
    fn bulk_write_decodes_each_operation_as_its_own_call_and_the_walls_see_them() {
        let op = Op::decode(
            "db.bulkWrite",
            json!({ "collection": "c", "options": { "ordered": false }, "ops": [
                { "method": "insertOne", "args": { "doc": { "a": 1 } } },
                { "method": "updateOne", "args": { "filter": { "$where": "true" }, "update": { "$set": { "a": 2 } } } }
            ] }),
        )
        .unwrap();
        let Op::Db {
            call: DbCall::BulkWrite { ops, ordered },
            ..
        } = &op
        else {
            panic!("{op:?}")
        };
        assert_eq!((ops.len(), *ordered), (2, false));
        let e = op.check(&config(), Caller::Function).unwrap_err();
        assert!(
            e.to_string().contains("bulkWrite: $where runs JavaScript"),
            "{e}"
        );
        let e = check(
            "db.bulkWrite",
            json!({ "collection": "functions", "ops": [{ "method": "deleteMany", "args": {} }] }),
            Caller::Function,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("bulkWrite: functions may not write the function store"),
            "{e}"
        );
        for (ops, message) in [
            (json!("x"), "bulkWrite: 'ops' must be an array of operations"),
            (json!([{ "method": "drop", "args": {} }]), "bulkWrite operation 0 must be one of { insertOne | updateOne | updateMany | replaceOne | deleteOne | deleteMany: { … } }"),
            (json!([{ "method": "deleteOne", "args": {} }, { "method": "insertOne" }]), "bulkWrite operation 1 must be one of"),
            (json!([{ "method": "updateOne", "args": { "update": { "$set": { "a": 1 } } } }]), "bulkWrite operation 0: updateOne: 'filter' is required"),
        ] {
            let e = Op::decode("db.bulkWrite", json!({ "collection": "c", "ops": ops })).unwrap_err();
            assert_eq!(e.code(), "INVALID_ARGUMENT");
            assert!(e.to_string().contains(message), "{e}");
        }
    }

    #[test]
    fn keys_that_leave_the_bucket_are_refused() {
        for (key, why) in [
            ("../other-bucket/secret.txt", "'..' path segments"),
            ("a/../../b", "'..' path segments"),
            ("a/./b", "'..' path segments"),
            ("/etc/passwd", "must not start with '/'"),
            ("a\0b", "control characters"),
            ("a\nb", "control characters"),
        ] {
            let e = check_key(key).unwrap_err();
            assert_eq!(e.code(), "INVALID_ARGUMENT");
            assert!(e.to_string().contains(why), "{key:?}: {e}");
        }
        let e = check_key(&"k".repeat(100 * 1024)).unwrap_err();
        assert!(
            e.to_string()
                .ends_with("it is 102400 bytes long; keys are at most 1024 bytes"),
            "{e}"
        );
        assert!(check_key(&"k".repeat(1024)).is_ok());
        let e = check(
            "storage.listFiles",
            json!({ "prefix": "p".repeat(100 * 1024) }),
            Caller::Host,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "listFiles: the prefix is 102400 bytes long; keys are at most 1024 bytes"
        );
        let e = check(
            "storage.writeFile",
            json!({ "key": "k", "data": "x", "contentType": "text/plain\r\nX-Evil: 1" }),
            Caller::Function,
        )
        .unwrap_err();
        assert_eq!(e.code(), "INVALID_ARGUMENT");
        assert!(check_key("a..b/c d/é?#%.txt").is_ok());
    }

    #[test]
    fn buckets_outside_the_list_are_refused() {
        let args = |b: &str| json!({ "bucket": b, "key": "k" });
        assert!(check("storage.readFile", args("mine"), Caller::Host).is_ok());
        assert!(check("storage.readFile", args("shared"), Caller::Function).is_ok());
        let e = check(
            "storage.listFiles",
            json!({ "bucket": "other" }),
            Caller::Host,
        )
        .unwrap_err();
        assert_eq!(e.code(), "STORAGE_BUCKET_NOT_ALLOWED");
        assert_eq!(
            e.to_string(),
            "bucket not allowed: \"other\" is not one of this Cloud's buckets (createCloud({ buckets }))"
        );
    }

    #[test]
    fn other_databases_and_system_collections_are_refused() {
        let agg = |p: Value| json!({ "collection": "c", "pipeline": p });
        for (pipeline, says) in [
            (
                json!([{ "$out": { "db": "other", "coll": "x" } }]),
                "$out: it names database \"other\"",
            ),
            (
                json!([{ "$merge": { "into": { "db": "other", "coll": "x" } } }]),
                "$merge: it names database \"other\"",
            ),
            (
                json!([{ "$lookup": { "from": { "db": "other", "coll": "x" }, "as": "y", "pipeline": [] } }]),
                "$lookup: it names database \"other\"",
            ),
            (
                json!([{ "$facet": { "a": [{ "$unionWith": { "coll": "system.users" } }] } }]),
                "$unionWith: collection \"system.users\"",
            ),
            (
                json!([{ "$graphLookup": { "from": "system.views" } }]),
                "$graphLookup: collection \"system.views\"",
            ),
            (
                json!([{ "$lookup": { "from": "x", "as": "y", "pipeline": [{ "$out": "system.js" }] } }]),
                "$out: collection \"system.js\"",
            ),
        ] {
            let e = check("db.aggregate", agg(pipeline), Caller::Host).unwrap_err();
            assert_eq!(e.code(), "DATABASE_FORBIDDEN");
            assert!(e.to_string().contains(says), "{e}");
        }
        assert!(check(
            "db.aggregate",
            agg(json!([{ "$out": { "db": "own", "coll": "x" } }])),
            Caller::Function
        )
        .is_ok());
        let e = check(
            "db.find",
            json!({ "collection": "system.profile" }),
            Caller::Host,
        )
        .unwrap_err();
        assert_eq!(e.code(), "DATABASE_FORBIDDEN");
        for name in ["", "a/b", "a.b$", "a b", &"x".repeat(64)] {
            assert_eq!(
                check_database_name(name).unwrap_err().code(),
                "INVALID_ARGUMENT",
                "{name:?}"
            );
        }
        assert!(check_database_name("simple_ide-1").is_ok());
    }

    #[test]
    fn functions_may_not_run_javascript_on_the_database_server() {
        let js = json!({ "$function": { "body": "function () { return true }", "args": [], "lang": "js" } });
        let refused = [
            (
                "db.find",
                json!({ "filter": { "$where": "sleep(100) || true" } }),
            ),
            (
                "db.findOne",
                json!({ "filter": { "a": 1 }, "options": { "projection": { "x": js } } }),
            ),
            (
                "db.countDocuments",
                json!({ "filter": { "$and": [{ "a": 1 }, { "$expr": js }] } }),
            ),
            ("db.deleteMany", json!({ "filter": { "$where": "true" } })),
            (
                "db.updateOne",
                json!({ "filter": {}, "update": [{ "$set": { "x": js } }] }),
            ),
            (
                "db.aggregate",
                json!({ "pipeline": [{ "$group": { "_id": null, "n": { "$accumulator": { "init": "function () {}" } } } }] }),
            ),
            (
                "db.aggregate",
                json!({ "pipeline": [{ "$facet": { "a": [{ "$match": { "$where": "true" } }] } }] }),
            ),
        ];
        for (op, extra) in refused {
            let mut a = extra.clone();
            a["collection"] = json!("c");
            let e = check(op, a.clone(), Caller::Function).unwrap_err();
            assert_eq!(e.code(), "DATABASE_FORBIDDEN", "{op} {extra}");
            let method = op.trim_start_matches("db.");
            assert!(
                e.to_string()
                    .starts_with(&format!("database access forbidden: {method}: $")),
                "{e}"
            );
            assert!(
                e.to_string().ends_with("runs JavaScript on the database server, which functions may not do; use query operators or $expr instead"),
                "{e}"
            );
            // Host code (the IDE's own server) is trusted with it.
            assert!(check(op, a, Caller::Host).is_ok(), "{op}");
        }
        // Data is not an operator: a document may hold a `$where` string.
        let doc = json!({ "collection": "c", "doc": { "note": "$where" } });
        assert!(check("db.insertOne", doc, Caller::Function).is_ok());
        let q = json!({ "collection": "c", "filter": { "field": "$function" } });
        assert!(check("db.find", q, Caller::Function).is_ok());
    }

    #[test]
    fn functions_may_read_but_not_write_the_function_store() {
        let f = |op: &str, extra: Value| {
            let mut a = json!({ "collection": "functions" });
            for (k, v) in extra.as_object().unwrap() {
                a[k] = v.clone();
            }
            check(op, a, Caller::Function)
        };
        assert!(f("db.findOne", json!({})).is_ok());
        for (op, extra) in [
            ("db.insertOne", json!({ "doc": { "name": "payments" } })),
            (
                "db.updateOne",
                json!({ "filter": {}, "update": { "$set": { "compiled": "x" } } }),
            ),
            (
                "db.replaceOne",
                json!({ "filter": {}, "replacement": { "compiled": "x" } }),
            ),
            ("db.deleteMany", json!({})),
            (
                "db.findOneAndUpdate",
                json!({ "filter": {}, "update": { "$set": { "a": 1 } } }),
            ),
            ("db.createIndex", json!({ "keys": { "a": 1 } })),
        ] {
            let e = f(op, extra).unwrap_err();
            assert_eq!(e.code(), "DATABASE_FORBIDDEN", "{op}");
            assert!(
                e.to_string()
                    .ends_with("functions may not write the function store 'functions'"),
                "{e}"
            );
        }
        let out = json!({ "collection": "c", "pipeline": [{ "$merge": { "into": "functions" } }] });
        assert_eq!(
            check("db.aggregate", out.clone(), Caller::Function)
                .unwrap_err()
                .code(),
            "DATABASE_FORBIDDEN"
        );
        // Host code manages the store.
        assert!(check("db.aggregate", out, Caller::Host).is_ok());
        assert!(check(
            "db.insertOne",
            json!({ "collection": "functions", "doc": {} }),
            Caller::Host
        )
        .is_ok());
    }
}
