//! `executeFunction`, `health` and `metrics`: option parsing and value
//! translation only; the engine is `runtime_core::engine`.

use std::sync::{Arc, OnceLock};

use napi::bindgen_prelude::*;
use napi::{Env, JsGlobal, ValueType};
use napi_derive::napi;
use runtime_core::engine::{Engine, ExecuteRequest};
use runtime_core::{BackendKind, Error as CoreError, InvocationOptions, Language, RuntimeConfig};

use crate::error::{spawn, throw};

static ENGINE: OnceLock<std::result::Result<Arc<Engine>, CoreError>> = OnceLock::new();

/// The process-wide engine, configured from the environment on first use.
pub(crate) fn engine() -> std::result::Result<Arc<Engine>, CoreError> {
    ENGINE
        .get_or_init(|| {
            let mut config = RuntimeConfig::from_env()?;
            if config.node_path.is_none() {
                // The host is itself Node.js: its binary runs the workers.
                config.node_path = std::env::current_exe().ok().filter(|p| {
                    p.file_stem()
                        .is_some_and(|s| s.to_string_lossy().starts_with("node"))
                });
            }
            Ok(Engine::new(config))
        })
        .clone()
}

/// Per-call options of `executeFunction`; each falls back to the environment.
#[napi(object)]
pub struct ExecuteOptions {
    /// Milliseconds before the function is stopped with `Function timed out after N ms`.
    /// @default RUNTIME_TIMEOUT_MS or 10000
    pub timeout_ms: Option<u32>,
    /// Heap limit of the local worker in MB. A value other than RUNTIME_MEMORY_MB runs on a
    /// fresh one-off worker (a cold start of ~50 ms). Not enforced by the dify backend.
    /// @default RUNTIME_MEMORY_MB or 256
    pub memory_mb: Option<u32>,
    /// `'nodejs'` (functions are compiled JavaScript).
    /// @default 'nodejs'
    pub language: Option<String>,
    /// `'local'` (warm worker pool) or `'dify'` (the Dify Sandbox at SANDBOX_URL).
    /// @default RUNTIME_BACKEND, else 'dify' when SANDBOX_URL is set, else 'local'
    pub backend: Option<String>,
}

impl TryFrom<ExecuteOptions> for InvocationOptions {
    type Error = CoreError;
    fn try_from(o: ExecuteOptions) -> std::result::Result<Self, CoreError> {
        Ok(InvocationOptions {
            timeout_ms: o.timeout_ms.map(u64::from),
            memory_mb: o.memory_mb.map(u64::from),
            language: o.language.as_deref().map(Language::parse).transpose()?,
            backend: o.backend.as_deref().map(BackendKind::parse).transpose()?,
        })
    }
}

/// What `executeFunction` resolves with. It resolves for anything the function did.
#[napi(object)]
pub struct ExecuteResult {
    /// The function's return value as JSON (`undefined` → `null`).
    pub data: serde_json::Value,
    /// One string per console call, `util.format`-style; `console.error` lines start
    /// `[ERROR] `, `warn` `[WARN] `, `debug` `[DEBUG] `. Capped at 1 MiB with a
    /// `[TRUNCATED] …` marker line. Lines of a `cloud.invoke`d function are prefixed `[name] `.
    pub logs: Vec<String>,
    /// Wall milliseconds of the execution.
    pub time: f64,
    /// Set when the function failed: its message, or the runtime's (`Function timed out
    /// after N ms`, `Function ran out of memory…`, `SyntaxError: … (name.js:LINE)`,
    /// `No callable export…`, `ES module syntax is not supported…`, `Unhandled promise
    /// rejection: …`, `Uncaught exception in a timer callback: …`, `process.exit(…) is not
    /// allowed…`, `Function returned a value that cannot be converted to JSON: …`).
    pub error: Option<String>,
    /// The error's stack, with the user's own line numbers (`name.js:LINE:COL`).
    pub stack: Option<String>,
}

/// Serializes `ctx` (without `cloud`) with the host's own JSON.stringify, so
/// `toJSON` (Dates, ObjectIds) behaves as users expect.
type CtxParts = (String, Option<Arc<runtime_core::cloud::Cloud>>);

