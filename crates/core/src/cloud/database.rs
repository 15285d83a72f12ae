//! MongoDB for `cloud.database()`. (Being built.)

use serde_json::Value;

use crate::config::CloudConfig;
use crate::error::{Error, Result};

pub struct Database {}

impl Database {
    pub async fn connect(config: &CloudConfig) -> Result<Self> {
        let _ = config.mongo_url.as_ref().ok_or(Error::NotConfigured {
            what: "the database",
            var: "MONGODB_URL",
        })?;
        Ok(Database {})
    }

    pub async fn load_function(&self, _collection: &str, name: &str) -> Result<Option<StoredFunction>> {
        Err(Error::FunctionNotFound(name.to_string()))
    }

    pub async fn dispatch(&self, method: &str, _args: Value) -> Result<Value> {
        Err(Error::invalid(format!(
            "unknown database method {method:?}"
        )))
    }
}

pub struct StoredFunction {
    pub name: String,
    pub compiled: String,
    pub hash: String,
}
