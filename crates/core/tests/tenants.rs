//! Tenants on the local pool, driven from plain Rust: a worker serves one
//! tenant for its whole life, a new tenant takes a pre-started blank
//! worker, the cap covers every process, and quiet tenants' idle workers
//! retire first when it is reached.

use std::sync::Arc;
use std::time::Duration;

use runtime_core::cloud::Cloud;
use runtime_core::engine::{Engine, ExecuteRequest, ExecuteResult};
use runtime_core::{CloudConfig, InvocationOptions, RuntimeConfig};

fn engine(pool: usize, max_workers: usize) -> Arc<Engine> {
    engine_with(RuntimeConfig {
        pool_size: pool,
        max_workers,
        ..RuntimeConfig::default()
    })
}

fn engine_with(config: RuntimeConfig) -> Arc<Engine> {
    let e = Engine::new(config);
    e.set_default_cloud(Arc::new(Cloud::new(CloudConfig::from_vars(&[]))))
        .unwrap();
    e
}

// Which worker ran the call: its private temp folder, from the real
// `process` (what a function can always reach). Not the pid: in a PID
// namespace every worker is pid 1.
const PID: &str =
    "module.exports = () => Buffer.constructor.constructor('return process')().env.TMPDIR";

async fn run_as(e: &Arc<Engine>, tenant: Option<&str>, cloud: Option<Arc<Cloud>>) -> ExecuteResult {
    e.execute(ExecuteRequest {
        name: "pid".into(),
        code: PID.into(),
        hash: String::new(),
        ctx: "{}".into(),
        options: InvocationOptions {
            tenant: tenant.map(str::to_string),
            ..Default::default()
        },
        cloud,
    })
    .await
    .expect("execute")
}

async fn pid_of(e: &Arc<Engine>, tenant: &str) -> String {
    let r = run_as(e, Some(tenant), None).await;
    assert_eq!(r.error, None, "{:?}", r.error);
    worker_of(&r)
}

fn worker_of(r: &ExecuteResult) -> String {
    r.data_value()
        .as_str()
        .expect("the worker's temp folder")
        .to_string()
}

