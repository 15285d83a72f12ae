//! MongoDB for `cloud.database()`: the Node driver's method names,
//! arguments and result shapes, over the `mongodb` crate. [`Database::dispatch`]
//! takes one operation in Extended JSON (from a sandbox or the napi edge).

use std::time::Duration;

use mongodb::bson::{doc, Bson, Document, RawDocumentBuf};
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::{ClientOptions, FindOptions, IndexOptions, ReturnDocument};
use mongodb::{Client, Collection, IndexModel};
use serde_json::Value;

use super::call::{check_database_name, DbCall, Op};
use super::Limits;
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

impl Database {
    pub async fn connect(config: &CloudConfig) -> Result<Self> {
        check_database_name(&config.database)?;
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

    /// Runs `method` (the Node driver's name) with Extended-JSON `args`
    /// (`{ collection, filter?, options?, … }`): [`DbCall::decode`], then
    /// [`Database::apply`]. No walls: [`crate::cloud::Cloud::apply`] checks them.
    pub async fn dispatch(&self, method: &str, args: Value) -> Result<Value> {
        match Op::decode(&format!("db.{method}"), args)? {
            Op::Db { collection, call } => self
                .apply(&collection, call, Limits::default())
                .await
                .map(Bson::into_relaxed_extjson),
            _ => Err(Error::invalid(format!("{method}: not a database method"))),
        }
    }

    /// `find` answered as JSON text (host code's path): the documents stay
    /// raw BSON from the socket to the text, never decoded into `Document`s
    /// (that decoding was most of the client-side cost of a large read).
    pub async fn find_json(
        &self,
        collection: &str,
        filter: Document,
        options: super::call::FindOptions,
    ) -> Result<String> {
        let docs = self
            .find::<RawDocumentBuf>(collection, filter, options, Limits::default())
            .await?;
        super::ejson::raw_docs_to_json_text(&docs)
    }

    /// Every document a `find` selects, as `T` (`Document`, or raw BSON),
    /// refused past `max_read` bytes of BSON.
    async fn find<T>(
        &self,
        collection: &str,
        filter: Document,
        options: super::call::FindOptions,
        limits: Limits,
    ) -> Result<Vec<T>>
    where
        T: serde::de::DeserializeOwned + Send + Sync,
    {
        let e = |e| self.err(e);
        let cursor = self
            .db
            .collection::<T>(collection)
            .find(filter)
            .with_options(find_options(options, limits.max_time))
            .await
            .map_err(e)?;
        self.collect(cursor, limits.max_read, || {
            format!("find on {collection:?}")
        })
        .await
    }

    /// A cursor's documents, counting their BSON bytes as they arrive: past
    /// `max_read` the read stops (the driver holds one batch, at most
    /// 16 MiB, beyond it) instead of filling the host's memory.
    async fn collect<T>(
        &self,
        mut cursor: mongodb::Cursor<T>,
        max_read: Option<usize>,
        what: impl Fn() -> String,
    ) -> Result<Vec<T>>
    where
        T: serde::de::DeserializeOwned + Send + Sync,
    {
        let e = |e| self.err(e);
        let mut docs = Vec::new();
        let mut bytes = 0usize;
        while cursor.advance().await.map_err(e)? {
            bytes += cursor.current().as_bytes().len();
            if let Some(limit) = max_read.filter(|&l| bytes > l) {
                return Err(Error::ReadTooLarge {
                    what: format!("the result of {}", what()),
                    limit,
                    advice: "narrow it with a filter, a projection or a limit, and page through the rest with skip",
                });
            }
            docs.push(cursor.deserialize_current().map_err(e)?);
        }
        Ok(docs)
    }

    /// Runs one typed call on `collection`, answering in the Node driver's
    /// result shapes. `limits`: what a function may read at once (`find`
    /// and `aggregate`; one document is at most 16 MiB anyway), and how
    /// long the server may spend on a read (`maxTimeMS`; the driver has no
    /// such option for plain writes).
    pub async fn apply(&self, collection: &str, call: DbCall, limits: Limits) -> Result<Bson> {
        let coll = self.collection(collection);
        let e = |e| self.err(e);
        let max_read = limits.max_read;
        let max_time = limits.max_time;
        match call {
            DbCall::Find { filter, options } => {
                let docs = self
                    .find::<Document>(collection, filter, options, limits)
                    .await?;
                Ok(Bson::Array(docs.into_iter().map(Bson::Document).collect()))
            }
            DbCall::FindOne { filter, options: o } => {
                let mut q = coll
                    .find_one(filter)
                    .optional(max_time, |q, t| q.max_time(t));
                if let Some(s) = o.sort {
                    q = q.sort(s);
                }
                if let Some(n) = o.skip {
                    q = q.skip(n);
                }
                if let Some(p) = o.projection {
                    q = q.projection(p);
                }
                Ok(q.await
                    .map_err(e)?
                    .map(Bson::Document)
                    .unwrap_or(Bson::Null))
            }
            DbCall::InsertOne { mut doc } => {
                with_id(&mut doc);
                let r = coll.insert_one(doc).await.map_err(e)?;
                Ok(Bson::Document(
                    doc! { "acknowledged": true, "insertedId": r.inserted_id },
                ))
            }
            DbCall::InsertMany { docs, ordered } => {
                let docs: Vec<Document> = docs
                    .into_iter()
                    .map(|mut d| {
                        with_id(&mut d);
                        d
                    })
                    .collect();
                let n = docs.len();
                let r = coll
                    .insert_many(docs)
                    .optional(ordered, |q, o| q.ordered(o))
                    .await
                    .map_err(e)?;
                let mut ids = Document::new();
                for i in 0..n {
                    if let Some(id) = r.inserted_ids.get(&i) {
                        ids.insert(i.to_string(), id.clone());
                    }
                }
                let count = ids.len() as i64;
                Ok(Bson::Document(
                    doc! { "acknowledged": true, "insertedCount": count, "insertedIds": ids },
                ))
            }
            DbCall::UpdateOne {
                filter,
                update,
                upsert,
                array_filters,
            } => {
                let q = with_update_options(coll.update_one(filter, update), upsert, array_filters);
                Ok(update_result(q.await.map_err(e)?))
            }
            DbCall::UpdateMany {
                filter,
                update,
                upsert,
                array_filters,
            } => {
                let q =
                    with_update_options(coll.update_many(filter, update), upsert, array_filters);
                Ok(update_result(q.await.map_err(e)?))
            }
            DbCall::ReplaceOne {
                filter,
                replacement,
                upsert,
            } => {
                let mut q = coll.replace_one(filter, replacement);
                if let Some(b) = upsert {
                    q = q.upsert(b);
                }
                Ok(update_result(q.await.map_err(e)?))
            }
            DbCall::DeleteOne { filter } => {
                let r = coll.delete_one(filter).await.map_err(e)?;
                Ok(deleted(r.deleted_count))
            }
            DbCall::DeleteMany { filter } => {
                let r = coll.delete_many(filter).await.map_err(e)?;
                Ok(deleted(r.deleted_count))
            }
            DbCall::BulkWrite { ops, ordered } => {
                self.bulk_write(collection, ops, ordered, limits).await
            }
            DbCall::CountDocuments {
                filter,
                limit,
                skip,
            } => {
                let mut q = coll
                    .count_documents(filter)
                    .optional(max_time, |q, t| q.max_time(t));
                if let Some(n) = limit {
                    q = q.limit(n);
                }
                if let Some(n) = skip {
                    q = q.skip(n);
                }
                Ok(Bson::Int64(q.await.map_err(e)? as i64))
            }
            DbCall::Aggregate { pipeline } => {
                let cursor = coll
                    .aggregate(pipeline)
                    .optional(max_time, |q, t| q.max_time(t))
                    .await
                    .map_err(e)?;
                let docs = self
                    .collect(cursor, max_read, || format!("aggregate on {collection:?}"))
                    .await?;
                Ok(Bson::Array(docs.into_iter().map(Bson::Document).collect()))
            }
            DbCall::Distinct { field, filter } => {
                let values = coll
                    .distinct(field, filter)
                    .optional(max_time, |q, t| q.max_time(t))
                    .await
                    .map_err(e)?;
                Ok(Bson::Array(values))
            }
            DbCall::FindOneAndUpdate {
                filter,
                update,
                return_after,
                upsert,
                projection,
                sort,
            } => {
                let q = find_and_modify!(
                    coll.find_one_and_update(filter, update),
                    return_after,
                    upsert,
                    projection,
                    sort,
                    max_time
                );
                Ok(q.await
                    .map_err(e)?
                    .map(Bson::Document)
                    .unwrap_or(Bson::Null))
            }
            DbCall::FindOneAndReplace {
                filter,
                replacement,
                return_after,
                upsert,
                projection,
                sort,
            } => {
                let q = find_and_modify!(
                    coll.find_one_and_replace(filter, replacement),
                    return_after,
                    upsert,
                    projection,
                    sort,
                    max_time
                );
                Ok(q.await
                    .map_err(e)?
                    .map(Bson::Document)
                    .unwrap_or(Bson::Null))
            }
            DbCall::FindOneAndDelete {
                filter,
                projection,
                sort,
            } => {
                let mut q = coll
                    .find_one_and_delete(filter)
                    .optional(max_time, |q, t| q.max_time(t));
                if let Some(p) = projection {
                    q = q.projection(p);
                }
                if let Some(s) = sort {
                    q = q.sort(s);
                }
                Ok(q.await
                    .map_err(e)?
                    .map(Bson::Document)
                    .unwrap_or(Bson::Null))
            }
            DbCall::CreateIndex {
                keys,
                unique,
                name,
                sparse,
                expire_after,
            } => {
                let mut io = IndexOptions::default();
                io.unique = unique;
                io.name = name;
                io.sparse = sparse;
                io.expire_after = expire_after;
                let model = IndexModel::builder().keys(keys).options(io).build();
                let r = coll.create_index(model).await.map_err(e)?;
                Ok(Bson::String(r.index_name))
            }
            DbCall::Indexes => {
                let mut cursor = coll.list_indexes().await.map_err(e)?;
                let mut out = Vec::new();
                while cursor.advance().await.map_err(e)? {
                    let m: IndexModel = cursor.deserialize_current().map_err(e)?;
                    // As the server lists it: { v, key, name, unique?, … }.
                    let mut d = mongodb::bson::to_document(&m.options).unwrap_or_default();
                    d.insert("key", m.keys);
                    out.push(Bson::Document(d));
                }
                Ok(Bson::Array(out))
            }
            DbCall::DropIndex { name } => {
                coll.drop_index(name).await.map_err(e)?;
                Ok(Bson::Document(doc! { "ok": 1 }))
            }
            DbCall::Drop => {
                coll.drop().await.map_err(e)?;
                Ok(Bson::Boolean(true))
            }
        }
    }
}

/// The options findOneAndUpdate and findOneAndReplace share: the driver's
/// two actions are different types with the same builder methods.
macro_rules! find_and_modify {
    ($q:expr, $return_after:expr, $upsert:expr, $projection:expr, $sort:expr, $max_time:expr) => {{
        let mut q = $q
            .return_document(if $return_after {
                ReturnDocument::After
            } else {
                ReturnDocument::Before
            })
            .optional($max_time, |q, t| q.max_time(t));
        if let Some(b) = $upsert {
            q = q.upsert(b);
        }
        if let Some(p) = $projection {
            q = q.projection(p);
        }
        if let Some(s) = $sort {
            q = q.sort(s);
        }
        q
    }};
}
use find_and_modify;

/// `upsert` and `arrayFilters` of updateOne and updateMany (one action type).
fn with_update_options(
    mut q: mongodb::action::Update<'_>,
    upsert: Option<bool>,
    array_filters: Option<Vec<Document>>,
) -> mongodb::action::Update<'_> {
    if let Some(b) = upsert {
        q = q.upsert(b);
    }
    if let Some(f) = array_filters {
        q = q.array_filters(f);
    }
    q
}

