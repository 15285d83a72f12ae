//! `executeFunction`, `health`, `shutdown` and `metrics` over the core's
//! engine. index.js turns `ctx` into JSON text and hands over its Cloud.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::{ThreadsafeFunction, ThreadsafeFunctionCallMode};
use napi_derive::napi;
use runtime_core::engine::ExecuteRequest;
use runtime_core::error::whole_number;
use runtime_core::sandbox::LogSink;
use runtime_core::{BackendKind, Error as CoreError, InvocationOptions, Language};
use serde_json::{json, Value};

use crate::args::Arg;
use crate::cloud::Cloud;
use crate::engine::engine;
use crate::error::{spawn, throw};

#[napi(object)]
pub struct ExecuteOptions {
    pub tenant: Option<String>,
    pub timeout_ms: Option<f64>,
    pub memory_mb: Option<f64>,
    pub language: Option<String>,
    pub backend: Option<String>,
    pub reuse_context: Option<bool>,
}

impl TryFrom<ExecuteOptions> for InvocationOptions {
    type Error = CoreError;
    fn try_from(o: ExecuteOptions) -> std::result::Result<Self, CoreError> {
        let config = engine()?.config().clone();
        let timeout = "options.timeoutMs (RUNTIME_MAX_TIMEOUT_MS)";
        let memory = "options.memoryMb (RUNTIME_MAX_MEMORY_MB)";
        Ok(InvocationOptions {
            tenant: o.tenant,
            timeout_ms: (o.timeout_ms)
                .map(|v| whole_number(timeout, v, 1, config.max_timeout_ms))
                .transpose()?,
            memory_mb: (o.memory_mb)
                .map(|v| whole_number(memory, v, 16, config.max_memory_mb))
                .transpose()?,
            language: o.language.as_deref().map(Language::parse).transpose()?,
            backend: o.backend.as_deref().map(BackendKind::parse).transpose()?,
            reuse_context: o.reuse_context,
            ..Default::default()
        })
    }
}

// Positional, as index.js calls it: ctx arrives split (JSON text, Cloud)
// and onLog apart from the options object it was read from.
#[allow(clippy::too_many_arguments)]
#[napi(catch_unwind)]
pub fn execute_function<'env>(
    env: &'env Env,
    name: Arg<String>,
    code: Arg<String>,
    hash: Arg<Option<String>>,
    ctx: Arg<String>,
    cloud: Option<&Cloud>,
    options: Arg<Option<ExecuteOptions>>,
    on_log: Option<Function<String, ()>>,
) -> Result<PromiseRaw<'env, Value>> {
    let cloud = cloud.map(|c| c.inner.clone());
    // index.js wraps the caller's onLog, so a throw cannot reach the loop.
    let sink = match on_log {
        Some(f) => {
            let tsfn: LogFn = f
                .build_threadsafe_function()
                .callee_handled::<false>()
                .weak::<true>()
                .build()?;
            Some(log_sink(tsfn))
        }
        None => None,
    };
    // Misuse past the argument types rejects, like every other failure.
    let prepared = (|| {
        let mut options = options
            .0
            .map(InvocationOptions::try_from)
            .transpose()?
            .unwrap_or_default();
        options.on_log = sink;
        let req = ExecuteRequest {
            name: name.0,
            code: code.0,
            hash: hash.0.unwrap_or_default(),
            ctx: ctx.0,
            options,
            cloud,
        };
        Ok::<_, CoreError>((engine()?, req))
    })();
    spawn(
        env,
        async move {
            let (engine, req) = prepared?;
            engine.execute(req).await
        },
        // `data` stays JSON text: index.js parses it with the host's own
        // JSON.parse (fast, and without serde_json's depth limit).
        |_, r| {
            let code = r.kind.map(|k| k.as_str());
            Ok(
                json!({ "data": r.data.get(), "logs": r.logs, "time": r.time,
                "error": r.error, "stack": r.stack, "errorCode": code }),
            )
        },
    )
}

// Weak: a pending log line must not keep the host process alive.
type LogFn = ThreadsafeFunction<String, (), String, Status, false, true>;

/// Lines are queued to the JavaScript thread without waiting for it: a slow
/// callback never holds up the worker's pipe.
fn log_sink(f: LogFn) -> LogSink {
    LogSink(Arc::new(move |line: &str| {
        f.call(line.to_string(), ThreadsafeFunctionCallMode::NonBlocking);
    }))
}

#[napi(catch_unwind)]
pub fn health(env: &Env) -> Result<Value> {
    Ok(throw(env, engine())?.health().to_json())
}

#[napi(catch_unwind)]
pub fn shutdown(env: &Env) -> Result<PromiseRaw<'_, ()>> {
    let engine = throw(env, engine())?;
    let done = async move {
        engine.shutdown().await;
        Ok(())
    };
    spawn(env, done, |_, ()| Ok(()))
}

#[napi(catch_unwind)]
pub fn metrics(env: &Env) -> Result<String> {
    Ok(throw(env, engine())?.metrics_text())
}
