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

    pub async fn dispatch(&self, method: &str, _args: Value) -> Result<Value> {
        Err(Error::invalid(format!(
            "unknown database method {method:?}"
        )))
    }
}
