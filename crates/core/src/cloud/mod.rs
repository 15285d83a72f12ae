//! The Cloud SDK: one [`Cloud`] per tenant, holding lazily-connected clients
//! for MongoDB ([`database`]) and S3 ([`storage`]) plus `cloud.env`.
//!
//! Every `cloud.*` operation — from host code through the napi classes, from
//! a function over a worker pipe or the bridge — is one typed [`call::Op`],
//! checked against the Cloud's walls and run by [`Cloud::apply`].

pub mod breaker;
pub mod call;
pub mod database;
pub mod ejson;
pub mod storage;

/// The `bson` crate the SDK speaks, for the edge's ObjectId and Date conversions.
pub use mongodb::bson;

use std::collections::BTreeMap;

use std::sync::OnceLock;

use serde_json::Value;
use tokio::sync::OnceCell;

use call::{Caller, Op};

use crate::config::CloudConfig;
use crate::error::{Error, Result};

/// What a function's calls may take: the host holds each answer in memory,
/// and the database server is shared.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Reads (`find`, `aggregate`, `readFile`, `listFiles`) past this many
    /// bytes are refused (`READ_TOO_LARGE`).
    pub max_read: Option<usize>,
    /// Database reads carry it as `maxTimeMS`, so the server stops a query
    /// at the invocation's deadline instead of running on after it.
    pub max_time: Option<std::time::Duration>,
}

pub struct Cloud {
    config: CloudConfig,
    /// Whose functions run with this Cloud (see [`Cloud::tenant`]).
    tenant: std::sync::Arc<str>,
    // OnceCell: connect on first use, so a Cloud without MONGODB_URL still
    // serves storage, and the error names the missing variable at the call.
    database: OnceCell<database::Database>,
    // Built without I/O, so synchronously: presigning has one path.
    storage: OnceLock<storage::Storage>,
    db_breaker: breaker::Breaker,
    storage_breaker: breaker::Breaker,
}

