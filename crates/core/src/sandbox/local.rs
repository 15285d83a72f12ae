//! The local backend: a warm pool of `node` worker processes, driven over
//! their stdin/stdout pipes with newline-delimited JSON frames (the protocol
//! is described at the top of `sandbox/worker.js`).
//!
//! Isolation: each worker is its own process, started with an empty
//! environment, a heap cap (`--max-old-space-size`) and Node's permission
//! model (file writes only in its own temp folder, no child processes, no
//! worker threads). Each invocation gets a fresh V8 context inside it. A
//! worker runs one invocation at a time, so a hang, a crash or an
//! out-of-memory kill only ever affects the invocation that caused it; the
//! pool then replaces the process.

use std::collections::{HashSet, VecDeque};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, OwnedSemaphorePermit, Semaphore};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout, timeout_at};

use super::{Job, LogBuffer, Outcome, PRELUDE_JS, WORKER_JS};
use crate::error::{Error, Result};

/// How long a new worker may take to say it is ready.
const SPAWN_TIMEOUT: Duration = Duration::from_secs(15);
/// Bytes of a worker's stderr kept to explain its death.
const STDERR_TAIL: usize = 4096;
/// Per-worker budget for compiled programs (the worker evicts least recently used).
const WORKER_MODULE_BUDGET: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub node: PathBuf,
    pub size: usize,
    pub memory_mb: u64,
}

/// Counters for `metrics()`.
#[derive(Debug, Default, Clone, Copy)]
pub struct PoolStats {
    pub total: usize,
    pub idle: usize,
    pub busy: usize,
    pub spawned: u64,
    pub replaced: u64,
}

pub struct LocalPool {
    inner: Arc<Inner>,
}

struct Inner {
    config: PoolConfig,
    /// Private folder: the worker script, and one temp folder per worker.
    base_dir: PathBuf,
    script: PathBuf,
    permission_flag: &'static str,
    // A std Mutex: held for a push or a pop only, never across an await.
    idle: Mutex<VecDeque<Worker>>,
    /// One permit per pooled worker; a busy worker holds its permit.
    permits: Arc<Semaphore>,
    live: AtomicUsize,
    busy: AtomicUsize,
    spawned: AtomicU64,
    replaced: AtomicU64,
    next_worker: AtomicU64,
    next_invocation: AtomicU64,
}

impl LocalPool {
    /// Starts the pool: writes the worker script and starts `size` workers.
    pub async fn start(config: PoolConfig) -> Result<Self> {
        let version = node_major_version(&config.node).await?;
        if version < 20 {
            return Err(Error::Config(format!(
                "node {} is v{version}; the local pool needs Node.js 20 or newer (set RUNTIME_NODE_PATH)",
                config.node.display()
            )));
        }
        let base_dir = std::env::temp_dir().join(format!(
            "simple-ide-runtime-{}-{}",
            std::process::id(),
            random_suffix()
        ));
        tokio::fs::create_dir_all(&base_dir).await?;
        let script = base_dir.join("worker.js");
        tokio::fs::write(&script, format!("{PRELUDE_JS}\n{WORKER_JS}")).await?;
        let inner = Arc::new(Inner {
            permission_flag: if version >= 22 {
                "--permission"
            } else {
                "--experimental-permission"
            },
            permits: Arc::new(Semaphore::new(config.size)),
            config,
            base_dir,
            script,
            idle: Mutex::new(VecDeque::new()),
            live: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            spawned: AtomicU64::new(0),
            replaced: AtomicU64::new(0),
            next_worker: AtomicU64::new(1),
            next_invocation: AtomicU64::new(1),
        });
        let mut starting = JoinSet::new();
        for _ in 0..inner.config.size {
            let inner = inner.clone();
            starting.spawn(async move { inner.spawn_worker(inner.config.memory_mb).await });
        }
        while let Some(res) = starting.join_next().await {
            let worker = res.map_err(|e| Error::Worker(e.to_string()))??;
            inner.push_idle(worker);
        }
        Ok(LocalPool { inner })
    }

    pub fn stats(&self) -> PoolStats {
        let idle = self.inner.idle.lock().map(|q| q.len()).unwrap_or(0);
        PoolStats {
            total: self.inner.live.load(Ordering::Relaxed),
            idle,
            busy: self.inner.busy.load(Ordering::Relaxed),
            spawned: self.inner.spawned.load(Ordering::Relaxed),
            replaced: self.inner.replaced.load(Ordering::Relaxed),
        }
    }

