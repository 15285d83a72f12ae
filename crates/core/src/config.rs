//! Typed configuration. Every setting has a default here, may be read from
//! the environment, and may be overridden per call. A missing setting is an
//! error only at the call that needs it, never at load time.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::egress::EgressPolicy;
use crate::error::{Error, Result};

/// Where a function runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackendKind {
    /// The warm pool of local `node` worker processes.
    Local,
    /// A remote Dify Sandbox at `SANDBOX_URL`.
    Dify,
}

impl BackendKind {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "local" => Ok(BackendKind::Local),
            "dify" => Ok(BackendKind::Dify),
            other => Err(Error::invalid(format!(
                "unknown backend {other:?}: expected 'local' or 'dify'"
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    /// JavaScript: CommonJS, or ES modules compiled to it.
    Nodejs,
    /// TypeScript, stripped to JavaScript (no type checking).
    Typescript,
    /// Reserved for the Python backend.
    Python3,
}

impl Language {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "nodejs" | "javascript" | "js" => Ok(Language::Nodejs),
            "typescript" | "ts" => Ok(Language::Typescript),
            "python3" | "python" => Ok(Language::Python3),
            other => Err(Error::invalid(format!(
                "unknown language {other:?}: expected 'typescript' ('ts'), 'javascript' ('js', 'nodejs') or 'python3' ('python')"
            ))),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Nodejs => "nodejs",
            Language::Typescript => "typescript",
            Language::Python3 => "python3",
        }
    }
}

/// Settings of the runtime as a whole (engine, pool, sandbox client, bridge).
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    pub backend: BackendKind,
    pub sandbox_url: Option<String>,
    pub sandbox_api_key: Option<String>,
    pub timeout_ms: u64,
    pub memory_mb: u64,
    pub pool_size: usize,
    pub bridge_bind: String,
    pub bridge_url: Option<String>,
    pub max_invoke_depth: u32,
    pub sandbox_retries: u32,
    /// Cap on one invocation's console output, in bytes.
    pub max_log_bytes: usize,
    /// Cap on the bytes read from one Dify Sandbox response.
    pub max_response_bytes: usize,
    /// Budget of the module cache (prepared programs), in bytes.
    pub module_cache_bytes: usize,
    /// The `node` binary for local workers; the addon passes the host's own.
    pub node_path: Option<PathBuf>,
    /// The time zone functions run in (`RUNTIME_FUNCTION_TZ`, an IANA name):
    /// the same on every host, whatever the host's own zone.
    pub function_tz: String,
    /// How long an invocation may wait for a free worker (`QUEUE_TIMEOUT`).
    pub queue_timeout_ms: u64,
    /// Cap on a result's JSON (and a cloud call's arguments), in bytes.
    pub max_result_bytes: usize,
    /// The largest `timeoutMs` a call may ask for.
    pub max_timeout_ms: u64,
    /// The largest `memoryMb` a call may ask for.
    pub max_memory_mb: u64,
    /// Who a function's own `fetch` may reach (`RUNTIME_EGRESS`, `RUNTIME_EGRESS_ALLOW`).
    pub egress: EgressPolicy,
    /// Cap on every local worker process: warm, blank, one-off and nested.
    pub max_workers: usize,
    /// Cap on one invocation's `cloud.invoke` calls in flight at once.
    pub max_concurrent_invokes: usize,
    /// Cap on one invocation's database, storage and `fetch` calls in
    /// flight at once: the clients' connections are shared by every tenant.
    pub max_concurrent_calls: usize,
    /// The most bytes one database read (`find`, `aggregate`) or storage
    /// read (`readFile`, `listFiles`) returns to a function: the host holds
    /// it in memory.
    pub max_read_bytes: usize,
    /// Cap on one tenant's workers (top-level calls; more wait for its own).
    pub max_workers_per_tenant: usize,
    /// Kernel isolation of local workers.
    pub isolation: IsolationConfig,
    /// Keep a function's context between a tenant's warm calls
    /// (`RUNTIME_REUSE_CONTEXT`, `options.reuseContext`): its module runs
    /// once per worker, as in AWS Lambda. Off: a fresh context per call.
    pub reuse_context: bool,
}

