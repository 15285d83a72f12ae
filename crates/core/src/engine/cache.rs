//! The module cache: (tenant, name) → the current prepared program, bounded
//! in bytes. An entry is used only for the very same code: the caller's
//! `hash` is a hint and never trusted alone (two tenants, or a tenant
//! and a forged hash, cannot share a program). The key a worker caches a
//! compiled program under is `name@<SHA-256 of the code>`; workers serve
//! one tenant each, so their caches are tenant-private too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct Prepared {
    /// `name@sha256`
    pub key: Arc<str>,
    pub name: Arc<str>,
    pub code: Arc<str>,
    /// What compiling the source gave (TypeScript, ES modules, snippets):
    /// the position map for stacks, or the syntax error. None: the code
    /// runs as it was given (CommonJS).
    pub compiled: Option<Arc<Result<crate::compile::Compiled, crate::compile::CompileError>>>,
}

struct Entry {
    /// The code as given (`prepared.code` is what the sandbox runs) and how
    /// it was compiled: a hit needs both to be the same.
    source: Arc<str>,
    how: crate::compile::How,
    prepared: Prepared,
    bytes: usize,
    last_used: u64,
}

/// Code up to this size compiles on the calling task (well under a
/// millisecond); larger code on tokio's blocking pool, a few at a time (see
/// [`ModuleCache::get_or_compile_async`]).
const INLINE_COMPILE_MAX: usize = 32 * 1024;

pub struct ModuleCache {
    budget: usize,
    // std Mutex: held for lookups and inserts only, never while compiling.
    inner: Mutex<Inner>,
    /// Large programs compiling at once: half the cores (at least one), so
    /// a tenant sending large programs leaves the other cores to run on.
    large_compiles: tokio::sync::Semaphore,
    /// Large compiles in flight, one gate per program: the second first run
    /// of the same new code (a burst right after a deploy) waits for the
    /// first one's result instead of compiling it again.
    in_flight: Mutex<HashMap<FlightKey, Arc<tokio::sync::Mutex<()>>>>,
    /// Programs compiled (or found not to compile) since the start.
    compiles: AtomicU64,
}

/// (tenant, name, SHA-256 of the code, how).
type FlightKey = (Arc<str>, String, String, crate::compile::How);

#[derive(Default)]
struct Inner {
    by_name: HashMap<(Arc<str>, String), Entry>,
    bytes: usize,
    clock: u64,
}

