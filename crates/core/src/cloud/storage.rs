//! S3 for `cloud.storage`. (Being built.)

use serde_json::Value;

use crate::config::CloudConfig;
use crate::error::{Error, Result};

pub struct Storage {}

impl Storage {
    pub async fn connect(config: &CloudConfig) -> Result<Self> {
        let _ = config.s3.endpoint.as_ref();
        Ok(Storage {})
    }

    pub async fn dispatch(&self, method: &str, _args: Value) -> Result<Value> {
        Err(Error::invalid(format!("unknown storage method {method:?}")))
    }
}
