//! The pipe protocol between the core and a local worker process: every
//! frame in both directions, and the bounded reader for the worker's side.
//!
//! # Wire format
//!
//! One JSON object per line (UTF-8, `\n`-terminated) on the worker's stdin
//! (host → worker) and stdout (worker → host). Each object has exactly one
//! key, the frame's type, whose value holds its fields (serde's externally
//! tagged enums: no buffering, so `data` and `args` stay raw JSON text of any
//! depth). The JavaScript side builds and reads the same frames in one
//! place, `sandbox/protocol.js`; `tests/protocol.rs` checks both agree.
//!
//! # Rules
//!
//! - Each invocation carries a fresh random `nonce`. Every frame the worker
//!   sends for it must name that nonce; a frame that names anything else,
//!   or arrives while the worker is idle, means the worker no longer follows
//!   the protocol (user code wrote to the real stdout, or tried to forge
//!   frames): it is killed and replaced, and the invocation fails with
//!   `PROTOCOL_VIOLATION`.
//! - A line longer than the reader's limit (`RUNTIME_MAX_RESULT_BYTES` plus
//!   [`FRAME_OVERHEAD`]) is never buffered: the worker is killed. The worker
//!   itself refuses a result or a cloud call's arguments over
//!   `maxResult` bytes with a clear error, so a well-behaved worker never
//!   gets there.
//! - Strings are valid Unicode: the worker replaces lone surrogates in log
//!   lines with U+FFFD and refuses cloud-call arguments that contain them;
//!   a result (`data`) carries them faithfully as `\uD800` escapes.
//!
//! # Frames
//!
//! Host → worker ([`ToWorker`]):
//! - `run`: start an invocation (`code` is null when the worker already
//!   compiled `key`). The next line is the invocation's `ctx`, as JSON text
//!   on one line: it is parsed once, inside the invocation's own context
//!   (a `ctx` string inside the frame would be escaped, then parsed twice).
//! - `reply`: the answer to a `call`.
//!
//! Worker → host ([`FromWorker`]):
//! - `ready`: the worker started.
//! - `need`: the worker no longer has `key` compiled; resend with `code`.
//! - `log`: one console line.
//! - `call`: a `cloud.*` operation.
//! - `done`: the function's result, as JSON text.
//! - `fail`: the function failed; `retire` asks for the worker to be replaced.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

use super::outcome::FailureKind;

/// Room in a frame beyond its payload (nonce, names, escaping of a log line).
pub const FRAME_OVERHEAD: usize = 1024 * 1024;

#[derive(Debug, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ToWorker<'a> {
    Run(Run<'a>),
    Reply(Reply<'a>),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Run<'a> {
    pub nonce: &'a str,
    /// Identifies the compiled program in the worker's own cache.
    pub key: &'a str,
    pub name: &'a str,
    pub code: Option<&'a str>,
    /// `cloud.env`.
    pub env: &'a Value,
    /// Bytes of console output kept.
    pub log_cap: usize,
    /// Bytes of result (and of a cloud call's arguments) allowed.
    pub max_result: usize,
    /// Keep the context (and the module's state) for the next call.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reuse: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reply<'a> {
    pub nonce: &'a str,
    pub seq: u64,
    pub ok: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<&'a Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The runtime's stable code (`DATABASE_ERROR`, `STORAGE_NOT_FOUND`, …).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'a str>,
    /// The MongoDB server's code (11000 = duplicate key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_code: Option<i32>,
    /// Its name (`DuplicateKey`), as the Node driver's `err.codeName`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_name: Option<&'static str>,
}

impl ToWorker<'_> {
    pub fn to_line(&self) -> String {
        // Serializing these types cannot fail: no maps with non-string keys.
        let mut s = serde_json::to_string(self).unwrap_or_default();
        s.push('\n');
        s
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum FromWorker {
    Ready {
        pid: u32,
        node: String,
    },
    Need {
        nonce: String,
    },
    Log {
        nonce: String,
        line: String,
    },
    Call {
        nonce: String,
        seq: u64,
        op: String,
        args: Box<RawValue>,
    },
    Done {
        nonce: String,
        data: Box<RawValue>,
    },
    Fail {
        nonce: String,
        error: String,
        #[serde(default)]
        stack: Option<String>,
        kind: FailureKind,
        #[serde(default)]
        retire: bool,
    },
}

impl FromWorker {
    /// The invocation a frame belongs to (`ready` belongs to none).
    pub fn nonce(&self) -> Option<&str> {
        match self {
            FromWorker::Ready { .. } => None,
            FromWorker::Need { nonce }
            | FromWorker::Log { nonce, .. }
            | FromWorker::Call { nonce, .. }
            | FromWorker::Done { nonce, .. }
            | FromWorker::Fail { nonce, .. } => Some(nonce),
        }
    }
}

/// What the reader got instead of a frame.
#[derive(Debug)]
pub enum BadFrame {
    /// A line over the limit; nothing past the limit was buffered.
    TooLong(usize),
    /// Not a frame of this protocol.
    Malformed(String),
}

impl std::fmt::Display for BadFrame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BadFrame::TooLong(limit) => write!(f, "a frame longer than {limit} bytes"),
            BadFrame::Malformed(why) => write!(
                f,
                "a line on its protocol channel that is not a frame ({why}); did the function write to process.stdout? use console.log"
            ),
        }
    }
}