/// What a `bulkWrite` did, in the driver's BulkWriteResult fields, and its
/// failures as `{ index, error, errorCode, serverCode?, codeName? }` (a
/// failed call's fields), which the SDK turns into the rejection.
#[derive(Default)]
struct Tally {
    inserted: i64,
    matched: i64,
    modified: i64,
    deleted: i64,
    upserted: i64,
    inserted_ids: Document,
    upserted_ids: Document,
    errors: Vec<Bson>,
}

impl Tally {
    fn fail(&mut self, index: usize, e: &Error) {
        let mut w = doc! { "index": index as i64, "error": e.to_string(), "errorCode": e.code() };
        if let Some((code, name)) = e.server_code() {
            w.insert("serverCode", code);
            if let Some(name) = name {
                w.insert("codeName", name);
            }
        }
        self.errors.push(Bson::Document(w));
    }

    /// Adds operation `index`'s result (an update's or a delete's shape).
    fn add(&mut self, index: usize, r: &Document) {
        let n = |k: &str| match r.get(k) {
            Some(Bson::Int64(v)) => *v,
            Some(Bson::Int32(v)) => i64::from(*v),
            _ => 0,
        };
        self.matched += n("matchedCount");
        self.modified += n("modifiedCount");
        self.deleted += n("deletedCount");
        if n("upsertedCount") > 0 {
            self.upserted += 1;
            if let Some(id) = r.get("upsertedId") {
                self.upserted_ids.insert(index.to_string(), id.clone());
            }
        }
    }

