//! Counters behind `metrics()`, rendered in the Prometheus text format.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::sandbox::local::PoolStats;
use crate::sandbox::FailureKind;

/// Upper bounds (ms) of the duration histogram's buckets.
const BUCKETS_MS: [f64; 10] = [
    1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0, 30000.0,
];

#[derive(Default)]
pub struct Metrics {
    ok: AtomicU64,
    error: AtomicU64,
    timeout: AtomicU64,
    crash: AtomicU64,
    sandbox_errors: AtomicU64,
    /// Failures by kind, in the order of [`FailureKind::ALL`].
    by_kind: [AtomicU64; FailureKind::ALL.len()],
    buckets: [AtomicU64; 10],
    count: AtomicU64,
    // Sum in microseconds: atomics hold integers.
    sum_us: AtomicU64,
}

impl Metrics {
    pub fn observe(&self, kind: Option<FailureKind>, time_ms: f64) {
        let counter = match kind {
            None => &self.ok,
            Some(FailureKind::Timeout | FailureKind::QueueTimeout) => &self.timeout,
            Some(
                FailureKind::OutOfMemory
                | FailureKind::Crashed
                | FailureKind::Exited
                | FailureKind::ProtocolViolation,
            ) => &self.crash,
            Some(_) => &self.error,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if let Some(k) = kind {
            if let Some(i) = FailureKind::ALL.iter().position(|x| *x == k) {
                self.by_kind[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        for (i, b) in BUCKETS_MS.iter().enumerate() {
            if time_ms <= *b {
                self.buckets[i].fetch_add(1, Ordering::Relaxed);
            }
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us
            .fetch_add((time_ms * 1000.0) as u64, Ordering::Relaxed);
    }

    pub fn sandbox_error(&self) {
        self.sandbox_errors.fetch_add(1, Ordering::Relaxed);
    }

    pub fn render(&self, pool: Option<PoolStats>, compiles: u64) -> String {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut s = String::new();
        let _ = writeln!(
            s,
            "# HELP runtime_invocations_total Function invocations by status."
        );
        let _ = writeln!(s, "# TYPE runtime_invocations_total counter");
        for (status, v) in [
            ("ok", g(&self.ok)),
            ("error", g(&self.error)),
            ("timeout", g(&self.timeout)),
            ("crash", g(&self.crash)),
        ] {
            let _ = writeln!(s, "runtime_invocations_total{{status=\"{status}\"}} {v}");
        }
        let _ = writeln!(
            s,
            "# HELP runtime_invocation_failures_total Failed invocations by errorCode."
        );
        let _ = writeln!(s, "# TYPE runtime_invocation_failures_total counter");
        for (i, k) in FailureKind::ALL.iter().enumerate() {
            let _ = writeln!(
                s,
                "runtime_invocation_failures_total{{code=\"{}\"}} {}",
                k.as_str(),
                g(&self.by_kind[i])
            );
        }
        let _ = writeln!(
            s,
            "# HELP runtime_invocation_duration_ms Wall time of invocations."
        );
        let _ = writeln!(s, "# TYPE runtime_invocation_duration_ms histogram");
        for (i, b) in BUCKETS_MS.iter().enumerate() {
            let _ = writeln!(
                s,
                "runtime_invocation_duration_ms_bucket{{le=\"{b}\"}} {}",
                g(&self.buckets[i])
            );
        }
        let _ = writeln!(
            s,
            "runtime_invocation_duration_ms_bucket{{le=\"+Inf\"}} {}",
            g(&self.count)
        );
        let _ = writeln!(
            s,
            "runtime_invocation_duration_ms_sum {}",
            g(&self.sum_us) as f64 / 1000.0
        );
        let _ = writeln!(s, "runtime_invocation_duration_ms_count {}", g(&self.count));
        let p = pool.unwrap_or_default();
        let _ = writeln!(
            s,
            "# HELP runtime_pool_workers Local pool worker processes."
        );
        let _ = writeln!(s, "# TYPE runtime_pool_workers gauge");
        let _ = writeln!(s, "runtime_pool_workers{{state=\"total\"}} {}", p.total);
        let _ = writeln!(s, "runtime_pool_workers{{state=\"idle\"}} {}", p.idle);
        let _ = writeln!(s, "runtime_pool_workers{{state=\"busy\"}} {}", p.busy);
        let _ = writeln!(
            s,
            "# HELP runtime_pool_queued Invocations waiting for a free worker."
        );
        let _ = writeln!(s, "# TYPE runtime_pool_queued gauge");
        let _ = writeln!(s, "runtime_pool_queued {}", p.queued);
        let _ = writeln!(
            s,
            "# HELP runtime_pool_workers_replaced_total Workers replaced after a fault."
        );
        let _ = writeln!(s, "# TYPE runtime_pool_workers_replaced_total counter");
        let _ = writeln!(s, "runtime_pool_workers_replaced_total {}", p.replaced);
        if let Some(l) = &p.isolation {
            let _ = writeln!(
                s,
                "# HELP runtime_isolation_layer Kernel isolation layers applied to every local worker (1: on)."
            );
            let _ = writeln!(s, "# TYPE runtime_isolation_layer gauge");
            for (layer, on) in [
                ("landlock", l.landlock_abi > 0),
                ("seccomp", l.seccomp),
                ("namespaces", !l.namespaces.is_empty()),
                ("rlimits", l.rlimits),
                ("uid", l.uid.is_some()),
            ] {
                let _ = writeln!(
                    s,
                    "runtime_isolation_layer{{layer=\"{layer}\"}} {}",
                    u8::from(on)
                );
            }
            let _ = writeln!(s, "runtime_isolation_landlock_abi {}", l.landlock_abi);
        }
        let _ = writeln!(
            s,
            "# HELP runtime_sandbox_errors_total Invocations the runtime itself could not run."
        );
        let _ = writeln!(s, "# TYPE runtime_sandbox_errors_total counter");
        let _ = writeln!(
            s,
            "runtime_sandbox_errors_total {}",
            g(&self.sandbox_errors)
        );
        let _ = writeln!(
            s,
            "# HELP runtime_compiles_total Programs compiled into the module cache (a cache miss)."
        );
        let _ = writeln!(s, "# TYPE runtime_compiles_total counter");
        let _ = writeln!(s, "runtime_compiles_total {compiles}");
        s
    }
}
