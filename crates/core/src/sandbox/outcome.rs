//! What an invocation gave back, whichever backend ran it: the [`Outcome`],
//! and for a failure its stable [`FailureKind`] (`ExecuteResult.errorCode`).
//!
//! Every runtime-made failure message is built here, by one constructor per
//! kind, so the same fault reads the same on every backend.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// The machine-readable kind of a failed invocation. The JavaScript side
/// (`sandbox/protocol.js`) lists the same names; a test keeps them equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FailureKind {
    /// The function threw (or rejected, or a timer callback of it threw).
    FunctionThrew,
    /// The function ran longer than its `timeoutMs`.
    Timeout,
    /// No worker became free within `RUNTIME_QUEUE_TIMEOUT_MS`; it did not run.
    QueueTimeout,
    /// The worker ran out of memory (`memoryMb`).
    OutOfMemory,
    /// The function tried to end its process (`process.exit`).
    Exited,
    /// The worker process died for another reason.
    Crashed,
    /// The code does not parse.
    SyntaxError,
    /// The code uses ES module syntax (`import`/`export`).
    EsmSyntax,
    /// The code exports nothing callable.
    NoExport,
    /// The return value cannot be JSON (BigInt, circular).
    BadResult,
    /// The return value is larger than `RUNTIME_MAX_RESULT_BYTES`.
    ResultTooLarge,
    /// The sandbox refused an operation (file outside the temp folder, a
    /// child process, a blocked system call).
    Blocked,
    /// The worker sent something the protocol does not allow (a frame of
    /// another invocation, a malformed or oversized frame); it was replaced.
    ProtocolViolation,
    /// A kind this version does not know (sent by a newer worker script).
    #[serde(other)]
    Unknown,
}

impl FailureKind {
    pub const ALL: [FailureKind; 13] = [
        FailureKind::FunctionThrew,
        FailureKind::Timeout,
        FailureKind::QueueTimeout,
        FailureKind::OutOfMemory,
        FailureKind::Exited,
        FailureKind::Crashed,
        FailureKind::SyntaxError,
        FailureKind::EsmSyntax,
        FailureKind::NoExport,
        FailureKind::BadResult,
        FailureKind::ResultTooLarge,
        FailureKind::Blocked,
        FailureKind::ProtocolViolation,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::FunctionThrew => "FUNCTION_THREW",
            FailureKind::Timeout => "TIMEOUT",
            FailureKind::QueueTimeout => "QUEUE_TIMEOUT",
            FailureKind::OutOfMemory => "OUT_OF_MEMORY",
            FailureKind::Exited => "EXITED",
            FailureKind::Crashed => "CRASHED",
            FailureKind::SyntaxError => "SYNTAX_ERROR",
            FailureKind::EsmSyntax => "ESM_SYNTAX",
            FailureKind::NoExport => "NO_EXPORT",
            FailureKind::BadResult => "BAD_RESULT",
            FailureKind::ResultTooLarge => "RESULT_TOO_LARGE",
            FailureKind::Blocked => "BLOCKED",
            FailureKind::ProtocolViolation => "PROTOCOL_VIOLATION",
            FailureKind::Unknown => "FUNCTION_THREW",
        }
    }

    /// Whether the compiled program stays valid after this failure (so the
    /// worker may keep it): a syntax error means it never compiled.
    pub fn keeps_program(self) -> bool {
        !matches!(self, FailureKind::SyntaxError | FailureKind::EsmSyntax)
    }
}

/// JSON text that is known to be valid: results travel as text so that any
/// depth V8 can produce reaches the host without a recursive parse in Rust.
pub type Json = Box<RawValue>;

pub fn json_null() -> Json {
    RawValue::NULL.to_owned()
}

/// JSON text of a value (for backends that build results as values).
pub fn json_of(v: &serde_json::Value) -> Json {
    serde_json::value::to_raw_value(v).unwrap_or_else(|_| json_null())
}

/// What came back. `error` is set for anything the user code did (throw,
/// timeout, crash, bad return value); the API itself did not fail.
#[derive(Debug)]
pub struct Outcome {
    pub data: Json,
    pub logs: Vec<String>,
    pub error: Option<String>,
    pub stack: Option<String>,
    pub kind: Option<FailureKind>,
    /// Milliseconds the function ran (queueing excluded).
    pub run_ms: f64,
}

impl Default for Outcome {
    fn default() -> Self {
        Outcome {
            data: json_null(),
            logs: Vec::new(),
            error: None,
            stack: None,
            kind: None,
            run_ms: 0.0,
        }
    }
}

impl Outcome {
    pub fn ok(data: Json, logs: Vec<String>) -> Self {
        Outcome {
            data,
            logs,
            ..Default::default()
        }
    }

    pub fn failed(logs: Vec<String>, kind: FailureKind, error: String) -> Self {
        Outcome {
            logs,
            error: Some(error),
            kind: Some(kind),
            ..Default::default()
        }
    }

    pub fn with_stack(mut self, stack: Option<String>) -> Self {
        self.stack = stack;
        self
    }

    pub fn timeout(logs: Vec<String>, timeout_ms: u64) -> Self {
        Self::failed(
            logs,
            FailureKind::Timeout,
            format!("Function timed out after {timeout_ms} ms"),
        )
    }

    pub fn queue_timeout(queue_ms: u64, workers: usize) -> Self {
        Self::failed(
            Vec::new(),
            FailureKind::QueueTimeout,
            format!(
                "No worker became free within {queue_ms} ms (RUNTIME_QUEUE_TIMEOUT_MS): all {workers} workers were busy, and the function did not run"
            ),
        )
    }

    pub fn out_of_memory(logs: Vec<String>, memory_mb: u64) -> Self {
        Self::failed(
            logs,
            FailureKind::OutOfMemory,
            format!(
                "Function ran out of memory: the worker's heap limit is {memory_mb} MB (RUNTIME_MEMORY_MB / options.memoryMb)"
            ),
        )
    }

    pub fn crashed(logs: Vec<String>, how: &str, detail: &str) -> Self {
        Self::failed(
            logs,
            FailureKind::Crashed,
            format!("Function crashed its worker process ({how}){detail}"),
        )
    }

    pub fn result_too_large(logs: Vec<String>, limit: usize) -> Self {
        Self::failed(
            logs,
            FailureKind::ResultTooLarge,
            format!(
                "Function returned a result larger than {limit} bytes of JSON (RUNTIME_MAX_RESULT_BYTES)"
            ),
        )
    }

    pub fn protocol_violation(logs: Vec<String>, what: &str) -> Self {
        Self::failed(
            logs,
            FailureKind::ProtocolViolation,
            format!("The worker broke the runtime's protocol and was replaced: {what}"),
        )
    }
}