/// Checks a tenant name (`options.tenant`, `createCloud({ tenant })`).
pub fn check_tenant(what: &str, t: &str) -> Result<()> {
    if t.is_empty() || t.len() > 128 || t.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "{what} must be a string of 1 to 128 characters without control characters, got {t:?}"
        )));
    }
    Ok(())
}

/// `RUNTIME_ISOLATION`: `auto` uses the strongest layers the machine
/// allows; `strict` refuses to run functions without Landlock and seccomp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IsolationLevel {
    Auto,
    Strict,
}

impl IsolationLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            IsolationLevel::Auto => "auto",
            IsolationLevel::Strict => "strict",
        }
    }
}

#[derive(Debug, Clone)]
pub struct IsolationConfig {
    pub level: IsolationLevel,
    /// Layers switched off (`RUNTIME_ISOLATION_DISABLE`, for diagnosis and
    /// tests): `landlock`, `seccomp`, `namespaces`, `rlimits`, and
    /// `permission` (Node's permission model, to show the kernel holds alone).
    pub disable: Vec<String>,
    /// The uid/gid workers run as when the host is root (`RUNTIME_WORKER_UID`/`_GID`).
    pub worker_uid: u32,
    pub worker_gid: u32,
    /// Size of a worker's private temp folder, MiB (`RUNTIME_WORKER_TMP_MB`).
    pub tmp_mb: u64,
    /// How much nicer than the host workers run (`RUNTIME_WORKER_NICE`,
    /// 0–19): the host's threads win a shared core at once, so a worker
    /// preparing its next context does not delay the reply it just sent.
    pub worker_nice: i32,
}

impl Default for IsolationConfig {
    fn default() -> Self {
        IsolationConfig {
            level: IsolationLevel::Auto,
            disable: Vec::new(),
            worker_uid: 65534,
            worker_gid: 65534,
            tmp_mb: 64,
            worker_nice: 10,
        }
    }
}

impl IsolationConfig {
    /// Whether `RUNTIME_ISOLATION_DISABLE` names `layer`.
    pub fn disables(&self, layer: &str) -> bool {
        self.disable.iter().any(|d| d == layer)
    }

    fn from_lookup(get: &impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut c = IsolationConfig::default();
        if let Some(v) = get("RUNTIME_ISOLATION") {
            c.level = match v.trim() {
                "auto" => IsolationLevel::Auto,
                "strict" => IsolationLevel::Strict,
                other => {
                    return Err(Error::Config(format!(
                        "RUNTIME_ISOLATION={other:?}: expected 'auto' or 'strict'"
                    )))
                }
            };
        }
        if let Some(v) = get("RUNTIME_ISOLATION_DISABLE") {
            for layer in v.split(',').map(str::trim).filter(|l| !l.is_empty()) {
                if !["landlock", "seccomp", "namespaces", "rlimits", "permission"].contains(&layer)
                {
                    return Err(Error::Config(format!(
                        "RUNTIME_ISOLATION_DISABLE: unknown layer {layer:?} \
                         (expected landlock, seccomp, namespaces, rlimits or permission)"
                    )));
                }
                c.disable.push(layer.to_string());
            }
        }
        if let Some(v) = get("RUNTIME_WORKER_UID") {
            c.worker_uid = parse_num("RUNTIME_WORKER_UID", &v)?;
            c.worker_gid = c.worker_uid;
        }
        if let Some(v) = get("RUNTIME_WORKER_GID") {
            c.worker_gid = parse_num("RUNTIME_WORKER_GID", &v)?;
        }
        if let Some(v) = get("RUNTIME_WORKER_NICE") {
            c.worker_nice = match v.trim().parse::<i32>() {
                Ok(n) if (0..=19).contains(&n) => n,
                _ => {
                    return Err(Error::Config(format!(
                        "RUNTIME_WORKER_NICE={v:?}: expected a whole number from 0 to 19"
                    )))
                }
            };
        }
        if let Some(v) = get("RUNTIME_WORKER_TMP_MB") {
            c.tmp_mb = parse_num("RUNTIME_WORKER_TMP_MB", &v)?;
            if c.tmp_mb == 0 {
                return Err(Error::Config(
                    "RUNTIME_WORKER_TMP_MB must be at least 1".into(),
                ));
            }
        }
        Ok(c)
    }
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            backend: BackendKind::Local,
            sandbox_url: None,
            sandbox_api_key: None,
            timeout_ms: 10_000,
            memory_mb: 256,
            pool_size: 4,
            bridge_bind: "127.0.0.1:0".into(),
            bridge_url: None,
            max_invoke_depth: 8,
            sandbox_retries: 3,
            max_log_bytes: 1024 * 1024,
            max_response_bytes: 8 * 1024 * 1024,
            module_cache_bytes: 64 * 1024 * 1024,
            node_path: None,
            function_tz: "UTC".into(),
            queue_timeout_ms: 30_000,
            max_result_bytes: 6 * 1024 * 1024,
            max_timeout_ms: 15 * 60 * 1000,
            max_memory_mb: host_memory_mb(),
            egress: EgressPolicy::default(),
            max_workers: 32,
            max_concurrent_invokes: 4,
            max_concurrent_calls: 16,
            max_read_bytes: 16 * 1024 * 1024,
            // More workers than cores only compete for them.
            max_workers_per_tenant: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2)
                .max(2),
            isolation: IsolationConfig::default(),
            reuse_context: false,
        }
    }
}

