//! `executeFunction`, `health` and `metrics`: option parsing and value
//! translation only; the engine is `runtime_core::engine`.

use napi::bindgen_prelude::*;
use napi::{Env, JsGlobal, ValueType};
use napi_derive::napi;
use runtime_core::engine::ExecuteRequest;
use runtime_core::{BackendKind, Error as CoreError, InvocationOptions, Language};

use crate::args::{int, Arg};
use crate::engine::engine;
use crate::error::{spawn, throw};

/// Per-call options of `executeFunction`; each falls back to the environment.
/// A value of the wrong type, or a number out of range or not whole, is an
/// `INVALID_ARGUMENT` error naming the option.
#[napi(object)]
pub struct ExecuteOptions {
    /// Whose function this is. A local worker serves one tenant for its whole life, and
    /// compiled programs are cached per tenant, so tenants never share a process, a
    /// module cache, a temp folder or timers. 1 to 128 characters.
    /// @default the tenant of `ctx.cloud` (each `createCloud()` object is its own tenant
    /// unless created with `{ tenant }`), else `'default'`
    pub tenant: Option<String>,
    /// Milliseconds the function may run, counted from when it starts (time spent
    /// waiting for a free worker is bounded separately by RUNTIME_QUEUE_TIMEOUT_MS).
    /// An integer from 1 to RUNTIME_MAX_TIMEOUT_MS (default 900000).
    /// @default RUNTIME_TIMEOUT_MS or 10000
    pub timeout_ms: Option<f64>,
    /// Heap limit of the local worker in MB, an integer from 16 to RUNTIME_MAX_MEMORY_MB
    /// (default: the machine's memory). A value other than RUNTIME_MEMORY_MB runs on a
    /// fresh one-off worker (a cold start of ~50 ms). Not enforced by the dify backend.
    /// @default RUNTIME_MEMORY_MB or 256
    pub memory_mb: Option<f64>,
    /// `'typescript'` (`'ts'`): TypeScript, stripped in Rust (no type checking);
    /// `'javascript'` (`'js'`, `'nodejs'`): CommonJS, or ES modules compiled to it.
    /// Stacks and syntax errors name the source file and line (`name.ts:7`).
    /// `'python3'` is reserved (INVALID_ARGUMENT).
    /// @default 'nodejs'
    pub language: Option<String>,
    /// `'local'` (warm worker pool) or `'dify'` (the Dify Sandbox at SANDBOX_URL).
    /// @default RUNTIME_BACKEND, else 'dify' when SANDBOX_URL is set, else 'local'
    pub backend: Option<String>,
}

impl TryFrom<ExecuteOptions> for InvocationOptions {
    type Error = CoreError;
    fn try_from(o: ExecuteOptions) -> std::result::Result<Self, CoreError> {
        let config = engine()?.config().clone();
        Ok(InvocationOptions {
            tenant: o.tenant,
            timeout_ms: o
                .timeout_ms
                .map(|v| {
                    int(
                        "options.timeoutMs (RUNTIME_MAX_TIMEOUT_MS)",
                        v,
                        1,
                        config.max_timeout_ms,
                    )
                })
                .transpose()?,
            memory_mb: o
                .memory_mb
                .map(|v| {
                    int(
                        "options.memoryMb (RUNTIME_MAX_MEMORY_MB)",
                        v,
                        16,
                        config.max_memory_mb,
                    )
                })
                .transpose()?,
            language: o.language.as_deref().map(Language::parse).transpose()?,
            backend: o.backend.as_deref().map(BackendKind::parse).transpose()?,
            ..Default::default()
        })
    }
}

/// What `executeFunction` resolves with. It resolves for anything the function did.
#[napi(object)]
#[allow(dead_code)] // built as a plain object in `result_object`; declared for index.d.ts
pub struct ExecuteResult {
    /// The function's return value as JSON (`undefined` → `null`). Any depth JSON allows
    /// arrives; strings with lone surrogates arrive unchanged.
    pub data: serde_json::Value,
    /// One string per console call, `util.format`-style; `console.error` lines start
    /// `[ERROR] `, `warn` `[WARN] `, `debug` `[DEBUG] `. Capped at 1 MiB with a
    /// `[TRUNCATED] …` marker line. Lines of a `cloud.invoke`d function are prefixed `[name] `.
    pub logs: Vec<String>,
    /// Wall milliseconds of the execution.
    pub time: f64,
    /// Set when the function failed: its message, or the runtime's (`Function timed out
    /// after N ms`, `Function ran out of memory…`, `SyntaxError: … (name.js:LINE)` or
    /// `(name.ts:LINE)`, `No callable export…`, `import.meta is not supported…`, `Unhandled promise
    /// rejection: …`, `Uncaught exception in a timer callback: …`, `process.exit(…) is not
    /// allowed…`, `Function returned a value that cannot be converted to JSON: …`).
    pub error: Option<String>,
    /// The error's stack, with the user's own line numbers (`name.js:LINE:COL`; for
    /// TypeScript `name.ts:LINE:COL`, mapped back through the compiler's source map).
    pub stack: Option<String>,
    /// The kind of failure, stable for programs to branch on (set with `error`):
    /// `FUNCTION_THREW` (the function threw or rejected), `TIMEOUT` (ran past timeoutMs),
    /// `QUEUE_TIMEOUT` (no free worker within RUNTIME_QUEUE_TIMEOUT_MS; it did not run),
    /// `OUT_OF_MEMORY`, `EXITED` (process.exit), `CRASHED` (the worker died otherwise),
    /// `SYNTAX_ERROR`, `ESM_SYNTAX` (`import.meta` or top-level `await` in a module),
    /// `NO_EXPORT` (nothing callable exported),
    /// `BAD_RESULT` (BigInt, circular), `RESULT_TOO_LARGE` (over RUNTIME_MAX_RESULT_BYTES,
    /// default 6 MiB), `BLOCKED` (the sandbox refused an operation), `PROTOCOL_VIOLATION`
    /// (the function wrote to the worker's protocol channel or forged frames).
    pub error_code: Option<String>,
}

