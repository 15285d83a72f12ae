//! `createCloud` and the classes of the Cloud SDK for host code: `Cloud`,
//! `Db`, `Collection` (with `FindCursor` / `AggregationCursor`), `Storage`
//! and `Bucket`. Each method converts its arguments to Extended JSON, runs
//! the same core operation sandboxed code reaches through the bridge, and
//! converts the result back (ObjectId, Date and Buffer restored).

use std::collections::HashMap;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use runtime_core::cloud::storage::Bucket as CoreBucket;
use runtime_core::cloud::Cloud as CoreCloud;
use runtime_core::{CloudConfig, Error as CoreError, Result as CoreResult};
use serde_json::{json, Map, Value};

use crate::args::{int, Arg};
use crate::error::{reject, spawn, throw};
use crate::execute::engine;
use crate::value::{to_ejson, Ejson};

/// S3 settings; each falls back to the environment.
#[napi(object)]
pub struct S3Options {
    /// @default S3_ENDPOINT (AWS when unset)
    pub endpoint: Option<String>,
    /// @default S3_REGION or 'us-east-1'
    pub region: Option<String>,
    /// @default S3_ACCESS_KEY
    pub access_key_id: Option<String>,
    /// @default S3_SECRET_KEY
    pub secret_access_key: Option<String>,
    /// The bucket of `storage.bucket()` with no name.
    /// @default S3_BUCKET
    pub bucket: Option<String>,
    /// Path-style URLs (`endpoint/bucket/key`).
    /// @default S3_FORCE_PATH_STYLE, else true when an endpoint is set
    pub force_path_style: Option<bool>,
}

/// Options of `createCloud`; each falls back to the environment.
#[napi(object)]
pub struct CloudOptions {
    /// @default MONGODB_URL
    pub mongo_url: Option<String>,
    /// @default MONGODB_DB or 'simple_ide'
    pub database: Option<String>,
    /// Where `invoke` finds functions (`{ name, compiled, hash }` documents).
    /// @default FUNCTIONS_COLLECTION or 'functions'
    pub functions_collection: Option<String>,
    pub s3: Option<S3Options>,
    /// `cloud.env` for functions backed by this Cloud.
    /// @default the FUNCTION_ENV_* variables, prefix stripped
    pub env: Option<HashMap<String, String>>,
    /// The tenant of functions run with this Cloud as `ctx.cloud` (1 to 128 characters):
    /// Clouds with the same tenant share warm workers and cached programs.
    /// @default a tenant of this Cloud's own
    pub tenant: Option<String>,
}

fn config_from(options: Option<CloudOptions>) -> CoreResult<CloudConfig> {
    let mut c = CloudConfig::from_env();
    let Some(o) = options else { return Ok(c) };
    if let Some(t) = o.tenant {
        runtime_core::config::check_tenant("createCloud: tenant", &t)?;
        c.tenant = Some(t);
    }
    if let Some(v) = o.mongo_url {
        c.mongo_url = Some(v);
    }
    if let Some(v) = o.database {
        c.database = v;
    }
    if let Some(v) = o.functions_collection {
        c.functions_collection = v;
    }
    if let Some(s3) = o.s3 {
        if let Some(v) = s3.endpoint {
            c.s3.endpoint = Some(v);
            c.s3.force_path_style = true;
        }
        if let Some(v) = s3.region {
            c.s3.region = v;
        }
        if let Some(v) = s3.access_key_id {
            c.s3.access_key_id = Some(v);
        }
        if let Some(v) = s3.secret_access_key {
            c.s3.secret_access_key = Some(v);
        }
        if let Some(v) = s3.bucket {
            c.s3.bucket = Some(v);
        }
        if let Some(v) = s3.force_path_style {
            c.s3.force_path_style = v;
        }
    }
    if let Some(env) = o.env {
        c.env = env.into_iter().collect();
    }
    Ok(c)
}

