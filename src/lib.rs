//! The napi edge of @simple-ide/runtime: translation only; the work is in `runtime-core`.
#![deny(clippy::all)]
