//! The bridge over real HTTP: a token works while its invocation lives, is
//! refused after it ends, and forged or absent tokens are refused, each
//! with its own error.

use std::sync::Arc;

use runtime_core::bridge::Bridge;
use runtime_core::sandbox::{CallFuture, CallHandler};
use serde_json::{json, Value};

struct Echo;

impl CallHandler for Echo {
    fn call(&self, op: String, args: Value) -> CallFuture {
        Box::pin(async move { Ok(json!({ "op": op, "args": args })) })
    }
}

async fn call(url: &str, token: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .post(format!("{url}/v1/call"))
        .json(&json!({ "op": "db.findOne", "args": { "x": 1 } }));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

/// An HTTP 400 whose error starts with `prefix`.
async fn expect_bad_request(res: reqwest::Response, prefix: &str) {
    assert_eq!(res.status().as_u16(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(
        body["error"].as_str().unwrap().starts_with(prefix),
        "{body}"
    );
}

#[tokio::test]
async fn tokens_live_exactly_as_long_as_their_invocation() {
    let bridge = Bridge::start("127.0.0.1:0", None).await.unwrap();
    let url = bridge.url().to_string();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let ticket = bridge.issue(
        Arc::new(Echo),
        tokio::time::Instant::now() + std::time::Duration::from_secs(30),
    );
    let token = ticket.token().to_string();
    let (status, body) = call(&url, Some(&token)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({ "ok": true, "value": { "op": "db.findOne", "args": { "x": 1 } } })
    );

    drop(ticket); // the invocation ended
    let (status, body) = call(&url, Some(&token)).await;
    assert_eq!(status, 401);
    assert_eq!(body["errorCode"], "BRIDGE_TOKEN_EXPIRED");
    assert_eq!(
        body["error"],
        "bridge token expired: its invocation has ended"
    );

    let (id, sig) = token.split_once('.').unwrap();
    let forged = format!("{id}.{}", sig.chars().rev().collect::<String>());
    let (status, body) = call(&url, Some(&forged)).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (401, Some("BRIDGE_TOKEN_INVALID"))
    );
    assert_eq!(
        body["error"],
        "bridge token invalid: not issued by this runtime"
    );
    let (status, body) = call(&url, Some("12345.deadbeef")).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (401, Some("BRIDGE_TOKEN_INVALID"))
    );

    let (status, body) = call(&url, None).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (401, Some("BRIDGE_TOKEN_MISSING"))
    );
    assert_eq!(bridge.live_tokens(), 0);
}

#[tokio::test]
async fn a_token_of_another_bridge_is_invalid_and_bad_requests_are_400() {
    let a = Bridge::start("127.0.0.1:0", None).await.unwrap();
    let b = Bridge::start("127.0.0.1:0", None).await.unwrap();
    let ticket = a.issue(
        Arc::new(Echo),
        tokio::time::Instant::now() + std::time::Duration::from_secs(30),
    );
    let (status, body) = call(b.url(), Some(ticket.token())).await;
    assert_eq!(
        (status, body["errorCode"].as_str()),
        (401, Some("BRIDGE_TOKEN_INVALID"))
    );
    let res = reqwest::Client::new()
        .post(format!("{}/v1/call", a.url()))
        .bearer_auth(ticket.token())
        .body("not json")
        .send()
        .await
        .unwrap();
    expect_bad_request(res, "bridge request is not JSON").await;
}

#[tokio::test]
async fn bridge_urls_must_name_an_ip() {
    let e = Bridge::start("127.0.0.1:0", Some("http://sandbox-host:7070"))
        .await
        .err()
        .unwrap();
    assert_eq!(e.code(), "CONFIG_INVALID");
    assert!(
        e.to_string()
            .contains("must use an IP address, not the host name \"sandbox-host\""),
        "{e}"
    );
    let e = Bridge::start("0.0.0.0:0", None).await.err().unwrap();
    assert!(e.to_string().contains("set RUNTIME_BRIDGE_URL"), "{e}");
}

