//! runtime-core: the Node-free core of `@simple-ide/runtime`.
//!
//! # Layout
//!
//! - [`config`]: typed settings with defaults, from options or the environment.
//! - [`error`]: the one [`Error`] enum; every variant has a stable `code()`.
//! - [`engine`]: `execute` — the module cache, the per-invocation scope
//!   (capability for `cloud.*` calls), and the result envelope.
//! - [`sandbox`]: where code runs: [`sandbox::local`] (warm pool of `node`
//!   workers driven over pipes) and [`sandbox::dify`] (a remote Dify Sandbox).
//!   Both run the same JavaScript prelude (`sandbox/*.js` at the repository
//!   root, embedded at build time).
//! - [`bridge`]: the HTTP endpoint through which remote sandboxes reach
//!   `cloud.*`, authorised by a per-invocation token.
//! - [`egress`]: the policy and client for a function's own `fetch`
//!   (public addresses only by default, checked after DNS resolution).
//! - [`cloud`]: the SDK itself: MongoDB, S3 storage, env.
//! - [`logs`]: compression of logs for the `x-function-logs` header.

pub mod bridge;
pub mod cloud;
pub mod compile;
pub mod config;
pub mod egress;
pub mod engine;
pub mod error;
pub mod logs;
pub mod runcode;
pub mod sandbox;

// The addon's allocator (src/lib.rs), so unit tests see what it does.
#[cfg(test)]
#[global_allocator]
static HEAP: compile::QuietHeap = compile::QuietHeap;

pub use config::{BackendKind, CloudConfig, InvocationOptions, Language, RuntimeConfig, S3Config};
pub use error::{Error, Result};