    fn into_bson(self) -> Bson {
        Bson::Document(doc! {
            "result": {
                "acknowledged": true,
                "insertedCount": self.inserted,
                "matchedCount": self.matched,
                "modifiedCount": self.modified,
                "deletedCount": self.deleted,
                "upsertedCount": self.upserted,
                "insertedIds": self.inserted_ids,
                "upsertedIds": self.upserted_ids,
            },
            "writeErrors": self.errors,
        })
    }
}

impl Database {
    /// `bulkWrite`: the operations in turn, each as its own call would run
    /// it, except that a run of consecutive `insertOne`s is one `insertMany`
    /// (one round trip to the server instead of one per document).
    async fn bulk_write(
        &self,
        collection: &str,
        ops: Vec<DbCall>,
        ordered: bool,
        limits: Limits,
    ) -> Result<Bson> {
        let mut tally = Tally::default();
        let mut ops = ops.into_iter().enumerate().peekable();
        while let Some((i, op)) = ops.next() {
            let failed_before = tally.errors.len();
            if let DbCall::InsertOne { doc } = op {
                let mut docs = vec![doc];
                while let Some((_, DbCall::InsertOne { doc })) =
                    ops.next_if(|(_, op)| matches!(op, DbCall::InsertOne { .. }))
                {
                    docs.push(doc);
                }
                self.bulk_insert(collection, i, docs, ordered, &mut tally)
                    .await;
            } else {
                // Boxed: `apply` runs this, which runs `apply`.
                match Box::pin(self.apply(collection, op, limits)).await {
                    Ok(Bson::Document(r)) => tally.add(i, &r),
                    Ok(_) => {}
                    Err(e) => tally.fail(i, &e),
                }
            }
            if ordered && tally.errors.len() > failed_before {
                break;
            }
        }
        Ok(tally.into_bson())
    }