fn ctx_json(env: &Env, ctx: Option<Unknown>) -> std::result::Result<CtxParts, CoreError> {
    let bad =
        |why: String| CoreError::invalid(format!("ctx must be a JSON-serializable object: {why}"));
    let Some(ctx) = ctx else {
        return Ok(("{}".into(), None));
    };
    match ctx.get_type().map_err(|e| bad(e.reason.clone()))? {
        ValueType::Undefined | ValueType::Null => return Ok(("{}".into(), None)),
        ValueType::Object => {}
        other => return Err(bad(format!("got {other}"))),
    }
    let obj = Object::from_unknown(ctx).map_err(|e| bad(e.reason.clone()))?;
    let global: JsGlobal = env.get_global().map_err(|e| bad(e.reason.clone()))?;
    let json: Object = global
        .get_named_property("JSON")
        .map_err(|e| bad(e.reason.clone()))?;
    let stringify: Function<Unknown, Unknown> = json
        .get_named_property("stringify")
        .map_err(|e| bad(e.reason.clone()))?;
    let has_cloud = obj.has_named_property("cloud").unwrap_or(false);
    let mut cloud = None;
    if has_cloud {
        let c: Unknown = obj
            .get_named_property("cloud")
            .map_err(|e| bad(e.reason.clone()))?;
        if crate::cloud::Cloud::instance_of(env, &c).unwrap_or(false) {
            let c: ClassInstance<crate::cloud::Cloud> =
                unsafe { FromNapiValue::from_napi_value(env.raw(), c.raw()) }
                    .map_err(|e| bad(e.reason.clone()))?;
            cloud = Some(c.inner.clone());
        } else if !matches!(c.get_type(), Ok(ValueType::Undefined) | Ok(ValueType::Null)) {
            return Err(CoreError::invalid(
                "ctx.cloud must be a Cloud made by createCloud()",
            ));
        }
    }
    let target = if has_cloud {
        // A shallow copy without `cloud`: the caller's object is not touched.
        let mut copy = Object::new(env).map_err(|e| bad(e.reason.clone()))?;
        for key in Object::keys(&obj).map_err(|e| bad(e.reason.clone()))? {
            if key != "cloud" {
                let v: Unknown = obj
                    .get_named_property(&key)
                    .map_err(|e| bad(e.reason.clone()))?;
                copy.set_named_property(&key, v)
                    .map_err(|e| bad(e.reason.clone()))?;
            }
        }
        copy.to_unknown()
    } else {
        obj.to_unknown()
    };
    let out = stringify.call(target).map_err(|e| bad(e.reason.clone()))?;
    let text = match out.get_type() {
        Ok(ValueType::String) => String::from_unknown(out).map_err(|e| bad(e.reason.clone()))?,
        _ => "{}".into(),
    };
    Ok((text, cloud))
}

/// Runs a function in the sandbox and resolves with its result.
///
/// - `name`: the function's name (used in stack traces as `name.js`).
/// - `code`: compiled CommonJS (`module.exports = fn`, `exports.default = fn` or
///   `exports.main = fn`); ES module syntax is reported as an error.
/// - `hash`: identifies this version of the code for the module cache; `''` hashes the code.
/// - `ctx`: `{ body, query, headers, method, path, requestId, user }` (JSON). The function
///   is called as `fn(ctx)` with `ctx.cloud` (and the global `cloud`) added. A `Cloud` from
///   `createCloud()` in `ctx.cloud` backs this invocation alone (its database, storage,
///   env); otherwise the default Cloud, configured from the environment, does.
///
/// Resolves (never rejects) for anything the function did: throw, timeout, crash,
/// out-of-memory, bad return value — see `ExecuteResult.error`. Rejects only for misuse:
/// `INVALID_ARGUMENT` (empty name, unknown option value, ctx not JSON), `CONFIG_INVALID`
/// (a bad RUNTIME_* variable), `WORKER_FAILED` (node could not be started), and on the dify
/// backend `SANDBOX_*` (see the README). Inside a function on the dify backend, a `fetch` the egress policy
/// refuses rejects with a `TypeError` whose `errorCode` is `EGRESS_REFUSED` (the message
/// names the address and `RUNTIME_EGRESS_ALLOW`); an allowed one that fails, `EGRESS_FAILED`.
#[napi(ts_return_type = "Promise<ExecuteResult>")]
pub fn execute_function<'env>(
    env: &'env Env,
    name: String,
    code: String,
    hash: Option<String>,
    ctx: Option<Unknown<'env>>,
    options: Option<ExecuteOptions>,
) -> napi::Result<PromiseRaw<'env, ExecuteResult>> {
    let engine = throw(env, engine())?;
    let options = throw(env, options.map(InvocationOptions::try_from).transpose())?;
    let (ctx, cloud) = throw(env, ctx_json(env, ctx))?;
    let req = ExecuteRequest {
        name,
        code,
        hash: hash.unwrap_or_default(),
        ctx,
        options: options.unwrap_or_default(),
        cloud,
    };
    spawn(env, async move { engine.execute(req).await }, |_, r| {
        Ok(ExecuteResult {
            data: r.data,
            logs: r.logs,
            time: r.time,
            error: r.error,
            stack: r.stack,
        })
    })
}

/// Prometheus text: `runtime_invocations_total{status}`, the
/// `runtime_invocation_duration_ms` histogram, `runtime_pool_workers{state}`,
/// `runtime_pool_workers_replaced_total`, `runtime_sandbox_errors_total`.
#[napi]
pub fn metrics(env: &Env) -> napi::Result<String> {
    Ok(throw(env, engine())?.metrics_text())
}
