//! The module cache: name → the current prepared program (key, code),
//! bounded in bytes. A new hash for a name replaces the old entry. Workers
//! keep their own compiled copy per key, so a worker that has seen a key is
//! sent only the key.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub struct Prepared {
    /// `name@hash`
    pub key: Arc<str>,
    pub name: Arc<str>,
    pub code: Arc<str>,
    /// What compiling the source gave (TypeScript, ES modules, snippets):
    /// the position map for stacks, or the syntax error. None: the code
    /// runs as it was given (CommonJS).
    pub compiled: Option<Arc<Result<crate::compile::Compiled, crate::compile::CompileError>>>,
}

struct Entry {
    hash: String,
    prepared: Prepared,
    bytes: usize,
    last_used: u64,
}

pub struct ModuleCache {
    budget: usize,
    // std Mutex: lookups are short and never await.
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    by_name: HashMap<String, Entry>,
    bytes: usize,
    clock: u64,
}

/// The hash used when the caller passes none: stable within the process.
pub fn code_hash(code: &str) -> String {
    let mut h = DefaultHasher::new();
    code.hash(&mut h);
    format!("{:016x}{:x}", h.finish(), code.len())
}

impl ModuleCache {
    pub fn new(budget: usize) -> Self {
        ModuleCache {
            budget,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Returns the prepared program for (name, hash), preparing it from
    /// `code` on a miss.
    pub fn get_or_prepare(&self, name: &str, hash: &str, code: &str) -> Prepared {
        self.get_or_compile(name, hash, code, crate::compile::How::default())
    }

    /// Returns the program for (name, hash) compiled `how`, compiling it
    /// from `code` on a miss (once per code version).
    pub fn get_or_compile(
        &self,
        name: &str,
        hash: &str,
        code: &str,
        how: crate::compile::How,
    ) -> Prepared {
        let hash = if hash.is_empty() {
            code_hash(code)
        } else {
            hash.to_string()
        } + how.tag();
        let Ok(mut inner) = self.inner.lock() else {
            return prepare(name, &hash, code, how);
        };
        inner.clock += 1;
        let now = inner.clock;
        if let Some(e) = inner.by_name.get_mut(name) {
            if e.hash == hash {
                e.last_used = now;
                return e.prepared.clone();
            }
        }
        // Compiled under the lock: concurrent first runs of one code compile it once.
        let prepared = prepare(name, &hash, code, how);
        let bytes = name.len()
            + hash.len()
            + code.len()
            + match prepared.compiled.as_deref() {
                Some(Ok(c)) => c.bytes(),
                Some(Err(e)) => e.message.len() + e.stack.len(),
                None => 0,
            };
        if let Some(old) = inner.by_name.insert(
            name.to_string(),
            Entry {
                hash,
                prepared: prepared.clone(),
                bytes,
                last_used: now,
            },
        ) {
            inner.bytes -= old.bytes;
        }
        inner.bytes += bytes;
        while inner.bytes > self.budget && inner.by_name.len() > 1 {
            let oldest = inner
                .by_name
                .iter()
                .filter(|(n, _)| n.as_str() != name)
                .min_by_key(|(_, e)| e.last_used)
                .map(|(n, _)| n.clone());
            match oldest.and_then(|n| inner.by_name.remove(&n)) {
                Some(e) => inner.bytes -= e.bytes,
                None => break,
            }
        }
        prepared
    }

    /// (entries, bytes) for metrics and tests.
    pub fn usage(&self) -> (usize, usize) {
        self.inner
            .lock()
            .map(|i| (i.by_name.len(), i.bytes))
            .unwrap_or((0, 0))
    }
}

fn prepare(name: &str, hash: &str, code: &str, how: crate::compile::How) -> Prepared {
    let compiled = match crate::compile::compile(name, code, how) {
        Ok(None) => None,
        Ok(Some(c)) => Some(Ok(c)),
        Err(e) => Some(Err(e)),
    };
    Prepared {
        key: format!("{name}@{hash}").into(),
        name: name.into(),
        code: match &compiled {
            Some(Ok(c)) => c.code.as_str().into(),
            _ => code.into(),
        },
        compiled: compiled.map(Arc::new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_hash_hits_new_hash_replaces() {
        let c = ModuleCache::new(1 << 20);
        let a = c.get_or_prepare("f", "h1", "code-1");
        let b = c.get_or_prepare("f", "h1", "ignored on a hit");
        assert!(Arc::ptr_eq(&a.code, &b.code));
        let d = c.get_or_prepare("f", "h2", "code-2");
        assert_eq!(&*d.key, "f@h2");
        assert_eq!(c.usage().0, 1, "a new hash replaces the old entry");
    }

    #[test]
    fn empty_hash_uses_the_code() {
        let c = ModuleCache::new(1 << 20);
        let a = c.get_or_prepare("f", "", "code-1");
        let b = c.get_or_prepare("f", "", "code-2");
        assert_ne!(a.key, b.key);
    }

    #[test]
    fn bounded_in_bytes_evicting_least_recently_used() {
        let c = ModuleCache::new(100);
        c.get_or_prepare("a", "1", &"x".repeat(40));
        c.get_or_prepare("b", "1", &"x".repeat(40));
        c.get_or_prepare("a", "1", "");
        c.get_or_prepare("c", "1", &"x".repeat(40));
        let (n, bytes) = c.usage();
        assert!(bytes <= 100, "{bytes}");
        assert_eq!(n, 2);
        // `b` was least recently used, so it went.
        let again = c.get_or_prepare("b", "1", "new");
        assert_eq!(&*again.code, "new");
    }
}
