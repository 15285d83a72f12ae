//! `compressLogs`, `decompressLogs`, `logsHeader`: the `x-function-logs` header.

use napi::Env;
use napi_derive::napi;
use runtime_core::logs;

use crate::error::throw;

/// `base64(gzip(JSON.stringify(logs)))`: what `zlib.gunzipSync(Buffer.from(s, 'base64'))`
/// and `JSON.parse` read back.
#[napi]
pub fn compress_logs(env: &Env, logs: Vec<String>) -> napi::Result<String> {
    throw(env, logs::compress_logs(&logs))
}

/// The reverse of `compressLogs` (also reads Node's own gzip + base64).
/// Throws `INVALID_ARGUMENT` for invalid base64, data that is not gzip, more than
/// 64 MiB once decompressed, or JSON that is not an array of strings.
#[napi]
pub fn decompress_logs(env: &Env, s: String) -> napi::Result<Vec<String>> {
    throw(env, logs::decompress_logs(&s))
}

/// The `x-function-logs` value, at most `maxBytes` long (proxies reject large headers):
/// when all lines do not fit it keeps the first ones and ends with
/// `[runtime] N log lines dropped to fit the M-byte header`.
/// Throws `INVALID_ARGUMENT` when `maxBytes` cannot hold even that line.
/// @default maxBytes 8192
#[napi]
pub fn logs_header(env: &Env, logs: Vec<String>, max_bytes: Option<u32>) -> napi::Result<String> {
    throw(
        env,
        logs::logs_header(&logs, max_bytes.unwrap_or(8192) as usize),
    )
}
