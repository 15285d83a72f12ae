//! The dify backend against the Dify Sandbox stand-in (a test fixture that
//! follows DIFY-SANDBOX.md, run as `node __test__/fixtures/dify-sandbox.mjs`):
//! every failure of the real server mapped to a clear error, none lost.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use runtime_core::cloud::Cloud;
use runtime_core::engine::{Engine, ExecuteRequest, ExecuteResult};
use runtime_core::{BackendKind, CloudConfig, InvocationOptions, Result, RuntimeConfig};
use serde_json::json;

struct StandIn {
    child: Child,
    url: String,
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn stand_in(args: &[&str]) -> StandIn {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../__test__/fixtures/dify-sandbox.mjs"
    );
    let mut child = Command::new("node")
        .arg(fixture)
        .args(["--api-key", "key"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs the stand-in");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = serde_json::from_str::<serde_json::Value>(&line).unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    StandIn { child, url }
}

fn engine(url: &str, key: &str, tweak: impl FnOnce(&mut RuntimeConfig)) -> Arc<Engine> {
    let mut c = RuntimeConfig {
        backend: BackendKind::Dify,
        sandbox_url: Some(url.to_string()),
        sandbox_api_key: Some(key.to_string()),
        ..RuntimeConfig::default()
    };
    tweak(&mut c);
    let e = Engine::new(c);
    e.set_default_cloud(Arc::new(Cloud::new(CloudConfig::from_vars(&[]))))
        .unwrap();
    e
}

async fn run(e: &Arc<Engine>, code: &str) -> Result<ExecuteResult> {
    e.execute(ExecuteRequest {
        name: "f".into(),
        code: code.into(),
        hash: String::new(),
        ctx: json!({ "body": { "n": 1 } }).to_string(),
        options: InvocationOptions::default(),
        cloud: None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn same_result_as_local_in_both_response_shapes() {
    for shape in [&[][..], &["--legacy-shape"][..]] {
        let s = stand_in(shape);
        let e = engine(&s.url, "key", |_| {});
        let r = run(&e, "module.exports = (ctx) => { console.log('a'); console.error('b'); console.warn('c'); require('process').stdout.write('raw output\\n'); return ctx.body }").await.unwrap();
        assert_eq!(r.data_value(), json!({ "n": 1 }), "{shape:?}");
        assert_eq!(r.logs, ["a", "[ERROR] b", "[WARN] c"], "{shape:?}");
        let r = run(
            &e,
            "module.exports = () => {\n  throw new Error('line two')\n}",
        )
        .await
        .unwrap();
        assert_eq!(r.error.as_deref(), Some("line two"));
        let stack = r.stack.unwrap();
        assert_eq!(
            stack, "Error: line two\n    at module.exports (f.js:2:9)",
            "{shape:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_says_which_variable_sets_it() {
    let s = stand_in(&[]);
    let e = run(&engine(&s.url, "wrong", |_| {}), "module.exports = () => 1")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "SANDBOX_AUTH");
    assert_eq!(e.to_string(), "the Dify Sandbox rejected the API key (HTTP 401): set SANDBOX_API_KEY to the server's API_KEY");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_sandbox_names_its_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let e = run(&engine(&url, "key", |_| {}), "module.exports = () => 1")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "SANDBOX_UNREACHABLE");
    assert!(
        e.to_string()
            .starts_with(&format!("sandbox unreachable at {url}: ")),
        "{e}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn network_off_and_oversize_output_are_clear_errors() {
    let off = stand_in(&["--network", "off"]);
    let e = run(&engine(&off.url, "key", |_| {}), "module.exports = () => 1")
        .await
        .unwrap_err();
    assert_eq!(e.code(), "SANDBOX_NETWORK_DISABLED");
    assert!(
        e.to_string().contains("enable it on the sandbox server"),
        "{e}"
    );

    let s = stand_in(&[]);
    let e = engine(&s.url, "key", |c| c.max_response_bytes = 64 * 1024);
    // A function that writes past the console cap straight to stdout.
    let err = run(
        &e,
        "module.exports = () => { require('process').stdout.write('x'.repeat(200000)); return 1 }",
    )
    .await
    .unwrap_err();
    assert_eq!(err.code(), "OUTPUT_TOO_LARGE");
    assert_eq!(err.to_string(), "sandbox output exceeded 65536 bytes");
    assert_eq!(
        run(&e, "module.exports = () => 2")
            .await
            .unwrap()
            .data_value(),
        json!(2)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_timeout_reads_as_the_functions_timeout() {
    let s = stand_in(&["--worker-timeout", "1"]);
    let e = engine(&s.url, "key", |c| c.timeout_ms = 3000);
    // Blocks its event loop: the server's 1 s kill comes first.
    let r = run(
        &e,
        "module.exports = () => { console.log('before'); while (true) {} }",
    )
    .await
    .unwrap();
    assert_eq!(r.error.as_deref(), Some("Function timed out after 3000 ms"));
    assert_eq!(r.logs, ["before"], "stdout printed before the kill is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_sandboxes_lose_nothing_and_run_nothing_twice() {
    let s = stand_in(&["--max-requests", "16", "--max-workers", "4"]);
    let e = engine(&s.url, "key", |c| c.sandbox_retries = 3);
    let mut tasks = Vec::new();
    for i in 0..64 {
        let e = e.clone();
        tasks.push(tokio::spawn(async move {
            let code =
                format!("module.exports = () => new Promise((r) => setTimeout(() => r({i}), 50))");
            (i, run(&e, &code).await)
        }));
    }
    let (mut ok, mut busy) = (0, 0);
    for t in tasks {
        let (i, r) = t.await.unwrap();
        match r {
            Ok(r) => {
                assert_eq!(r.data_value(), json!(i));
                ok += 1;
            }
            Err(e) => {
                assert_eq!(e.code(), "SANDBOX_BUSY", "{e}");
                assert!(e.to_string().starts_with("sandbox busy:"), "{e}");
                busy += 1;
            }
        }
    }
    assert_eq!(ok + busy, 64);
    let stats: serde_json::Value = reqwest::get(format!("{}/__fixture/stats", s.url))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Every run the server started was a distinct successful invocation.
    assert_eq!(stats["runs"], json!(ok), "{stats}");
    assert_eq!(stats["started"], json!(ok), "{stats}");
    eprintln!(
        "64 concurrent against max_requests 16: {ok} results, {busy} sandbox busy, {} 503s retried",
        stats["rejected503"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bridge_url_with_a_host_name_fails_at_start_up() {
    let s = stand_in(&[]);
    let e = engine(&s.url, "key", |c| {
        c.bridge_url = Some("http://sandbox-host:7070".into())
    });
    let err = run(&e, "module.exports = () => 1").await.unwrap_err();
    assert_eq!(err.code(), "CONFIG_INVALID");
    assert!(err.to_string().contains("must use an IP address"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_settings_name_their_variables() {
    let e = Engine::new(RuntimeConfig {
        backend: BackendKind::Dify,
        ..RuntimeConfig::default()
    });
    e.set_default_cloud(Arc::new(Cloud::new(CloudConfig::from_vars(&[]))))
        .unwrap();
    assert_eq!(
        run(&e, "module.exports = () => 1")
            .await
            .unwrap_err()
            .to_string(),
        "the Dify Sandbox is not configured: set SANDBOX_URL"
    );
}
