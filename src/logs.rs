//! `compressLogs`, `decompressLogs`, `logsHeader`: the `x-function-logs` header.

use napi::Env;
use napi_derive::napi;
use runtime_core::error::whole_number;
use runtime_core::logs;

use crate::args::Arg;
use crate::error::throw;

#[napi(catch_unwind)]
pub fn compress_logs(env: &Env, logs: Arg<Vec<String>>) -> napi::Result<String> {
    throw(env, logs::compress_logs(&logs.0))
}

#[napi(catch_unwind)]
pub fn decompress_logs(env: &Env, s: Arg<String>) -> napi::Result<Vec<String>> {
    throw(env, logs::decompress_logs(&s.0))
}

#[napi(catch_unwind)]
pub fn logs_header(
    env: &Env,
    logs: Arg<Vec<String>>,
    max_bytes: Arg<Option<f64>>,
) -> napi::Result<String> {
    let max = match max_bytes.0 {
        Some(v) => throw(env, whole_number("maxBytes", v, 1, 1 << 31))? as usize,
        None => 8192,
    };
    throw(env, logs::logs_header(&logs.0, max))
}
