//! The local pool under faults and bad input, from plain Rust: no zombies
//! after timeouts, one failure kind per fault, queueing instead of false
//! timeouts, frames that are not the running invocation's, results of any
//! depth, lone surrogates, oversized results, and a shutdown that leaves
//! nothing behind.

use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime_core::engine::{Engine, ExecuteRequest, ExecuteResult};
use runtime_core::sandbox::FailureKind;
use runtime_core::{CloudConfig, InvocationOptions, RuntimeConfig};
use serde_json::json;

/// Zombie checks count every zombie child of this test process, and the
/// other tests start and kill workers all the time: those checks run alone
/// (write), the rest side by side (read).
static SERIAL: tokio::sync::RwLock<()> = tokio::sync::RwLock::const_new(());

fn engine_with(config: RuntimeConfig) -> Arc<Engine> {
    let e = Engine::new(config);
    e.set_default_cloud(Arc::new(runtime_core::cloud::Cloud::new(
        CloudConfig::from_vars(&[]),
    )))
    .unwrap();
    e
}

fn engine(pool: usize) -> Arc<Engine> {
    engine_with(RuntimeConfig {
        pool_size: pool,
        ..RuntimeConfig::default()
    })
}

fn request(code: &str, ctx: &str, options: InvocationOptions) -> ExecuteRequest {
    ExecuteRequest {
        name: "f".into(),
        code: code.into(),
        hash: String::new(),
        ctx: ctx.into(),
        options,
        cloud: None,
    }
}

async fn run(e: &Arc<Engine>, code: &str, timeout_ms: Option<u64>) -> ExecuteResult {
    let options = InvocationOptions {
        timeout_ms,
        ..Default::default()
    };
    e.execute(request(code, "{}", options))
        .await
        .expect("execute")
}

/// Children of this process that are zombies (state Z).
/// The /proc stat lines of this process's zombie children (for the
/// failure message: which child was left tells which path leaked it).
fn zombies() -> Vec<String> {
    let me = std::process::id().to_string();
    let mut n = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid …; comm may contain spaces, so split after ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
            continue;
        };
        let f: Vec<&str> = rest.split_whitespace().collect();
        if f.len() > 2 && f[0] == "Z" && f[1] == me {
            n.push(stat.trim().to_string());
        }
    }
    n
}

