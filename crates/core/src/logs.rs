//! Logs for the `x-function-logs` header: base64(gzip(JSON array of
//! strings)), which Node's `zlib.gunzipSync` reads, and a budgeted variant
//! that keeps the header under a proxy's size limit.

use std::io::{Read, Write};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use crate::error::{Error, Result};

/// Largest decompressed size `decompress_logs` accepts: a gzip bomb is an
/// error, not an out-of-memory.
const MAX_DECOMPRESSED: u64 = 64 * 1024 * 1024;

/// Level 1: logs are small and repetitive; the fastest level keeps most of
/// the ratio of Node's default (6) at a fraction of the CPU.
const LEVEL: u32 = 1;

/// base64(gzip(JSON.stringify(logs))).
pub fn compress_logs(logs: &[String]) -> Result<String> {
    // JSON first, then one write: the deflater is slow when fed many tiny writes.
    let json = serde_json::to_vec(logs).map_err(|e| Error::Io(e.to_string()))?;
    let mut enc = GzEncoder::new(
        Vec::with_capacity(json.len() / 3 + 64),
        Compression::new(LEVEL),
    );
    enc.write_all(&json)?;
    let gz = enc.finish()?;
    Ok(STANDARD.encode(gz))
}

/// The reverse of [`compress_logs`]; also reads what Node's gzip writes.
pub fn decompress_logs(s: &str) -> Result<Vec<String>> {
    let gz = STANDARD
        .decode(s.trim())
        .map_err(|e| Error::invalid(format!("logs are not valid base64: {e}")))?;
    let mut json = Vec::new();
    GzDecoder::new(&gz[..])
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut json)
        .map_err(|e| Error::invalid(format!("logs are not gzip data: {e}")))?;
    if json.len() as u64 > MAX_DECOMPRESSED {
        return Err(Error::invalid(format!(
            "logs decompress to more than {MAX_DECOMPRESSED} bytes"
        )));
    }
    serde_json::from_slice(&json)
        .map_err(|e| Error::invalid(format!("logs are not a JSON array of strings: {e}")))
}

fn marker(dropped: usize, max_bytes: usize) -> String {
    format!("[runtime] {dropped} log lines dropped to fit the {max_bytes}-byte header")
}

/// The header value, at most `max_bytes` long. When everything does not fit,
/// it keeps the first lines (where a function says what it is doing) and
/// ends with a marker line saying how many were dropped. The number kept is
/// found by binary search, so this is fast on large logs.
pub fn logs_header(logs: &[String], max_bytes: usize) -> Result<String> {
    let all = compress_logs(logs)?;
    if all.len() <= max_bytes {
        return Ok(all);
    }
    let with = |keep: usize| -> Result<String> {
        let mut v: Vec<String> = logs[..keep].to_vec();
        v.push(marker(logs.len() - keep, max_bytes));
        compress_logs(&v)
    };
    let only_marker = with(0)?;
    if only_marker.len() > max_bytes {
        return Err(Error::invalid(format!(
            "maxBytes {max_bytes} is too small: the header needs at least {} bytes",
            only_marker.len()
        )));
    }
    // Largest `keep` whose header fits: fits(lo) holds, fits(hi) does not.
    let (mut lo, mut hi, mut best) = (0usize, logs.len(), only_marker);
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let h = with(mid)?;
        if h.len() <= max_bytes {
            lo = mid;
            best = h;
        } else {
            hi = mid;
        }
    }
    Ok(best)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| format!("line {i} {}", "é".repeat(i % 17)))
            .collect()
    }

    #[test]
    fn round_trip() {
        for logs in [
            vec![],
            lines(1),
            lines(500),
            vec!["[ERROR] \"quoted\"\n\tnewline ✓".into()],
        ] {
            assert_eq!(
                decompress_logs(&compress_logs(&logs).unwrap()).unwrap(),
                logs
            );
        }
    }

    #[test]
    fn header_respects_the_budget_and_counts_dropped_lines() {
        let logs: Vec<String> = (0..5000)
            .map(|i| format!("{i}:{:x}", i * 7919 % 65521))
            .collect();
        for max in [200usize, 1000, 4096, 8192] {
            let h = logs_header(&logs, max).unwrap();
            assert!(h.len() <= max, "{} > {max}", h.len());
            let back = decompress_logs(&h).unwrap();
            let kept = back.len() - 1;
            assert_eq!(back[..kept], logs[..kept]);
            assert_eq!(back[kept], marker(logs.len() - kept, max));
        }
        let small = lines(3);
        assert_eq!(
            decompress_logs(&logs_header(&small, 8192).unwrap()).unwrap(),
            small
        );
    }

    #[test]
    fn errors_say_what_is_wrong() {
        assert!(decompress_logs("%%%")
            .unwrap_err()
            .to_string()
            .starts_with("logs are not valid base64"));
        assert!(decompress_logs("aGVsbG8=")
            .unwrap_err()
            .to_string()
            .starts_with("logs are not gzip data"));
        let not_array = {
            let mut e = GzEncoder::new(Vec::new(), Compression::default());
            e.write_all(b"{\"a\":1}").unwrap();
            STANDARD.encode(e.finish().unwrap())
        };
        assert!(decompress_logs(&not_array)
            .unwrap_err()
            .to_string()
            .starts_with("logs are not a JSON array of strings"));
        let e = logs_header(&lines(100), 10).unwrap_err();
        assert_eq!(e.code(), "INVALID_ARGUMENT");
        assert!(e.to_string().starts_with("maxBytes 10 is too small"), "{e}");
    }
}
