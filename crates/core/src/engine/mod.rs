//! `executeFunction`: validates a request, finds the prepared program in the
//! [`cache`], picks the backend, runs the job with an invocation [`scope`]
//! that serves its `cloud.*` calls, and shapes the result envelope.

pub mod cache;
pub mod metrics;
pub mod scope;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

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
use crate::sandbox::{Job, Outcome};

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
    pub data: Value,
    pub logs: Vec<String>,
    /// Wall milliseconds of the execution.
    pub time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    /// Kind of failure (`timeout`, `oom`, `exit`, `crash`, `syntax`, `esm`…), for metrics.
    #[serde(skip)]
    pub kind: Option<String>,
}

pub struct Engine {
    config: RuntimeConfig,
    cache: ModuleCache,
    local: OnceCell<LocalPool>,
    dify: OnceCell<DifyClient>,
    default_cloud: OnceCell<Arc<Cloud>>,
    loader: std::sync::RwLock<Option<Arc<dyn FunctionLoader>>>,
    pub(crate) metrics: Metrics,
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

    pub fn metrics_text(&self) -> String {
        self.metrics.render(self.pool_stats())
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
        let started = Instant::now();
        if req.name.is_empty() {
            return Err(Error::invalid("name must be a non-empty string"));
        }
        let timeout_ms = req.options.timeout_ms.unwrap_or(self.config.timeout_ms);
        if timeout_ms == 0 {
            return Err(Error::invalid("options.timeoutMs must be at least 1"));
        }
        let memory_mb = req.options.memory_mb.unwrap_or(self.config.memory_mb);
        if memory_mb < 16 {
            return Err(Error::invalid("options.memoryMb must be at least 16"));
        }
        let backend = req.options.backend.unwrap_or(self.config.backend);
        let language = req.options.language.unwrap_or(Language::Nodejs);
        if language != Language::Nodejs {
            return Err(Error::invalid(format!(
                "language '{}' is not supported by executeFunction: functions are compiled JavaScript ('nodejs')",
                language.as_str()
            )));
        }
        let mut deadline = started + Duration::from_millis(timeout_ms);
        if let Some(p) = parent_deadline {
            deadline = deadline.min(p);
        }
        let cloud = match req.cloud {
            Some(c) => c,
            None => self.default_cloud().await,
        };
        let prepared = self.cache.get_or_prepare(&req.name, &req.hash, &req.code);
        let env = Arc::new(serde_json::to_value(cloud.env()).unwrap_or(Value::Null));
        let scope = Arc::new(scope::Scope::new(
            self.clone(),
            cloud,
            depth,
            backend,
            deadline,
        ));
        let run_started;
        let job = Job {
            key: prepared.key,
            name: prepared.name,
            code: prepared.code,
            ctx: req.ctx,
            env,
            deadline,
            timeout_ms,
            memory_mb,
            log_cap: self.config.max_log_bytes,
            depth,
            calls: scope.clone(),
        };
        let outcome = match backend {
            BackendKind::Local => {
                let pool = self.local_pool().await?;
                run_started = Instant::now();
                pool.run(&job).await
            }
            BackendKind::Dify => {
                let client = self.dify_client().await?;
                run_started = Instant::now();
                client.run(&job).await
            }
        };
        scope.end();
        let outcome = match outcome {
            Ok(o) => o,
            Err(e) => {
                self.metrics.sandbox_error();
                return Err(e);
            }
        };
        let time = run_started.elapsed().as_secs_f64() * 1000.0;
        let Outcome {
            data,
            logs,
            error,
            stack,
            kind,
        } = outcome;
        self.metrics.observe(kind.as_deref(), error.is_some(), time);
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
                let bridge = Bridge::start_with(
                    &self.config.bridge_bind,
                    self.config.bridge_url.as_deref(),
                    self.config.egress.clone(),
                )
                .await?;
                DifyClient::new(
                    DifyConfig {
                        url,
                        api_key,
                        retries: self.config.sandbox_retries,
                        max_response_bytes: self.config.max_response_bytes,
                    },
                    Arc::new(bridge),
                )
            })
            .await
    }

    /// Runs the stored function `name` with `ctx.body = data` (what
    /// `cloud.invoke` does), at `depth` levels of nesting.
    pub async fn invoke_function(
        self: &Arc<Self>,
        cloud: Arc<Cloud>,
        name: &str,
        data: Value,
        depth: u32,
        backend: Option<BackendKind>,
        parent_deadline: Option<Instant>,
    ) -> Result<ExecuteResult> {
        let max = self.config.max_invoke_depth;
        if depth > max {
            return Err(Error::InvokeDepth { max });
        }
        let f = self.load_function(&cloud, name).await?;
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
                    ..Default::default()
                },
                cloud: Some(cloud),
            },
            depth,
            parent_deadline,
        )
        .await
    }

    async fn load_function(&self, cloud: &Cloud, name: &str) -> Result<StoredFunction> {
        let found = match self.loader() {
            Some(loader) => loader.load(name.to_string()).await?,
            None => {
                let collection = cloud.config().functions_collection.clone();
                cloud
                    .database()
                    .await?
                    .load_function(&collection, name)
                    .await?
                    .map(|f| StoredFunction {
                        name: f.name,
                        code: f.compiled,
                        hash: f.hash,
                    })
            }
        };
        found.ok_or_else(|| Error::FunctionNotFound(name.to_string()))
    }

    async fn local_pool(&self) -> Result<&LocalPool> {
        self.local
            .get_or_try_init(|| async {
                LocalPool::start(PoolConfig {
                    node: self.config.node_path.clone().unwrap_or_else(find_node),
                    size: self.config.pool_size,
                    memory_mb: self.config.memory_mb,
                })
                .await
            })
            .await
    }
}