/// Creates a Cloud: the SDK for host code, and (passed as `ctx.cloud` to
/// `executeFunction`) the Cloud that backs an invocation. Nothing connects
/// until a call needs it; a missing setting is a `NOT_CONFIGURED` error at
/// that call, naming the variable to set.
/// Throws `INVALID_ARGUMENT` for options of the wrong type.
#[napi(ts_args_type = "options?: CloudOptions | undefined | null")]
pub fn create_cloud(env: &Env, options: Arg<Option<CloudOptions>>) -> napi::Result<Cloud> {
    Ok(Cloud {
        inner: Arc::new(CoreCloud::new(throw(env, config_from(options.0))?)),
    })
}

/// The Cloud SDK: `database()`, `storage.bucket()`, `invoke()`, `env`.
#[napi]
pub struct Cloud {
    pub(crate) inner: Arc<CoreCloud>,
}

#[napi]
impl Cloud {
    /// The database (MongoDB at `mongoUrl`). Its calls reject with
    /// `NOT_CONFIGURED` when no URL is set, `DATABASE_UNREACHABLE` when no
    /// server answers within 2 s (then at once, until a background probe sees it answer), `DATABASE_ERROR` for server errors (with
    /// `serverCode`, e.g. 11000 for a duplicate key).
    #[napi]
    pub fn database(&self) -> Db {
        Db {
            cloud: self.inner.clone(),
        }
    }

    /// S3 storage.
    #[napi(getter)]
    pub fn storage(&self) -> Storage {
        Storage {
            cloud: self.inner.clone(),
        }
    }

    /// The variables given to functions (`FUNCTION_ENV_*`, prefix stripped).
    #[napi(getter)]
    pub fn env(&self) -> HashMap<String, String> {
        self.inner.env().clone().into_iter().collect()
    }

    /// Runs the stored function `name` with `ctx.body = data`, backed by this
    /// Cloud, and resolves with its return value. Rejects with the function's
    /// own error message (`INVOKE_FAILED`, with `logs` on the error),
    /// `FUNCTION_NOT_FOUND`, or the database's error.
    #[napi(
        ts_args_type = "name: string, data?: any",
        ts_return_type = "Promise<any>"
    )]
    pub fn invoke<'env>(
        &self,
        env: &'env Env,
        name: Arg<String>,
        data: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        let name = name.0;
        let engine = throw(env, engine())?;
        let data = arg(env, "invoke: data", data)?;
        let cloud = self.inner.clone();
        spawn(
            env,
            async move {
                let r = engine
                    .invoke_function(cloud, &name, data, 1, None, None, None)
                    .await?;
                match r.error {
                    Some(message) => Err(CoreError::InvokeFailed { name, message }),
                    None => serde_json::from_str(r.data.get()).map_err(|e| {
                        CoreError::invalid(format!(
                            "invoke('{name}'): its result cannot be read: {e}"
                        ))
                    }),
                }
            },
            |_, v| Ok(Ejson(v)),
        )
    }
}

/// Converts an optional argument, throwing INVALID_ARGUMENT on values that
/// cannot be stored (functions, BigInt, circular objects).
fn arg(env: &Env, what: &str, v: Option<Unknown>) -> Result<Value> {
    match v {
        None => Ok(Value::Null),
        Some(v) => throw(
            env,
            to_ejson(env, v).map_err(|why| CoreError::invalid(format!("{what}: {why}"))),
        ),
    }
}

/// Runs one core operation and resolves with its result as JavaScript.
fn run<'env>(
    env: &'env Env,
    cloud: &Arc<CoreCloud>,
    op: &'static str,
    args: Value,
) -> Result<PromiseRaw<'env, Ejson>> {
    let cloud = cloud.clone();
    spawn(env, async move { cloud.call(op, args).await }, |_, v| {
        Ok(Ejson(v))
    })
}

/// A database, as `client.db()` of the MongoDB Node driver.
#[napi]
pub struct Db {
    cloud: Arc<CoreCloud>,
}

