//! MongoDB for `cloud.database()`: the Node driver's method names,
//! arguments and result shapes, over the `mongodb` crate. [`Database::dispatch`]
//! takes one operation in Extended JSON (from a sandbox or the napi edge).

use std::time::Duration;

use futures_util::TryStreamExt;
use mongodb::bson::{doc, Bson, Document};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, IndexOptions, ReturnDocument, UpdateModifications};
use mongodb::{Client, Collection, IndexModel};
use serde_json::{json, Map, Value};

use super::ejson::{from_bson, from_document, to_bson, to_document};
use crate::config::CloudConfig;
use crate::error::{Error, Result};

/// How long to look for a server before failing: short, so an unreachable
/// database costs one call two seconds, after which the breaker
/// (`breaker.rs`) fails calls at once until the server answers again.
const SERVER_SELECTION: Duration = Duration::from_secs(2);

pub struct Database {
    db: mongodb::Database,
    /// host:port list, for messages (never the credentials).
    hosts: String,
}

/// A function in the phase-1 store: `{ name, compiled, hash }`.
pub struct StoredFunction {
    pub name: String,
    pub compiled: String,
    pub hash: String,
}

const METHODS: &str = "find, findOne, insertOne, insertMany, updateOne, updateMany, replaceOne, deleteOne, \
     deleteMany, countDocuments, aggregate, distinct, findOneAndUpdate, findOneAndDelete, createIndex";

