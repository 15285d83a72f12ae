//! `createCloud` and the classes of the Cloud SDK for host code: `Cloud`,
//! `Db`, `Collection` (with `FindCursor` / `AggregationCursor`), `Storage`
//! and `Bucket`. Each method converts its arguments to Extended JSON and
//! runs the same typed core operation (`runtime_core::cloud::call::Op`) a
//! function's call decodes into, behind the same walls, and converts the
//! result back (ObjectId, Date and Buffer restored).

use std::collections::HashMap;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use runtime_core::cloud::bson::oid::ObjectId as Oid;
use runtime_core::cloud::bson::spec::BinarySubtype;
use runtime_core::cloud::bson::{doc, Binary, Bson, Document};
use runtime_core::cloud::call::Op;
use runtime_core::cloud::call::{check_database_name, Caller, StorageCall};
use runtime_core::cloud::Cloud as CoreCloud;
use runtime_core::config::CloudOverrides;
use runtime_core::engine::InvokeRequest;
use runtime_core::{CloudConfig, Error as CoreError, Result as CoreResult};

use crate::args::{int, Arg};
use crate::engine::engine;
use crate::error::{js_error_with, reject, spawn, throw};
use crate::objectid::ObjectId;
use crate::value::{from_json, to_bson, Js};

/// S3 settings; each falls back to the environment.
#[napi(object)]
#[derive(Default)]
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
    /// Buckets besides `s3.bucket` that `storage.bucket(name)` may open;
    /// any other is refused with `STORAGE_BUCKET_NOT_ALLOWED`.
    /// @default S3_BUCKETS (comma-separated), else none
    pub buckets: Option<Vec<String>>,
    /// `cloud.env` for functions backed by this Cloud.
    /// @default the FUNCTION_ENV_* variables, prefix stripped
    pub env: Option<HashMap<String, String>>,
    /// The tenant of functions run with this Cloud as `ctx.cloud` (1 to 128 characters):
    /// Clouds with the same tenant share warm workers and cached programs.
    /// @default a tenant of this Cloud's own
    pub tenant: Option<String>,
}

impl From<CloudOptions> for CloudOverrides {
    fn from(o: CloudOptions) -> Self {
        let s3 = o.s3.unwrap_or_default();
        CloudOverrides {
            tenant: o.tenant,
            mongo_url: o.mongo_url,
            database: o.database,
            functions_collection: o.functions_collection,
            s3_endpoint: s3.endpoint,
            s3_region: s3.region,
            s3_access_key_id: s3.access_key_id,
            s3_secret_access_key: s3.secret_access_key,
            s3_bucket: s3.bucket,
            s3_force_path_style: s3.force_path_style,
            buckets: o.buckets,
            env: o.env.map(|e| e.into_iter().collect()),
        }
    }
}

fn config_from(options: Option<CloudOptions>) -> CoreResult<CloudConfig> {
    let c = CloudConfig::from_env();
    match options {
        Some(o) => c.with(o.into()),
        None => Ok(c),
    }
}