async fn wait_blank(e: &Arc<Engine>, n: usize) {
    for _ in 0..200 {
        if e.pool_stats().map(|s| s.blank).unwrap_or(0) >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "the pool did not start {n} blank workers: {:?}",
        e.pool_stats()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_serves_one_tenant_for_life() {
    let e = engine(2, 8);
    let a1 = pid_of(&e, "A").await;
    let b1 = pid_of(&e, "B").await;
    assert_ne!(a1, b1, "two tenants shared a worker");
    for _ in 0..5 {
        assert_eq!(
            pid_of(&e, "A").await,
            a1,
            "tenant A moved to another worker"
        );
        assert_eq!(pid_of(&e, "B").await, b1);
    }
    let s = e.pool_stats().unwrap();
    assert_eq!(s.tenants, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tenant_binds_a_blank_worker_and_the_pool_refills() {
    let e = engine(2, 8);
    pid_of(&e, "warm").await;
    wait_blank(&e, 2).await;
    let spawned = e.pool_stats().unwrap().spawned;
    pid_of(&e, "new-tenant").await;
    // It ran on a blank worker (no process was started for it) ...
    let s = e.pool_stats().unwrap();
    assert!(s.spawned <= spawned + 1, "{s:?}");
    // ... and a replacement blank worker is started in the background.
    wait_blank(&e, 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clouds_are_tenants_unless_named() {
    let e = engine(1, 8);
    let c1 = Arc::new(Cloud::new(CloudConfig::from_vars(&[])));
    let c2 = Arc::new(Cloud::new(CloudConfig::from_vars(&[])));
    let mut named = CloudConfig::from_vars(&[]);
    named.tenant = Some("shop".into());
    let n1 = Arc::new(Cloud::new(named.clone()));
    let n2 = Arc::new(Cloud::new(named));
    let pid = |r: ExecuteResult| worker_of(&r);
    let p1 = pid(run_as(&e, None, Some(c1.clone())).await);
    let p2 = pid(run_as(&e, None, Some(c2)).await);
    assert_ne!(p1, p2, "two createCloud() objects shared a worker");
    assert_eq!(pid(run_as(&e, None, Some(c1)).await), p1);
    let q1 = pid(run_as(&e, None, Some(n1)).await);
    let q2 = pid(run_as(&e, None, Some(n2)).await);
    assert_eq!(q1, q2, "Clouds named alike are one tenant");
    // options.tenant overrides the Cloud's.
    assert_eq!(pid(run_as(&e, Some("shop"), None).await), q1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_holds_and_quiet_tenants_retire_first() {
    let e = engine(1, 3);
    let mut pids = Vec::new();
    for t in ["t1", "t2", "t3", "t4", "t5"] {
        pids.push(pid_of(&e, t).await);
        let s = e.pool_stats().unwrap();
        assert!(
            s.total <= 3,
            "more processes than RUNTIME_MAX_WORKERS: {s:?}"
        );
    }
    // t5 is the busiest: it keeps its worker while the quiet ones retire.
    let t5 = pid_of(&e, "t5").await;
    assert_eq!(t5, pids[4]);
    let t1 = pid_of(&e, "t1").await;
    assert_ne!(
        t1, pids[0],
        "t1's idle worker should have retired for newer tenants"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_tenant_name_is_refused() {
    let e = engine(1, 4);
    let err = e
        .execute(ExecuteRequest {
            name: "f".into(),
            code: PID.into(),
            hash: String::new(),
            ctx: "{}".into(),
            options: InvocationOptions {
                tenant: Some(String::new()),
                ..Default::default()
            },
            cloud: None,
        })
        .await
        .expect_err("an error");
    assert_eq!(err.code(), "INVALID_ARGUMENT");
    assert_eq!(
        err.to_string(),
        "options.tenant must be a string of 1 to 128 characters without control characters, got \"\""
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_tenant_gets_at_most_its_share_of_workers() {
    let e = engine_with(RuntimeConfig {
        pool_size: 1,
        max_workers: 8,
        max_workers_per_tenant: 2,
        ..RuntimeConfig::default()
    });
    let slow = "module.exports = () => new Promise(r => setTimeout(() => r(Buffer.constructor.constructor('return process')().env.TMPDIR), 150))";
    let calls: Vec<_> = (0..6)
        .map(|_| {
            let e = e.clone();
            tokio::spawn(async move {
                e.execute(ExecuteRequest {
                    name: "slow".into(),
                    code: slow.into(),
                    hash: String::new(),
                    ctx: "{}".into(),
                    options: InvocationOptions {
                        tenant: Some("A".into()),
                        ..Default::default()
                    },
                    cloud: None,
                })
                .await
                .expect("execute")
            })
        })
        .collect();
    let mut peak = 0;
    for _ in 0..60 {
        peak = peak.max(e.pool_stats().map(|s| s.busy).unwrap_or(0));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut pids = Vec::new();
    for c in calls {
        let r = c.await.unwrap();
        assert_eq!(r.error, None);
        pids.push(worker_of(&r));
    }
    pids.sort_unstable();
    pids.dedup();
    assert!(peak <= 2, "tenant A ran on {peak} workers at once");
    assert!(pids.len() <= 2, "tenant A used {} workers", pids.len());
    // Another tenant is not held up by A's queue.
    assert!(!pid_of(&e, "B").await.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_memory_size_replaces_an_idle_worker_at_the_tenant_cap() {
    let e = engine_with(RuntimeConfig {
        pool_size: 1,
        max_workers: 8,
        max_workers_per_tenant: 2,
        queue_timeout_ms: 5000,
        ..RuntimeConfig::default()
    });
    // Two idle workers of tenant A at the default memoryMb...
    let calls: Vec<_> = (0..2)
        .map(|_| {
            let e = e.clone();
            tokio::spawn(async move { pid_of(&e, "A").await })
        })
        .collect();
    for c in calls {
        c.await.unwrap();
    }
    // ... then a call with another memoryMb: it must not wait for a worker
    // of its size that the tenant cap would never let start.
    let r = e
        .execute(ExecuteRequest {
            name: "pid".into(),
            code: PID.into(),
            hash: String::new(),
            ctx: "{}".into(),
            options: InvocationOptions {
                tenant: Some("A".into()),
                memory_mb: Some(300),
                ..Default::default()
            },
            cloud: None,
        })
        .await
        .expect("execute");
    assert_eq!(r.error, None);
    assert!(r.data_value().as_str().is_some());
}

/// About `lines` lines of TypeScript, different for each `seed`.
fn large_typescript(lines: usize, seed: usize) -> String {
    let mut code = String::from("export default async (): Promise<number> => 1;\n");
    for i in 0..lines {
        code.push_str(&format!(
            "export const v{i}: number = {i} * {seed} + 1; // a large bundle's worth of lines\n"
        ));
    }
    code
}

/// A tenant's large program compiles off the runtime's threads and outside
/// the module cache's lock: another tenant's calls go on while it compiles
/// (they used to wait for the whole compile).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_compile_does_not_hold_up_other_tenants() {
    use runtime_core::compile::{compile, How};
    use runtime_core::Language;
    let e = engine(2, 8);
    assert_eq!(run_as(&e, Some("small"), None).await.error, None);
    let ts = How::of(Language::Typescript, false);
    // How long such a program takes to compile on this machine and build.
    let started = std::time::Instant::now();
    let calibration = compile("calibrate", &large_typescript(5_000, 1), ts).expect("compiles");
    assert!(calibration.is_some());
    let compile_time = started.elapsed();

    let big = large_typescript(5_000, 2);
    let e2 = e.clone();
    let large = tokio::spawn(async move {
        e2.execute(ExecuteRequest {
            name: "bundle".into(),
            code: big,
            hash: String::new(),
            ctx: "{}".into(),
            options: InvocationOptions {
                tenant: Some("large".into()),
                language: Some(Language::Typescript),
                ..Default::default()
            },
            cloud: None,
        })
        .await
    });
    // The large compile is under way.
    tokio::time::sleep(compile_time / 10).await;
    let started = std::time::Instant::now();
    for _ in 0..3 {
        assert_eq!(run_as(&e, Some("small"), None).await.error, None);
    }
    let small = started.elapsed();
    assert!(
        small < compile_time / 2,
        "3 small calls took {small:?} while another tenant's program compiled (one compile: {compile_time:?})"
    );
    let r = large.await.expect("task").expect("execute");
    assert_eq!(r.error, None, "{:?}", r.stack);
    assert_eq!(r.data_value(), serde_json::json!(1));
}