/// An IANA time zone name (`Asia/Shanghai`, `UTC`, `Etc/GMT-8`): letters,
/// digits and `/_+-`, as ICU reads it from `TZ`. ICU resolves it without the
/// system's zoneinfo (which a worker cannot read); an unknown name would
/// silently be UTC, so the shape is checked here and the README says so.
fn check_time_zone(v: &str) -> Result<String> {
    let v = v.trim();
    let ok = !v.is_empty()
        && v.len() <= 64
        && v.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '+' | '-'));
    if ok {
        Ok(v.to_string())
    } else {
        Err(Error::Config(format!(
            "RUNTIME_FUNCTION_TZ={v:?}: expected an IANA time zone name such as UTC or Asia/Shanghai"
        )))
    }
}

fn parse_num<T: std::str::FromStr>(var: &str, value: &str) -> Result<T> {
    value
        .trim()
        .parse()
        .map_err(|_| Error::Config(format!("{var}={value:?} is not a valid number")))
}

impl RuntimeConfig {
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
    }

    /// Reads settings through `get`, so tests can supply an environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut c = RuntimeConfig {
            sandbox_url: get("SANDBOX_URL").map(|u| u.trim_end_matches('/').to_string()),
            sandbox_api_key: get("SANDBOX_API_KEY"),
            bridge_url: get("RUNTIME_BRIDGE_URL").map(|u| u.trim_end_matches('/').to_string()),
            node_path: get("RUNTIME_NODE_PATH").map(PathBuf::from),
            egress: EgressPolicy::from_lookup(&get)?,
            ..Default::default()
        };
        c.backend = match get("RUNTIME_BACKEND") {
            Some(b) => BackendKind::parse(&b).map_err(|_| {
                Error::Config(format!("RUNTIME_BACKEND={b:?}: expected 'local' or 'dify'"))
            })?,
            None if c.sandbox_url.is_some() => BackendKind::Dify,
            None => BackendKind::Local,
        };
        if let Some(v) = get("RUNTIME_TIMEOUT_MS") {
            c.timeout_ms = parse_num("RUNTIME_TIMEOUT_MS", &v)?;
        }
        if let Some(v) = get("RUNTIME_FUNCTION_TZ") {
            c.function_tz = check_time_zone(&v)?;
        }
        if let Some(v) = get("RUNTIME_MEMORY_MB") {
            c.memory_mb = parse_num("RUNTIME_MEMORY_MB", &v)?;
        }
        if let Some(v) = get("RUNTIME_POOL_SIZE") {
            c.pool_size = parse_num("RUNTIME_POOL_SIZE", &v)?;
            if c.pool_size == 0 {
                return Err(Error::Config("RUNTIME_POOL_SIZE must be at least 1".into()));
            }
        }
        if let Some(v) = get("RUNTIME_BRIDGE_BIND") {
            c.bridge_bind = v;
        }
        if let Some(v) = get("RUNTIME_MAX_INVOKE_DEPTH") {
            c.max_invoke_depth = parse_num("RUNTIME_MAX_INVOKE_DEPTH", &v)?;
        }
        if let Some(v) = get("RUNTIME_SANDBOX_RETRIES") {
            c.sandbox_retries = parse_num("RUNTIME_SANDBOX_RETRIES", &v)?;
        }
        if let Some(v) = get("RUNTIME_MAX_LOG_BYTES") {
            c.max_log_bytes = parse_num("RUNTIME_MAX_LOG_BYTES", &v)?;
        }
        if let Some(v) = get("RUNTIME_MAX_RESPONSE_BYTES") {
            c.max_response_bytes = parse_num("RUNTIME_MAX_RESPONSE_BYTES", &v)?;
        }
        if let Some(v) = get("RUNTIME_MODULE_CACHE_MB") {
            c.module_cache_bytes = parse_num::<usize>("RUNTIME_MODULE_CACHE_MB", &v)? * 1024 * 1024;
        }
        if let Some(v) = get("RUNTIME_QUEUE_TIMEOUT_MS") {
            c.queue_timeout_ms = parse_num("RUNTIME_QUEUE_TIMEOUT_MS", &v)?;
        }
        if let Some(v) = get("RUNTIME_MAX_RESULT_BYTES") {
            c.max_result_bytes = parse_num("RUNTIME_MAX_RESULT_BYTES", &v)?;
        }
        if let Some(v) = get("RUNTIME_MAX_TIMEOUT_MS") {
            c.max_timeout_ms = parse_num("RUNTIME_MAX_TIMEOUT_MS", &v)?;
        }
        if let Some(v) = get("RUNTIME_MAX_MEMORY_MB") {
            c.max_memory_mb = parse_num("RUNTIME_MAX_MEMORY_MB", &v)?;
        }
        if let Some(v) = get("RUNTIME_MAX_WORKERS") {
            c.max_workers = parse_num("RUNTIME_MAX_WORKERS", &v)?;
        }
        if let Some(v) = get("RUNTIME_MAX_WORKERS_PER_TENANT") {
            c.max_workers_per_tenant = parse_num("RUNTIME_MAX_WORKERS_PER_TENANT", &v)?;
        }
        if let Some(v) = get("RUNTIME_MAX_CONCURRENT_INVOKES") {
            c.max_concurrent_invokes = parse_num("RUNTIME_MAX_CONCURRENT_INVOKES", &v)?;
        }
        if let Some(v) = get("RUNTIME_MAX_READ_BYTES") {
            c.max_read_bytes = parse_num("RUNTIME_MAX_READ_BYTES", &v)?;
        }
        if let Some(v) = get("RUNTIME_MAX_CONCURRENT_CALLS") {
            c.max_concurrent_calls = parse_num("RUNTIME_MAX_CONCURRENT_CALLS", &v)?;
        }
        if let Some(v) = get("RUNTIME_REUSE_CONTEXT") {
            c.reuse_context = match v.trim() {
                "1" | "true" => true,
                "0" | "false" => false,
                _ => {
                    return Err(Error::Config(format!(
                        "RUNTIME_REUSE_CONTEXT={v:?}: expected 1, true, 0 or false"
                    )))
                }
            };
        }
        c.isolation = IsolationConfig::from_lookup(&get)?;
        for (var, value, min) in [
            (
                "RUNTIME_MAX_CONCURRENT_INVOKES",
                c.max_concurrent_invokes as u64,
                1,
            ),
            (
                "RUNTIME_MAX_CONCURRENT_CALLS",
                c.max_concurrent_calls as u64,
                1,
            ),
            ("RUNTIME_TIMEOUT_MS", c.timeout_ms, 1),
            ("RUNTIME_MAX_TIMEOUT_MS", c.max_timeout_ms, 1),
            ("RUNTIME_QUEUE_TIMEOUT_MS", c.queue_timeout_ms, 1),
            ("RUNTIME_MEMORY_MB", c.memory_mb, 16),
            ("RUNTIME_MAX_RESULT_BYTES", c.max_result_bytes as u64, 1024),
            ("RUNTIME_MAX_READ_BYTES", c.max_read_bytes as u64, 1024),
        ] {
            if value < min {
                return Err(Error::Config(format!("{var} must be at least {min}")));
            }
        }
        if c.max_workers < c.pool_size + 1 {
            return Err(Error::Config(format!(
                "RUNTIME_MAX_WORKERS ({}) must be above RUNTIME_POOL_SIZE ({}): the cap covers the pool's blank workers and every bound one",
                c.max_workers, c.pool_size
            )));
        }
        if c.timeout_ms > c.max_timeout_ms {
            return Err(Error::Config(format!(
                "RUNTIME_TIMEOUT_MS ({}) is above RUNTIME_MAX_TIMEOUT_MS ({})",
                c.timeout_ms, c.max_timeout_ms
            )));
        }
        Ok(c)
    }

    pub fn timeout(&self) -> Duration {
        Duration::from_millis(self.timeout_ms)
    }
}

