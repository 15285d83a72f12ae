//! The napi edge of @simple-ide/runtime: translation only; the work is in
//! `runtime-core` (crates/core). One file per concept:
//!
//! - `engine.rs`: the process-wide engine.
//! - `error.rs`: core errors → JavaScript errors with a stable `code`.
//! - `execute.rs`: `executeFunction`, `health`, `metrics`.
//! - `code.rs`: `validateCode`, `runCode` (TypeScript and snippets, compiled in Rust).
//! - `cloud.rs`: `createCloud` and the `Cloud` / `Db` / `Collection` / `Bucket` classes.
//! - `logs.rs`: `compressLogs`, `decompressLogs`, `logsHeader`.
#![deny(clippy::all)]
// napi-derive registers exports only outside `cfg(test)`, so they look unused there.
#![cfg_attr(test, allow(dead_code))]

mod args;
mod cloud;
mod code;
mod engine;
mod error;
mod execute;
mod loader;
mod logs;
mod objectid;
mod value;

#[cfg(test)]
mod tests {
    /// Every exported function and method catches unwinds: a panic becomes a
    /// JavaScript error instead of aborting the host (`module_exports` runs
    /// once at load, where an error already fails the `require`).
    #[test]
    fn every_export_catches_unwinds() {
        let files = [
            ("cloud.rs", include_str!("cloud.rs")),
            ("code.rs", include_str!("code.rs")),
            ("execute.rs", include_str!("execute.rs")),
            ("loader.rs", include_str!("loader.rs")),
            ("logs.rs", include_str!("logs.rs")),
            ("objectid.rs", include_str!("objectid.rs")),
        ];
        let mut checked = 0;
        for (file, text) in files {
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                if !line.trim_start().starts_with("#[napi") {
                    continue;
                }
                // The attribute (possibly over several lines) and the item it marks.
                let rest = &lines[i..];
                let end = rest
                    .iter()
                    .position(|l| l.trim_end().ends_with(")]") || l.trim() == "#[napi]")
                    .unwrap_or(0);
                let attr = rest[..=end].join(" ");
                let item = rest[end + 1..]
                    .iter()
                    .find(|l| {
                        !l.trim_start().starts_with("#[") && !l.trim_start().starts_with("///")
                    })
                    .copied()
                    .unwrap_or("");
                let is_fn = item.contains("fn ");
                if !is_fn || attr.contains("module_exports") {
                    continue;
                }
                checked += 1;
                assert!(
                    attr.contains("catch_unwind"),
                    "{file}:{}: {} lacks catch_unwind",
                    i + 1,
                    item.trim()
                );
            }
        }
        assert!(checked > 40, "only {checked} exports found");
    }
}