impl Database {
    pub async fn connect(config: &CloudConfig) -> Result<Self> {
        let url = config.mongo_url.as_ref().ok_or(Error::NotConfigured {
            what: "the database",
            var: "MONGODB_URL",
        })?;
        let mut opts = ClientOptions::parse(url).await.map_err(|e| {
            Error::Config(format!(
                "MONGODB_URL is not a valid MongoDB URL: {}",
                e.kind
            ))
        })?;
        if opts.server_selection_timeout.is_none() {
            opts.server_selection_timeout = Some(SERVER_SELECTION);
        }
        if opts.connect_timeout.is_none() {
            opts.connect_timeout = Some(Duration::from_secs(1));
        }
        // The driver notices a restarted server at its next heartbeat.
        if opts.heartbeat_freq.is_none() {
            opts.heartbeat_freq = Some(Duration::from_millis(500));
        }
        opts.app_name = Some("simple-ide-runtime".into());
        let hosts = opts
            .hosts
            .iter()
            .map(|h| h.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let client = Client::with_options(opts)
            .map_err(|e| Error::Config(format!("MONGODB_URL: {}", e.kind)))?;
        Ok(Database {
            db: client.database(&config.database),
            hosts,
        })
    }

    /// `host:port` of each server, for the breaker's probe.
    pub fn probe_targets(&self) -> Vec<String> {
        self.hosts
            .split(',')
            .filter(|h| !h.is_empty())
            .map(|h| {
                if h.contains(':') {
                    h.to_string()
                } else {
                    format!("{h}:27017")
                }
            })
            .collect()
    }

    pub fn collection(&self, name: &str) -> Collection<Document> {
        self.db.collection(name)
    }

    fn err(&self, e: mongodb::error::Error) -> Error {
        map_error(e, &self.hosts)
    }

    /// Reads the phase-1 function store.
    pub async fn load_function(
        &self,
        collection: &str,
        name: &str,
    ) -> Result<Option<StoredFunction>> {
        let found = self
            .collection(collection)
            .find_one(doc! { "name": name })
            .await
            .map_err(|e| self.err(e))?;
        let Some(d) = found else { return Ok(None) };
        let compiled = d
            .get_str("compiled")
            .map_err(|_| Error::invalid(format!("function {name} has no compiled code")))?;
        Ok(Some(StoredFunction {
            name: name.to_string(),
            compiled: compiled.to_string(),
            hash: d.get_str("hash").unwrap_or("").to_string(),
        }))
    }

    /// Runs `method` (the Node driver's name) with Extended-JSON `args`:
    /// `{ collection, filter?, options?, doc?, docs?, update?, replacement?,
    /// pipeline?, field?, keys? }`, answering in the driver's result shapes.
    pub async fn dispatch(&self, method: &str, args: Value) -> Result<Value> {
        let mut a = Args::new(method, args)?;
        let coll = self.collection(&a.collection);
        let e = |e| self.err(e);
        match method {
            "find" => {
                let filter = a.doc_or_empty("filter")?;
                let o = a.options()?;
                let mut q = coll.find(filter);
                if let Some(s) = o.doc("sort")? {
                    q = q.sort(s);
                }
                if let Some(n) = o.int("limit")? {
                    q = q.limit(n);
                }
                if let Some(n) = o.int("skip")? {
                    q = q.skip(n.max(0) as u64);
                }
                if let Some(p) = o.doc("projection")? {
                    q = q.projection(p);
                }
                let docs: Vec<Document> = q.await.map_err(e)?.try_collect().await.map_err(e)?;
                Ok(Value::Array(docs.into_iter().map(from_document).collect()))
            }
            "findOne" => {
                let filter = a.doc_or_empty("filter")?;
                let o = a.options()?;
                let mut q = coll.find_one(filter);
                if let Some(s) = o.doc("sort")? {
                    q = q.sort(s);
                }
                if let Some(n) = o.int("skip")? {
                    q = q.skip(n.max(0) as u64);
                }
                if let Some(p) = o.doc("projection")? {
                    q = q.projection(p);
                }
                Ok(q.await
                    .map_err(e)?
                    .map(from_document)
                    .unwrap_or(Value::Null))
            }
            "insertOne" => {
                let mut d = a.doc("doc")?;
                if !d.contains_key("_id") {
                    // Like the Node driver: the id is made client-side, so it is known.
                    d.insert("_id", mongodb::bson::oid::ObjectId::new());
                }
                let r = coll.insert_one(d).await.map_err(e)?;
                Ok(json!({ "acknowledged": true, "insertedId": from_bson(r.inserted_id) }))
            }
            "insertMany" => {
                let docs = a.docs("docs")?;
                if docs.is_empty() {
                    return Err(Error::invalid(
                        "insertMany: 'docs' must be a non-empty array",
                    ));
                }
                let docs: Vec<Document> = docs
                    .into_iter()
                    .map(|mut d| {
                        if !d.contains_key("_id") {
                            d.insert("_id", mongodb::bson::oid::ObjectId::new());
                        }
                        d
                    })
                    .collect();
                let n = docs.len();
                let r = coll.insert_many(docs).await.map_err(e)?;
                let mut ids = Map::new();
                for i in 0..n {
                    if let Some(id) = r.inserted_ids.get(&i) {
                        ids.insert(i.to_string(), from_bson(id.clone()));
                    }
                }
                Ok(json!({ "acknowledged": true, "insertedCount": ids.len(), "insertedIds": ids }))
            }
            "updateOne" | "updateMany" => {
                let filter = a.doc("filter")?;
                let update = a.update()?;
                let o = a.options()?;
                let r = if method == "updateOne" {
                    let mut q = coll.update_one(filter, update);
                    if let Some(b) = o.bool("upsert")? {
                        q = q.upsert(b);
                    }
                    if let Some(f) = o.docs("arrayFilters")? {
                        q = q.array_filters(f);
                    }
                    q.await
                } else {
                    let mut q = coll.update_many(filter, update);
                    if let Some(b) = o.bool("upsert")? {
                        q = q.upsert(b);
                    }
                    if let Some(f) = o.docs("arrayFilters")? {
                        q = q.array_filters(f);
                    }
                    q.await
                }
                .map_err(e)?;
                Ok(update_result(r))
            }
            "replaceOne" => {
                let filter = a.doc("filter")?;
                let replacement = a.doc("replacement")?;
                if replacement.keys().any(|k| k.starts_with('$')) {
                    return Err(Error::invalid(
                        "replaceOne: the replacement document must not contain update operators like $set",
                    ));
                }
                let o = a.options()?;
                let mut q = coll.replace_one(filter, replacement);
                if let Some(b) = o.bool("upsert")? {
                    q = q.upsert(b);
                }
                Ok(update_result(q.await.map_err(e)?))
            }
            "deleteOne" => {
                let r = coll
                    .delete_one(a.doc_or_empty("filter")?)
                    .await
                    .map_err(e)?;
                Ok(json!({ "acknowledged": true, "deletedCount": r.deleted_count }))
            }
            "deleteMany" => {
                let r = coll
                    .delete_many(a.doc_or_empty("filter")?)
                    .await
                    .map_err(e)?;
                Ok(json!({ "acknowledged": true, "deletedCount": r.deleted_count }))
            }
            "countDocuments" => {
                let o = a.options()?;
                let mut q = coll.count_documents(a.doc_or_empty("filter")?);
                if let Some(n) = o.int("limit")? {
                    q = q.limit(n.max(0) as u64);
                }
                if let Some(n) = o.int("skip")? {
                    q = q.skip(n.max(0) as u64);
                }
                Ok(json!(q.await.map_err(e)?))
            }
            "aggregate" => {
                let pipeline = a.docs("pipeline")?;
                let docs: Vec<Document> = coll
                    .aggregate(pipeline)
                    .await
                    .map_err(e)?
                    .try_collect()
                    .await
                    .map_err(e)?;
                Ok(Value::Array(docs.into_iter().map(from_document).collect()))
            }
            "distinct" => {
                let field = a.string("field")?;
                let values = coll
                    .distinct(field, a.doc_or_empty("filter")?)
                    .await
                    .map_err(e)?;
                Ok(Value::Array(values.into_iter().map(from_bson).collect()))
            }
            "findOneAndUpdate" => {
                let filter = a.doc("filter")?;
                let update = a.update()?;
                let o = a.options()?;
                let mut q = coll.find_one_and_update(filter, update);
                match o.string("returnDocument")?.as_deref() {
                    None | Some("before") => q = q.return_document(ReturnDocument::Before),
                    Some("after") => q = q.return_document(ReturnDocument::After),
                    Some(other) => {
                        return Err(Error::invalid(format!(
                            "findOneAndUpdate: returnDocument must be 'before' or 'after', got {other:?}"
                        )))
                    }
                }
                if let Some(b) = o.bool("upsert")? {
                    q = q.upsert(b);
                }
                if let Some(p) = o.doc("projection")? {
                    q = q.projection(p);
                }
                if let Some(s) = o.doc("sort")? {
                    q = q.sort(s);
                }
                Ok(q.await
                    .map_err(e)?
                    .map(from_document)
                    .unwrap_or(Value::Null))
            }
            "findOneAndDelete" => {
                let filter = a.doc("filter")?;
                let o = a.options()?;
                let mut q = coll.find_one_and_delete(filter);
                if let Some(p) = o.doc("projection")? {
                    q = q.projection(p);
                }
                if let Some(s) = o.doc("sort")? {
                    q = q.sort(s);
                }
                Ok(q.await
                    .map_err(e)?
                    .map(from_document)
                    .unwrap_or(Value::Null))
            }
            "createIndex" => {
                let keys = a.doc("keys")?;
                let o = a.options()?;
                let mut io = IndexOptions::default();
                io.unique = o.bool("unique")?;
                io.name = o.string("name")?;
                io.sparse = o.bool("sparse")?;
                io.expire_after = o
                    .int("expireAfterSeconds")?
                    .map(|s| Duration::from_secs(s.max(0) as u64));
                let model = IndexModel::builder().keys(keys).options(io).build();
                let r = coll.create_index(model).await.map_err(e)?;
                Ok(Value::String(r.index_name))
            }
            other => Err(Error::invalid(format!(
                "unknown database method {other:?}: expected one of {METHODS}"
            ))),
        }
    }
}

fn update_result(r: mongodb::results::UpdateResult) -> Value {
    let upserted = r.upserted_id.clone();
    json!({
        "acknowledged": true,
        "matchedCount": r.matched_count,
        "modifiedCount": r.modified_count,
        "upsertedCount": if upserted.is_some() { 1 } else { 0 },
        "upsertedId": upserted.map(from_bson).unwrap_or(Value::Null),
    })
}

/// The error of one driver call, with the server's code where there is one.
fn map_error(e: mongodb::error::Error, hosts: &str) -> Error {
    let server = |code: i32, message: String| {
        let message = if message.contains(&code.to_string()) {
            message
        } else {
            format!("{message} (code {code})")
        };
        Error::Database {
            server_code: Some(code),
            message,
        }
    };
    match *e.kind {
        ErrorKind::Write(WriteFailure::WriteError(ref w)) => server(w.code, w.message.clone()),
        ErrorKind::Write(WriteFailure::WriteConcernError(ref w)) => {
            server(w.code, w.message.clone())
        }
        ErrorKind::InsertMany(ref m) => match m.write_errors.as_ref().and_then(|w| w.first()) {
            Some(w) => server(w.code, w.message.clone()),
            None => Error::Database {
                server_code: None,
                message: e.to_string(),
            },
        },
        ErrorKind::Command(ref c) => server(c.code, c.message.clone()),
        ErrorKind::ServerSelection { ref message, .. } => Error::DatabaseUnreachable(format!(
            "no MongoDB server reachable at {hosts} within {} ms: {message}",
            SERVER_SELECTION.as_millis()
        )),
        ErrorKind::Io(ref io) => Error::DatabaseUnreachable(format!("MongoDB at {hosts}: {io}")),
        ErrorKind::ConnectionPoolCleared { ref message, .. } => {
            Error::DatabaseUnreachable(format!("MongoDB at {hosts}: {message}"))
        }
        ErrorKind::InvalidArgument { ref message, .. } => {
            if message.contains('$') && message.to_lowercase().contains("update") {
                Error::invalid(format!(
                    "invalid update document: it must use update operators like $set ({message})"
                ))
            } else {
                Error::invalid(message.clone())
            }
        }
        _ => Error::Database {
            server_code: None,
            message: e.to_string(),
        },
    }
}

/// The arguments of one dispatched operation, taken out field by field with
/// errors that name the method and the field.
struct Args {
    method: String,
    collection: String,
    fields: Map<String, Value>,
}

impl Args {
    fn new(method: &str, args: Value) -> Result<Self> {
        let Value::Object(mut fields) = args else {
            return Err(Error::invalid(format!(
                "{method}: arguments must be an object"
            )));
        };
        let collection = match fields.remove("collection") {
            Some(Value::String(s)) if !s.is_empty() => s,
            _ => {
                return Err(Error::invalid(format!(
                    "{method}: 'collection' must be a non-empty string"
                )))
            }
        };
        Ok(Args {
            method: method.to_string(),
            collection,
            fields,
        })
    }