/// Creates a Cloud: the SDK for host code, and (passed as `ctx.cloud` to
/// `executeFunction`) the Cloud that backs an invocation. Nothing connects
/// until a call needs it; a missing setting is a `NOT_CONFIGURED` error at
/// that call, naming the variable to set.
/// Throws `INVALID_ARGUMENT` for options of the wrong type and for a
/// database name MongoDB would not accept or that names a path (`''`,
/// `'a/b'`, `'a.b$'`).
#[napi(
    ts_args_type = "options?: CloudOptions | undefined | null",
    catch_unwind
)]
pub fn create_cloud(env: &Env, options: Arg<Option<CloudOptions>>) -> Result<Cloud> {
    let config = throw(env, config_from(options.0))?;
    throw(env, check_database_name(&config.database))?;
    Ok(Cloud {
        inner: Arc::new(CoreCloud::new(config)),
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
    /// server answers within 2 s (then at once, until a background probe
    /// sees it answer), `DATABASE_ERROR` for server errors (then `code` is
    /// the server's number and `codeName` its name, e.g. 11000 and
    /// `DuplicateKey`), `DATABASE_FORBIDDEN` for `system.*` collections and
    /// aggregation stages that name another database.
    #[napi(catch_unwind)]
    pub fn database(&self) -> Db {
        Db {
            cloud: self.inner.clone(),
        }
    }

    /// S3 storage.
    #[napi(getter, catch_unwind)]
    pub fn storage(&self) -> Storage {
        Storage {
            cloud: self.inner.clone(),
        }
    }

    /// The variables given to functions (`FUNCTION_ENV_*`, prefix stripped).
    #[napi(getter, catch_unwind)]
    pub fn env(&self) -> HashMap<String, String> {
        self.inner.env().clone().into_iter().collect()
    }

    /// Runs the stored function `name` with `ctx.body = data`, backed by this
    /// Cloud, and resolves with its return value. Rejects with the function's
    /// own error message (`errorCode` `INVOKE_FAILED`, with the callee's
    /// `logs` and `stack` on the error), `FUNCTION_NOT_FOUND`, or the
    /// database's error.
    #[napi(
        ts_args_type = "name: string, data?: any",
        ts_return_type = "Promise<any>",
        catch_unwind
    )]
    pub fn invoke<'env>(
        &self,
        env: &'env Env,
        name: Arg<String>,
        data: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Js>> {
        let name = name.0;
        let engine = throw(env, engine())?;
        let data = arg(env, "invoke: data", data)?.into_relaxed_extjson();
        let cloud = self.inner.clone();
        spawn(
            env,
            async move {
                let r = engine
                    .invoke_function(InvokeRequest {
                        cloud,
                        name: name.clone(),
                        data,
                        depth: 1,
                        backend: None,
                        parent_deadline: None,
                        tenant: None,
                    })
                    .await?;
                let value = serde_json::from_str(r.data.get())
                    .map(from_json)
                    .map_err(|e| {
                        CoreError::invalid(format!(
                            "invoke('{name}'): its result cannot be read: {e}"
                        ))
                    })?;
                Ok((name, r, value))
            },
            |env, (name, r, value)| match r.error {
                None => Ok(Js(value)),
                // The callee's logs and stack ride on the error, as a
                // function's `cloud.invoke` gets them.
                Some(message) => Err(js_error_with(
                    env,
                    &CoreError::InvokeFailed { name, message },
                    |obj| {
                        obj.set_named_property("logs", r.logs)?;
                        if let Some(stack) = r.stack {
                            obj.set_named_property("stack", stack)?;
                        }
                        Ok(())
                    },
                )),
            },
        )
    }
}

/// Converts an optional argument, throwing INVALID_ARGUMENT on values that
/// cannot be stored (functions, symbols, circular objects).
fn arg(env: &Env, what: &str, v: Option<Unknown>) -> Result<Bson> {
    match v {
        None => Ok(Bson::Null),
        Some(v) => throw(
            env,
            to_bson(env, v).map_err(|why| CoreError::invalid(format!("{what}: {why}"))),
        ),
    }
}

/// Runs one core operation (`op` with BSON arguments, decoded into the
/// typed `Op` as a function's call is) and resolves with its result.
fn run<'env>(
    env: &'env Env,
    cloud: &Arc<CoreCloud>,
    op: &str,
    args: Document,
) -> Result<PromiseRaw<'env, Js>> {
    let op = match Op::decode_doc(op, args) {
        Ok(op) => op,
        Err(e) => return reject(env, e),
    };
    let cloud = cloud.clone();
    spawn(
        env,
        async move { cloud.apply(op, Caller::Host).await },
        |_, v| Ok(Js(v)),
    )
}

/// A database, as `client.db()` of the MongoDB Node driver.
#[napi]
pub struct Db {
    cloud: Arc<CoreCloud>,
}

#[napi]
impl Db {
    #[napi(ts_args_type = "name: string", catch_unwind)]
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
    /// Runs `db.<method>` with the named arguments.
    fn call<'env>(
        &self,
        env: &'env Env,
        method: &'static str,
        fields: Vec<(&str, Option<Unknown>)>,
    ) -> Result<PromiseRaw<'env, Js>> {
        let mut args = doc! { "collection": &self.name };
        for (k, v) in fields {
            let v = arg(env, &format!("{method}: {k}"), v)?;
            if v != Bson::Null {
                args.insert(k, v);
            }
        }
        run(env, &self.cloud, &format!("db.{method}"), args)
    }
}

