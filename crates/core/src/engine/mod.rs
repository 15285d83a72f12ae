//! `executeFunction`: validates a request, finds the prepared program in the
//! [`cache`], picks the backend, runs the job with an invocation [`scope`]
//! that serves its `cloud.*` calls, and shapes the result envelope.

pub mod cache;
pub mod metrics;
pub mod scope;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::bridge::Bridge;
use crate::cloud::Cloud;
use crate::config::{BackendKind, InvocationOptions, Language, RuntimeConfig};
use crate::error::{Error, Result};
use crate::sandbox::dify::{DifyClient, DifyConfig};
use crate::sandbox::local::{find_node, LocalPool, PoolConfig, PoolStats};
use crate::sandbox::protocol::FRAME_OVERHEAD;
use crate::sandbox::{FailureKind, Job, Json, Outcome};

pub use cache::ModuleCache;
pub use metrics::Metrics;

/// A function the host stores: what `cloud.invoke(name)` runs.
#[derive(Debug, Clone)]
pub struct StoredFunction {
    pub name: String,
    pub code: String,
    pub hash: String,
}

pub type LoadFuture = Pin<Box<dyn Future<Output = Result<Option<StoredFunction>>> + Send>>;

/// Finds functions for `cloud.invoke`. The default reads the phase-1
/// function store in MongoDB; a host can supply its own.
pub trait FunctionLoader: Send + Sync {
    fn load(&self, name: String) -> LoadFuture;
}

/// What `cloud.invoke` runs: the stored function `name` with
/// `ctx.body = data`, from the host (depth 1) or from inside a function.
pub struct InvokeRequest {
    /// Whose function store, database and storage the callee uses.
    pub cloud: Arc<Cloud>,
    pub name: String,
    pub data: Value,
    /// Levels of nesting: 1 for host code, the caller's + 1 inside a function.
    pub depth: u32,
    /// The caller's backend; `None`: the engine's default.
    pub backend: Option<BackendKind>,
    /// The caller's deadline, which a nested invoke never waits past.
    pub parent_deadline: Option<Instant>,
    /// The caller's tenant; `None`: the tenant of `cloud`.
    pub tenant: Option<Arc<str>>,
}

/// One `executeFunction` call.
pub struct ExecuteRequest {
    pub name: String,
    pub code: String,
    pub hash: String,
    /// `ctx` as JSON text (an object), without `cloud`.
    pub ctx: String,
    pub options: InvocationOptions,
    /// The Cloud that backs this invocation; the engine's default when None.
    pub cloud: Option<Arc<Cloud>>,
}

/// The result envelope. It describes anything the user code did; the
/// engine returns `Err` only for misuse of the API or a broken runtime.
#[derive(Debug, Serialize)]
pub struct ExecuteResult {
    /// The return value as JSON text.
    pub data: Json,
    pub logs: Vec<String>,
    /// Wall milliseconds the function ran (waiting for a worker excluded).
    pub time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// Kind of failure: `ExecuteResult.errorCode`.
    #[serde(rename = "errorCode", skip_serializing_if = "Option::is_none")]
    pub kind: Option<FailureKind>,
}

impl ExecuteResult {
    /// What a `cloud.invoke` caller receives, inside a function and in host
    /// code alike: `{ data, logs, error, stack }`. The callee's data is
    /// parsed here (serde_json's depth limit of 128 applies to invokes only).
    pub fn into_invoke_reply(self, name: &str) -> Result<Value> {
        let data: Value = serde_json::from_str(self.data.get()).map_err(|e| {
            Error::invalid(format!(
                "cloud.invoke('{name}'): its result cannot be passed back: {e}"
            ))
        })?;
        Ok(serde_json::json!({
            "data": data,
            "logs": self.logs,
            "error": self.error,
            "stack": self.stack,
        }))
    }

    /// `data` as a value (serde_json's depth limit of 128 applies).
    pub fn data_value(&self) -> Value {
        serde_json::from_str(self.data.get()).unwrap_or(Value::Null)
    }
}