/// Connections that never send a request are closed after the header
/// timeout, and past `max_connections` a new client waits its turn instead
/// of the host taking one more socket: two silent clients cannot keep a
/// bridge with two slots from serving for longer than that timeout.
#[tokio::test]
async fn silent_connections_are_closed_and_bounded() {
    use runtime_core::bridge::BridgeLimits;
    use runtime_core::egress::EgressPolicy;
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let limits = BridgeLimits {
        max_connections: 2,
        header_timeout: Duration::from_millis(800),
        ..Default::default()
    };
    let bridge = Bridge::start_limited("127.0.0.1:0", None, EgressPolicy::default(), limits)
        .await
        .unwrap();
    let addr = bridge.url().trim_start_matches("http://").to_string();
    let started = Instant::now();
    // One client sends nothing, the other half a request head.
    let mut silent = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut partial = tokio::net::TcpStream::connect(&addr).await.unwrap();
    partial
        .write_all(b"POST /v1/call HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // A real client now waits for a slot, then is served.
    let (status, body) = call(bridge.url(), None).await;
    let waited = started.elapsed();
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["errorCode"], "BRIDGE_TOKEN_MISSING");
    assert!(
        waited >= Duration::from_millis(600),
        "served after {waited:?}: the two silent connections should have held both slots"
    );
    // Both silent connections were closed by the server (end of stream).
    for s in [&mut silent, &mut partial] {
        let mut buf = [0u8; 256];
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf))
            .await
            .expect("closed by the server within the timeout")
            .unwrap_or(0);
        // hyper may answer a half-sent head with 408 before closing.
        let text = String::from_utf8_lossy(&buf[..n]);
        assert!(n == 0 || text.starts_with("HTTP/1.1 408"), "{text}");
    }
}

/// One token's requests are served `calls_per_token` at a time (the others
/// wait before their body is read), and a body over `max_body` is refused
/// with a clear error: one invocation cannot make the host hold many large
/// bodies at once.
#[tokio::test]
async fn one_tokens_requests_and_bodies_are_bounded() {
    use runtime_core::bridge::BridgeLimits;
    use runtime_core::egress::EgressPolicy;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    #[derive(Default)]
    struct Counts {
        now: AtomicUsize,
        peak: AtomicUsize,
    }
    struct Slow(Arc<Counts>);
    impl CallHandler for Slow {
        fn call(&self, _op: String, _args: Value) -> CallFuture {
            let this = self.0.clone();
            Box::pin(async move {
                let n = this.now.fetch_add(1, Ordering::SeqCst) + 1;
                this.peak.fetch_max(n, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
                this.now.fetch_sub(1, Ordering::SeqCst);
                Ok(json!(null))
            })
        }
    }

    let limits = BridgeLimits {
        max_body: 4096,
        calls_per_token: 2,
        ..Default::default()
    };
    let bridge = Bridge::start_limited("127.0.0.1:0", None, EgressPolicy::default(), limits)
        .await
        .unwrap();
    let slow = Arc::new(Counts::default());
    let ticket = bridge.issue(
        Arc::new(Slow(slow.clone())),
        tokio::time::Instant::now() + Duration::from_secs(30),
    );
    let client = reqwest::Client::new();
    let post = |body: Value| {
        client
            .post(format!("{}/v1/call", bridge.url()))
            .bearer_auth(ticket.token())
            .json(&body)
            .send()
    };
    let calls = (0..6).map(|_| post(json!({ "op": "db.findOne", "args": {} })));
    for res in futures_util::future::join_all(calls).await {
        assert_eq!(res.unwrap().status().as_u16(), 200);
    }
    assert_eq!(
        slow.peak.load(Ordering::SeqCst),
        2,
        "requests served at once"
    );

    let res = post(json!({ "op": "db.insertOne", "args": { "doc": { "x": "y".repeat(5000) } } }))
        .await
        .unwrap();
    expect_bad_request(
        res,
        "bridge request body over 4096 bytes (RUNTIME_MAX_RESULT_BYTES plus 1 MiB) or unreadable",
    )
    .await;
}