impl Cloud {
    pub fn new(config: CloudConfig) -> Self {
        // Each Cloud is its own tenant unless it is given a name, so two
        // `createCloud()` objects never share a worker or a cached program.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let tenant = match &config.tenant {
            Some(t) => t.as_str().into(),
            None => format!(
                "cloud-{}",
                NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            )
            .into(),
        };
        Cloud {
            config,
            tenant,
            database: OnceCell::new(),
            storage: OnceLock::new(),
            db_breaker: breaker::Breaker::new(breaker::Service::Database),
            storage_breaker: breaker::Breaker::new(breaker::Service::Storage),
        }
    }

    /// The default Cloud (from the environment): tenant `default`.
    pub fn from_env() -> Self {
        let mut config = CloudConfig::from_env();
        config.tenant.get_or_insert_with(|| "default".into());
        Self::new(config)
    }

    /// The tenant whose functions run with this Cloud: its configured
    /// `tenant`, else one of its own.
    pub fn tenant(&self) -> &std::sync::Arc<str> {
        &self.tenant
    }

    pub fn config(&self) -> &CloudConfig {
        &self.config
    }

    /// `cloud.env`: only the `FUNCTION_ENV_*` variables, prefix stripped.
    pub fn env(&self) -> &BTreeMap<String, String> {
        &self.config.env
    }

    pub async fn database(&self) -> Result<&database::Database> {
        self.database
            .get_or_try_init(|| database::Database::connect(&self.config))
            .await
    }

    pub fn storage(&self) -> Result<&storage::Storage> {
        if let Some(s) = self.storage.get() {
            return Ok(s);
        }
        let built = storage::Storage::new(&self.config)?;
        // A racing caller may have set it first; either client is the same.
        Ok(self.storage.get_or_init(|| built))
    }

    /// Runs one `cloud.*` operation sent as a wire name and Extended-JSON
    /// arguments (a worker pipe, the bridge): decoded, checked, applied,
    /// answered in relaxed Extended JSON.
    pub async fn call(&self, op: &str, args: Value, caller: Caller) -> Result<Value> {
        self.apply(Op::decode(op, args)?, caller)
            .await
            .map(bson::Bson::into_relaxed_extjson)
    }

    /// Runs one typed operation after checking the Cloud's walls
    /// ([`Op::check`]). `Op::Invoke` needs an engine: the invocation scope
    /// and the napi edge serve it.
    pub async fn apply(&self, op: Op, caller: Caller) -> Result<bson::Bson> {
        self.apply_within(op, caller, Limits::default()).await
    }

    /// As [`Cloud::apply`], within a function's [`Limits`].
    pub async fn apply_within(&self, op: Op, caller: Caller, limits: Limits) -> Result<bson::Bson> {
        op.check(&self.config, caller)?;
        self.apply_checked(op, limits).await
    }

    async fn apply_checked(&self, op: Op, limits: Limits) -> Result<bson::Bson> {
        let max_read = limits.max_read;
        match op {
            Op::Db { collection, call } => {
                self.on_database(|db| db.apply(&collection, call, limits))
                    .await
            }
            Op::Storage { bucket, call } => {
                self.storage_breaker.check()?;
                let storage = self.storage()?;
                self.storage_breaker
                    .run(
                        || storage.probe_targets(),
                        storage.apply(bucket.as_deref(), call, max_read),
                    )
                    .await
            }
            Op::Invoke { .. } | Op::Fetch(_) => Err(Error::invalid(
                "cloud.invoke and fetch are served by an invocation, not by a Cloud alone",
            )),
        }
    }

    /// Runs `read` on the database behind its breaker.
    async fn on_database<'s, T, F>(
        &'s self,
        read: impl FnOnce(&'s database::Database) -> F,
    ) -> Result<T>
    where
        F: std::future::Future<Output = Result<T>>,
    {
        self.db_breaker.check()?;
        let db = self.database().await?;
        self.db_breaker.run(|| db.probe_targets(), read(db)).await
    }

    /// [`Cloud::presign`] for a wire operation (`storage.getUploadUrl` or
    /// `storage.getDownloadUrl` with Extended-JSON arguments): host code
    /// signs without a trip through the async runtime.
    pub fn presign_call(&self, op: &str, args: Value) -> Result<String> {
        match Op::decode(op, args)? {
            Op::Storage { bucket, call } => self.presign(bucket, call),
            _ => Err(Error::invalid(format!("{op}: not a URL operation"))),
        }
    }

    /// [`Cloud::apply`] answered as JSON text (host code's `Cloud.call`):
    /// a `find` goes from raw BSON to text without decoding its documents.
    pub async fn apply_json(&self, op: Op, caller: Caller) -> Result<String> {
        op.check(&self.config, caller)?;
        match op {
            Op::Db {
                collection,
                call: call::DbCall::Find { filter, options },
            } => {
                self.on_database(|db| db.find_json(&collection, filter, options))
                    .await
            }
            op => Ok(ejson::to_json_text(
                &self.apply_checked(op, Limits::default()).await?,
            )),
        }
    }

    /// A presigned URL, synchronously (signing needs no I/O), walls
    /// checked: `call` is `GetUploadUrl` or `GetDownloadUrl`.
    pub fn presign(&self, bucket: Option<String>, call: call::StorageCall) -> Result<String> {
        let op = Op::Storage { bucket, call };
        op.check(&self.config, Caller::Host)?;
        let sign = |bucket: &Option<String>| self.storage()?.bucket(bucket.as_deref());
        match op {
            Op::Storage {
                bucket,
                call: call::StorageCall::GetUploadUrl { key, expires_in },
            } => sign(&bucket)?.upload_url(&key, expires_in),
            Op::Storage {
                bucket,
                call: call::StorageCall::GetDownloadUrl { key, expires_in },
            } => sign(&bucket)?.download_url(&key, expires_in),
            _ => Err(Error::invalid("presign: not a URL operation")),
        }
    }

    /// Reads a function from the function store (behind the database breaker).
    pub async fn load_function(&self, name: &str) -> Result<Option<database::StoredFunction>> {
        self.db_breaker.check()?;
        let db = self.database().await?;
        self.db_breaker
            .run(
                || db.probe_targets(),
                db.load_function(&self.config.functions_collection, name),
            )
            .await
    }

    /// `up`, `down`, `unknown` or `not_configured`, for `health()`.
    pub fn database_state(&self) -> &'static str {
        if self.config.mongo_url.is_none() {
            return "not_configured";
        }
        self.db_breaker.state()
    }

    pub fn storage_state(&self) -> &'static str {
        if self.config.s3.bucket.is_none() && self.config.s3.endpoint.is_none() {
            return "not_configured";
        }
        self.storage_breaker.state()
    }
}
