//! `createCloud` and the native `Cloud` handle. Host code's Cloud SDK is
//! `sandbox/sdk.js`, the one a function gets, over `Cloud.call` (index.js
//! joins them): one operation set, decoded by the core either way.

use std::collections::HashMap;
use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi_derive::napi;
use runtime_core::cloud::call::check_database_name;
use runtime_core::cloud::Cloud as CoreCloud;
use runtime_core::config::CloudOverrides;
use runtime_core::{CloudConfig, Error as CoreError};
use serde_json::Value;

use crate::args::{Arg, Nested};
use crate::engine::engine;
use crate::error::{spawn, throw};

#[napi(object)]
#[derive(Default)]
pub struct S3Options {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub bucket: Option<String>,
    pub force_path_style: Option<bool>,
}

#[napi(object)]
pub struct CloudOptions {
    pub mongo_url: Option<String>,
    pub database: Option<String>,
    pub functions_collection: Option<String>,
    pub s3: Option<Nested<S3Options>>,
    pub buckets: Option<Vec<String>>,
    pub env: Option<Nested<HashMap<String, String>>>,
    pub tenant: Option<String>,
}

impl From<CloudOptions> for CloudOverrides {
    fn from(o: CloudOptions) -> Self {
        let s3 = o.s3.map(|n| n.0).unwrap_or_default();
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
            env: o.env.map(|e| e.0.into_iter().collect()),
        }
    }
}

#[napi(catch_unwind)]
pub fn create_cloud(env: &Env, options: Arg<Option<CloudOptions>>) -> Result<Cloud> {
    let config = match options.0 {
        Some(o) => CloudConfig::from_env().with(o.into()),
        None => Ok(CloudConfig::from_env()),
    };
    let config = throw(env, config)?;
    throw(env, check_database_name(&config.database))?;
    Ok(Cloud {
        inner: Arc::new(CoreCloud::new(config)),
    })
}

#[napi]
pub struct Cloud {
    pub(crate) inner: Arc<CoreCloud>,
}

fn parse(op: &str, args: &str) -> std::result::Result<Value, CoreError> {
    serde_json::from_str(args)
        .map_err(|e| CoreError::invalid(format!("{op}: the arguments are not JSON: {e}")))
}

#[napi]
impl Cloud {
    #[napi(getter, catch_unwind)]
    pub fn env(&self) -> HashMap<String, String> {
        self.inner.env().clone().into_iter().collect()
    }

    /// One wire operation (`db.findOne`, `storage.readFile`, `invoke`, …)
    /// with Extended-JSON arguments; resolves with the Extended-JSON result.
    #[napi(catch_unwind)]
    pub fn call<'env>(
        &self,
        env: &'env Env,
        op: Arg<String>,
        args: Arg<String>,
    ) -> Result<PromiseRaw<'env, String>> {
        let (op, args, cloud) = (op.0, args.0, self.inner.clone());
        let prepared = engine().and_then(|e| Ok((e, parse(&op, &args)?)));
        spawn(
            env,
            async move {
                let (engine, args) = prepared?;
                engine.host_call(cloud, &op, args).await
            },
            |_, v| Ok(v),
        )
    }

    /// `storage.getUploadUrl` / `getDownloadUrl`, signed at once (no I/O).
    #[napi(catch_unwind)]
    pub fn presign(&self, env: &Env, op: Arg<String>, args: Arg<String>) -> Result<String> {
        let (op, args) = (op.0, args.0);
        throw(
            env,
            parse(&op, &args).and_then(|a| self.inner.presign_call(&op, a)),
        )
    }
}