#[napi]
impl Db {
    #[napi(ts_args_type = "name: string")]
    pub fn collection(&self, env: &Env, name: Arg<String>) -> Result<Collection> {
        let name = name.0;
        if name.is_empty() {
            return throw(
                env,
                Err(CoreError::invalid(
                    "collection name must be a non-empty string",
                )),
            );
        }
        Ok(Collection {
            cloud: self.cloud.clone(),
            name,
        })
    }
}

/// A collection with the MongoDB Node driver's method names, arguments and
/// result shapes.
#[napi]
pub struct Collection {
    cloud: Arc<CoreCloud>,
    name: String,
}

impl Collection {
    fn call<'env>(
        &self,
        env: &'env Env,
        op: &'static str,
        fields: Vec<(&str, Option<Unknown>)>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        let mut args = Map::new();
        args.insert("collection".into(), Value::String(self.name.clone()));
        for (k, v) in fields {
            let v = arg(env, &format!("{}: {k}", &op[3..]), v)?;
            if !v.is_null() {
                args.insert(k.into(), v);
            }
        }
        run(env, &self.cloud, op, Value::Object(args))
    }
}

#[napi]
impl Collection {
    #[napi(getter)]
    pub fn collection_name(&self) -> String {
        self.name.clone()
    }

    /// A cursor; nothing is sent until `toArray()`.
    #[napi]
    pub fn find(
        &self,
        env: &Env,
        filter: Option<Unknown>,
        options: Option<Unknown>,
    ) -> Result<FindCursor> {
        let filter = arg(env, "find: filter", filter)?;
        let options = match arg(env, "find: options", options)? {
            Value::Object(m) => m,
            _ => Map::new(),
        };
        Ok(FindCursor {
            cloud: self.cloud.clone(),
            collection: self.name.clone(),
            filter: if filter.is_null() { json!({}) } else { filter },
            options,
        })
    }