    /// Operations `first..` of a bulk, all `insertOne`, as one `insertMany`
    /// of the bulk's order: the ids are made here (as `insertOne` makes
    /// them), so the inserted ones are known from the failures' indexes.
    async fn bulk_insert(
        &self,
        collection: &str,
        first: usize,
        mut docs: Vec<Document>,
        ordered: bool,
        tally: &mut Tally,
    ) {
        let ids: Vec<Bson> = docs.iter_mut().map(with_id).collect();
        let failures: Vec<(usize, Error)> = match self
            .collection(collection)
            .insert_many(docs)
            .ordered(ordered)
            .await
        {
            Ok(_) => Vec::new(),
            Err(e) => match *e.kind {
                ErrorKind::InsertMany(ref m)
                    if m.write_errors.as_ref().is_some_and(|w| !w.is_empty()) =>
                {
                    m.write_errors
                        .iter()
                        .flatten()
                        .map(|w| (w.index, server_error(w.code, w.message.clone())))
                        .collect()
                }
                // Not a document's failure (the server unreachable): which
                // ones went in is unknown, so none is counted.
                _ => {
                    tally.fail(first, &self.err(e));
                    return;
                }
            },
        };
        // Ordered, the server stopped at the first failure.
        let stop = if ordered {
            failures.first().map_or(ids.len(), |(k, _)| *k)
        } else {
            ids.len()
        };
        for (k, id) in ids.into_iter().enumerate().take(stop) {
            if !failures.iter().any(|(f, _)| *f == k) {
                tally.inserted += 1;
                tally.inserted_ids.insert((first + k).to_string(), id);
            }
        }
        for (k, e) in &failures {
            tally.fail(first + k, e);
        }
    }
}