/// Physical memory in MB: the ceiling for `memoryMb` unless
/// `RUNTIME_MAX_MEMORY_MB` says otherwise.
fn host_memory_mb() -> u64 {
    #[cfg(unix)]
    {
        // SAFETY: sysconf reads constants; no memory is touched.
        let (pages, size) = unsafe {
            (
                libc::sysconf(libc::_SC_PHYS_PAGES),
                libc::sysconf(libc::_SC_PAGESIZE),
            )
        };
        if pages > 0 && size > 0 {
            return (pages as u64).saturating_mul(size as u64) / (1024 * 1024);
        }
    }
    16 * 1024
}

/// Per-invocation overrides (`executeFunction`'s `options`).
#[derive(Debug, Clone, Default)]
pub struct InvocationOptions {
    /// Whose function this is: workers and cached programs are never shared
    /// between tenants. Default: the tenant of the invocation's Cloud.
    pub tenant: Option<String>,
    pub timeout_ms: Option<u64>,
    pub memory_mb: Option<u64>,
    pub language: Option<Language>,
    pub backend: Option<BackendKind>,
    /// The code is a function body (`runCode`), not a module.
    pub snippet: bool,
    /// Each log line as it arrives (`onLog`), besides the result's `logs`.
    pub on_log: Option<crate::sandbox::LogSink>,
    /// Keep the function's context between warm calls (local backend).
    /// Default: the runtime's `reuse_context`.
    pub reuse_context: Option<bool>,
}