    #[napi(ts_return_type = "Promise<any | null>")]
    pub fn find_one<'env>(
        &self,
        env: &'env Env,
        filter: Option<Unknown>,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        self.call(
            env,
            "db.findOne",
            vec![("filter", filter), ("options", options)],
        )
    }

    #[napi(ts_return_type = "Promise<{ acknowledged: boolean, insertedId: any }>")]
    pub fn insert_one<'env>(
        &self,
        env: &'env Env,
        doc: Unknown,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        self.call(env, "db.insertOne", vec![("doc", Some(doc))])
    }

    #[napi(
        ts_return_type = "Promise<{ acknowledged: boolean, insertedCount: number, insertedIds: Record<number, any> }>"
    )]
    pub fn insert_many<'env>(
        &self,
        env: &'env Env,
        docs: Unknown,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        self.call(env, "db.insertMany", vec![("docs", Some(docs))])
    }

    #[napi(
        ts_return_type = "Promise<{ acknowledged: boolean, matchedCount: number, modifiedCount: number, upsertedCount: number, upsertedId: any }>"
    )]
    pub fn update_one<'env>(
        &self,
        env: &'env Env,
        filter: Unknown,
        update: Unknown,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        self.call(
            env,
            "db.updateOne",
            vec![
                ("filter", Some(filter)),
                ("update", Some(update)),
                ("options", options),
            ],
        )
    }

    #[napi(
        ts_return_type = "Promise<{ acknowledged: boolean, matchedCount: number, modifiedCount: number, upsertedCount: number, upsertedId: any }>"
    )]
    pub fn update_many<'env>(
        &self,
        env: &'env Env,
        filter: Unknown,
        update: Unknown,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        self.call(
            env,
            "db.updateMany",
            vec![
                ("filter", Some(filter)),
                ("update", Some(update)),
                ("options", options),
            ],
        )
    }

    #[napi(
        ts_return_type = "Promise<{ acknowledged: boolean, matchedCount: number, modifiedCount: number, upsertedCount: number, upsertedId: any }>"
    )]
    pub fn replace_one<'env>(
        &self,
        env: &'env Env,
        filter: Unknown,
        replacement: Unknown,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        self.call(
            env,
            "db.replaceOne",
            vec![
                ("filter", Some(filter)),
                ("replacement", Some(replacement)),
                ("options", options),
            ],
        )
    }

    #[napi(ts_return_type = "Promise<{ acknowledged: boolean, deletedCount: number }>")]
    pub fn delete_one<'env>(
        &self,
        env: &'env Env,
        filter: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        self.call(env, "db.deleteOne", vec![("filter", filter)])
    }

    #[napi(ts_return_type = "Promise<{ acknowledged: boolean, deletedCount: number }>")]
    pub fn delete_many<'env>(
        &self,
        env: &'env Env,
        filter: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        self.call(env, "db.deleteMany", vec![("filter", filter)])
    }

    #[napi(ts_return_type = "Promise<number>")]
    pub fn count_documents<'env>(
        &self,
        env: &'env Env,
        filter: Option<Unknown>,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        self.call(
            env,
            "db.countDocuments",
            vec![("filter", filter), ("options", options)],
        )
    }

    #[napi]
    pub fn aggregate(&self, env: &Env, pipeline: Option<Unknown>) -> Result<AggregationCursor> {
        let pipeline = arg(env, "aggregate: pipeline", pipeline)?;
        Ok(AggregationCursor {
            cloud: self.cloud.clone(),
            collection: self.name.clone(),
            pipeline: if pipeline.is_null() {
                json!([])
            } else {
                pipeline
            },
        })
    }

    #[napi(ts_return_type = "Promise<any[]>")]
    pub fn distinct<'env>(
        &self,
        env: &'env Env,
        field: String,
        filter: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        let mut args = json!({ "collection": self.name, "field": field });
        let filter = arg(env, "distinct: filter", filter)?;
        if !filter.is_null() {
            args["filter"] = filter;
        }
        run(env, &self.cloud, "db.distinct", args)
    }

    /// Resolves with the document (before the update unless
    /// `returnDocument: 'after'`), or null.
    #[napi(ts_return_type = "Promise<any | null>")]
    pub fn find_one_and_update<'env>(
        &self,
        env: &'env Env,
        filter: Unknown,
        update: Unknown,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        self.call(
            env,
            "db.findOneAndUpdate",
            vec![
                ("filter", Some(filter)),
                ("update", Some(update)),
                ("options", options),
            ],
        )
    }

    #[napi(ts_return_type = "Promise<any | null>")]
    pub fn find_one_and_delete<'env>(
        &self,
        env: &'env Env,
        filter: Unknown,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        self.call(
            env,
            "db.findOneAndDelete",
            vec![("filter", Some(filter)), ("options", options)],
        )
    }

    /// Resolves with the index name.
    #[napi(ts_return_type = "Promise<string>")]
    pub fn create_index<'env>(
        &self,
        env: &'env Env,
        keys: Unknown,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        self.call(
            env,
            "db.createIndex",
            vec![("keys", Some(keys)), ("options", options)],
        )
    }
}

/// The result of `find()`: chain `sort`, `limit`, `skip`, `project`, then `toArray()`.
#[napi]
pub struct FindCursor {
    cloud: Arc<CoreCloud>,
    collection: String,
    filter: Value,
    options: Map<String, Value>,
}

impl FindCursor {
    fn set<'a>(&mut self, env: &Env, this: This<'a>, key: &str, v: Unknown) -> Result<This<'a>> {
        let v = arg(env, key, Some(v))?;
        self.options.insert(key.into(), v);
        Ok(this)
    }
}