#[napi]
impl Collection {
    #[napi(getter, catch_unwind)]
    pub fn collection_name(&self) -> String {
        self.name.clone()
    }

    /// A cursor; nothing is sent until `toArray()`.
    #[napi(catch_unwind)]
    pub fn find(
        &self,
        env: &Env,
        filter: Option<Unknown>,
        options: Option<Unknown>,
    ) -> Result<FindCursor> {
        let filter = arg(env, "find: filter", filter)?;
        let options = match arg(env, "find: options", options)? {
            Bson::Document(d) => d,
            _ => Document::new(),
        };
        Ok(FindCursor {
            cloud: self.cloud.clone(),
            collection: self.name.clone(),
            filter,
            options,
        })
    }

    #[napi(ts_return_type = "Promise<any | null>", catch_unwind)]
    pub fn find_one<'env>(
        &self,
        env: &'env Env,
        filter: Option<Unknown>,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Js>> {
        self.call(
            env,
            "findOne",
            vec![("filter", filter), ("options", options)],
        )
    }

    #[napi(
        ts_return_type = "Promise<{ acknowledged: boolean, insertedId: any }>",
        catch_unwind
    )]
    pub fn insert_one<'env>(&self, env: &'env Env, doc: Unknown) -> Result<PromiseRaw<'env, Js>> {
        self.call(env, "insertOne", vec![("doc", Some(with_id(env, doc)?))])
    }

    #[napi(
        ts_return_type = "Promise<{ acknowledged: boolean, insertedCount: number, insertedIds: Record<number, any> }>",
        catch_unwind
    )]
    pub fn insert_many<'env>(&self, env: &'env Env, docs: Unknown) -> Result<PromiseRaw<'env, Js>> {
        if docs.is_array()? {
            let arr = Array::from_unknown(docs)?;
            for i in 0..arr.len() {
                if let Some(d) = arr.get::<Unknown>(i)? {
                    with_id(env, d)?;
                }
            }
        }
        self.call(env, "insertMany", vec![("docs", Some(docs))])
    }

    #[napi(
        ts_return_type = "Promise<{ acknowledged: boolean, matchedCount: number, modifiedCount: number, upsertedCount: number, upsertedId: any }>",
        catch_unwind
    )]
    pub fn update_one<'env>(
        &self,
        env: &'env Env,
        filter: Unknown,
        update: Unknown,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Js>> {
        self.call(
            env,
            "updateOne",
            vec![
                ("filter", Some(filter)),
                ("update", Some(update)),
                ("options", options),
            ],
        )
    }

    #[napi(
        ts_return_type = "Promise<{ acknowledged: boolean, matchedCount: number, modifiedCount: number, upsertedCount: number, upsertedId: any }>",
        catch_unwind
    )]
    pub fn update_many<'env>(
        &self,
        env: &'env Env,
        filter: Unknown,
        update: Unknown,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Js>> {
        self.call(
            env,
            "updateMany",
            vec![
                ("filter", Some(filter)),
                ("update", Some(update)),
                ("options", options),
            ],
        )
    }

    #[napi(
        ts_return_type = "Promise<{ acknowledged: boolean, matchedCount: number, modifiedCount: number, upsertedCount: number, upsertedId: any }>",
        catch_unwind
    )]
    pub fn replace_one<'env>(
        &self,
        env: &'env Env,
        filter: Unknown,
        replacement: Unknown,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Js>> {
        self.call(
            env,
            "replaceOne",
            vec![
                ("filter", Some(filter)),
                ("replacement", Some(replacement)),
                ("options", options),
            ],
        )
    }

    #[napi(
        ts_return_type = "Promise<{ acknowledged: boolean, deletedCount: number }>",
        catch_unwind
    )]
    pub fn delete_one<'env>(
        &self,
        env: &'env Env,
        filter: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Js>> {
        self.call(env, "deleteOne", vec![("filter", filter)])
    }

    #[napi(
        ts_return_type = "Promise<{ acknowledged: boolean, deletedCount: number }>",
        catch_unwind
    )]
    pub fn delete_many<'env>(
        &self,
        env: &'env Env,
        filter: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Js>> {
        self.call(env, "deleteMany", vec![("filter", filter)])
    }

    #[napi(ts_return_type = "Promise<number>", catch_unwind)]
    pub fn count_documents<'env>(
        &self,
        env: &'env Env,
        filter: Option<Unknown>,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Js>> {
        self.call(
            env,
            "countDocuments",
            vec![("filter", filter), ("options", options)],
        )
    }

    #[napi(catch_unwind)]
    pub fn aggregate(&self, env: &Env, pipeline: Option<Unknown>) -> Result<AggregationCursor> {
        let pipeline = arg(env, "aggregate: pipeline", pipeline)?;
        Ok(AggregationCursor {
            cloud: self.cloud.clone(),
            collection: self.name.clone(),
            pipeline,
        })
    }

    #[napi(ts_return_type = "Promise<any[]>", catch_unwind)]
    pub fn distinct<'env>(
        &self,
        env: &'env Env,
        field: String,
        filter: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Js>> {
        let filter = arg(env, "distinct: filter", filter)?;
        let args = doc! { "collection": &self.name, "field": field, "filter": filter };
        run(env, &self.cloud, "db.distinct", args)
    }

    /// Resolves with the document (before the update unless
    /// `returnDocument: 'after'`), or null.
    #[napi(ts_return_type = "Promise<any | null>", catch_unwind)]
    pub fn find_one_and_update<'env>(
        &self,
        env: &'env Env,
        filter: Unknown,
        update: Unknown,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Js>> {
        self.call(
            env,
            "findOneAndUpdate",
            vec![
                ("filter", Some(filter)),
                ("update", Some(update)),
                ("options", options),
            ],
        )
    }

    #[napi(ts_return_type = "Promise<any | null>", catch_unwind)]
    pub fn find_one_and_delete<'env>(
        &self,
        env: &'env Env,
        filter: Unknown,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Js>> {
        self.call(
            env,
            "findOneAndDelete",
            vec![("filter", Some(filter)), ("options", options)],
        )
    }

    /// Resolves with the index name.
    #[napi(ts_return_type = "Promise<string>", catch_unwind)]
    pub fn create_index<'env>(
        &self,
        env: &'env Env,
        keys: Unknown,
        options: Option<Unknown>,
    ) -> Result<PromiseRaw<'env, Js>> {
        self.call(
            env,
            "createIndex",
            vec![("keys", Some(keys)), ("options", options)],
        )
    }
}