/// Gives `d` an `_id` if it has none and answers it: like the Node driver,
/// the id is made client-side, so it is known whatever the server says.
fn with_id(d: &mut Document) -> Bson {
    if let Some(id) = d.get("_id") {
        return id.clone();
    }
    let id = Bson::ObjectId(mongodb::bson::oid::ObjectId::new());
    d.insert("_id", id.clone());
    id
}

fn update_result(r: mongodb::results::UpdateResult) -> Bson {
    let upserted = r.upserted_id;
    Bson::Document(doc! {
        "acknowledged": true,
        "matchedCount": r.matched_count as i64,
        "modifiedCount": r.modified_count as i64,
        "upsertedCount": if upserted.is_some() { 1 } else { 0 },
        "upsertedId": upserted.unwrap_or(Bson::Null),
    })
}

fn deleted(n: u64) -> Bson {
    Bson::Document(doc! { "acknowledged": true, "deletedCount": n as i64 })
}

/// The error of one driver call, with the server's code where there is one.
/// The driver's options of a `find`: every document goes to the caller
/// (toArray), so batches are big (the server still caps each at 16 MiB)
/// instead of the default 101 and a getMore for the rest.
fn find_options(o: super::call::FindOptions, max_time: Option<Duration>) -> FindOptions {
    FindOptions::builder()
        .sort(o.sort)
        .limit(o.limit)
        .skip(o.skip)
        .projection(o.projection)
        .batch_size(10_000)
        .max_time(max_time)
        .build()
}

/// `q.optional(v, set)`: applies a builder option only when it has a value.
trait Optional: Sized {
    fn optional<T>(self, v: Option<T>, set: impl FnOnce(Self, T) -> Self) -> Self {
        match v {
            Some(v) => set(self, v),
            None => self,
        }
    }
}

impl<A> Optional for A {}

/// A MongoDB server's error, its code in the message.
fn server_error(code: i32, message: String) -> Error {
    let message = if message.contains(&code.to_string()) {
        message
    } else {
        format!("{message} (code {code})")
    };
    Error::Database {
        server_code: Some(code),
        message,
    }
}

fn map_error(e: mongodb::error::Error, hosts: &str) -> Error {
    match *e.kind {
        ErrorKind::Write(WriteFailure::WriteError(ref w)) => {
            server_error(w.code, w.message.clone())
        }
        ErrorKind::Write(WriteFailure::WriteConcernError(ref w)) => {
            server_error(w.code, w.message.clone())
        }
        ErrorKind::InsertMany(ref m) => match m.write_errors.as_ref().and_then(|w| w.first()) {
            Some(w) => server_error(w.code, w.message.clone()),
            None => Error::Database {
                server_code: None,
                message: e.to_string(),
            },
        },
        ErrorKind::Command(ref c) => server_error(c.code, c.message.clone()),
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