#[napi]
impl FindCursor {
    #[napi(ts_return_type = "this")]
    pub fn sort<'a>(&mut self, env: &Env, this: This<'a>, sort: Unknown) -> Result<This<'a>> {
        self.set(env, this, "sort", sort)
    }

    #[napi(ts_return_type = "this")]
    pub fn limit<'a>(&mut self, env: &Env, this: This<'a>, limit: Unknown) -> Result<This<'a>> {
        self.set(env, this, "limit", limit)
    }

    #[napi(ts_return_type = "this")]
    pub fn skip<'a>(&mut self, env: &Env, this: This<'a>, skip: Unknown) -> Result<This<'a>> {
        self.set(env, this, "skip", skip)
    }

    #[napi(ts_return_type = "this")]
    pub fn project<'a>(
        &mut self,
        env: &Env,
        this: This<'a>,
        projection: Unknown,
    ) -> Result<This<'a>> {
        self.set(env, this, "projection", projection)
    }

    #[napi(ts_return_type = "Promise<any[]>")]
    pub fn to_array<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Ejson>> {
        let args = json!({ "collection": self.collection, "filter": self.filter, "options": self.options });
        run(env, &self.cloud, "db.find", args)
    }
}

/// The result of `aggregate()`.
#[napi]
pub struct AggregationCursor {
    cloud: Arc<CoreCloud>,
    collection: String,
    pipeline: Value,
}

#[napi]
impl AggregationCursor {
    #[napi(ts_return_type = "Promise<any[]>")]
    pub fn to_array<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Ejson>> {
        let args = json!({ "collection": self.collection, "pipeline": self.pipeline });
        run(env, &self.cloud, "db.aggregate", args)
    }
}

/// S3 storage: `bucket(name?)`.
#[napi]
pub struct Storage {
    cloud: Arc<CoreCloud>,
}

#[napi]
impl Storage {
    /// A bucket; without a name, the configured default (`S3_BUCKET`).
    #[napi(ts_args_type = "name?: string | undefined | null")]
    pub fn bucket(&self, name: Arg<Option<String>>) -> Bucket {
        let name = name.0;
        Bucket {
            cloud: self.cloud.clone(),
            name,
        }
    }
}

/// One S3 bucket. Rejections: `STORAGE_NOT_FOUND` (no such key),
/// `STORAGE_BUCKET_NOT_FOUND`, `STORAGE_AUTH` (credentials rejected),
/// `STORAGE_ERROR` (unreachable, other), `NOT_CONFIGURED`, `INVALID_ARGUMENT`.
#[napi]
pub struct Bucket {
    cloud: Arc<CoreCloud>,
    name: Option<String>,
}

impl Bucket {
    /// `op` names the same signing for the async path: the bridge's name of
    /// `sign`.
    fn presign<'env>(
        &self,
        env: &'env Env,
        op: &'static str,
        sign: fn(&CoreBucket, &str, Option<u64>) -> CoreResult<String>,
        key: String,
        expires_in: Option<f64>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        let expires_in = match expires_in.map(|v| int("expiresIn", v, 1, 604_800)) {
            Some(Ok(v)) => Some(v as u32),
            Some(Err(e)) => return reject(env, e),
            None => None,
        };
        // Signing is pure computation: once the storage client exists, resolve
        // at once instead of a round trip through the tokio pool (the round
        // trip costs more than the HMACs). Any error takes the async path so
        // it arrives as the same rejection.
        if let Some(storage) = self.cloud.storage_ready() {
            let secs = expires_in.map(u64::from);
            if let Ok(url) = storage
                .bucket(self.name.as_deref())
                .and_then(|b| sign(&b, &key, secs))
            {
                return PromiseRaw::resolve(env, Ejson(Value::String(url)));
            }
        }
        let mut args = self.args(key);
        if let Some(e) = expires_in {
            args["expiresIn"] = Value::from(e);
        }
        run(env, &self.cloud, op, args)
    }

    fn args(&self, key: String) -> Value {
        let mut v = json!({ "key": key });
        if let Some(b) = &self.name {
            v["bucket"] = Value::String(b.clone());
        }
        v
    }
}

/// Options of `Bucket.writeFile`.
#[napi(object)]
pub struct WriteFileOptions {
    /// @default 'application/octet-stream'
    pub content_type: Option<String>,
}