    /// Runs one job to its outcome. Errors are for the runtime failing
    /// (node missing); everything the function did is in the [`Outcome`].
    pub async fn run(&self, job: &Job) -> Result<Outcome> {
        let inner = &self.inner;
        let pooled_memory = job.memory_mb == inner.config.memory_mb;
        // A nested cloud.invoke must not wait for a worker held by its own
        // caller chain (that would deadlock a small pool): it takes a free
        // pooled worker if there is one, else a one-off worker.
        let permit = if pooled_memory && job.depth == 0 {
            match timeout_at(job.deadline, inner.permits.clone().acquire_owned()).await {
                Ok(Ok(p)) => Some(p),
                Ok(Err(_)) => return Err(Error::Worker("the worker pool is shut down".into())),
                Err(_) => {
                    return Ok(Outcome::failed(
                        Vec::new(),
                        "timeout",
                        format!(
                            "Function timed out after {} ms (waited for a free worker: all {} were busy)",
                            job.timeout_ms, inner.config.size
                        ),
                    ))
                }
            }
        } else if pooled_memory {
            inner.permits.clone().try_acquire_owned().ok()
        } else {
            None
        };
        let mut worker = match permit.as_ref().and_then(|_| inner.pop_idle()) {
            Some(w) => w,
            None => inner.spawn_worker(job.memory_mb).await?,
        };
        inner.busy.fetch_add(1, Ordering::Relaxed);
        let id = inner.next_invocation.fetch_add(1, Ordering::Relaxed);
        let (outcome, healthy) = worker.run(id, job).await;
        inner.busy.fetch_sub(1, Ordering::Relaxed);
        match (permit, healthy) {
            // The worker goes back before its permit is released, so the
            // next caller to get the permit finds it.
            (Some(_permit), true) => inner.push_idle(worker),
            (Some(permit), false) => {
                drop(worker);
                inner.replaced.fetch_add(1, Ordering::Relaxed);
                Inner::replace_in_background(inner.clone(), permit);
            }
            (None, _) => drop(worker),
        }
        Ok(outcome)
    }
}

impl Drop for LocalPool {
    fn drop(&mut self) {
        if let Ok(mut q) = self.inner.idle.lock() {
            q.clear();
        }
        let _ = std::fs::remove_dir_all(&self.inner.base_dir);
    }
}

impl Inner {
    fn push_idle(&self, w: Worker) {
        if let Ok(mut q) = self.idle.lock() {
            q.push_back(w);
        }
    }

    // FIFO: the least recently used worker has had the most time to prepare
    // its next context.
    fn pop_idle(&self) -> Option<Worker> {
        self.idle.lock().ok()?.pop_front()
    }

    /// Starts a replacement while holding the broken worker's permit, so the
    /// pool never holds more than `size` workers.
    fn replace_in_background(inner: Arc<Inner>, permit: OwnedSemaphorePermit) {
        tokio::spawn(async move {
            if let Ok(w) = inner.spawn_worker(inner.config.memory_mb).await {
                inner.push_idle(w);
            }
            drop(permit);
        });
    }

