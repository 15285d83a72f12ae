//! The engine on the local pool, driven from plain Rust (no Node addon):
//! results, logs, isolation between invocations, faults and recovery.

use std::sync::Arc;
use std::time::{Duration, Instant};

use runtime_core::engine::{Engine, ExecuteRequest, ExecuteResult};
use runtime_core::{CloudConfig, InvocationOptions, RuntimeConfig};
use serde_json::json;

fn engine(pool: usize) -> Arc<Engine> {
    let config = RuntimeConfig {
        pool_size: pool,
        ..RuntimeConfig::default()
    };
    let e = Engine::new(config);
    // No database or storage here: cloud.* calls get a NOT_CONFIGURED error.
    e.set_default_cloud(Arc::new(runtime_core::cloud::Cloud::new(
        CloudConfig::from_vars(&[]),
    )))
    .unwrap();
    e
}

async fn run(
    e: &Arc<Engine>,
    name: &str,
    code: &str,
    ctx: serde_json::Value,
    timeout_ms: Option<u64>,
) -> ExecuteResult {
    e.execute(ExecuteRequest {
        name: name.into(),
        code: code.into(),
        hash: String::new(),
        ctx: ctx.to_string(),
        options: InvocationOptions {
            timeout_ms,
            ..Default::default()
        },
        cloud: None,
    })
    .await
    .expect("execute")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns_data_logs_and_time() {
    let e = engine(2);
    let r = run(
        &e,
        "hello",
        "module.exports = async (ctx) => { console.log('hi %s', ctx.body.who); console.warn('careful'); return { hello: ctx.body.who } }",
        json!({ "body": { "who": "world" } }),
        None,
    )
    .await;
    assert_eq!(r.error, None);
    assert_eq!(r.data_value(), json!({ "hello": "world" }));
    assert_eq!(
        r.logs,
        vec!["hi world".to_string(), "[WARN] careful".to_string()]
    );
    assert!(r.time > 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_keep_their_own_logs() {
    let e = engine(3);
    let code = "module.exports = async (ctx) => { for (let i = 0; i < 3; i++) { console.log('id', ctx.body.id, i); await new Promise(r => setTimeout(r, 1)); } return ctx.body.id }";
    let mut tasks = Vec::new();
    for id in 0..60 {
        let e = e.clone();
        tasks.push(tokio::spawn(async move {
            (
                id,
                run(&e, "ids", code, json!({ "body": { "id": id } }), None).await,
            )
        }));
    }
    for t in tasks {
        let (id, r) = t.await.unwrap();
        assert_eq!(r.data_value(), json!(id));
        let want: Vec<String> = (0..3).map(|i| format!("id {id} {i}")).collect();
        assert_eq!(r.logs, want);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_is_reported_in_time_and_the_pool_recovers() {
    let e = engine(1);
    // The timeout counts from when the function starts: warm the pool first
    // so the wall time below is the function's.
    run(&e, "warm", "module.exports = () => 1", json!({}), None).await;
    let started = Instant::now();
    let r = run(
        &e,
        "spin",
        "module.exports = () => { while (true) {} }",
        json!({}),
        Some(300),
    )
    .await;
    assert_eq!(r.error.as_deref(), Some("Function timed out after 300 ms"));
    assert!(
        started.elapsed() < Duration::from_millis(300 + 250),
        "{:?}",
        started.elapsed()
    );
    let r = run(&e, "ok", "module.exports = () => 1", json!({}), None).await;
    assert_eq!(r.data_value(), json!(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn globals_do_not_leak_between_invocations() {
    let e = engine(1);
    run(
        &e,
        "set",
        "module.exports = () => { globalThis.leaked = 1 }",
        json!({}),
        None,
    )
    .await;
    let r = run(
        &e,
        "get",
        "module.exports = () => typeof leaked",
        json!({}),
        None,
    )
    .await;
    assert_eq!(r.data_value(), json!("undefined"));
}

/// `reuseContext`: the module runs once per tenant's worker and its state
/// stays; what belongs to one call (console, cloud, timers) still reaches
/// the call that uses it, even when the module captured it at load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_context_keeps_module_state_per_tenant() {
    let e = engine(1);
    let code = "let n = 0; const db = cloud.database(); const { log } = console;
        module.exports = async () => {
          n += 1; globalThis.seen = (globalThis.seen || 0) + 1; log('call ' + n);
          let err; try { await db.collection('x').findOne({}) } catch (e) { err = e.errorCode }
          await new Promise((r) => setTimeout(r, 1));
          return [n, seen, err];
        }";
    let call = |tenant: &str, reuse: Option<bool>| {
        e.execute(ExecuteRequest {
            name: "counter".into(),
            code: code.into(),
            hash: String::new(),
            ctx: "{}".into(),
            options: InvocationOptions {
                tenant: Some(tenant.into()),
                reuse_context: reuse,
                ..Default::default()
            },
            cloud: None,
        })
    };
    for i in 1..=3 {
        let r = call("a", Some(true)).await.expect("execute");
        assert_eq!(r.error, None, "{:?}", r.stack);
        assert_eq!(r.data_value(), json!([i, i, "NOT_CONFIGURED"]));
        assert_eq!(r.logs, vec![format!("call {i}")]);
    }
    // Another tenant's worker has its own context; without the option every
    // call gets a fresh one.
    let r = call("b", Some(true)).await.expect("execute");
    assert_eq!(r.data_value(), json!([1, 1, "NOT_CONFIGURED"]));
    for _ in 0..2 {
        let r = call("a", None).await.expect("execute");
        assert_eq!(r.data_value(), json!([1, 1, "NOT_CONFIGURED"]));
    }
    // The kept context is still there for the next call that asks for it.
    let r = call("a", Some(true)).await.expect("execute");
    assert_eq!(r.data_value(), json!([4, 4, "NOT_CONFIGURED"]));
    // RUNTIME_REUSE_CONTEXT=1 makes it the default; a call may still opt out.
    let config = RuntimeConfig {
        pool_size: 1,
        reuse_context: true,
        ..RuntimeConfig::default()
    };
    let e2 = Engine::new(config);
    let counter = |reuse: Option<bool>| {
        e2.execute(ExecuteRequest {
            name: "n".into(),
            code: "let n = 0; module.exports = () => ++n".into(),
            hash: String::new(),
            ctx: "{}".into(),
            options: InvocationOptions {
                reuse_context: reuse,
                ..Default::default()
            },
            cloud: None,
        })
    };
    for (reuse, want) in [(None, 1), (None, 2), (Some(false), 1), (None, 3)] {
        let r = counter(reuse).await.expect("execute");
        assert_eq!(r.data_value(), json!(want), "{reuse:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cloud_calls_without_configuration_name_the_variable() {
    let e = engine(1);
    let r = run(
        &e,
        "db",
        "module.exports = async () => { try { await cloud.database().collection('x').findOne({}) } catch (e) { return [e.message, e.errorCode] } }",
        json!({}),
        None,
    )
    .await;
    assert_eq!(
        r.data_value(),
        json!([
            "the database is not configured: set MONGODB_URL",
            "NOT_CONFIGURED"
        ])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn misuse_is_an_error_not_a_result() {
    let e = engine(1);
    let named = |name: String| ExecuteRequest {
        name,
        code: "module.exports = () => 1".into(),
        hash: String::new(),
        ctx: "{}".into(),
        options: InvocationOptions::default(),
        cloud: None,
    };
    // A name is a file name in stacks: not empty, no line breaks or other
    // control characters, bounded.
    for (name, message) in [
        (String::new(), "name must be a non-empty string".to_string()),
        (
            "a\nat evil (x.js:1:1)".to_string(),
            r#"name must not contain control characters or line breaks, got '\n' in "a\nat evil (x.js:1:1)""#.to_string(),
        ),
        (
            "tab\there".to_string(),
            r#"name must not contain control characters or line breaks, got '\t' in "tab\there""#.to_string(),
        ),
        (
            "x".repeat(1025),
            "name must be at most 1024 bytes, got 1025".to_string(),
        ),
    ] {
        let err = e.execute(named(name)).await.unwrap_err();
        assert_eq!(err.code(), "INVALID_ARGUMENT");
        assert_eq!(err.to_string(), message);
    }
    // Names users give their functions still run.
    for name in ["payments", "user/login", "中文-函数", &"y".repeat(1024)] {
        let r = e.execute(named(name.to_string())).await.unwrap();
        assert_eq!(r.data_value(), json!(1), "{name}");
    }
}