/// The result as JavaScript: `data` is JSON text parsed by the host's own
/// `JSON.parse` (fast, and without a depth limit of its own).
pub struct ResultJs(runtime_core::engine::ExecuteResult);

impl ToNapiValue for ResultJs {
    unsafe fn to_napi_value(
        raw: napi::sys::napi_env,
        val: Self,
    ) -> napi::Result<napi::sys::napi_value> {
        let r = val.0;
        let env = Env::from_raw(raw);
        let global: JsGlobal = env.get_global()?;
        let json: Object = global.get_named_property("JSON")?;
        let parse: Function<String, Unknown> = json.get_named_property("parse")?;
        let data = parse.call(r.data.get().to_string())?;
        let mut o = Object::new(&env)?;
        o.set_named_property("data", data)?;
        o.set_named_property("logs", r.logs)?;
        o.set_named_property("time", r.time)?;
        if let Some(e) = r.error {
            o.set_named_property("error", e)?;
        }
        if let Some(s) = r.stack {
            o.set_named_property("stack", s)?;
        }
        if let Some(k) = r.kind {
            o.set_named_property("errorCode", k.as_str())?;
        }
        Ok(o.raw())
    }
}

/// Serializes `ctx` (without `cloud`) with the host's own JSON.stringify, so
/// `toJSON` (Dates, ObjectIds) behaves as users expect.
type CtxParts = (String, Option<std::sync::Arc<runtime_core::cloud::Cloud>>);

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
/// - `name`: the function's name (used in stack traces as `name.js`, or `name.ts`).
/// - `code`: CommonJS (`module.exports = fn`, `exports.default = fn` or `exports.main = fn`),
///   or an ES module (`export default fn`, `export function main`), in JavaScript or, with
///   `options.language: 'typescript'`, TypeScript. ES modules and TypeScript are compiled in
///   Rust once per code version; `import` may name Node built-ins only.
/// - `hash`: identifies this version of the code for the module cache; `''` hashes the code.
/// - `ctx`: `{ body, query, headers, method, path, requestId, user }` (JSON). The function
///   is called as `fn(ctx)` with `ctx.cloud` (and the global `cloud`) added. A `Cloud` from
///   `createCloud()` in `ctx.cloud` backs this invocation alone (its database, storage,
///   env); otherwise the default Cloud, configured from the environment, does.
///
/// Resolves (never rejects) for anything the function did: throw, timeout, crash,
/// out-of-memory, bad return value — see `ExecuteResult.error` and `errorCode`. Throws or
/// rejects only for misuse: `INVALID_ARGUMENT` (an argument of the wrong type, empty name,
/// an option out of range or of the wrong type, ctx not JSON), `CONFIG_INVALID` (a bad
/// RUNTIME_* variable), `WORKER_FAILED` (node could not be started), `SHUT_DOWN` (after
/// `shutdown()`), and on the dify backend `SANDBOX_*` (see the README). Inside a function on
/// the dify backend, a `fetch` the egress policy refuses rejects with a `TypeError` whose
/// `errorCode` is `EGRESS_REFUSED` (the message names the address and
/// `RUNTIME_EGRESS_ALLOW`); an allowed one that fails, `EGRESS_FAILED`.
#[napi(
    ts_args_type = "name: string, code: string, hash?: string | undefined | null, ctx?: object | undefined | null, options?: ExecuteOptions | undefined | null",
    ts_return_type = "Promise<ExecuteResult>",
    catch_unwind
)]
pub fn execute_function<'env>(
    env: &'env Env,
    name: Arg<String>,
    code: Arg<String>,
    hash: Arg<Option<String>>,
    ctx: Option<Unknown<'env>>,
    options: Arg<Option<ExecuteOptions>>,
) -> napi::Result<PromiseRaw<'env, ResultJs>> {
    let (Arg(name), Arg(code), Arg(hash), Arg(options)) = (name, code, hash, options);
    // Misuse past the argument types rejects the promise, like every other
    // failure of the call.
    let prepared = (|| {
        let engine = engine()?;
        let options = options.map(InvocationOptions::try_from).transpose()?;
        let (ctx, cloud) = ctx_json(env, ctx)?;
        let req = ExecuteRequest {
            name,
            code,
            hash: hash.unwrap_or_default(),
            ctx,
            options: options.unwrap_or_default(),
            cloud,
        };
        Ok::<_, CoreError>((engine, req))
    })();
    spawn(
        env,
        async move {
            let (engine, req) = prepared?;
            engine.execute(req).await
        },
        |_, r| Ok(ResultJs(r)),
    )
}