/// The result of `find()`: chain `sort`, `limit`, `skip`, `project`, then `toArray()`.
#[napi]
pub struct FindCursor {
    cloud: Arc<CoreCloud>,
    collection: String,
    filter: Bson,
    options: Document,
}

impl FindCursor {
    fn set<'a>(&mut self, env: &Env, this: This<'a>, key: &str, v: Unknown) -> Result<This<'a>> {
        let v = arg(env, key, Some(v))?;
        self.options.insert(key, v);
        Ok(this)
    }
}

#[napi]
impl FindCursor {
    #[napi(ts_return_type = "this", catch_unwind)]
    pub fn sort<'a>(&mut self, env: &Env, this: This<'a>, sort: Unknown) -> Result<This<'a>> {
        self.set(env, this, "sort", sort)
    }

    #[napi(ts_return_type = "this", catch_unwind)]
    pub fn limit<'a>(&mut self, env: &Env, this: This<'a>, limit: Unknown) -> Result<This<'a>> {
        self.set(env, this, "limit", limit)
    }

    #[napi(ts_return_type = "this", catch_unwind)]
    pub fn skip<'a>(&mut self, env: &Env, this: This<'a>, skip: Unknown) -> Result<This<'a>> {
        self.set(env, this, "skip", skip)
    }

    #[napi(ts_return_type = "this", catch_unwind)]
    pub fn project<'a>(
        &mut self,
        env: &Env,
        this: This<'a>,
        projection: Unknown,
    ) -> Result<This<'a>> {
        self.set(env, this, "projection", projection)
    }

    #[napi(ts_return_type = "Promise<any[]>", catch_unwind)]
    pub fn to_array<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Js>> {
        let args = doc! { "collection": &self.collection, "filter": self.filter.clone(), "options": self.options.clone() };
        run(env, &self.cloud, "db.find", args)
    }
}

