//! The one error type of the core. Every variant has a stable string
//! [`Error::code`] that reaches JavaScript as `error.code`, so callers can
//! branch on it without parsing messages.

use thiserror::Error as ThisError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, Clone, ThisError)]
pub enum Error {
    /// The API was called with a value it cannot use (wrong type, unknown option).
    #[error("{0}")]
    InvalidArgument(String),
    /// A setting the call needs is missing; says which variable provides it.
    #[error("{what} is not configured: set {var}")]
    NotConfigured {
        what: &'static str,
        var: &'static str,
    },
    /// A setting is present but unusable.
    #[error("invalid configuration: {0}")]
    Config(String),
    #[error("Function timed out after {ms} ms")]
    Timeout { ms: u64 },
    /// A local worker process could not be started or broke its protocol.
    #[error("worker failed: {0}")]
    Worker(String),
    #[error("sandbox unreachable at {url}: {cause}")]
    SandboxUnreachable { url: String, cause: String },
    #[error("the Dify Sandbox rejected the API key (HTTP 401): set SANDBOX_API_KEY to the server's API_KEY")]
    SandboxAuth,
    #[error("sandbox busy: the Dify Sandbox refused the run (HTTP 503 Too many requests) {attempts} times; the code did not run")]
    SandboxBusy { attempts: u32 },
    #[error("the Dify Sandbox has networking disabled, but functions reach cloud.* over the network: enable it on the sandbox server ({0})")]
    SandboxNetworkDisabled(String),
    /// Any other refusal by the sandbox server, with its message.
    #[error("sandbox error: {0}")]
    Sandbox(String),
    #[error("sandbox output exceeded {limit} bytes")]
    OutputTooLarge { limit: usize },
    /// A peer (worker, sandbox, bridge client) sent something we cannot parse.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// An error reported by the MongoDB server; `server_code` is its numeric code (11000 = duplicate key).
    #[error("{message}")]
    Database {
        server_code: Option<i32>,
        message: String,
    },
    #[error("database unreachable: {0}")]
    DatabaseUnreachable(String),
    #[error("file not found: {key} in bucket {bucket}")]
    StorageNotFound { bucket: String, key: String },
    #[error("bucket not found: {0}")]
    BucketNotFound(String),
    #[error("storage rejected the credentials: {0} (check S3_ACCESS_KEY and S3_SECRET_KEY)")]
    StorageAuth(String),
    /// A bucket this Cloud was not given (`createCloud({ buckets })`).
    #[error(
        "bucket not allowed: {0:?} is not one of this Cloud's buckets (createCloud({{ buckets }}))"
    )]
    BucketNotAllowed(String),
    /// A database operation outside the Cloud's walls (another database,
    /// `system.*`, the function store from a function).
    #[error("database access forbidden: {0}")]
    DatabaseForbidden(String),
    #[error("storage error: {0}")]
    Storage(String),
    /// A function's database or storage read over `RUNTIME_MAX_READ_BYTES`.
    #[error("{what} is larger than {limit} bytes (RUNTIME_MAX_READ_BYTES): {advice}")]
    ReadTooLarge {
        what: String,
        limit: usize,
        advice: &'static str,
    },
    #[error("storage unreachable: {0}")]
    StorageUnreachable(String),
    #[error("function not found: {0}")]
    FunctionNotFound(String),
    /// The host's `setFunctionLoader` loader failed or answered in the wrong shape.
    #[error("{0}")]
    LoaderFailed(String),
    #[error("cloud.invoke depth limit of {max} exceeded (RUNTIME_MAX_INVOKE_DEPTH); is a function invoking itself?")]
    InvokeDepth { max: u32 },
    /// A function called through `cloud.invoke` failed; the message is the callee's.
    #[error("{message}")]
    InvokeFailed { name: String, message: String },
    #[error("bridge token missing: cloud calls must carry the invocation's token")]
    TokenMissing,
    #[error("bridge token invalid: not issued by this runtime")]
    TokenInvalid,
    #[error("bridge token expired: its invocation has ended")]
    TokenExpired,
    /// A function's `fetch` was refused by the egress policy (see `egress`).
    #[error("egress refused: {0}")]
    EgressRefused(String),
    /// A function's `fetch` that the policy allowed failed (DNS, connection, size, time).
    #[error("{0}")]
    EgressFailed(String),
    #[error("{0}")]
    Io(String),
    #[error("the runtime is shut down: shutdown() was called, so it runs no more functions")]
    ShutDown,
    /// `RUNTIME_ISOLATION=strict` and a required layer cannot be applied.
    #[error("{0}")]
    IsolationUnavailable(String),
}