/// S3 settings of a [`crate::cloud::Cloud`].
#[derive(Debug, Clone, Default)]
pub struct S3Config {
    pub endpoint: Option<String>,
    pub region: String,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub bucket: Option<String>,
    /// Buckets besides `bucket` that this Cloud may reach (`S3_BUCKETS`,
    /// comma-separated, or `createCloud({ buckets })`); any other is refused.
    pub buckets: Vec<String>,
    pub force_path_style: bool,
}

/// Settings of a [`crate::cloud::Cloud`]: database, storage, function store, env.
#[derive(Debug, Clone, Default)]
pub struct CloudConfig {
    pub mongo_url: Option<String>,
    pub database: String,
    pub functions_collection: String,
    pub s3: S3Config,
    /// `cloud.env`: the `FUNCTION_ENV_*` variables with the prefix stripped.
    pub env: BTreeMap<String, String>,
    /// The tenant of functions run with this Cloud (`createCloud({ tenant })`);
    /// None: each Cloud is its own tenant.
    pub tenant: Option<String>,
}

/// Per-Cloud overrides (`createCloud`'s options); `None` keeps the setting
/// from the environment. Merged by [`CloudConfig::with`].
#[derive(Debug, Clone, Default)]
pub struct CloudOverrides {
    pub tenant: Option<String>,
    pub mongo_url: Option<String>,
    pub database: Option<String>,
    pub functions_collection: Option<String>,
    /// Also turns path-style URLs on, unless `s3_force_path_style` says otherwise.
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<String>,
    pub s3_bucket: Option<String>,
    pub s3_force_path_style: Option<bool>,
    pub buckets: Option<Vec<String>>,
    pub env: Option<BTreeMap<String, String>>,
}