/// The result of `aggregate()`.
#[napi]
pub struct AggregationCursor {
    cloud: Arc<CoreCloud>,
    collection: String,
    pipeline: Bson,
}

#[napi]
impl AggregationCursor {
    #[napi(ts_return_type = "Promise<any[]>", catch_unwind)]
    pub fn to_array<'env>(&self, env: &'env Env) -> Result<PromiseRaw<'env, Js>> {
        let args = doc! { "collection": &self.collection, "pipeline": self.pipeline.clone() };
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
    #[napi(ts_args_type = "name?: string | undefined | null", catch_unwind)]
    pub fn bucket(&self, name: Arg<Option<String>>) -> Bucket {
        let name = name.0;
        Bucket {
            cloud: self.cloud.clone(),
            name,
        }
    }
}

/// One S3 bucket. Rejections: `STORAGE_BUCKET_NOT_ALLOWED` (not this
/// Cloud's bucket nor listed in `buckets`), `INVALID_ARGUMENT` (a key that
/// is empty, absolute, has a `..` segment or a control character, or is
/// over 1 024 bytes), `STORAGE_NOT_FOUND` (no such key),
/// `STORAGE_BUCKET_NOT_FOUND`, `STORAGE_AUTH` (credentials rejected),
/// `STORAGE_ERROR` (unreachable, other), `NOT_CONFIGURED`, `INVALID_ARGUMENT`.
#[napi]
pub struct Bucket {
    cloud: Arc<CoreCloud>,
    name: Option<String>,
}

