//! Logs for the `x-function-logs` header. (Being built.)