/// What `health()` reports: cheap (no I/O), for a load balancer's probe.
#[derive(Debug, Clone)]
pub struct Health {
    /// `ok`, `degraded` (a service is down) or `shut_down`.
    pub status: &'static str,
    pub backend: &'static str,
    pub pool: crate::sandbox::local::PoolStats,
    /// `up`, `down`, `unknown` (not used yet) or `not_configured`, per service
    /// of the default Cloud.
    pub database: &'static str,
    pub storage: &'static str,
}

impl Health {
    /// As `health()` returns it to JavaScript (index.d.ts `Health`):
    /// `isolation` and `uid` absent rather than null when there are none.
    pub fn to_json(&self) -> Value {
        let p = &self.pool;
        let mut v = serde_json::json!({
            "status": self.status,
            "backend": self.backend,
            "pool": {
                "workers": p.total, "idle": p.idle, "busy": p.busy, "queued": p.queued,
                "replaced": p.replaced, "blank": p.blank, "tenants": p.tenants,
                "maxWorkers": p.max_workers,
            },
            "isolation": p.isolation.as_ref().map(|l| serde_json::json!({
                "level": l.level.as_str(),
                "landlock": l.landlock_abi.max(0),
                "seccomp": l.seccomp,
                "namespaces": l.namespaces,
                "rlimits": l.rlimits,
                "uid": l.uid,
                "nodePermission": l.node_permission,
                "nice": l.nice,
            })),
            "services": { "database": self.database, "storage": self.storage },
        });
        strip_nulls(&mut v);
        v
    }
}

fn strip_nulls(v: &mut Value) {
    if let Value::Object(m) = v {
        m.retain(|_, x| !x.is_null());
        m.values_mut().for_each(strip_nulls);
    }
}

impl StoredFunction {
    /// What a host's function loader resolved to for `name`: `{ compiled
    /// (or code), hash?, name? }`, or `LOADER_FAILED` saying what is wrong.
    pub fn from_loader(name: &str, v: Value) -> Result<StoredFunction> {
        let bad = |why: &str| {
            Error::LoaderFailed(format!(
                "the function loader's result for {name:?} {why}: it must resolve to {{ name, compiled, hash }} or null"
            ))
        };
        let kind = match &v {
            Value::Object(_) => "",
            Value::Null => "is null",
            Value::Bool(_) => "is a boolean",
            Value::Number(_) => "is a number",
            Value::String(_) => "is a string",
            Value::Array(_) => "is an array",
        };
        if !kind.is_empty() {
            return Err(bad(kind));
        }
        let text = |k: &str| v.get(k).and_then(Value::as_str);
        let code = text("compiled")
            .or_else(|| text("code"))
            .ok_or_else(|| bad("has no string `compiled` (or `code`)"))?;
        Ok(StoredFunction {
            name: text("name").unwrap_or(name).to_string(),
            code: code.to_string(),
            hash: text("hash").unwrap_or("").to_string(),
        })
    }
}

pub struct Engine {
    config: RuntimeConfig,
    cache: ModuleCache,
    local: OnceCell<LocalPool>,
    dify: OnceCell<DifyClient>,
    default_cloud: OnceCell<Arc<Cloud>>,
    loader: std::sync::RwLock<Option<Arc<dyn FunctionLoader>>>,
    pub(crate) metrics: Metrics,
    shut_down: std::sync::atomic::AtomicBool,
}

impl Engine {
    pub fn new(config: RuntimeConfig) -> Arc<Self> {
        Arc::new(Engine {
            cache: ModuleCache::new(config.module_cache_bytes),
            config,
            local: OnceCell::new(),
            dify: OnceCell::new(),
            default_cloud: OnceCell::new(),
            loader: std::sync::RwLock::new(None),
            metrics: Metrics::default(),
            shut_down: std::sync::atomic::AtomicBool::new(false),
        })
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.config
    }

    /// The Cloud used when a request names none, configured from the environment.
    pub async fn default_cloud(&self) -> Arc<Cloud> {
        self.default_cloud
            .get_or_init(|| async { Arc::new(Cloud::from_env()) })
            .await
            .clone()
    }

    /// Sets the Cloud used when a request names none (tests, embedding).
    pub fn set_default_cloud(&self, cloud: Arc<Cloud>) -> Result<()> {
        self.default_cloud.set(cloud).map_err(|_| {
            Error::invalid("the default Cloud is already in use and cannot be replaced")
        })
    }