impl CloudConfig {
    pub fn from_env() -> Self {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::from_vars(&vars)
    }

    /// These settings with `o` applied. A tenant outside 1 to 128
    /// characters is `INVALID_ARGUMENT` (database names are checked where
    /// the Cloud is built).
    pub fn with(mut self, o: CloudOverrides) -> Result<Self> {
        if let Some(t) = o.tenant {
            check_tenant("createCloud: tenant", &t)?;
            self.tenant = Some(t);
        }
        let set = |slot: &mut String, v: Option<String>| {
            if let Some(v) = v {
                *slot = v;
            }
        };
        self.mongo_url = o.mongo_url.or(self.mongo_url);
        set(&mut self.database, o.database);
        set(&mut self.functions_collection, o.functions_collection);
        if let Some(e) = o.s3_endpoint {
            self.s3.endpoint = Some(e);
            self.s3.force_path_style = true;
        }
        set(&mut self.s3.region, o.s3_region);
        self.s3.access_key_id = o.s3_access_key_id.or(self.s3.access_key_id);
        self.s3.secret_access_key = o.s3_secret_access_key.or(self.s3.secret_access_key);
        self.s3.bucket = o.s3_bucket.or(self.s3.bucket);
        if let Some(v) = o.s3_force_path_style {
            self.s3.force_path_style = v;
        }
        if let Some(b) = o.buckets {
            self.s3.buckets = b;
        }
        if let Some(env) = o.env {
            self.env = env;
        }
        Ok(self)
    }

    pub fn from_vars(vars: &[(String, String)]) -> Self {
        let get = |k: &str| {
            vars.iter()
                .find(|(n, v)| n == k && !v.is_empty())
                .map(|(_, v)| v.clone())
        };
        let endpoint = get("S3_ENDPOINT");
        let force_path_style = match get("S3_FORCE_PATH_STYLE").as_deref() {
            Some("0") | Some("false") => false,
            Some(_) => true,
            None => endpoint.is_some(),
        };
        CloudConfig {
            mongo_url: get("MONGODB_URL"),
            database: get("MONGODB_DB").unwrap_or_else(|| "simple_ide".into()),
            functions_collection: get("FUNCTIONS_COLLECTION").unwrap_or_else(|| "functions".into()),
            s3: S3Config {
                endpoint,
                region: get("S3_REGION").unwrap_or_else(|| "us-east-1".into()),
                access_key_id: get("S3_ACCESS_KEY"),
                secret_access_key: get("S3_SECRET_KEY"),
                bucket: get("S3_BUCKET"),
                buckets: get("S3_BUCKETS")
                    .map(|v| {
                        v.split(',')
                            .map(|b| b.trim().to_string())
                            .filter(|b| !b.is_empty())
                            .collect()
                    })
                    .unwrap_or_default(),
                force_path_style,
            },
            env: vars
                .iter()
                .filter_map(|(k, v)| {
                    k.strip_prefix("FUNCTION_ENV_")
                        .filter(|rest| !rest.is_empty())
                        .map(|rest| (rest.to_string(), v.clone()))
                })
                .collect(),
            tenant: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect();
        move |k| pairs.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone())
    }

