//! Where functions run. Both backends run the same JavaScript prelude
//! (`sandbox/prelude.js` at the repository root, embedded here) with their
//! own driver appended, take a [`Job`] and give back an [`Outcome`]:
//!
//! - [`local`]: a warm pool of `node` processes driven over pipes (default).
//! - [`dify`]: a remote Dify Sandbox over HTTP.
//!
//! `cloud.*` calls made by the function come back to the core through a
//! [`CallHandler`] that belongs to one invocation.

pub mod dify;
#[cfg(target_os = "linux")]
pub mod isolation;
#[cfg(not(target_os = "linux"))]
#[path = "isolation_none.rs"]
pub mod isolation;
mod layers;
pub mod local;
pub mod outcome;
pub mod protocol;
mod spawner;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::Value;
use tokio::time::Instant;

use crate::error::Result;
pub use outcome::{json_null, json_of, FailureKind, Json, Outcome};

/// What every sandbox gives user code: the Cloud SDK and ObjectId (sdk.js,
/// which host code loads too), console, module loading (prelude.js).
pub const PRELUDE_JS: &str = concat!(
    include_str!("../../../../sandbox/sdk.js"),
    "\n",
    include_str!("../../../../sandbox/prelude.js")
);
/// The local pool's frames, built and named in one place (appended to the prelude).
pub const PROTOCOL_JS: &str = include_str!("../../../../sandbox/protocol.js");
/// The local pool's driver (appended to the prelude and the protocol).
pub const WORKER_JS: &str = include_str!("../../../../sandbox/worker.js");

pub type CallFuture = Pin<Box<dyn Future<Output = Result<Value>> + Send>>;

/// Serves the `cloud.*` calls of one invocation (database, storage, invoke).
/// Owning it is the capability: it exists only while its invocation runs.
pub trait CallHandler: Send + Sync {
    fn call(&self, op: String, args: Value) -> CallFuture;
    /// The function started running (it got a worker) and must end by
    /// `deadline`; nested `cloud.invoke`s inherit it.
    fn started(&self, _deadline: Instant) {}
}

/// One invocation, as a sandbox sees it.
pub struct Job {
    /// Whose function this is: a local worker serves one tenant only.
    pub tenant: Arc<str>,
    /// `name@sha256`: identifies the prepared program in caches.
    pub key: Arc<str>,
    pub name: Arc<str>,
    pub code: Arc<str>,
    /// `ctx` as JSON text (without `cloud`, which the prelude adds).
    pub ctx: String,
    /// `cloud.env`, a JSON object.
    pub env: Arc<Value>,
    /// The function's own time, counted from when it starts running.
    pub timeout_ms: u64,
    /// A caller's deadline (nested `cloud.invoke`): the job ends by it too.
    pub parent_deadline: Option<Instant>,
    /// How long the job may wait for a worker before `QUEUE_TIMEOUT`.
    pub queue_timeout_ms: u64,
    /// Bytes of JSON a result (or a cloud call's arguments) may have.
    pub max_result: usize,
    pub memory_mb: u64,
    pub log_cap: usize,
    /// Nested `cloud.invoke` depth.
    pub depth: u32,
    pub calls: Arc<dyn CallHandler>,
    /// Where each log line goes as it arrives, besides the result.
    pub on_log: Option<LogSink>,
    /// Keep the function's context for the tenant's next call (local pool).
    pub reuse_context: bool,
}

/// Collects log lines with the same byte cap the prelude applies, as a
/// second line of defence against a worker that ignores it.
pub struct LogBuffer {
    pub lines: Vec<String>,
    used: usize,
    cap: usize,
    truncated: bool,
    sink: Option<LogSink>,
}

/// Receives each log line an invocation keeps, as it arrives
/// (`executeFunction`'s `onLog`): an IDE's live console.
#[derive(Clone)]
pub struct LogSink(pub Arc<dyn Fn(&str) + Send + Sync>);

impl std::fmt::Debug for LogSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LogSink")
    }
}

impl LogBuffer {
    pub fn new(cap: usize) -> Self {
        LogBuffer {
            lines: Vec::new(),
            used: 0,
            cap,
            truncated: false,
            sink: None,
        }
    }

    /// A buffer that also hands each line it keeps to `sink`.
    pub fn streaming(cap: usize, sink: Option<LogSink>) -> Self {
        LogBuffer {
            sink,
            ..LogBuffer::new(cap)
        }
    }

    fn keep(&mut self, line: String) {
        if let Some(sink) = &self.sink {
            (sink.0)(&line);
        }
        self.lines.push(line);
    }

    pub fn push(&mut self, line: String) {
        if self.truncated {
            return;
        }
        self.used += line.len() + 1;
        // Allow the prelude's own marker line to pass.
        if self.used > self.cap + 256 {
            self.truncated = true;
            let marker = format!(
                "[TRUNCATED] log output exceeded {} bytes; further lines were dropped",
                self.cap
            );
            self.keep(marker);
            return;
        }
        self.keep(line);
    }
}

impl Job {
    /// The deadline of a job that starts running now.
    pub fn deadline_from_now(&self) -> Instant {
        let own = Instant::now() + std::time::Duration::from_millis(self.timeout_ms);
        match self.parent_deadline {
            Some(p) => own.min(p),
            None => own,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn a_streaming_buffer_hands_on_what_it_keeps_and_its_marker() {
        let seen = Arc::new(Mutex::new(Vec::<String>::new()));
        let to = seen.clone();
        let sink = LogSink(Arc::new(move |line: &str| {
            if let Ok(mut v) = to.lock() {
                v.push(line.to_string());
            }
        }));
        let mut logs = LogBuffer::streaming(0, Some(sink));
        logs.push("a".into());
        logs.push("x".repeat(300));
        logs.push("dropped".into());
        let streamed = seen.lock().map(|v| v.clone()).unwrap_or_default();
        assert_eq!(streamed, logs.lines);
        assert_eq!(streamed.len(), 2);
        assert_eq!(streamed[0], "a");
        assert!(streamed[1].starts_with("[TRUNCATED] log output exceeded 0 bytes"));
    }
}
