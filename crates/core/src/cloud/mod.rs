//! The Cloud SDK: one [`Cloud`] per tenant, holding lazily-connected clients
//! for MongoDB ([`database`]) and S3 ([`storage`]) plus `cloud.env`.
//!
//! Host code uses the typed methods; sandboxed code reaches the same methods
//! through [`Cloud::call`], which takes an operation name and Extended-JSON
//! arguments (see [`ejson`]) as they arrive over a worker pipe or the bridge.

pub mod breaker;
pub mod database;
pub mod ejson;
pub mod storage;

use std::collections::BTreeMap;

use serde_json::Value;
use tokio::sync::OnceCell;

use crate::config::CloudConfig;
use crate::error::{Error, Result};

pub struct Cloud {
    config: CloudConfig,
    /// Whose functions run with this Cloud (see [`Cloud::tenant`]).
    tenant: std::sync::Arc<str>,
    // OnceCell: connect on first use, so a Cloud without MONGODB_URL still
    // serves storage, and the error names the missing variable at the call.
    database: OnceCell<database::Database>,
    storage: OnceCell<storage::Storage>,
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
            storage: OnceCell::new(),
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

    pub async fn storage(&self) -> Result<&storage::Storage> {
        self.storage
            .get_or_try_init(|| storage::Storage::connect(&self.config))
            .await
    }

    /// The storage client if a call has already made it: lets pure
    /// computations (presigning) skip the async path.
    pub fn storage_ready(&self) -> Option<&storage::Storage> {
        self.storage.get()
    }

    /// Runs one `cloud.*` operation sent by sandboxed code: `db.<method>` or
    /// `storage.<method>`, arguments and result in Extended JSON.
    pub async fn call(&self, op: &str, args: Value) -> Result<Value> {
        if let Some(method) = op.strip_prefix("db.") {
            self.db_breaker.check()?;
            let db = self.database().await?;
            return self
                .db_breaker
                .run(|| db.probe_targets(), db.dispatch(method, args))
                .await;
        }
        if let Some(method) = op.strip_prefix("storage.") {
            self.storage_breaker.check()?;
            let storage = self.storage().await?;
            return self
                .storage_breaker
                .run(|| storage.probe_targets(), storage.dispatch(method, args))
                .await;
        }
        Err(Error::invalid(format!("unknown cloud operation {op:?}")))
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