    #[test]
    fn cloud_overrides_apply_over_the_environment() {
        let vars = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect()
        };
        let base = CloudConfig::from_vars(&vars(&[
            ("MONGODB_URL", "mongodb://env"),
            ("S3_BUCKET", "env-bucket"),
            ("S3_REGION", "eu-west-1"),
        ]));
        // Nothing given: the environment's settings.
        let same = base.clone().with(CloudOverrides::default()).unwrap();
        assert_eq!(same.mongo_url.as_deref(), Some("mongodb://env"));
        assert_eq!(same.s3.bucket.as_deref(), Some("env-bucket"));
        assert!(!same.s3.force_path_style);
        let c = base
            .clone()
            .with(CloudOverrides {
                tenant: Some("acme".into()),
                database: Some("acme_db".into()),
                s3_endpoint: Some("http://127.0.0.1:9000".into()),
                s3_bucket: Some("acme-files".into()),
                buckets: Some(vec!["shared".into()]),
                env: Some([("K".to_string(), "v".to_string())].into()),
                ..Default::default()
            })
            .unwrap();
        assert_eq!(c.tenant.as_deref(), Some("acme"));
        assert_eq!(c.database, "acme_db");
        assert_eq!(c.mongo_url.as_deref(), Some("mongodb://env"));
        assert_eq!(c.s3.region, "eu-west-1");
        assert_eq!(c.s3.bucket.as_deref(), Some("acme-files"));
        assert_eq!(c.s3.buckets, ["shared"]);
        assert_eq!(c.env.get("K").map(String::as_str), Some("v"));
        // An endpoint means path-style URLs, unless the options say otherwise.
        assert!(c.s3.force_path_style);
        let c = base
            .clone()
            .with(CloudOverrides {
                s3_endpoint: Some("http://127.0.0.1:9000".into()),
                s3_force_path_style: Some(false),
                ..Default::default()
            })
            .unwrap();
        assert!(!c.s3.force_path_style);
        let e = base
            .with(CloudOverrides {
                tenant: Some(String::new()),
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "createCloud: tenant must be a string of 1 to 128 characters without control characters, got \"\""
        );
    }

