//! The process-wide engine, shared by `executeFunction` and the Cloud SDK's
//! `invoke` (its own module, so neither imports the other).

use std::sync::{Arc, OnceLock};

use runtime_core::engine::Engine;
use runtime_core::{Error as CoreError, RuntimeConfig};

static ENGINE: OnceLock<std::result::Result<Arc<Engine>, CoreError>> = OnceLock::new();

/// The process-wide engine, configured from the environment on first use.
pub fn engine() -> std::result::Result<Arc<Engine>, CoreError> {
    ENGINE
        .get_or_init(|| {
            let mut config = RuntimeConfig::from_env()?;
            if config.node_path.is_none() {
                // The host is itself Node.js: its binary runs the workers.
                config.node_path = std::env::current_exe().ok().filter(|p| {
                    p.file_stem()
                        .is_some_and(|s| s.to_string_lossy().starts_with("node"))
                });
            }
            Ok(Engine::new(config))
        })
        .clone()
}