impl Bucket {
    /// Signs synchronously (no I/O): resolves or rejects at once.
    fn presign<'env>(
        &self,
        env: &'env Env,
        call: fn(String, Option<u64>) -> StorageCall,
        key: String,
        expires_in: Option<f64>,
    ) -> Result<PromiseRaw<'env, Js>> {
        let expires_in = match expires_in.map(|v| int("expiresIn", v, 1, 604_800)) {
            Some(Ok(v)) => Some(v),
            Some(Err(e)) => return reject(env, e),
            None => None,
        };
        match self.cloud.presign(self.name.clone(), call(key, expires_in)) {
            Ok(url) => PromiseRaw::resolve(env, Js(Bson::String(url))),
            Err(e) => reject(env, e),
        }
    }

    fn args(&self, key: String) -> Document {
        let mut d = doc! { "key": key };
        if let Some(b) = &self.name {
            d.insert("bucket", b.clone());
        }
        d
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
        ts_return_type = "Promise<void>",
        catch_unwind
    )]
    pub fn write_file<'env>(
        &self,
        env: &'env Env,
        key: Arg<String>,
        data: Arg<Either<String, Buffer>>,
        options: Arg<Option<WriteFileOptions>>,
    ) -> Result<PromiseRaw<'env, Js>> {
        let (key, data, options) = (key.0, data.0, options.0);
        let mut args = self.args(key);
        let data = match data {
            Either::A(s) => Bson::String(s),
            Either::B(b) => Bson::Binary(Binary {
                subtype: BinarySubtype::Generic,
                bytes: b.to_vec(),
            }),
        };
        args.insert("data", data);
        if let Some(ct) = options.and_then(|o| o.content_type) {
            args.insert("contentType", ct);
        }
        run(env, &self.cloud, "storage.writeFile", args)
    }

    /// The bytes under `key`, as a Buffer.
    #[napi(
        ts_args_type = "key: string",
        ts_return_type = "Promise<Buffer>",
        catch_unwind
    )]
    pub fn read_file<'env>(
        &self,
        env: &'env Env,
        key: Arg<String>,
    ) -> Result<PromiseRaw<'env, Js>> {
        run(env, &self.cloud, "storage.readFile", self.args(key.0))
    }

    #[napi(
        ts_args_type = "key: string",
        ts_return_type = "Promise<void>",
        catch_unwind
    )]
    pub fn delete_file<'env>(
        &self,
        env: &'env Env,
        key: Arg<String>,
    ) -> Result<PromiseRaw<'env, Js>> {
        run(env, &self.cloud, "storage.deleteFile", self.args(key.0))
    }

    /// Every object under `prefix` (all pages).
    #[napi(
        ts_args_type = "prefix?: string | undefined | null",
        ts_return_type = "Promise<Array<{ key: string, size: number, lastModified: Date | null, etag: string | null }>>",
        catch_unwind
    )]
    pub fn list_files<'env>(
        &self,
        env: &'env Env,
        prefix: Arg<Option<String>>,
    ) -> Result<PromiseRaw<'env, Js>> {
        let prefix = prefix.0;
        let mut args = Document::new();
        if let Some(b) = &self.name {
            args.insert("bucket", b.clone());
        }
        if let Some(p) = prefix {
            args.insert("prefix", p);
        }
        run(env, &self.cloud, "storage.listFiles", args)
    }

    /// A SigV4-presigned PUT URL. `expiresIn` seconds, 1 to 604800 (7 days).
    /// @default expiresIn 3600
    /// Rejects with `INVALID_ARGUMENT` when `expiresIn` is not a whole number from 1 to 604800.
    #[napi(
        ts_args_type = "key: string, expiresIn?: number | undefined | null",
        ts_return_type = "Promise<string>",
        catch_unwind
    )]
    pub fn get_upload_url<'env>(
        &self,
        env: &'env Env,
        key: Arg<String>,
        expires_in: Arg<Option<f64>>,
    ) -> Result<PromiseRaw<'env, Js>> {
        let (key, expires_in) = (key.0, expires_in.0);
        self.presign(
            env,
            |key, expires_in| StorageCall::GetUploadUrl { key, expires_in },
            key,
            expires_in,
        )
    }

    /// A SigV4-presigned GET URL. `expiresIn` seconds, 1 to 604800 (7 days).
    /// @default expiresIn 3600
    /// Rejects with `INVALID_ARGUMENT` when `expiresIn` is not a whole number from 1 to 604800.
    #[napi(
        ts_args_type = "key: string, expiresIn?: number | undefined | null",
        ts_return_type = "Promise<string>",
        catch_unwind
    )]
    pub fn get_download_url<'env>(
        &self,
        env: &'env Env,
        key: Arg<String>,
        expires_in: Arg<Option<f64>>,
    ) -> Result<PromiseRaw<'env, Js>> {
        let (key, expires_in) = (key.0, expires_in.0);
        self.presign(
            env,
            |key, expires_in| StorageCall::GetDownloadUrl { key, expires_in },
            key,
            expires_in,
        )
    }
}

/// Sets a new `_id` on a plain object that has none, as the Node driver's
/// `insertOne` does, so the caller's document holds the id it was stored
/// under. Anything else is left for the core to refuse.
fn with_id<'a>(env: &Env, doc: Unknown<'a>) -> Result<Unknown<'a>> {
    let plain = doc.get_type()? == ValueType::Object
        && !doc.is_array()?
        && !doc.is_date()?
        && !doc.is_buffer()?
        && !doc.is_typedarray()?
        && !ObjectId::instance_of(env, &doc)?;
    if plain {
        let mut obj = Object::from_unknown(doc)?;
        if obj.get_named_property::<Unknown>("_id")?.get_type()? == ValueType::Undefined {
            obj.set_named_property("_id", ObjectId { oid: Oid::new() })?;
        }
    }
    Ok(doc)
}

/// Makes host cursors async-iterable (`for await (const d of c.find())`),
/// as function cursors are: napi classes cannot declare a Symbol-keyed
/// method, so the one line of JavaScript is installed when the addon loads.
#[napi(module_exports)]
pub fn install_cursor_iterators(exports: Object, env: Env) -> Result<()> {
    let install: Function<Unknown, ()> = env.run_script(
        "(function (exports) { for (const name of ['FindCursor', 'AggregationCursor']) \
         exports[name].prototype[Symbol.asyncIterator] = \
         async function* () { for (const d of await this.toArray()) yield d; }; })",
    )?;
    install.call(exports.to_unknown())
}