    #[test]
    fn defaults_and_backend_inference() {
        let c = RuntimeConfig::from_lookup(env(&[])).unwrap();
        assert_eq!(c.backend, BackendKind::Local);
        assert_eq!(c.timeout_ms, 10_000);
        assert_eq!(c.pool_size, 4);
        let c =
            RuntimeConfig::from_lookup(env(&[("SANDBOX_URL", "http://10.0.0.1:8194/")])).unwrap();
        assert_eq!(c.backend, BackendKind::Dify);
        assert_eq!(c.sandbox_url.as_deref(), Some("http://10.0.0.1:8194"));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let e = RuntimeConfig::from_lookup(env(&[("RUNTIME_TIMEOUT_MS", "soon")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration: RUNTIME_TIMEOUT_MS=\"soon\" is not a valid number"
        );
        let e = RuntimeConfig::from_lookup(env(&[("RUNTIME_BACKEND", "docker")])).unwrap_err();
        assert!(e.to_string().contains("RUNTIME_BACKEND=\"docker\""), "{e}");
        let e = RuntimeConfig::from_lookup(env(&[("RUNTIME_POOL_SIZE", "0")])).unwrap_err();
        assert!(e.to_string().contains("at least 1"), "{e}");
    }

    #[test]
    fn function_env_strips_prefix_and_nothing_else_leaks() {
        let vars = vec![
            ("FUNCTION_ENV_API_KEY".to_string(), "k".to_string()),
            ("AWS_SECRET".to_string(), "s".to_string()),
            ("FUNCTION_ENV_".to_string(), "empty-name".to_string()),
        ];
        let c = CloudConfig::from_vars(&vars);
        assert_eq!(c.env.len(), 1);
        assert_eq!(c.env["API_KEY"], "k");
        assert!(!c.s3.force_path_style);
        assert_eq!(c.database, "simple_ide");
    }

    #[test]
    fn isolation_and_worker_cap_settings() {
        let c = RuntimeConfig::from_lookup(env(&[])).unwrap();
        assert_eq!(c.isolation.level, IsolationLevel::Auto);
        assert_eq!((c.isolation.worker_uid, c.isolation.tmp_mb), (65534, 64));
        assert_eq!(c.isolation.worker_nice, 10);
        assert_eq!(c.function_tz, "UTC");
        let c =
            RuntimeConfig::from_lookup(env(&[("RUNTIME_FUNCTION_TZ", " Asia/Shanghai ")])).unwrap();
        assert_eq!(c.function_tz, "Asia/Shanghai");
        for bad in ["", "../../etc/passwd", "Asia/Shang hai", ":/etc/localtime"] {
            let e = RuntimeConfig::from_lookup(env(&[("RUNTIME_FUNCTION_TZ", bad)])).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("invalid configuration: RUNTIME_FUNCTION_TZ={:?}: expected an IANA time zone name such as UTC or Asia/Shanghai", bad.trim())
            );
        }
        assert!(!c.reuse_context);
        for (v, want) in [
            ("1", true),
            (" true ", true),
            ("0", false),
            ("false", false),
        ] {
            let c = RuntimeConfig::from_lookup(env(&[("RUNTIME_REUSE_CONTEXT", v)])).unwrap();
            assert_eq!(c.reuse_context, want, "{v:?}");
        }
        let e = RuntimeConfig::from_lookup(env(&[("RUNTIME_REUSE_CONTEXT", "yes")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration: RUNTIME_REUSE_CONTEXT=\"yes\": expected 1, true, 0 or false"
        );
        let c = RuntimeConfig::from_lookup(env(&[("RUNTIME_WORKER_NICE", "0")])).unwrap();
        assert_eq!(c.isolation.worker_nice, 0);
        for bad in ["-5", "20", "ten"] {
            let e = RuntimeConfig::from_lookup(env(&[("RUNTIME_WORKER_NICE", bad)])).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("invalid configuration: RUNTIME_WORKER_NICE={bad:?}: expected a whole number from 0 to 19")
            );
        }
        assert_eq!((c.max_workers, c.max_concurrent_invokes), (32, 4));
        assert_eq!(c.max_concurrent_calls, 16);
        assert_eq!(c.max_read_bytes, 16 << 20);
        let e = RuntimeConfig::from_lookup(env(&[("RUNTIME_MAX_READ_BYTES", "10")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration: RUNTIME_MAX_READ_BYTES must be at least 1024"
        );
        let c = RuntimeConfig::from_lookup(env(&[("RUNTIME_MAX_CONCURRENT_CALLS", "3")])).unwrap();
        assert_eq!(c.max_concurrent_calls, 3);
        let e =
            RuntimeConfig::from_lookup(env(&[("RUNTIME_MAX_CONCURRENT_CALLS", "0")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration: RUNTIME_MAX_CONCURRENT_CALLS must be at least 1"
        );
        let c = RuntimeConfig::from_lookup(env(&[
            ("RUNTIME_ISOLATION", "strict"),
            ("RUNTIME_ISOLATION_DISABLE", "landlock, namespaces"),
            ("RUNTIME_WORKER_UID", "1000"),
        ]))
        .unwrap();
        assert_eq!(c.isolation.level, IsolationLevel::Strict);
        assert_eq!(c.isolation.disable, ["landlock", "namespaces"]);
        assert_eq!(
            (c.isolation.worker_uid, c.isolation.worker_gid),
            (1000, 1000)
        );
        let e = RuntimeConfig::from_lookup(env(&[("RUNTIME_ISOLATION", "paranoid")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration: RUNTIME_ISOLATION=\"paranoid\": expected 'auto' or 'strict'"
        );
        let e = RuntimeConfig::from_lookup(env(&[("RUNTIME_ISOLATION_DISABLE", "apparmor")]))
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration: RUNTIME_ISOLATION_DISABLE: unknown layer \"apparmor\" (expected landlock, seccomp, namespaces, rlimits or permission)"
        );
        let e = RuntimeConfig::from_lookup(env(&[("RUNTIME_MAX_WORKERS", "4")])).unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration: RUNTIME_MAX_WORKERS (4) must be above RUNTIME_POOL_SIZE (4): the cap covers the pool's blank workers and every bound one"
        );
        let e = RuntimeConfig::from_lookup(env(&[("RUNTIME_WORKER_TMP_MB", "0")])).unwrap_err();
        assert!(
            e.to_string()
                .contains("RUNTIME_WORKER_TMP_MB must be at least 1"),
            "{e}"
        );
        assert!(check_tenant("t", "shop-1").is_ok());
        assert!(check_tenant("t", &"x".repeat(129)).is_err());
        assert!(check_tenant("t", "a\nb").is_err());
    }
}
