//! The kernel isolation layers a pool applies, as reported by `health()`
//! and `metrics()`; one type for every OS (on those without Linux's layers
//! all are off).

use crate::config::IsolationLevel;

/// What the pool applies to every worker, as detected at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layers {
    /// The Landlock ABI in force (0: none).
    pub landlock_abi: i32,
    pub seccomp: bool,
    /// Namespaces each worker gets: some of `user`, `mount`, `net`, `ipc`, `pid`.
    pub namespaces: Vec<&'static str>,
    pub rlimits: bool,
    /// The uid workers run as when the host is root.
    pub uid: Option<u32>,
    /// Node's permission model (`--permission`): a fence inside the
    /// kernel's, not one the promise rests on.
    pub node_permission: bool,
    /// How much nicer than the host workers run (0: as the host).
    pub nice: i32,
    pub level: IsolationLevel,
}

impl Layers {
    /// `landlock=7 seccomp namespaces=user,net rlimits uid=65534 node-permission`.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if self.landlock_abi > 0 {
            parts.push(format!("landlock={}", self.landlock_abi));
        }
        if self.seccomp {
            parts.push("seccomp".into());
        }
        if !self.namespaces.is_empty() {
            parts.push(format!("namespaces={}", self.namespaces.join(",")));
        }
        if self.rlimits {
            parts.push("rlimits".into());
        }
        if let Some(u) = self.uid {
            parts.push(format!("uid={u}"));
        }
        if self.node_permission {
            parts.push("node-permission".into());
        }
        if self.nice > 0 {
            parts.push(format!("nice=+{}", self.nice));
        }
        if parts.is_empty() {
            "none".into()
        } else {
            parts.join(" ")
        }
    }
}
