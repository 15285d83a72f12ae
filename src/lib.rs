//! The napi edge of @simple-ide/runtime: translation only; the work is in
//! `runtime-core` (crates/core). One file per concept:
//!
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
mod error;
mod execute;
mod loader;
mod logs;
mod objectid;
mod value;