/// The local pool's counts, as `health().pool` reports them.
#[napi(object)]
pub struct PoolHealth {
    /// Worker processes alive.
    pub workers: u32,
    pub idle: u32,
    pub busy: u32,
    /// Invocations waiting for a free worker.
    pub queued: u32,
    /// Workers replaced after a fault since start.
    pub replaced: f64,
    /// Idle workers not yet bound to a tenant (a new tenant's first call takes one).
    pub blank: u32,
    /// Tenants with an idle worker.
    pub tenants: u32,
    /// RUNTIME_MAX_WORKERS: the cap on every worker process.
    pub max_workers: u32,
}

/// The kernel layers every local worker runs under (see the README's security model).
#[napi(object)]
pub struct IsolationHealth {
    /// `auto` or `strict` (RUNTIME_ISOLATION).
    pub level: String,
    /// The Landlock ABI in force; 0 when Landlock is not applied.
    pub landlock: u32,
    /// Whether the seccomp deny-list is applied.
    pub seccomp: bool,
    /// Namespaces each worker gets: some of `user`, `mount`, `net`, `ipc`, `pid`.
    pub namespaces: Vec<String>,
    /// Whether RLIMIT_DATA/FSIZE/NOFILE/CORE are set.
    pub rlimits: bool,
    /// The uid workers run as (a root host only); absent when they keep the host's.
    pub uid: Option<u32>,
    /// Whether Node's permission model (`--permission`) is on too: a second fence, not the
    /// one the isolation rests on (RUNTIME_ISOLATION_DISABLE=permission turns it off).
    pub node_permission: bool,
}

/// The state of each service of the default Cloud: `up` (its last call worked), `down`
/// (unreachable: calls fail fast until a background probe sees it answer), `unknown` (not
/// called yet) or `not_configured`.
#[napi(object)]
pub struct ServicesHealth {
    pub database: String,
    pub storage: String,
}

/// What `health()` returns.
#[napi(object)]
pub struct Health {
    /// `ok`, `degraded` (a service is down) or `shut_down`.
    pub status: String,
    /// `local` or `dify`.
    pub backend: String,
    pub pool: PoolHealth,
    /// The active isolation layers; absent until the local pool has started.
    pub isolation: Option<IsolationHealth>,
    pub services: ServicesHealth,
}

/// The runtime's state, cheap enough for a load balancer's probe (no I/O, does not start
/// the pool).
#[napi(catch_unwind)]
pub fn health(env: &Env) -> napi::Result<Health> {
    let h = throw(env, engine())?.health();
    Ok(Health {
        status: h.status.into(),
        backend: h.backend.into(),
        pool: PoolHealth {
            workers: h.pool.total as u32,
            idle: h.pool.idle as u32,
            busy: h.pool.busy as u32,
            queued: h.pool.queued as u32,
            replaced: h.pool.replaced as f64,
            blank: h.pool.blank as u32,
            tenants: h.pool.tenants as u32,
            max_workers: h.pool.max_workers as u32,
        },
        isolation: h.pool.isolation.map(|l| IsolationHealth {
            level: l.level.as_str().into(),
            landlock: l.landlock_abi.max(0) as u32,
            seccomp: l.seccomp,
            namespaces: l.namespaces.iter().map(|n| n.to_string()).collect(),
            rlimits: l.rlimits,
            uid: l.uid,
            node_permission: l.node_permission,
        }),
        services: ServicesHealth {
            database: h.database.into(),
            storage: h.storage.into(),
        },
    })
}

/// Stops the runtime: resolves when running invocations have finished (or met their
/// deadline), every worker process has exited and the pool's temp folders are removed.
/// Invocations still waiting for a worker, and every later call, fail with `SHUT_DOWN`.
#[napi(ts_return_type = "Promise<void>", catch_unwind)]
pub fn shutdown(env: &Env) -> napi::Result<PromiseRaw<'_, ()>> {
    let engine = throw(env, engine())?;
    spawn(
        env,
        async move {
            engine.shutdown().await;
            Ok(())
        },
        |_, ()| Ok(()),
    )
}

/// Prometheus text: `runtime_invocations_total{status}`,
/// `runtime_invocation_failures_total{code}` (one series per `errorCode`), the
/// `runtime_invocation_duration_ms` histogram, `runtime_pool_workers{state}`,
/// `runtime_pool_queued`, `runtime_pool_workers_replaced_total`,
/// `runtime_sandbox_errors_total`.
#[napi(catch_unwind)]
pub fn metrics(env: &Env) -> napi::Result<String> {
    Ok(throw(env, engine())?.metrics_text())
}
