//! The local backend: a warm pool of `node` worker processes, driven over
//! their stdin/stdout pipes with the frames of [`super::protocol`]. Workers
//! are started, reaped and cleaned up by [`super::spawner`], so none is left
//! a zombie or outlives its host.
//!
//! Isolation: each worker is its own process, started with an empty
//! environment, a heap cap (`--max-old-space-size`) and Node's permission
//! model (file writes only in its own temp folder, no child processes, no
//! worker threads). Each invocation gets a fresh V8 context inside it. A
//! worker runs one invocation at a time, so a hang, a crash or an
//! out-of-memory kill only ever affects the invocation that caused it; the
//! pool then replaces the process.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinSet;
use tokio::time::{sleep_until, timeout, Instant};

use super::isolation::{Isolation, Layers};
use super::protocol::{self, BadFrame, FrameReader, FromWorker, Reply, Run, ToWorker};
use super::spawner::{self, Process, Spawner};
use super::{Job, LogBuffer, Outcome, PRELUDE_JS, PROTOCOL_JS, WORKER_JS};
use crate::config::IsolationConfig;
use crate::error::{Error, Result};

/// How long a new worker may take to say it is ready.
const SPAWN_TIMEOUT: Duration = Duration::from_secs(15);
/// Bytes of a worker's stderr kept to explain its death.
const STDERR_TAIL: usize = 4096;
/// Per-worker budget for compiled programs (the worker evicts least recently used).
const WORKER_MODULE_BUDGET: usize = 32 * 1024 * 1024;
/// Frames a worker may have in flight to the host before its writes block.
const FRAME_QUEUE: usize = 64;
/// Pool folders are `<temp>/<DIR_PREFIX><host pid>-<random>`.
const DIR_PREFIX: &str = "simple-ide-runtime-";

#[derive(Debug, Clone)]
pub struct PoolConfig {
    pub node: PathBuf,
    /// Blank workers kept started, ready to bind to a new tenant.
    pub size: usize,
    /// Cap on every worker process (blank, bound, one-off, nested).
    pub max_workers: usize,
    /// Cap on one tenant's workers for top-level calls: more would only
    /// compete for the same cores; its further calls wait for its own.
    pub max_workers_per_tenant: usize,
    pub memory_mb: u64,
    /// TZ of every worker (RUNTIME_FUNCTION_TZ).
    pub tz: String,
    /// The longest frame read from a worker, in bytes.
    pub max_frame: usize,
    pub isolation: IsolationConfig,
}

/// Counters for `metrics()` and `health()`.
#[derive(Debug, Default, Clone)]
pub struct PoolStats {
    /// Worker processes, alive or starting.
    pub total: usize,
    pub idle: usize,
    /// Idle workers not yet bound to a tenant.
    pub blank: usize,
    pub busy: usize,
    pub queued: usize,
    /// Tenants with at least one idle worker.
    pub tenants: usize,
    pub spawned: u64,
    pub replaced: u64,
    pub max_workers: usize,
    /// The kernel layers every worker gets.
    pub isolation: Option<Layers>,
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
    isolation: Isolation,
    // A std Mutex: held for bookkeeping only, never across an await, and no
    // Worker is dropped while it is held (Worker::drop takes it).
    state: Mutex<State>,
    /// Signalled when a worker becomes idle or a process ends.
    changed: Notify,
    spawner: Spawner,
    rt: tokio::runtime::Handle,
    closed: AtomicBool,
    busy: AtomicUsize,
    queued: AtomicUsize,
    spawned: AtomicU64,
    replaced: AtomicU64,
    next_worker: AtomicU64,
}

#[derive(Default)]
struct State {
    /// Idle workers, blank (tenant None) or bound.
    idle: Vec<Worker>,
    /// Processes alive or being started: never above `max_workers`.
    live: usize,
    /// Blank workers being started.
    starting_blank: usize,
    /// Workers bound to (or being started for) each tenant.
    per_tenant: std::collections::HashMap<Arc<str>, usize>,
    clock: u64,
}