    /// Replaces how `cloud.invoke` finds functions (None: the function store).
    pub fn set_loader(&self, loader: Option<Arc<dyn FunctionLoader>>) {
        if let Ok(mut l) = self.loader.write() {
            *l = loader;
        }
    }

    pub(crate) fn loader(&self) -> Option<Arc<dyn FunctionLoader>> {
        self.loader.read().ok().and_then(|l| l.clone())
    }

    pub fn cache(&self) -> &ModuleCache {
        &self.cache
    }

    pub fn pool_stats(&self) -> Option<PoolStats> {
        self.local.get().map(|p| p.stats())
    }

    /// The local pool's private folder, once the pool has started.
    pub fn pool_dir(&self) -> Option<std::path::PathBuf> {
        self.local.get().map(|p| p.dir().to_path_buf())
    }

    pub fn metrics_text(&self) -> String {
        self.metrics
            .render(self.pool_stats(), self.cache.compiles())
    }

    pub fn health(&self) -> Health {
        let shut = self.shut_down.load(std::sync::atomic::Ordering::SeqCst);
        let (database, storage) = match self.default_cloud.get() {
            Some(c) => (c.database_state(), c.storage_state()),
            None => {
                let c = crate::config::CloudConfig::from_env();
                (
                    if c.mongo_url.is_some() {
                        "unknown"
                    } else {
                        "not_configured"
                    },
                    if c.s3.bucket.is_some() {
                        "unknown"
                    } else {
                        "not_configured"
                    },
                )
            }
        };
        let status = if shut {
            "shut_down"
        } else if database == "down" || storage == "down" {
            "degraded"
        } else {
            "ok"
        };
        Health {
            status,
            backend: match self.config.backend {
                BackendKind::Local => "local",
                BackendKind::Dify => "dify",
            },
            pool: self.pool_stats().unwrap_or_default(),
            database,
            storage,
        }
    }

    /// Stops running functions: waits for those running to end (each by its
    /// deadline), then stops every worker and removes the pool's folders.
    /// Later calls fail with `SHUT_DOWN`.
    pub async fn shutdown(&self) {
        self.shut_down
            .store(true, std::sync::atomic::Ordering::SeqCst);
        if let Some(pool) = self.local.get() {
            pool.shutdown().await;
        }
    }

    pub async fn execute(self: &Arc<Self>, req: ExecuteRequest) -> Result<ExecuteResult> {
        self.execute_at(req, 0, None).await
    }