impl Error {
    /// Stable machine-readable code, exposed to JavaScript as `error.code`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidArgument(_) => "INVALID_ARGUMENT",
            Error::NotConfigured { .. } => "NOT_CONFIGURED",
            Error::Config(_) => "CONFIG_INVALID",
            Error::Timeout { .. } => "TIMEOUT",
            Error::Worker(_) => "WORKER_FAILED",
            Error::SandboxUnreachable { .. } => "SANDBOX_UNREACHABLE",
            Error::SandboxAuth => "SANDBOX_AUTH",
            Error::SandboxBusy { .. } => "SANDBOX_BUSY",
            Error::SandboxNetworkDisabled(_) => "SANDBOX_NETWORK_DISABLED",
            Error::Sandbox(_) => "SANDBOX_ERROR",
            Error::OutputTooLarge { .. } => "OUTPUT_TOO_LARGE",
            Error::Protocol(_) => "PROTOCOL_ERROR",
            Error::Database { .. } => "DATABASE_ERROR",
            Error::DatabaseUnreachable(_) => "DATABASE_UNREACHABLE",
            Error::StorageNotFound { .. } => "STORAGE_NOT_FOUND",
            Error::BucketNotFound(_) => "STORAGE_BUCKET_NOT_FOUND",
            Error::StorageAuth(_) => "STORAGE_AUTH",
            Error::Storage(_) => "STORAGE_ERROR",
            Error::ReadTooLarge { .. } => "READ_TOO_LARGE",
            Error::BucketNotAllowed(_) => "STORAGE_BUCKET_NOT_ALLOWED",
            Error::DatabaseForbidden(_) => "DATABASE_FORBIDDEN",
            Error::StorageUnreachable(_) => "STORAGE_UNREACHABLE",
            Error::FunctionNotFound(_) => "FUNCTION_NOT_FOUND",
            Error::LoaderFailed(_) => "LOADER_FAILED",
            Error::InvokeDepth { .. } => "INVOKE_DEPTH_EXCEEDED",
            Error::InvokeFailed { .. } => "INVOKE_FAILED",
            Error::TokenMissing => "BRIDGE_TOKEN_MISSING",
            Error::TokenInvalid => "BRIDGE_TOKEN_INVALID",
            Error::TokenExpired => "BRIDGE_TOKEN_EXPIRED",
            Error::EgressRefused(_) => "EGRESS_REFUSED",
            Error::EgressFailed(_) => "EGRESS_FAILED",
            Error::Io(_) => "IO_ERROR",
            Error::ShutDown => "SHUT_DOWN",
            Error::IsolationUnavailable(_) => "ISOLATION_UNAVAILABLE",
        }
    }

    /// The MongoDB server's code of a database error (11000) and, for the
    /// common ones, its name (`DuplicateKey`), as the Node driver's
    /// `err.code` and `err.codeName`.
    pub fn server_code(&self) -> Option<(i32, Option<&'static str>)> {
        let Error::Database {
            server_code: Some(c),
            ..
        } = self
        else {
            return None;
        };
        let name = match c {
            2 => "BadValue",
            9 => "FailedToParse",
            11 => "UserNotFound",
            13 => "Unauthorized",
            14 => "TypeMismatch",
            26 => "NamespaceNotFound",
            40 => "ConflictingUpdateOperators",
            48 => "NamespaceExists",
            50 => "MaxTimeMSExpired",
            52 => "DollarPrefixedFieldName",
            66 => "ImmutableField",
            67 => "CannotCreateIndex",
            73 => "InvalidNamespace",
            85 => "IndexOptionsConflict",
            86 => "IndexKeySpecsConflict",
            121 => "DocumentValidationFailure",
            11000 => "DuplicateKey",
            _ => return Some((*c, None)),
        };
        Some((*c, Some(name)))
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::InvalidArgument(msg.into())
    }
}

/// An error with its causes, `a: b: c`: the SDKs put the useful part
/// (connection refused, reset) in the source chain.
/// A whole number in `min..=max` from a JavaScript number, or
/// `INVALID_ARGUMENT` naming `what`: -1, 0.5, NaN, Infinity and 2**32+k are
/// refused, not wrapped.
pub fn whole_number(what: &str, v: f64, min: u64, max: u64) -> Result<u64> {
    if v.is_finite() && v.fract() == 0.0 && v >= min as f64 && v <= max as f64 {
        return Ok(v as u64);
    }
    // As JavaScript prints it (`Infinity`, not `inf`).
    let shown = match v {
        f64::INFINITY => "Infinity".to_string(),
        f64::NEG_INFINITY => "-Infinity".to_string(),
        _ => v.to_string(),
    };
    Err(Error::invalid(format!(
        "{what} must be an integer from {min} to {max}, got {shown}"
    )))
}

pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::whole_number;

    #[test]
    fn whole_numbers_only_in_range() {
        assert_eq!(whole_number("x", 5.0, 1, 10).ok(), Some(5));
        for (bad, shown) in [
            (-1.0, "-1"),
            (0.0, "0"),
            (0.5, "0.5"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "Infinity"),
            (4294967396.0, "4294967396"),
        ] {
            let e = whole_number("options.timeoutMs", bad, 1, 1000).unwrap_err();
            assert_eq!(e.code(), "INVALID_ARGUMENT");
            assert_eq!(
                e.to_string(),
                format!("options.timeoutMs must be an integer from 1 to 1000, got {shown}")
            );
        }
    }
}
