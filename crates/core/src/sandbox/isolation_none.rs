//! Kernel isolation where there is none to apply (not Linux): workers run
//! with Node's permission model, an empty environment and a heap cap only.
//! `RUNTIME_ISOLATION=strict` refuses to run functions here.

use std::io;
use std::path::Path;

use crate::config::{IsolationConfig, IsolationLevel};
use crate::error::{Error, Result};

pub use super::layers::Layers;

pub struct Isolation {
    pub layers: Layers,
}

pub struct Prepared;

impl Isolation {
    pub fn probe(config: &IsolationConfig, _node: &Path, _script: &Path) -> Result<Self> {
        if config.level == IsolationLevel::Strict {
            return Err(Error::IsolationUnavailable(format!(
                "RUNTIME_ISOLATION=strict and Landlock and seccomp cannot be applied on {}; \
                 use RUNTIME_ISOLATION=auto",
                std::env::consts::OS
            )));
        }
        Ok(Isolation {
            layers: Layers {
                landlock_abi: 0,
                seccomp: false,
                namespaces: Vec::new(),
                rlimits: false,
                uid: None,
                node_permission: !config.disables("permission"),
                // Only the Linux pre-exec path renices workers.
                nice: 0,
                level: config.level,
            },
        })
    }

    pub fn prepare(&self, _dir: &Path, _memory_mb: u64) -> Result<Prepared> {
        Ok(Prepared)
    }
}

impl Prepared {
    /// Whether the worker is pid 1 of a new PID namespace: never here.
    pub fn apply(&self) -> io::Result<bool> {
        Ok(false)
    }
}