#[napi]
impl Bucket {
    /// Stores a string (UTF-8) or bytes under `key`.
    #[napi(
        ts_args_type = "key: string, data: string | Buffer, options?: WriteFileOptions | undefined | null",
        ts_return_type = "Promise<void>"
    )]
    pub fn write_file<'env>(
        &self,
        env: &'env Env,
        key: Arg<String>,
        data: Arg<Either<String, Buffer>>,
        options: Arg<Option<WriteFileOptions>>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        let (key, data, options) = (key.0, data.0, options.0);
        let mut args = self.args(key);
        args["data"] = match data {
            Either::A(s) => Value::String(s),
            Either::B(b) => {
                use base64::Engine as _;
                json!({ "$binary": { "base64": base64::engine::general_purpose::STANDARD.encode(b.as_ref()), "subType": "00" } })
            }
        };
        if let Some(ct) = options.and_then(|o| o.content_type) {
            args["contentType"] = Value::String(ct);
        }
        run(env, &self.cloud, "storage.writeFile", args)
    }

    /// The bytes under `key`, as a Buffer.
    #[napi(ts_args_type = "key: string", ts_return_type = "Promise<Buffer>")]
    pub fn read_file<'env>(
        &self,
        env: &'env Env,
        key: Arg<String>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        run(env, &self.cloud, "storage.readFile", self.args(key.0))
    }

    #[napi(ts_args_type = "key: string", ts_return_type = "Promise<void>")]
    pub fn delete_file<'env>(
        &self,
        env: &'env Env,
        key: Arg<String>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        run(env, &self.cloud, "storage.deleteFile", self.args(key.0))
    }

    /// Every object under `prefix` (all pages).
    #[napi(
        ts_args_type = "prefix?: string | undefined | null",
        ts_return_type = "Promise<Array<{ key: string, size: number, lastModified: Date | null, etag: string | null }>>"
    )]
    pub fn list_files<'env>(
        &self,
        env: &'env Env,
        prefix: Arg<Option<String>>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        let prefix = prefix.0;
        let mut args = json!({});
        if let Some(b) = &self.name {
            args["bucket"] = Value::String(b.clone());
        }
        if let Some(p) = prefix {
            args["prefix"] = Value::String(p);
        }
        run(env, &self.cloud, "storage.listFiles", args)
    }

    /// A SigV4-presigned PUT URL. `expiresIn` seconds, 1 to 604800 (7 days).
    /// @default expiresIn 3600
    /// Rejects with `INVALID_ARGUMENT` when `expiresIn` is not a whole number from 1 to 604800.
    #[napi(
        ts_args_type = "key: string, expiresIn?: number | undefined | null",
        ts_return_type = "Promise<string>"
    )]
    pub fn get_upload_url<'env>(
        &self,
        env: &'env Env,
        key: Arg<String>,
        expires_in: Arg<Option<f64>>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        let (key, expires_in) = (key.0, expires_in.0);
        self.presign(
            env,
            "storage.getUploadUrl",
            CoreBucket::upload_url,
            key,
            expires_in,
        )
    }

    /// A SigV4-presigned GET URL. `expiresIn` seconds, 1 to 604800 (7 days).
    /// @default expiresIn 3600
    /// Rejects with `INVALID_ARGUMENT` when `expiresIn` is not a whole number from 1 to 604800.
    #[napi(
        ts_args_type = "key: string, expiresIn?: number | undefined | null",
        ts_return_type = "Promise<string>"
    )]
    pub fn get_download_url<'env>(
        &self,
        env: &'env Env,
        key: Arg<String>,
        expires_in: Arg<Option<f64>>,
    ) -> Result<PromiseRaw<'env, Ejson>> {
        let (key, expires_in) = (key.0, expires_in.0);
        self.presign(
            env,
            "storage.getDownloadUrl",
            CoreBucket::download_url,
            key,
            expires_in,
        )
    }
}