impl State {
    /// Workers bound to (or being started for) `tenant`.
    fn workers_of(&self, tenant: &Arc<str>) -> usize {
        self.per_tenant.get(tenant).copied().unwrap_or(0)
    }

    fn count_worker_of(&mut self, tenant: &Arc<str>) {
        *self.per_tenant.entry(tenant.clone()).or_default() += 1;
    }

    fn uncount_worker_of(&mut self, tenant: &Arc<str>) {
        if let Some(n) = self.per_tenant.get_mut(tenant) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.per_tenant.remove(tenant);
            }
        }
    }
    /// Takes idle worker `i` out to retire it, its slot of the cap passing
    /// to the process started in its place (Worker::drop must not count it
    /// as ended).
    fn retire(&mut self, i: usize) -> Worker {
        let mut w = self.idle.remove(i);
        w.counted = false;
        w
    }
}

/// What `acquire` decided under the lock.
enum Pick {
    Worker(Worker, bool),
    Spawn(Option<Worker>),
    Wait,
}

impl LocalPool {
    /// Starts the pool: probes the isolation layers, writes the worker
    /// script and starts `size` blank workers.
    pub async fn start(config: PoolConfig) -> Result<Self> {
        let version = node_major_version(&config.node).await?;
        if version < 20 {
            return Err(Error::Config(format!(
                "node {} is v{version}; the local pool needs Node.js 20 or newer (set RUNTIME_NODE_PATH)",
                config.node.display()
            )));
        }
        let temp = std::env::temp_dir();
        spawner::sweep_stale_dirs(&temp, DIR_PREFIX);
        let base_dir = temp.join(format!(
            "{DIR_PREFIX}{}-{}",
            std::process::id(),
            random_suffix()
        ));
        tokio::fs::create_dir_all(&base_dir).await?;
        spawner::remember_dir(&base_dir);
        let script = base_dir.join("worker.js");
        tokio::fs::write(&script, format!("{PRELUDE_JS}\n{PROTOCOL_JS}\n{WORKER_JS}")).await?;
        // Workers may run as another uid: they read the script (no secrets
        // in it) and enter the folder; each one's own folder is private.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&base_dir, std::fs::Permissions::from_mode(0o711));
            let _ = std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o644));
        }
        let isolation = Isolation::probe(&config.isolation, &config.node, &script)?;
        let rt = tokio::runtime::Handle::current();
        let inner = Arc::new(Inner {
            permission_flag: if version >= 22 {
                "--permission"
            } else {
                "--experimental-permission"
            },
            isolation,
            spawner: Spawner::start()?,
            rt,
            config,
            base_dir,
            script,
            state: Mutex::new(State::default()),
            changed: Notify::new(),
            closed: AtomicBool::new(false),
            busy: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            spawned: AtomicU64::new(0),
            replaced: AtomicU64::new(0),
            next_worker: AtomicU64::new(1),
        });
        // The first blank worker starts before `start` returns, so a broken
        // node or isolation setup is reported to the first caller.
        if let Ok(mut st) = inner.state.lock() {
            st.live += 1;
        }
        let first = match inner.spawn_worker(inner.config.memory_mb).await {
            Ok(w) => w,
            Err(e) => {
                inner.worker_ended(true, None);
                return Err(e);
            }
        };
        inner.make_idle(first);
        inner.refill_blanks();
        Ok(LocalPool { inner })
    }

    /// The pool's private folder (worker script and per-worker temp folders).
    pub fn dir(&self) -> &Path {
        &self.inner.base_dir
    }

    pub fn isolation(&self) -> &Layers {
        &self.inner.isolation.layers
    }

    pub fn stats(&self) -> PoolStats {
        let inner = &self.inner;
        let (total, idle, blank, tenants) = match inner.state.lock() {
            Ok(st) => {
                let mut t: Vec<&str> = st.idle.iter().filter_map(|w| w.tenant.as_deref()).collect();
                t.sort_unstable();
                t.dedup();
                let blank = st.idle.iter().filter(|w| w.tenant.is_none()).count();
                (st.live, st.idle.len(), blank, t.len())
            }
            Err(_) => (0, 0, 0, 0),
        };
        PoolStats {
            total,
            idle,
            blank,
            busy: inner.busy.load(Ordering::Relaxed),
            queued: inner.queued.load(Ordering::Relaxed),
            tenants,
            spawned: inner.spawned.load(Ordering::Relaxed),
            replaced: inner.replaced.load(Ordering::Relaxed),
            max_workers: inner.config.max_workers,
            isolation: Some(inner.isolation.layers.clone()),
        }
    }

    /// Runs one job to its outcome on a worker of the job's tenant. Errors
    /// are for the runtime failing (node missing, shut down); everything the
    /// function did is in the [`Outcome`].
    pub async fn run(&self, job: &Job) -> Result<Outcome> {
        let inner = &self.inner;
        let mut worker = match inner.acquire(job).await? {
            Some(w) => w,
            None => {
                return Ok(Outcome::queue_timeout(
                    job.queue_timeout_ms,
                    inner.config.max_workers,
                ))
            }
        };
        inner.busy.fetch_add(1, Ordering::Relaxed);
        let (outcome, healthy) = worker.run(job, inner.config.max_frame).await;
        inner.busy.fetch_sub(1, Ordering::Relaxed);
        if healthy && !inner.closed.load(Ordering::SeqCst) {
            inner.make_idle(worker);
        } else {
            if !healthy {
                inner.replaced.fetch_add(1, Ordering::Relaxed);
            }
            // Its drop notifies waiters, as make_idle does.
            drop(worker);
        }
        Ok(outcome)
    }

    /// Stops taking work, waits until every running invocation has ended
    /// (each ends by its deadline), then ends every worker and removes the
    /// pool's folders. Queued invocations get `SHUT_DOWN`.
    pub async fn shutdown(&self) {
        let inner = &self.inner;
        inner.closed.store(true, Ordering::SeqCst);
        inner.changed.notify_waiters();
        loop {
            let notified = inner.changed.notified();
            if inner.busy.load(Ordering::SeqCst) == 0 {
                break;
            }
            let _ = timeout(Duration::from_millis(50), notified).await;
        }
        let workers: Vec<Worker> = match inner.state.lock() {
            Ok(mut st) => st.idle.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        for mut w in workers {
            w.end().await;
        }
        // Blank workers started before the close end themselves; wait for them.
        for _ in 0..200 {
            if inner.state.lock().map(|s| s.live).unwrap_or(0) == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let _ = tokio::fs::remove_dir_all(&inner.base_dir).await;
        spawner::forget_dir(&inner.base_dir);
    }
}

impl Drop for LocalPool {
    fn drop(&mut self) {
        let idle: Vec<Worker> = match self.inner.state.lock() {
            Ok(mut st) => st.idle.drain(..).collect(),
            Err(_) => Vec::new(),
        };
        drop(idle);
        let _ = std::fs::remove_dir_all(&self.inner.base_dir);
        spawner::forget_dir(&self.inner.base_dir);
    }
}

impl Inner {
    /// A worker for `job`: an idle one of its tenant, else a blank one bound
    /// to it, else a new process (retiring the least recently used idle
    /// worker of another tenant when the cap is reached). Waits, bounded by
    /// the queue timeout, only when every process is busy. `None`: the wait
    /// timed out.
    async fn acquire(self: &Arc<Self>, job: &Job) -> Result<Option<Worker>> {
        let wait_until = Instant::now() + Duration::from_millis(job.queue_timeout_ms);
        let mut queued = false;
        let result = loop {
            if self.closed.load(Ordering::SeqCst) {
                break Err(Error::ShutDown);
            }
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            match self.pick(job) {
                Pick::Worker(mut w, was_blank) => {
                    if !w.is_clean() {
                        // It spoke while idle, or died: not reused.
                        self.replaced.fetch_add(1, Ordering::Relaxed);
                        drop(w);
                        continue;
                    }
                    if was_blank {
                        self.refill_blanks();
                    }
                    break Ok(Some(w));
                }
                Pick::Spawn(retired) => {
                    drop(retired);
                    let spawned = self.spawn_worker(job.memory_mb).await;
                    match spawned {
                        Ok(mut w) => {
                            w.tenant = Some(job.tenant.clone());
                            break Ok(Some(w));
                        }
                        Err(e) => {
                            self.worker_ended(true, Some(&job.tenant));
                            break Err(e);
                        }
                    }
                }
                Pick::Wait => {
                    if !queued {
                        queued = true;
                        self.queued.fetch_add(1, Ordering::Relaxed);
                    }
                    if tokio::time::timeout_at(wait_until, notified).await.is_err() {
                        break Ok(None);
                    }
                }
            }
        };
        if queued {
            self.queued.fetch_sub(1, Ordering::Relaxed);
        }
        result
    }

    fn pick(&self, job: &Job) -> Pick {
        let Ok(mut st) = self.state.lock() else {
            return Pick::Wait;
        };
        let mem = job.memory_mb;
        let own = st
            .idle
            .iter()
            .position(|w| w.memory_mb == mem && w.tenant.as_ref() == Some(&job.tenant));
        if let Some(i) = own {
            return Pick::Worker(st.idle.remove(i), false);
        }
        // Nested invokes are bounded by depth and per-invocation limits;
        // making them wait for their caller's tenant could deadlock.
        if job.depth == 0 && st.workers_of(&job.tenant) >= self.config.max_workers_per_tenant {
            // An idle worker of its own with another memoryMb (the same
            // one was taken above) makes room; else it waits for its own.
            let other = st
                .idle
                .iter()
                .position(|w| w.tenant.as_ref() == Some(&job.tenant));
            return match other {
                Some(i) => {
                    let w = st.retire(i);
                    st.count_worker_of(&job.tenant);
                    Pick::Spawn(Some(w))
                }
                None => Pick::Wait,
            };
        }
        let blank = st
            .idle
            .iter()
            .position(|w| w.memory_mb == mem && w.tenant.is_none());
        if let Some(i) = blank {
            let mut w = st.idle.remove(i);
            w.tenant = Some(job.tenant.clone());
            st.count_worker_of(&job.tenant);
            return Pick::Worker(w, true);
        }
        if st.live < self.config.max_workers {
            st.live += 1;
            st.count_worker_of(&job.tenant);
            return Pick::Spawn(None);
        }
        // Retire the least recently used idle worker: quiet tenants first,
        // blank workers last. Its slot goes to the new process.
        let victim = st
            .idle
            .iter()
            .enumerate()
            .min_by_key(|(_, w)| (w.tenant.is_none(), w.last_used))
            .map(|(i, _)| i);
        match victim {
            Some(i) => {
                let w = st.retire(i);
                st.count_worker_of(&job.tenant);
                Pick::Spawn(Some(w))
            }
            None => Pick::Wait,
        }
    }

    fn make_idle(&self, mut w: Worker) {
        if let Ok(mut st) = self.state.lock() {
            st.clock += 1;
            w.last_used = st.clock;
            st.idle.push(w);
        }
        self.changed.notify_waiters();
    }

    /// A process ended (or never started): frees its slot of the cap
    /// (unless it passed to a replacement) and of its tenant's.
    fn worker_ended(&self, counted: bool, tenant: Option<&Arc<str>>) {
        if let Ok(mut st) = self.state.lock() {
            if counted {
                st.live = st.live.saturating_sub(1);
            }
            if let Some(t) = tenant {
                st.uncount_worker_of(t);
            }
        }
        self.changed.notify_waiters();
    }

    /// Starts blank workers in the background until `size` are idle or
    /// starting, within the cap.
    fn refill_blanks(self: &Arc<Self>) {
        loop {
            if self.closed.load(Ordering::SeqCst) {
                return;
            }
            let retired = {
                let Ok(mut st) = self.state.lock() else {
                    return;
                };
                let blank = st.idle.iter().filter(|w| w.tenant.is_none()).count();
                if blank + st.starting_blank >= self.config.size {
                    return;
                }
                let retired = if st.live >= self.config.max_workers {
                    // At the cap, the quietest tenant's idle worker makes
                    // room: a new tenant should not wait for a node start.
                    let victim = st
                        .idle
                        .iter()
                        .enumerate()
                        .filter(|(_, w)| w.tenant.is_some())
                        .min_by_key(|(_, w)| w.last_used)
                        .map(|(i, _)| i);
                    let Some(i) = victim else { return };
                    let w = st.retire(i);
                    Some(w)
                } else {
                    st.live += 1;
                    None
                };
                st.starting_blank += 1;
                retired
            };
            drop(retired);
            let inner = self.clone();
            self.rt.spawn(async move {
                let w = inner.spawn_worker(inner.config.memory_mb).await;
                if let Ok(mut st) = inner.state.lock() {
                    st.starting_blank -= 1;
                }
                match w {
                    Ok(w) if !inner.closed.load(Ordering::SeqCst) => inner.make_idle(w),
                    Ok(w) => drop(w),
                    Err(_) => inner.worker_ended(true, None),
                }
            });
        }
    }

    async fn spawn_worker(self: &Arc<Self>, memory_mb: u64) -> Result<Worker> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(Error::ShutDown);
        }
        let n = self.next_worker.fetch_add(1, Ordering::Relaxed);
        let dir = self.base_dir.join(format!("w{n}"));
        tokio::fs::create_dir_all(&dir).await?;
        let prepared = match self.isolation.prepare(&dir, memory_mb) {
            Ok(p) => p,
            Err(e) => {
                let _ = std::fs::remove_dir_all(&dir);
                return Err(e);
            }
        };
        let mut cmd = Command::new(&self.config.node);
        // No host environment reaches user code; TMPDIR makes os.tmpdir()
        // the one folder the worker may write to.
        cmd.env_clear()
            .env("TMPDIR", &dir)
            .env("TZ", &self.config.tz)
            .current_dir(&dir)
            .arg(format!("--max-old-space-size={memory_mb}"));
        if self.isolation.layers.node_permission {
            cmd.arg(self.permission_flag)
                .arg(format!("--allow-fs-read={}", self.script.display()))
                .arg(format!("--allow-fs-read={}", dir.display()))
                .arg(format!("--allow-fs-write={}", dir.display()));
        }
        cmd.arg("--no-warnings")
            .arg(&self.script)
            .arg(WORKER_MODULE_BUDGET.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.spawner.spawn(cmd, prepared).await.map_err(|e| {
            let _ = std::fs::remove_dir_all(&dir);
            Error::Worker(format!(
                "cannot start {}: {e} (set RUNTIME_NODE_PATH to a Node.js 20+ binary)",
                self.config.node.display()
            ))
        })?;
        let (stdin, stdout, stderr) = match child.take_stdio() {
            Ok(p) => p,
            Err(e) => {
                // Killed before its folder goes; reaped as it drops.
                child.start_kill();
                let _ = std::fs::remove_dir_all(&dir);
                return Err(Error::Worker(format!("worker pipes unavailable: {e}")));
            }
        };
        let (tx, mut to_stdin) = mpsc::unbounded_channel::<String>();
        tokio::spawn(async move {
            let mut stdin = stdin;
            while let Some(frame) = to_stdin.recv().await {
                if stdin.write_all(frame.as_bytes()).await.is_err() {
                    break;
                }
            }
        });
        let (from_stdout, rx) = mpsc::channel(FRAME_QUEUE);
        let limit = self.config.max_frame;
        tokio::spawn(async move {
            let mut reader = FrameReader::new(stdout, limit);
            while let Some(frame) = reader.next().await {
                let bad = frame.is_err();
                if from_stdout.send(frame).await.is_err() || bad {
                    // After a bad frame the stream cannot be trusted.
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
        let mut worker = Worker {
            child,
            tx,
            rx,
            tail,
            dir,
            known: HashSet::new(),
            memory_mb,
            tenant: None,
            last_used: 0,
            counted: true,
            pool: Arc::downgrade(self),
        };
        match timeout(SPAWN_TIMEOUT, worker.rx.recv()).await {
            Ok(Some(Ok(FromWorker::Ready { .. }))) => {}
            other => {
                worker.kill();
                let why = match other {
                    Err(_) => "it did not become ready in time",
                    Ok(Some(_)) => "it wrote something other than its ready frame",
                    Ok(None) => "it exited during start-up",
                };
                // Give the stderr reader a moment to collect the reason.
                tokio::time::sleep(Duration::from_millis(50)).await;
                let stderr = worker.stderr_tail();
                return Err(Error::Worker(format!(
                    "cannot start a node worker: {why}: {}",
                    stderr.trim()
                )));
            }
        }
        self.spawned.fetch_add(1, Ordering::Relaxed);
        Ok(worker)
    }
}

type FrameResult = std::result::Result<FromWorker, BadFrame>;

struct Worker {
    /// Reaped when the worker drops.
    child: Process,
    tx: mpsc::UnboundedSender<String>,
    rx: mpsc::Receiver<FrameResult>,
    tail: Arc<Mutex<String>>,
    dir: PathBuf,
    /// Programs this worker has compiled: it is sent only the key for these.
    known: HashSet<Arc<str>>,
    memory_mb: u64,
    /// The one tenant this worker serves, from its first invocation on.
    tenant: Option<Arc<str>>,
    last_used: u64,
    /// Whether its end frees a slot of the cap (false when the slot passed
    /// straight to a replacement).
    counted: bool,
    pool: std::sync::Weak<Inner>,
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Killed before its folder goes (so it writes no more there); the
        // Process field is reaped as it drops.
        self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
        if let Some(p) = self.pool.upgrade() {
            p.worker_ended(self.counted, self.tenant.as_ref());
        }
    }
}

fn run_frame(nonce: &str, job: &Job, with_code: bool) -> String {
    let head = ToWorker::Run(Run {
        nonce,
        key: &job.key,
        name: &job.name,
        code: with_code.then_some(&*job.code),
        env: &job.env,
        log_cap: job.log_cap,
        max_result: job.max_result,
        reuse: job.reuse_context,
    })
    .to_line();
    // The ctx line follows as is: one copy here, one parse in the worker.
    let mut frame = String::with_capacity(head.len() + job.ctx.len() + 1);
    frame.push_str(&head);
    frame.push_str(&job.ctx);
    frame.push('\n');
    frame
}

fn reply_frame(nonce: &str, seq: u64, result: Result<Value>) -> String {
    let reply = match &result {
        Ok(value) => Reply {
            nonce,
            seq,
            ok: true,
            value: Some(value),
            error: None,
            error_code: None,
            server_code: None,
            code_name: None,
        },
        Err(e) => Reply {
            nonce,
            seq,
            ok: false,
            value: None,
            error: Some(e.to_string()),
            error_code: Some(e.code()),
            server_code: e.server_code().map(|(c, _)| c),
            code_name: e.server_code().and_then(|(_, n)| n),
        },
    };
    ToWorker::Reply(reply).to_line()
}

impl Worker {
    fn kill(&mut self) {
        self.child.start_kill();
    }

    /// Ends the process and waits for it (shutdown).
    async fn end(&mut self) {
        self.child.end().await;
    }

    /// Idle and alive: it has sent nothing since its last invocation.
    fn is_clean(&mut self) -> bool {
        self.child.is_running() && self.rx.is_empty()
    }

    fn stderr_tail(&self) -> String {
        self.tail.lock().map(|t| t.clone()).unwrap_or_default()
    }

    /// Runs one invocation. Returns the outcome and whether the worker can
    /// serve again.
    async fn run(&mut self, job: &Job, max_frame: usize) -> (Outcome, bool) {
        let started = Instant::now();
        let deadline = job.deadline_from_now();
        job.calls.started(deadline);
        let (mut outcome, healthy) = self.exchange(job, deadline, max_frame).await;
        outcome.run_ms = started.elapsed().as_secs_f64() * 1000.0;
        (outcome, healthy)
    }

    async fn exchange(
        &mut self,
        job: &Job,
        deadline: Instant,
        max_frame: usize,
    ) -> (Outcome, bool) {
        let nonce = protocol::new_nonce();
        let with_code = !self.known.contains(&job.key);
        if self.tx.send(run_frame(&nonce, job, with_code)).is_err() {
            return (self.died(LogBuffer::new(job.log_cap)).await, false);
        }
        let mut logs = LogBuffer::streaming(job.log_cap, job.on_log.clone());
        // Cloud calls in flight; dropping the set aborts them when the
        // invocation ends, so nothing outlives its capability.
        let mut calls = JoinSet::new();
        loop {
            let frame = tokio::select! {
                f = self.rx.recv() => f,
                _ = sleep_until(deadline) => {
                    self.kill();
                    return (Outcome::timeout(logs.lines, job.timeout_ms), false);
                }
            };
            let frame = match frame {
                None => return (self.died(logs).await, false),
                Some(Err(bad)) => {
                    self.kill();
                    let what = match bad {
                        BadFrame::TooLong(_) => format!("it sent {bad} (max_frame {max_frame})"),
                        BadFrame::Malformed(_) => format!("it wrote {bad}"),
                    };
                    return (Outcome::protocol_violation(logs.lines, &what), false);
                }
                Some(Ok(f)) => f,
            };
            if frame.nonce() != Some(nonce.as_str()) {
                self.kill();
                return (
                    Outcome::protocol_violation(
                        logs.lines,
                        "it sent a frame that does not belong to the running invocation",
                    ),
                    false,
                );
            }
            match frame {
                FromWorker::Log { line, .. } => logs.push(line),
                FromWorker::Need { .. } => {
                    self.known.remove(&job.key);
                    if self.tx.send(run_frame(&nonce, job, true)).is_err() {
                        return (self.died(logs).await, false);
                    }
                }
                FromWorker::Call { seq, op, args, .. } => {
                    let handler = job.calls.clone();
                    let tx = self.tx.clone();
                    let nonce = nonce.clone();
                    calls.spawn(async move {
                        let result = match serde_json::from_str::<Value>(args.get()) {
                            Ok(args) => handler.call(op, args).await,
                            Err(e) => Err(Error::invalid(format!(
                                "cloud call arguments cannot be read: {e}"
                            ))),
                        };
                        let _ = tx.send(reply_frame(&nonce, seq, result));
                    });
                }
                FromWorker::Done { data, .. } => {
                    self.known.insert(job.key.clone());
                    return (Outcome::ok(data, logs.lines), true);
                }
                FromWorker::Fail {
                    error,
                    stack,
                    kind,
                    retire,
                    ..
                } => {
                    if kind.keeps_program() {
                        self.known.insert(job.key.clone());
                    }
                    if retire {
                        self.kill();
                    }
                    return (
                        Outcome::failed(logs.lines, kind, error).with_stack(stack),
                        !retire,
                    );
                }
                // Carries no nonce, so the check above has already refused it.
                FromWorker::Ready { .. } => {
                    self.kill();
                    return (
                        Outcome::protocol_violation(logs.lines, "it sent a second ready frame"),
                        false,
                    );
                }
            }
        }
    }

    /// Explains a worker that went away in the middle of an invocation.
    async fn died(&mut self, logs: LogBuffer) -> Outcome {
        let status = timeout(Duration::from_millis(500), self.child.wait())
            .await
            .ok();
        // The stderr reader may still be draining the last lines.
        tokio::time::sleep(Duration::from_millis(20)).await;
        let stderr = self.stderr_tail();
        if stderr.contains("heap out of memory") || stderr.contains("Reached heap limit") {
            return Outcome::out_of_memory(logs.lines, self.memory_mb);
        }
        let how = match status {
            Some(Ok(s)) => match (s.code(), exit_signal(&s)) {
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
        Outcome::crashed(logs.lines, &how, &detail)
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
    // A blocking std wait, not tokio's: a cancelled tokio `output()` drops
    // its child to tokio's orphan queue, a zombie once the runtime is gone.
    let cannot = |e: &dyn std::fmt::Display| {
        Error::Worker(format!(
            "cannot run {}: {e} (set RUNTIME_NODE_PATH to a Node.js 20+ binary)",
            node.display()
        ))
    };
    let path = node.to_path_buf();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(path).arg("--version").env_clear().output()
    })
    .await
    .map_err(|e| cannot(&e))?
    .map_err(|e| cannot(&e))?;
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