/// The runtime's own hash of a program: SHA-256, hex, first 32 digits.
pub fn code_hash(code: &str) -> String {
    let d = Sha256::digest(code.as_bytes());
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

impl ModuleCache {
    pub fn new(budget: usize) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        ModuleCache {
            budget,
            inner: Mutex::new(Inner::default()),
            large_compiles: tokio::sync::Semaphore::new((cores / 2).max(1)),
            in_flight: Mutex::new(HashMap::new()),
            compiles: AtomicU64::new(0),
        }
    }

    /// Returns the prepared program of `tenant`'s function `name` for
    /// exactly `code`, preparing it on a miss. `_hint` (the caller's hash)
    /// is not trusted: the code itself is compared.
    pub fn get_or_prepare(
        &self,
        tenant: &Arc<str>,
        name: &str,
        hint: &str,
        code: &str,
    ) -> Prepared {
        self.get_or_compile(tenant, name, hint, code, crate::compile::How::default())
    }

    /// As [`Self::get_or_prepare`], compiled `how` (TypeScript, ES modules,
    /// snippets) once per code version.
    pub fn get_or_compile(
        &self,
        tenant: &Arc<str>,
        name: &str,
        _hint: &str,
        code: &str,
        how: crate::compile::How,
    ) -> Prepared {
        if let Some(hit) = self.get(tenant, name, code, how) {
            return hit;
        }
        self.compiles.fetch_add(1, Ordering::Relaxed);
        self.insert(tenant, name, code, how, prepare(name, code, how))
    }

    /// What `executeFunction` uses: [`Self::get_or_compile`] without holding
    /// a runtime thread for long. Code over 32 KiB compiles on tokio's
    /// blocking pool, at most half the cores' worth at once; a large bundle
    /// takes tens of milliseconds, and other tenants' calls go on meanwhile.
    /// Two first runs of the same new code compile it once: the second
    /// waits for the first one's result.
    pub async fn get_or_compile_async(
        &self,
        tenant: &Arc<str>,
        name: &str,
        code: String,
        how: crate::compile::How,
    ) -> crate::error::Result<Prepared> {
        if code.len() <= INLINE_COMPILE_MAX {
            return Ok(self.get_or_compile(tenant, name, "", &code, how));
        }
        if let Some(hit) = self.get(tenant, name, &code, how) {
            return Ok(hit);
        }
        let flight: FlightKey = (tenant.clone(), name.to_string(), code_hash(&code), how);
        let gate = match self.in_flight.lock() {
            Ok(mut m) => m.entry(flight.clone()).or_default().clone(),
            Err(_) => Arc::default(),
        };
        let _turn = gate.lock().await;
        let result = match self.get(tenant, name, &code, how) {
            // It compiled while this call waited at the gate.
            Some(hit) => Ok(hit),
            None => self.compile_large(tenant, name, code, how).await,
        };
        if let Ok(mut m) = self.in_flight.lock() {
            if m.get(&flight).is_some_and(|g| Arc::ptr_eq(g, &gate)) {
                m.remove(&flight);
            }
        }
        result
    }

    /// Compiles on tokio's blocking pool, a few at a time, and caches it.
    async fn compile_large(
        &self,
        tenant: &Arc<str>,
        name: &str,
        code: String,
        how: crate::compile::How,
    ) -> crate::error::Result<Prepared> {
        // Never closed, so acquiring cannot fail.
        let _permit = self.large_compiles.acquire().await.ok();
        self.compiles.fetch_add(1, Ordering::Relaxed);
        let owned_name = name.to_string();
        let compiling = tokio::task::spawn_blocking(move || {
            let prepared = prepare(&owned_name, &code, how);
            (prepared, code)
        });
        match compiling.await {
            Ok((prepared, code)) => Ok(self.insert(tenant, name, &code, how, prepared)),
            // A panic in the compiler is the caller's, as it is inline.
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // Only a runtime that is shutting down cancels blocking work.
            Err(_) => Err(crate::error::Error::ShutDown),
        }
    }

    /// Programs compiled since the start (`runtime_compiles_total`).
    pub fn compiles(&self) -> u64 {
        self.compiles.load(Ordering::Relaxed)
    }

    /// The prepared program of `tenant`'s function `name` when it is cached
    /// for exactly `code` compiled `how`. Never compiles: the lock is held
    /// for a lookup only, so one tenant's large program never makes another
    /// tenant wait.
    pub fn get(
        &self,
        tenant: &Arc<str>,
        name: &str,
        code: &str,
        how: crate::compile::How,
    ) -> Option<Prepared> {
        let mut inner = self.inner.lock().ok()?;
        inner.clock += 1;
        let now = inner.clock;
        let e = inner.by_name.get_mut(&(tenant.clone(), name.to_string()))?;
        (*e.source == *code && e.how == how).then(|| {
            e.last_used = now;
            e.prepared.clone()
        })
    }

    /// Caches `prepared` ([`prepare`] of `code`, compiled `how`) as
    /// `tenant`'s function `name`, replacing its older version and evicting
    /// the least recently used programs beyond the budget; returns it.
    pub fn insert(
        &self,
        tenant: &Arc<str>,
        name: &str,
        code: &str,
        how: crate::compile::How,
        prepared: Prepared,
    ) -> Prepared {
        let Ok(mut inner) = self.inner.lock() else {
            return prepared;
        };
        inner.clock += 1;
        let now = inner.clock;
        let id = (tenant.clone(), name.to_string());
        let source: Arc<str> = match prepared.compiled.as_deref() {
            // TypeScript keeps its text for syntax errors: the same Arc.
            Some(Ok(c)) => c.source.clone().unwrap_or_else(|| code.into()),
            Some(Err(_)) => code.into(),
            None => prepared.code.clone(),
        };
        let bytes = tenant.len()
            + name.len()
            + prepared.key.len()
            + code.len()
            + match prepared.compiled.as_deref() {
                Some(Ok(c)) => code.len() + c.bytes(),
                Some(Err(e)) => code.len() + e.message.len() + e.stack.len(),
                None => 0,
            };
        if let Some(old) = inner.by_name.insert(
            id.clone(),
            Entry {
                source,
                how,
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
                .filter(|(k, _)| **k != id)
                .min_by_key(|(_, e)| e.last_used)
                .map(|(k, _)| k.clone());
            match oldest.and_then(|k| inner.by_name.remove(&k)) {
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

/// Compiles `code` for the sandbox (oxc; CommonJS is parsed too, to find
/// module syntax) and names it for the workers' caches.
pub fn prepare(name: &str, code: &str, how: crate::compile::How) -> Prepared {
    let compiled = match crate::compile::compile(name, code, how) {
        Ok(None) => None,
        Ok(Some(c)) => Some(Ok(c)),
        Err(e) => Some(Err(e)),
    };
    Prepared {
        // The worker's key: one code text compiled two ways is two programs.
        key: format!("{name}@{}{}", code_hash(code), how.tag()).into(),
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

    fn t(name: &str) -> Arc<str> {
        name.into()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_first_runs_of_large_code_compile_once() {
        let c = Arc::new(ModuleCache::new(64 << 20));
        // Over the inline limit: compiled on the blocking pool.
        let mut code = String::from("export default (): number => 1;\n");
        for i in 0..2000 {
            code.push_str(&format!(
                "const x{i}: number[] = [1, 2].map((n: number) => n * {i});\n"
            ));
        }
        assert!(code.len() > INLINE_COMPILE_MAX);
        let how = crate::compile::How::of(crate::config::Language::Typescript, false);
        // All eight started before any is awaited.
        let runs: Vec<_> = (0..8)
            .map(|_| {
                let (c, code) = (c.clone(), code.clone());
                tokio::spawn(async move { c.get_or_compile_async(&t("A"), "big", code, how).await })
            })
            .collect();
        let mut keys = Vec::new();
        for r in runs {
            let prepared = r.await.expect("task").expect("compiled");
            assert!(matches!(prepared.compiled.as_deref(), Some(Ok(_))));
            keys.push(prepared.key);
        }
        assert_eq!(c.compiles(), 1, "eight first runs, one compile");
        assert!(keys.windows(2).all(|w| w[0] == w[1]));
        // Another tenant's identical code is its own program.
        c.get_or_compile_async(&t("B"), "big", code.clone(), how)
            .await
            .expect("compiled");
        assert_eq!(c.compiles(), 2);
        // The gates are gone once their compile is done.
        assert!(c.in_flight.lock().map(|m| m.is_empty()).unwrap_or(false));
    }

    #[test]
    fn same_code_hits_new_code_replaces() {
        let c = ModuleCache::new(1 << 20);
        let a = c.get_or_prepare(&t("A"), "f", "h1", "code-1");
        let b = c.get_or_prepare(&t("A"), "f", "h1", "code-1");
        assert!(Arc::ptr_eq(&a.code, &b.code));
        let d = c.get_or_prepare(&t("A"), "f", "h2", "code-2");
        assert_eq!(&*d.key, &format!("f@{}", code_hash("code-2")));
        assert_eq!(c.usage().0, 1, "new code replaces the old entry");
    }

    #[test]
    fn the_callers_hash_is_not_trusted() {
        let c = ModuleCache::new(1 << 20);
        let a = c.get_or_prepare(&t("A"), "payments", "v1", "return 'A'");
        // Same name and hash, other code: another program, another key.
        let b = c.get_or_prepare(&t("A"), "payments", "v1", "return 'evil'");
        assert_ne!(a.key, b.key);
        assert_eq!(&*b.code, "return 'evil'");
    }

    #[test]
    fn tenants_never_share_an_entry() {
        let c = ModuleCache::new(1 << 20);
        let a = c.get_or_prepare(&t("A"), "payments", "v1", "return 'A'");
        let b = c.get_or_prepare(&t("B"), "payments", "v1", "return 'B'");
        assert_eq!(&*a.code, "return 'A'");
        assert_eq!(&*b.code, "return 'B'");
        assert_eq!(c.usage().0, 2);
        let a2 = c.get_or_prepare(&t("A"), "payments", "v1", "return 'A'");
        assert!(Arc::ptr_eq(&a.code, &a2.code));
    }

    #[test]
    fn bounded_in_bytes_evicting_least_recently_used() {
        let c = ModuleCache::new(200);
        let x = "x".repeat(40);
        c.get_or_prepare(&t("T"), "a", "1", &x);
        c.get_or_prepare(&t("T"), "b", "1", &x);
        c.get_or_prepare(&t("T"), "a", "1", &x);
        c.get_or_prepare(&t("T"), "c", "1", &x);
        let (n, bytes) = c.usage();
        assert!(bytes <= 200, "{bytes}");
        assert_eq!(n, 2);
        // `b` was least recently used, so it went.
        let again = c.get_or_prepare(&t("T"), "b", "1", "new");
        assert_eq!(&*again.code, "new");
    }

    #[test]
    fn compiled_programs_hit_on_their_source_and_language() {
        use crate::compile::{How, Lang, Mode};
        let ts = How {
            lang: Lang::TypeScript,
            mode: Mode::Module,
        };
        let c = ModuleCache::new(1 << 20);
        let src = "export default (): number => 1";
        let a = c.get_or_compile(&t("A"), "f", "", src, ts);
        assert!(!a.code.contains(": number"), "{}", a.code);
        let b = c.get_or_compile(&t("A"), "f", "", src, ts);
        assert!(
            Arc::ptr_eq(&a.code, &b.code),
            "the source, not the compiled text, is compared"
        );
        let js = c.get_or_compile(&t("A"), "f", "", "export default () => 1", How::default());
        assert_ne!(a.key, js.key);
        assert!(a.key.ends_with("~ts"));
    }
}