    /// Runs at a `cloud.invoke` depth, never past the caller's deadline.
    pub(crate) async fn execute_at(
        self: &Arc<Self>,
        req: ExecuteRequest,
        depth: u32,
        parent_deadline: Option<Instant>,
    ) -> Result<ExecuteResult> {
        if self.shut_down.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(Error::ShutDown);
        }
        check_name(&req.name)?;
        let timeout_ms = req.options.timeout_ms.unwrap_or(self.config.timeout_ms);
        if !(1..=self.config.max_timeout_ms).contains(&timeout_ms) {
            return Err(Error::invalid(format!(
                "options.timeoutMs (RUNTIME_MAX_TIMEOUT_MS) must be an integer from 1 to {}, got {timeout_ms}",
                self.config.max_timeout_ms
            )));
        }
        let memory_mb = req.options.memory_mb.unwrap_or(self.config.memory_mb);
        if !(16..=self.config.max_memory_mb).contains(&memory_mb) {
            return Err(Error::invalid(format!(
                "options.memoryMb (RUNTIME_MAX_MEMORY_MB) must be an integer from 16 to {}, got {memory_mb}",
                self.config.max_memory_mb
            )));
        }
        let backend = req.options.backend.unwrap_or(self.config.backend);
        let language = req.options.language.unwrap_or(Language::Nodejs);
        if language == Language::Python3 {
            return Err(Error::invalid(format!(
                "language '{}' is not supported by executeFunction: functions are JavaScript ('javascript') or TypeScript ('typescript')",
                language.as_str()
            )));
        }
        let cloud = match req.cloud {
            Some(c) => c,
            None => self.default_cloud().await,
        };
        // ctx travels to a worker as one line: a caller's pretty-printed
        // JSON is made compact (JSON.stringify never writes a newline).
        let ctx = if req.ctx.contains('\n') {
            serde_json::from_str::<Value>(&req.ctx)
                .map_err(|e| Error::invalid(format!("ctx is not valid JSON: {e}")))?
                .to_string()
        } else {
            req.ctx
        };
        let tenant: Arc<str> = match &req.options.tenant {
            Some(t) => {
                crate::config::check_tenant("options.tenant", t)?;
                t.as_str().into()
            }
            None => cloud.tenant().clone(),
        };
        // [compile] TypeScript / ES modules / snippets → CommonJS, once per code version.
        let how = crate::compile::How::of(language, req.options.snippet);
        let prepared = self
            .cache
            .get_or_compile_async(&tenant, &req.name, req.code, how)
            .await?;
        if let Some(Err(e)) = prepared.compiled.as_deref() {
            return Ok(crate::compile::failed_result(e, &self.metrics));
        }
        let env = Arc::new(serde_json::to_value(cloud.env()).unwrap_or(Value::Null));
        let scope = Arc::new(scope::Scope::new(
            self.clone(),
            cloud,
            tenant.clone(),
            depth,
            backend,
        ));
        let job = Job {
            tenant,
            key: prepared.key,
            name: prepared.name,
            code: prepared.code,
            ctx,
            env,
            timeout_ms,
            parent_deadline,
            // A nested invoke cannot wait past its caller's deadline.
            queue_timeout_ms: match parent_deadline {
                Some(p) => (p.saturating_duration_since(Instant::now()).as_millis() as u64)
                    .clamp(1, self.config.queue_timeout_ms),
                None => self.config.queue_timeout_ms,
            },
            max_result: self.config.max_result_bytes,
            memory_mb,
            log_cap: self.config.max_log_bytes,
            depth,
            calls: scope.clone(),
            on_log: req.options.on_log.clone(),
            reuse_context: req
                .options
                .reuse_context
                .unwrap_or(self.config.reuse_context),
        };
        let outcome = match backend {
            BackendKind::Local => match self.local_pool().await {
                Ok(pool) => pool.run(&job).await,
                Err(e) => Err(e),
            },
            BackendKind::Dify => match self.dify_client().await {
                Ok(client) => client.run(&job).await,
                Err(e) => Err(e),
            },
        };
        scope.end();
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                self.metrics.sandbox_error();
                return Err(e);
            }
        };
        let Outcome {
            data,
            mut logs,
            error,
            stack,
            kind,
            run_ms: time,
        } = outcome;
        // [compile] Stacks name the user's file and lines (`name.ts:7`).
        let (error, stack) =
            crate::compile::remap(prepared.compiled.as_deref(), error, stack, &mut logs);
        let kind = match (&error, kind) {
            (Some(_), None) => Some(FailureKind::FunctionThrew),
            (_, k) => k,
        };
        self.metrics.observe(kind, time);
        Ok(ExecuteResult {
            data,
            logs,
            time,
            error,
            stack,
            kind,
        })
    }

    /// The Dify client and its bridge, checked and started on first use so a
    /// misconfiguration is reported at the first call that needs it.
    async fn dify_client(&self) -> Result<&DifyClient> {
        self.dify
            .get_or_try_init(|| async {
                let url = self
                    .config
                    .sandbox_url
                    .clone()
                    .ok_or(Error::NotConfigured {
                        what: "the Dify Sandbox",
                        var: "SANDBOX_URL",
                    })?;
                let api_key = self
                    .config
                    .sandbox_api_key
                    .clone()
                    .ok_or(Error::NotConfigured {
                        what: "the Dify Sandbox API key",
                        var: "SANDBOX_API_KEY",
                    })?;
                let bridge = Bridge::start_limited(
                    &self.config.bridge_bind,
                    self.config.bridge_url.as_deref(),
                    self.config.egress.clone(),
                    crate::bridge::BridgeLimits {
                        max_body: self.config.max_result_bytes + FRAME_OVERHEAD,
                        calls_per_token: self.config.max_concurrent_calls,
                        ..Default::default()
                    },
                )
                .await?;
                DifyClient::new(
                    DifyConfig {
                        url,
                        api_key,
                        retries: self.config.sandbox_retries,
                        max_response_bytes: self.config.max_response_bytes,
                        tz: self.config.function_tz.clone(),
                    },
                    Arc::new(bridge),
                )
            })
            .await
    }

    /// Runs the stored function `req.name` with `ctx.body = req.data` (what
    /// `cloud.invoke` does).
    pub async fn invoke_function(self: &Arc<Self>, req: InvokeRequest) -> Result<ExecuteResult> {
        let InvokeRequest {
            cloud,
            name,
            data,
            depth,
            backend,
            parent_deadline,
            tenant,
        } = req;
        let max = self.config.max_invoke_depth;
        if depth > max {
            return Err(Error::InvokeDepth { max });
        }
        let f = self.load_function(&cloud, &name).await?;
        let ctx =
            serde_json::json!({ "body": data, "method": "INVOKE", "path": format!("/{name}") });
        self.execute_at(
            ExecuteRequest {
                name: f.name,
                code: f.code,
                hash: f.hash,
                ctx: ctx.to_string(),
                options: InvocationOptions {
                    backend,
                    tenant: tenant.map(|t| t.to_string()),
                    ..Default::default()
                },
                cloud: Some(cloud),
            },
            depth,
            parent_deadline,
        )
        .await
    }

    /// Host code's `cloud.*` call (the napi edge's `Cloud.call`): the same
    /// wire operation and Extended-JSON arguments a function sends, decoded
    /// into the same typed [`crate::cloud::call::Op`], answered in the same
    /// shape, so the one JavaScript SDK (`sandbox/sdk.js`) serves both sides.
    /// `invoke` answers `{ data, logs, error, stack }`, as inside a function.
    /// The answer is JSON text, written straight from BSON.
    pub async fn host_call(
        self: &Arc<Self>,
        cloud: Arc<Cloud>,
        op: &str,
        args: Value,
    ) -> Result<String> {
        use crate::cloud::call::{Caller, Op};
        match Op::decode(op, args)? {
            Op::Invoke { name, data } => {
                let r = self
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
                Ok(r.into_invoke_reply(&name)?.to_string())
            }
            Op::Fetch(_) => Err(Error::invalid(
                "fetch through a Cloud is for functions; host code uses its own fetch",
            )),
            op => cloud.apply_json(op, Caller::Host).await,
        }
    }

    async fn load_function(&self, cloud: &Cloud, name: &str) -> Result<StoredFunction> {
        let found = match self.loader() {
            Some(loader) => loader.load(name.to_string()).await?,
            None => cloud.load_function(name).await?.map(|f| StoredFunction {
                name: f.name,
                code: f.compiled,
                hash: f.hash,
            }),
        };
        found.ok_or_else(|| Error::FunctionNotFound(name.to_string()))
    }

    async fn local_pool(&self) -> Result<&LocalPool> {
        self.local
            .get_or_try_init(|| async {
                LocalPool::start(PoolConfig {
                    node: self.config.node_path.clone().unwrap_or_else(find_node),
                    size: self.config.pool_size,
                    max_workers: self.config.max_workers,
                    max_workers_per_tenant: self.config.max_workers_per_tenant,
                    memory_mb: self.config.memory_mb,
                    tz: self.config.function_tz.clone(),
                    isolation: self.config.isolation.clone(),
                    // A log line may be escaped up to 6× (\u0000) in its frame.
                    max_frame: self
                        .config
                        .max_result_bytes
                        .max(6 * self.config.max_log_bytes)
                        + FRAME_OVERHEAD,
                })
                .await
            })
            .await
    }
}

/// The longest function name, in bytes: a name travels in every frame, cache
/// key, file name and stack line of its invocations.
pub const MAX_NAME_BYTES: usize = 1024;

/// A function's name names its file in stacks (`name.js:3:9`) and its
/// source map: a control character (a newline, say) would forge or split
/// stack lines and log lines, so it is refused rather than printed.
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::invalid("name must be a non-empty string"));
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(Error::invalid(format!(
            "name must be at most {MAX_NAME_BYTES} bytes, got {}",
            name.len()
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_control() || matches!(c, '\u{2028}' | '\u{2029}'))
    {
        return Err(Error::invalid(format!(
            "name must not contain control characters or line breaks, got {:?} in {name:?}",
            c
        )));
    }
    Ok(())
}
