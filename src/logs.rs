//! `compressLogs`, `decompressLogs`, `logsHeader`: the `x-function-logs` header.

use napi::Env;
use napi_derive::napi;
use runtime_core::logs;

use crate::args::{int, Arg};
use crate::error::throw;

/// `base64(gzip(JSON.stringify(logs)))`: what `zlib.gunzipSync(Buffer.from(s, 'base64'))`
/// and `JSON.parse` read back.
#[napi(ts_args_type = "logs: string[]", catch_unwind)]
pub fn compress_logs(env: &Env, logs: Arg<Vec<String>>) -> napi::Result<String> {
    throw(env, logs::compress_logs(&logs.0))
}

/// The reverse of `compressLogs` (also reads Node's own gzip + base64).
/// Throws `INVALID_ARGUMENT` for invalid base64, data that is not gzip, more than
/// 64 MiB once decompressed, or JSON that is not an array of strings.
#[napi(ts_args_type = "s: string", catch_unwind)]
pub fn decompress_logs(env: &Env, s: Arg<String>) -> napi::Result<Vec<String>> {
    throw(env, logs::decompress_logs(&s.0))
}

/// The `x-function-logs` value, at most `maxBytes` long (proxies reject large headers):
/// when all lines do not fit it keeps the first ones and ends with
/// `[runtime] N log lines dropped to fit the M-byte header`.
/// Throws `INVALID_ARGUMENT` when `maxBytes` is not a whole number from 1 to 2**31, or
/// cannot hold even that line.
/// @default maxBytes 8192
#[napi(
    ts_args_type = "logs: string[], maxBytes?: number | undefined | null",
    catch_unwind
)]
pub fn logs_header(
    env: &Env,
    logs: Arg<Vec<String>>,
    max_bytes: Arg<Option<f64>>,
) -> napi::Result<String> {
    let max = match max_bytes.0 {
        Some(v) => throw(env, int("maxBytes", v, 1, 1 << 31))? as usize,
        None => 8192,
    };
    throw(env, logs::logs_header(&logs.0, max))
}