    fn take(&mut self, key: &str) -> Option<Value> {
        self.fields.remove(key).filter(|v| !v.is_null())
    }

    fn doc(&mut self, key: &str) -> Result<Document> {
        let what = format!("{}: '{key}'", self.method);
        match self.take(key) {
            Some(v) => to_document(v, &what),
            None => Err(Error::invalid(format!("{what} is required"))),
        }
    }

    fn doc_or_empty(&mut self, key: &str) -> Result<Document> {
        match self.take(key) {
            Some(v) => to_document(v, &format!("{}: '{key}'", self.method)),
            None => Ok(Document::new()),
        }
    }

    fn docs(&mut self, key: &str) -> Result<Vec<Document>> {
        let what = format!("{}: '{key}'", self.method);
        match self.take(key) {
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| to_document(v, &format!("{what}[{i}]")))
                .collect(),
            _ => Err(Error::invalid(format!(
                "{what} must be an array of objects"
            ))),
        }
    }

    fn string(&mut self, key: &str) -> Result<String> {
        match self.take(key) {
            Some(Value::String(s)) => Ok(s),
            _ => Err(Error::invalid(format!(
                "{}: '{key}' must be a string",
                self.method
            ))),
        }
    }

    /// An update document, or an aggregation pipeline (array).
    fn update(&mut self) -> Result<UpdateModifications> {
        match self.take("update") {
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| to_document(v, &format!("{}: 'update'[{i}]", self.method)))
                .collect::<Result<Vec<_>>>()
                .map(UpdateModifications::Pipeline),
            Some(v @ Value::Object(_)) => {
                let d = to_document(v, &format!("{}: 'update'", self.method))?;
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

    fn options(&mut self) -> Result<Opts> {
        match self.take("options") {
            None => Ok(Opts(Map::new(), self.method.clone())),
            Some(Value::Object(m)) => Ok(Opts(m, self.method.clone())),
            Some(_) => Err(Error::invalid(format!(
                "{}: 'options' must be an object",
                self.method
            ))),
        }
    }
}

struct Opts(Map<String, Value>, String);

impl Opts {
    fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key).filter(|v| !v.is_null())
    }

    fn doc(&self, key: &str) -> Result<Option<Document>> {
        self.get(key)
            .map(|v| to_document(v.clone(), &format!("{}: options.{key}", self.1)))
            .transpose()
    }

    fn docs(&self, key: &str) -> Result<Option<Vec<Document>>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| to_document(v.clone(), &format!("{}: options.{key}[]", self.1)))
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
            Some(v) => match to_bson(v.clone())? {
                Bson::Int32(n) => Ok(Some(n as i64)),
                Bson::Int64(n) => Ok(Some(n)),
                Bson::Double(f) if f.fract() == 0.0 => Ok(Some(f as i64)),
                _ => Err(Error::invalid(format!(
                    "{}: options.{key} must be an integer",
                    self.1
                ))),
            },
        }
    }

    fn bool(&self, key: &str) -> Result<Option<bool>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(Error::invalid(format!(
                "{}: options.{key} must be a boolean",
                self.1
            ))),
        }
    }

    fn string(&self, key: &str) -> Result<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Error::invalid(format!(
                "{}: options.{key} must be a string",
                self.1
            ))),
        }
    }
}