/// New random nonce: 128 bits from the OS, hex.
pub fn new_nonce() -> String {
    let mut b = [0u8; 16];
    let _ = getrandom::fill(&mut b);
    let mut s = String::with_capacity(32);
    for x in b {
        s.push(char::from_digit((x >> 4) as u32, 16).unwrap_or('0'));
        s.push(char::from_digit((x & 15) as u32, 16).unwrap_or('0'));
    }
    s
}

/// Reads frames from a worker's stdout, never buffering more than `limit`
/// bytes of one line. Linear in the bytes read.
pub struct FrameReader<R> {
    inner: BufReader<R>,
    limit: usize,
    line: Vec<u8>,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(inner: R, limit: usize) -> Self {
        FrameReader {
            inner: BufReader::with_capacity(64 * 1024, inner),
            limit,
            line: Vec::new(),
        }
    }

    /// The next frame; `None` at the end of the stream (or on a read error:
    /// either way the worker is gone).
    pub async fn next(&mut self) -> Option<Result<FromWorker, BadFrame>> {
        self.line.clear();
        loop {
            let buf = match self.inner.fill_buf().await {
                Ok(b) => b,
                Err(_) => return None,
            };
            if buf.is_empty() {
                return None;
            }
            let (take, end) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (i, true),
                None => (buf.len(), false),
            };
            if self.line.len() + take > self.limit {
                return Some(Err(BadFrame::TooLong(self.limit)));
            }
            self.line.extend_from_slice(&buf[..take]);
            self.inner.consume(take + usize::from(end));
            if end {
                if self.line.is_empty() {
                    continue;
                }
                return Some(
                    serde_json::from_slice(&self.line)
                        .map_err(|e| BadFrame::Malformed(e.to_string())),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reader_bounds_lines_and_reads_deep_values_raw() {
        let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
        let input = format!(
            "{{\"done\":{{\"nonce\":\"n\",\"data\":{deep}}}}}\n\n{{\"log\":{{\"nonce\":\"n\",\"line\":\"{}\"}}}}\nnot json\n",
            "x".repeat(100)
        );
        let mut r = FrameReader::new(input.as_bytes(), 64 * 1024);
        match r.next().await {
            Some(Ok(FromWorker::Done { nonce, data })) => {
                assert_eq!(nonce, "n");
                assert_eq!(data.get(), deep);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(r.next().await, Some(Ok(FromWorker::Log { .. }))));
        assert!(matches!(r.next().await, Some(Err(BadFrame::Malformed(_)))));
        assert!(r.next().await.is_none());

        let long = format!("{}\n", "y".repeat(200));
        let mut r = FrameReader::new(long.as_bytes(), 100);
        assert!(matches!(r.next().await, Some(Err(BadFrame::TooLong(100)))));
    }

    #[test]
    fn nonces_are_random_hex() {
        let a = new_nonce();
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(a, new_nonce());
    }
}
