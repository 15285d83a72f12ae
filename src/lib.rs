//! The napi edge of @simple-ide/runtime: translation only; the work is in
//! `runtime-core` (crates/core). napi writes `binding.js`/`binding.d.ts`;
//! the package's `index.js` adds the Cloud SDK (`sandbox/sdk.js`) and its
//! `index.d.ts` is the user's manual. One file per concept: `engine.rs`,
//! `error.rs` (core errors → JavaScript errors with a stable `code`),
//! `args.rs`, `execute.rs`, `code.rs`, `cloud.rs`, `loader.rs`, `logs.rs`.
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

/// `System`, except that `validateCode`'s short-lived tables live in memory
/// a `fork` of the host skips (runtime_core::compile's heap.rs says why).
#[global_allocator]
static HEAP: runtime_core::compile::QuietHeap = runtime_core::compile::QuietHeap;

#[cfg(test)]
mod tests {
    /// Every exported function and method catches unwinds: a panic becomes a
    /// JavaScript error instead of aborting the host.
    #[test]
    fn every_export_catches_unwinds() {
        let files = [
            include_str!("cloud.rs"),
            include_str!("code.rs"),
            include_str!("execute.rs"),
            include_str!("loader.rs"),
            include_str!("logs.rs"),
        ];
        let mut checked = 0;
        for text in files {
            let lines: Vec<&str> = text.lines().map(str::trim).collect();
            for (i, attr) in lines.iter().enumerate() {
                let item = lines[i + 1..].iter().find(|l| !l.starts_with("///"));
                if attr.starts_with("#[napi") && item.is_some_and(|l| l.contains("fn ")) {
                    checked += 1;
                    assert!(attr.contains("catch_unwind"), "{attr} {item:?}");
                }
            }
        }
        assert!(checked >= 12, "only {checked} exports found");
    }
}