    async fn spawn_worker(self: &Arc<Self>, memory_mb: u64) -> Result<Worker> {
        let n = self.next_worker.fetch_add(1, Ordering::Relaxed);
        let dir = self.base_dir.join(format!("w{n}"));
        tokio::fs::create_dir_all(&dir).await?;
        let mut cmd = Command::new(&self.config.node);
        // No host environment reaches user code; TMPDIR makes os.tmpdir()
        // the one folder the worker may write to.
        cmd.env_clear()
            .env("TMPDIR", &dir)
            .current_dir(&dir)
            .arg(format!("--max-old-space-size={memory_mb}"))
            .arg(self.permission_flag)
            .arg(format!("--allow-fs-read={}", self.script.display()))
            .arg(format!("--allow-fs-read={}", dir.display()))
            .arg(format!("--allow-fs-write={}", dir.display()))
            .arg("--no-warnings")
            .arg(&self.script)
            .arg(WORKER_MODULE_BUDGET.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        let mut child = cmd.spawn().map_err(|e| {
            Error::Worker(format!(
                "cannot start {}: {e} (set RUNTIME_NODE_PATH to a Node.js 20+ binary)",
                self.config.node.display()
            ))
        })?;
        let (stdin, stdout, stderr) =
            match (child.stdin.take(), child.stdout.take(), child.stderr.take()) {
                (Some(i), Some(o), Some(e)) => (i, o, e),
                _ => return Err(Error::Worker("worker pipes unavailable".into())),
            };
        let (tx, mut to_stdin) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            let mut stdin = stdin;
            while let Some(mut frame) = to_stdin.recv().await {
                frame.push('\n');
                if stdin.write_all(frame.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
        let (from_stdout, mut rx) = mpsc::unbounded_channel::<Frame>();
        tokio::spawn(async move {
            let mut lines = BufReader::with_capacity(64 * 1024, stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                // A line that is not a frame means user code wrote to the real
                // stdout; the worker can no longer be trusted.
                let frame = serde_json::from_str(&line).unwrap_or(Frame::Garbage);
                if from_stdout.send(frame).is_err() {
                    break;
                }
            }
        });
        let tail = Arc::new(Mutex::new(String::new()));
        let tail_w = tail.clone();
        tokio::spawn(async move {
            let mut stderr = stderr;
            let mut buf = [0u8; 4096];
            while let Ok(n) = stderr.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if let Ok(mut t) = tail_w.lock() {
                    t.push_str(&String::from_utf8_lossy(&buf[..n]));
                    if t.len() > STDERR_TAIL {
                        let mut cut = t.len() - STDERR_TAIL;
                        while !t.is_char_boundary(cut) {
                            cut += 1;
                        }
                        t.drain(..cut);
                    }
                }
            }
        });
        match timeout(SPAWN_TIMEOUT, rx.recv()).await {
            Ok(Some(Frame::Ready {})) => {}
            other => {
                let _ = child.start_kill();
                let why = match other {
                    Err(_) => "it did not become ready in time".to_string(),
                    _ => "it exited during start-up".to_string(),
                };
                // Give the stderr reader a moment to collect the reason.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let stderr = tail
                    .lock()
                    .map(|t| t.trim().to_string())
                    .unwrap_or_default();
                return Err(Error::Worker(format!(
                    "cannot start a node worker: {why}: {stderr}"
                )));
            }
        }
        self.spawned.fetch_add(1, Ordering::Relaxed);
        self.live.fetch_add(1, Ordering::Relaxed);
        Ok(Worker {
            child,
            tx,
            rx,
            tail,
            dir,
            known: HashSet::new(),
            memory_mb,
            pool: Arc::downgrade(self),
        })
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "t", rename_all = "lowercase")]
enum Frame {
    Ready {},
    Need {
        id: u64,
    },
    Log {
        id: u64,
        line: String,
    },
    Call {
        id: u64,
        seq: u64,
        op: String,
        args: Value,
    },
    Done {
        id: u64,
        data: Value,
    },
    Fail {
        id: u64,
        error: String,
        stack: Option<String>,
        kind: Option<String>,
        retire: Option<bool>,
    },
    #[serde(skip)]
    Garbage,
}

struct Worker {
    child: Child,
    tx: mpsc::UnboundedSender<String>,
    rx: mpsc::UnboundedReceiver<Frame>,
    tail: Arc<Mutex<String>>,
    dir: PathBuf,
    /// Programs this worker has compiled: it is sent only the key for these.
    known: HashSet<Arc<str>>,
    memory_mb: u64,
    pool: std::sync::Weak<Inner>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(p) = self.pool.upgrade() {
            p.live.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

fn run_frame(id: u64, job: &Job, with_code: bool) -> String {
    serde_json::json!({
        "t": "run",
        "id": id,
        "key": &*job.key,
        "name": &*job.name,
        "code": if with_code { Value::String(job.code.to_string()) } else { Value::Null },
        "ctx": &job.ctx,
        "env": &*job.env,
        "logCap": job.log_cap,
    })
    .to_string()
}

fn reply_frame(id: u64, seq: u64, result: Result<Value>) -> String {
    match result {
        Ok(value) => {
            serde_json::json!({"t": "reply", "id": id, "seq": seq, "ok": true, "value": value})
        }
        Err(e) => {
            let mut v = serde_json::json!({
                "t": "reply", "id": id, "seq": seq, "ok": false,
                "error": e.to_string(), "errorCode": e.code(),
            });
            if let Error::Database {
                server_code: Some(c),
                ..
            } = &e
            {
                v["serverCode"] = Value::from(*c);
            }
            v
        }
    }
    .to_string()
}

impl Worker {
    /// Runs one invocation. Returns the outcome and whether the worker can
    /// serve again.
    async fn run(&mut self, id: u64, job: &Job) -> (Outcome, bool) {
        let with_code = !self.known.contains(&job.key);
        if self.tx.send(run_frame(id, job, with_code)).is_err() {
            return (self.died(LogBuffer::new(job.log_cap), job).await, false);
        }
        let mut logs = LogBuffer::new(job.log_cap);
        // Cloud calls in flight; dropping the set aborts them when the
        // invocation ends, so nothing outlives its capability.
        let mut calls = JoinSet::new();
        loop {
            let frame = tokio::select! {
                f = self.rx.recv() => f,
                _ = sleep_until(job.deadline) => {
                    let _ = self.child.start_kill();
                    return (
                        Outcome::failed(logs.lines, "timeout", format!("Function timed out after {} ms", job.timeout_ms)),
                        false,
                    );
                }
            };
            match frame {
                None => return (self.died(logs, job).await, false),
                Some(Frame::Log { id: fid, line }) if fid == id => logs.push(line),
                Some(Frame::Need { id: fid }) if fid == id => {
                    self.known.remove(&job.key);
                    if self.tx.send(run_frame(id, job, true)).is_err() {
                        return (self.died(logs, job).await, false);
                    }
                }
                Some(Frame::Call {
                    id: fid,
                    seq,
                    op,
                    args,
                }) if fid == id => {
                    let handler = job.calls.clone();
                    let tx = self.tx.clone();
                    calls.spawn(async move {
                        let result = handler.call(op, args).await;
                        let _ = tx.send(reply_frame(id, seq, result));
                    });
                }
                Some(Frame::Done { id: fid, data }) if fid == id => {
                    self.known.insert(job.key.clone());
                    return (
                        Outcome {
                            data,
                            logs: logs.lines,
                            ..Default::default()
                        },
                        true,
                    );
                }
                Some(Frame::Fail {
                    id: fid,
                    error,
                    stack,
                    kind,
                    retire,
                }) if fid == id => {
                    if !matches!(kind.as_deref(), Some("syntax") | Some("esm")) {
                        self.known.insert(job.key.clone());
                    }
                    let healthy = retire != Some(true);
                    if !healthy {
                        // Let the exit finish so the next frame is not lost.
                        let _ = self.child.start_kill();
                    }
                    return (
                        Outcome {
                            data: Value::Null,
                            logs: logs.lines,
                            error: Some(error),
                            stack,
                            kind,
                        },
                        healthy,
                    );
                }
                Some(Frame::Garbage) => {
                    let _ = self.child.start_kill();
                    return (
                        Outcome::failed(
                            logs.lines,
                            "crash",
                            "Function wrote to the worker's protocol channel (process.stdout); use console.log".into(),
                        ),
                        false,
                    );
                }
                // Frames of an earlier invocation (e.g. a late log) are ignored.
                Some(_) => {}
            }
        }
    }

    /// Explains a worker that went away in the middle of an invocation.
    async fn died(&mut self, logs: LogBuffer, job: &Job) -> Outcome {
        let status = timeout(Duration::from_millis(500), self.child.wait()).await;
        // The stderr reader may still be draining the last lines.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let stderr = self.tail.lock().map(|t| t.clone()).unwrap_or_default();
        if stderr.contains("heap out of memory") || stderr.contains("Reached heap limit") {
            return Outcome::failed(
                logs.lines,
                "oom",
                format!(
                    "Function ran out of memory: the worker's heap limit is {} MB (RUNTIME_MEMORY_MB / options.memoryMb)",
                    self.memory_mb
                ),
            );
        }
        let how = match status {
            Ok(Ok(s)) => match (s.code(), exit_signal(&s)) {
                (Some(c), _) => format!("exit code {c}"),
                (None, Some(sig)) => format!("signal {sig}"),
                _ => "unknown status".into(),
            },
            _ => "no exit status".into(),
        };
        let last = stderr.trim().lines().rev().take(5).collect::<Vec<_>>();
        let detail = if last.is_empty() {
            String::new()
        } else {
            format!(
                ": {}",
                last.into_iter().rev().collect::<Vec<_>>().join(" | ")
            )
        };
        let _ = job;
        Outcome::failed(
            logs.lines,
            "crash",
            format!("Function crashed its worker process ({how}){detail}"),
        )
    }
}

#[cfg(unix)]
fn exit_signal(s: &std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    s.signal()
}

#[cfg(not(unix))]
fn exit_signal(_: &std::process::ExitStatus) -> Option<i32> {
    None
}

async fn node_major_version(node: &Path) -> Result<u32> {
    let out = Command::new(node)
        .arg("--version")
        .env_clear()
        .output()
        .await
        .map_err(|e| {
            Error::Worker(format!(
                "cannot run {}: {e} (set RUNTIME_NODE_PATH to a Node.js 20+ binary)",
                node.display()
            ))
        })?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.trim()
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .ok_or_else(|| Error::Worker(format!("{} --version printed {text:?}", node.display())))
}

fn random_suffix() -> String {
    let mut b = [0u8; 6];
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Finds `node` on PATH when no path is configured.
pub fn find_node() -> PathBuf {
    if let Some(paths) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&paths) {
            let candidate = dir.join(if cfg!(windows) { "node.exe" } else { "node" });
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    PathBuf::from("node")
}