/// Waits until one function holds a worker (the pool starts lazily).
async fn wait_until_busy(e: &Arc<Engine>, n: usize) {
    let t0 = Instant::now();
    while e.pool_stats().map(|s| s.busy) != Some(n) {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the function never started"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// No zombie child lasts. A worker killed a moment ago (a timeout, a
/// blank that became ready after the close) is a zombie until the reaper's
/// next poll, so the check is on persistence: passes once none is left, and
/// fails if one zombie stays for 2 s. Callers hold `SERIAL` for writing.
async fn wait_no_zombies() {
    let t0 = Instant::now();
    let mut seen: std::collections::HashMap<String, Instant> = Default::default();
    loop {
        let now = zombies();
        if now.is_empty() || t0.elapsed() > Duration::from_secs(5) {
            return;
        }
        for z in &now {
            let pid = z.split(' ').next().unwrap_or_default().to_string();
            let first = *seen.entry(pid).or_insert_with(Instant::now);
            assert!(
                first.elapsed() < Duration::from_secs(2),
                "a zombie child stayed for 2 s: {z}"
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_zombies_after_fifty_timeouts() {
    let _serial = SERIAL.write().await;
    let e = engine(4);
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let e = e.clone();
        set.spawn(async move { run(&e, "module.exports = () => { for (;;) {} }", Some(50)).await });
    }
    while let Some(r) = set.join_next().await {
        let r = r.unwrap();
        assert_eq!(r.kind, Some(FailureKind::Timeout), "{:?}", r.error);
        assert_eq!(r.error.as_deref(), Some("Function timed out after 50 ms"));
    }
    wait_no_zombies().await;
    // The pool still serves.
    assert_eq!(
        run(&e, "module.exports = () => 1", None).await.data_value(),
        json!(1)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_fault_has_its_kind() {
    let _serial = SERIAL.read().await;
    let e = engine(2);
    let cases: Vec<(&str, FailureKind, &str)> = vec![
        ("module.exports = () => { throw new Error('boom') }", FailureKind::FunctionThrew, "boom"),
        ("module.exports = () => { throw 'str' }", FailureKind::FunctionThrew, "Function threw a non-Error value: 'str'"),
        ("module.exports = async () => { await null; throw new TypeError('late') }", FailureKind::FunctionThrew, "late"),
        ("module.exports = () => { setTimeout(() => { throw new Error('in timer') }, 1); return new Promise(() => {}) }", FailureKind::FunctionThrew, "Uncaught exception in a timer callback: in timer"),
        ("module.exports = () => new Promise(() => {})", FailureKind::Timeout, "Function timed out after 300 ms"),
        ("module.exports = () => { const a = []; for (;;) a.push(new Array(1e6).fill(1)) }", FailureKind::OutOfMemory, "Function ran out of memory"),
        ("module.exports = () => process.exit(3)", FailureKind::Exited, "process.exit(3) is not allowed"),
        ("module.exports = () => this.constructor.constructor('return process')().exit(4)", FailureKind::Exited, "Function called process.exit(4)"),
        // signal 6, or 11 where the worker is pid 1 of its PID namespace:
        // an init process ignores its own SIGABRT, and glibc's abort() then
        // ends in a fault.
        ("module.exports = () => this.constructor.constructor('return process')().abort()", FailureKind::Crashed, "Function crashed its worker process (signal "),
        // The kernel refuses kill(2) to a worker, even of itself.
        ("module.exports = () => this.constructor.constructor('return process')().kill(this.constructor.constructor('return process')().pid, 'SIGKILL')", FailureKind::FunctionThrew, "kill EPERM"),
        ("module.exports = () => {", FailureKind::SyntaxError, "SyntaxError: "),
        ("export default () => import.meta.url", FailureKind::EsmSyntax, "import.meta is not supported"),
        ("exports.x = 1", FailureKind::NoExport, "No callable export"),
        ("module.exports = () => 10n", FailureKind::BadResult, "cannot be converted to JSON"),
        ("module.exports = () => { const a = {}; a.a = a; return a }", FailureKind::BadResult, "cannot be converted to JSON"),
        ("module.exports = () => require('fs').writeFileSync('/tmp/outside-' + Date.now(), 'x')", FailureKind::Blocked, "refused by the runtime's sandbox"),
        ("module.exports = () => require('child_process').execSync('true')", FailureKind::Blocked, "refused by the runtime's sandbox"),
        ("module.exports = () => 'x'.repeat(7 * 1024 * 1024)", FailureKind::ResultTooLarge, "larger than 6291456 bytes"),
        ("module.exports = () => { this.constructor.constructor('return process')().stdout.write('hello\\n'); return new Promise(() => {}) }", FailureKind::ProtocolViolation, "not a frame"),
        ("module.exports = () => { this.constructor.constructor('return process')().stdout.write(JSON.stringify({ done: { nonce: 'forged', data: 1 } }) + '\\n'); return new Promise(() => {}) }", FailureKind::ProtocolViolation, "does not belong to the running invocation"),
    ];
    for (code, kind, message) in cases {
        let timeout = if kind == FailureKind::Timeout {
            300
        } else {
            5000
        };
        let r = run(&e, code, Some(timeout)).await;
        assert_eq!(r.kind, Some(kind), "{code}: {:?}", r.error);
        let error = r.error.unwrap_or_default();
        assert!(error.contains(message), "{code}: {error}");
    }
    // After all of that, the pool still serves.
    assert_eq!(
        run(&e, "module.exports = () => 2", None).await.data_value(),
        json!(2)
    );
    let metrics = e.metrics_text();
    assert!(
        metrics.contains("runtime_invocation_failures_total{code=\"PROTOCOL_VIOLATION\"} 2"),
        "{metrics}"
    );
    assert!(metrics.contains("runtime_invocation_failures_total{code=\"TIMEOUT\"} 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_queues_instead_of_timing_out() {
    let _serial = SERIAL.read().await;
    let e = engine(4);
    let t0 = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for i in 0..1200 {
        let e = e.clone();
        set.spawn(
            async move { run(&e, &format!("module.exports = () => {i} % 7"), Some(1000)).await },
        );
    }
    let mut ok = 0;
    while let Some(r) = set.join_next().await {
        let r = r.unwrap();
        assert_eq!(r.error, None);
        ok += 1;
    }
    assert_eq!(ok, 1200);
    // Each ran well within its own 1 s even though the storm took longer.
    eprintln!("1200 invocations in {:?}", t0.elapsed());

    // A short queue limit gives QUEUE_TIMEOUT, and the function did not run.
    let e = engine_with(RuntimeConfig {
        pool_size: 1,
        max_workers: 2,
        queue_timeout_ms: 100,
        ..RuntimeConfig::default()
    });
    // Start the pool first, then wait until two slow functions hold both
    // workers the cap allows, so the next call can only queue.
    assert_eq!(run(&e, "module.exports = () => 0", None).await.error, None);
    // The blank worker that replaces the one just bound (the queue limit
    // is shorter than a node start).
    let t0 = Instant::now();
    while e.pool_stats().map(|s| s.blank) != Some(1) {
        assert!(t0.elapsed() < Duration::from_secs(10), "no blank worker");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let e = e.clone();
            tokio::spawn(async move {
                run(
                    &e,
                    "module.exports = () => new Promise(r => setTimeout(r, 600))",
                    Some(2000),
                )
                .await
            })
        })
        .collect();
    wait_until_busy(&e, 2).await;
    let r = run(&e, "module.exports = () => 1", None).await;
    assert_eq!(r.kind, Some(FailureKind::QueueTimeout));
    assert!(
        r.error.as_deref().unwrap_or_default().starts_with(
            "No worker became free within 100 ms (RUNTIME_QUEUE_TIMEOUT_MS): all 2 workers were busy"
        ),
        "{:?}",
        r.error
    );
    for s in slow {
        assert_eq!(s.await.unwrap().error, None);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_counts_from_the_start_of_the_run() {
    let _serial = SERIAL.read().await;
    let e = engine(1);
    // Four 300 ms functions on one worker, each with a 500 ms timeout: the
    // last waits ~900 ms but must not time out.
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..4 {
        let e = e.clone();
        set.spawn(async move {
            run(
                &e,
                "module.exports = () => new Promise(r => setTimeout(() => r('ok'), 300))",
                Some(500),
            )
            .await
        });
    }
    while let Some(r) = set.join_next().await {
        let r = r.unwrap();
        assert_eq!(r.error, None);
        assert!(r.time < 450.0, "time counts the run only: {}", r.time);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_values_and_lone_surrogates() {
    let _serial = SERIAL.read().await;
    let e = engine(1);
    // 1 000 levels: far past serde_json's 128, carried as text.
    let r = run(
        &e,
        "module.exports = () => { let v = 1; for (let i = 0; i < 1000; i++) v = [v]; return v }",
        None,
    )
    .await;
    assert_eq!(r.error, None);
    let text = r.data.get();
    assert!(
        text.starts_with("[[[[") && text.len() == 1000 * 2 + 1,
        "{}",
        text.len()
    );

    // A lone surrogate in the result is carried faithfully (as an escape).
    let r = run(&e, "module.exports = () => ({ s: 'a\\ud800b' })", None).await;
    assert_eq!(r.error, None);
    assert_eq!(r.data.get(), r#"{"s":"a\ud800b"}"#);

    // In a log line it becomes U+FFFD; the worker is not replaced.
    let before = e.pool_stats().unwrap().replaced;
    let r = run(
        &e,
        "module.exports = () => { console.log('x\\udc00y'); return 1 }",
        None,
    )
    .await;
    assert_eq!(r.error, None);
    assert_eq!(r.logs, vec!["x\u{fffd}y".to_string()]);
    assert_eq!(e.pool_stats().unwrap().replaced, before);

    // In ctx it arrives unchanged.
    let r = e
        .execute(request(
            "module.exports = (ctx) => ctx.body.s.charCodeAt(1)",
            r#"{"body":{"s":"a\udc00"}}"#,
            InvocationOptions::default(),
        ))
        .await
        .unwrap();
    assert_eq!(r.data_value(), json!(0xdc00));

    // In a cloud call's arguments it is refused with a clear error.
    let r = run(
        &e,
        "module.exports = async () => { try { await cloud.database().collection('c').insertOne({ s: '\\ud800' }) } catch (e) { return [e.message, e.errorCode] } }",
        None,
    )
    .await;
    assert_eq!(
        r.data_value(),
        json!([
            "cloud call arguments contain a string with a lone UTF-16 surrogate, which is not valid Unicode and cannot be stored",
            "INVALID_ARGUMENT"
        ])
    );
    assert_eq!(e.pool_stats().unwrap().replaced, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_ctx_is_delivered_in_linear_time() {
    let _serial = SERIAL.read().await;
    let e = engine(1);
    let mut times = Vec::new();
    for mb in [8usize, 32] {
        let ctx = json!({ "body": { "s": "x".repeat(mb * 1024 * 1024) } }).to_string();
        let t0 = Instant::now();
        let r = e
            .execute(request(
                "module.exports = (ctx) => ctx.body.s.length",
                &ctx,
                InvocationOptions::default(),
            ))
            .await
            .unwrap();
        assert_eq!(r.data_value(), json!(mb * 1024 * 1024));
        times.push(t0.elapsed());
    }
    eprintln!("8 MiB: {:?}, 32 MiB: {:?}", times[0], times[1]);
    // Linear: 4× the bytes may take ~4× the time, not 16×.
    assert!(
        times[1] < times[0] * 8 + Duration::from_millis(200),
        "{times:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_waits_for_running_work_and_leaves_nothing() {
    let _serial = SERIAL.write().await;
    let e = engine(2);
    assert_eq!(
        run(&e, "module.exports = () => 1", None).await.data_value(),
        json!(1)
    );
    let dir = e.pool_dir().expect("the pool has a folder");
    assert!(dir.exists());
    let running = {
        let e = e.clone();
        tokio::spawn(async move {
            run(
                &e,
                "module.exports = () => new Promise(r => setTimeout(() => r('done'), 300))",
                None,
            )
            .await
        })
    };
    wait_until_busy(&e, 1).await;
    let t0 = Instant::now();
    e.shutdown().await;
    assert!(
        t0.elapsed() >= Duration::from_millis(150),
        "shutdown waited for the running invocation"
    );
    assert_eq!(running.await.unwrap().data_value(), json!("done"));
    assert_eq!(e.pool_stats().unwrap().total, 0);
    assert!(!dir.exists(), "{dir:?} is left");
    wait_no_zombies().await;
    let err = e
        .execute(request(
            "module.exports = () => 1",
            "{}",
            InvocationOptions::default(),
        ))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "SHUT_DOWN");
    assert_eq!(e.health().status, "shut_down");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numeric_options_are_range_checked() {
    let _serial = SERIAL.read().await;
    let e = engine(1);
    for (opts, msg) in [
        (
            InvocationOptions { timeout_ms: Some(0), ..Default::default() },
            "options.timeoutMs (RUNTIME_MAX_TIMEOUT_MS) must be an integer from 1 to 900000, got 0",
        ),
        (
            InvocationOptions { timeout_ms: Some(4_294_967_396), ..Default::default() },
            "options.timeoutMs (RUNTIME_MAX_TIMEOUT_MS) must be an integer from 1 to 900000, got 4294967396",
        ),
        (
            InvocationOptions { memory_mb: Some(8), ..Default::default() },
            "options.memoryMb (RUNTIME_MAX_MEMORY_MB) must be an integer from 16 to",
        ),
    ] {
        let err = e
            .execute(request("module.exports = () => 1", "{}", opts))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "INVALID_ARGUMENT");
        assert!(err.to_string().starts_with(msg), "{err}");
    }
}

/// An embedder's runtime that shuts down while the pool starts workers (a
/// test's ending, a server's) leaves no zombie. With tokio's process
/// spawning, a spawn through a closing runtime failed after exec and
/// dropped the child unreaped, and children dropped mid-start went to an
/// orphan queue that only a live runtime drives.
#[test]
fn a_runtime_shut_down_while_workers_start_leaves_no_zombie() {
    let checker = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _serial = checker.block_on(SERIAL.write());
    for round in 0..20 {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let e = engine(4);
            // The first call binds a blank worker to the tenant; the pool
            // starts replacements, and this runtime ends while they start
            // (0 to 45 ms after the call).
            assert_eq!(
                run(&e, "module.exports = () => 1", None).await.data_value(),
                json!(1)
            );
            tokio::time::sleep(Duration::from_millis((round % 10) * 5)).await;
        });
        rt.shutdown_background();
    }
    checker.block_on(wait_no_zombies());
}
