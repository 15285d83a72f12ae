//! The bridge: a small HTTP/1 server through which code in a remote sandbox
//! reaches `cloud.*`. Each invocation gets a [`Ticket`] whose token is
//! `<id>.<HMAC-SHA256(secret, id)>`: a token we did not sign is *invalid*, a
//! signed one whose invocation has ended (its ticket dropped) is *expired*,
//! and neither can reach any Cloud. Server credentials never leave the host:
//! the sandbox only ever holds the token.
//!
//! Routes, both with `Authorization: Bearer <token>` (HTTP 401 for token
//! problems, 400 for bad requests, 200 otherwise, so the sandbox sees the
//! SDK's own error as `{ ok: false, error, errorCode, serverCode?, codeName? }`):
//!
//! - `POST /v1/call`, JSON `{ op, args }` → `{ ok: true, value }`.
//! - `POST /v1/fetch`, JSON `{ url, method, headers: [[k, v]…], body: base64? }`
//!   → `{ ok: true, status, statusText, headers, body: base64, url,
//!   redirected }`: a function's own `fetch`, performed by the host under the
//!   [`EgressPolicy`] and bounded by the invocation's deadline. The bridge's
//!   own address is always refused.
//!
//! Anyone who can reach its port can open connections, sandboxed code
//! included, so it holds at most [`BridgeLimits::max_connections`] at once
//! (more wait in the listen backlog) and closes a connection that has not
//! sent a whole request head within [`BridgeLimits::header_timeout`].

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::sync::watch;

use tokio::time::Instant;

use crate::egress::{EgressPolicy, EgressRequest};
use crate::error::{Error, Result};
use crate::sandbox::CallHandler;

/// What one client may hold of the bridge.
#[derive(Debug, Clone, Copy)]
pub struct BridgeLimits {
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// How long a connection may take to send a request head (and how long
    /// an idle keep-alive connection stays open).
    pub header_timeout: std::time::Duration,
    /// Largest request body read (the engine: `RUNTIME_MAX_RESULT_BYTES`
    /// plus 1 MiB, what a local worker's call frame may carry).
    pub max_body: usize,
    /// Requests of one token served at once (the engine:
    /// `RUNTIME_MAX_CONCURRENT_CALLS`); the others wait before their body
    /// is read, so one invocation holds at most this many bodies in memory.
    pub calls_per_token: usize,
}

impl Default for BridgeLimits {
    fn default() -> Self {
        BridgeLimits {
            max_connections: 1024,
            header_timeout: std::time::Duration::from_secs(10),
            max_body: 64 * 1024 * 1024,
            calls_per_token: 16,
        }
    }
}

type HmacSha256 = Hmac<Sha256>;

pub struct Bridge {
    url: String,
    addr: SocketAddr,
    inner: Arc<Inner>,
    shutdown: watch::Sender<bool>,
}

struct Inner {
    secret: [u8; 32],
    next: AtomicU64,
    // std Mutex: held only to insert, remove or clone an entry.
    live: Mutex<HashMap<u64, Live>>,
    egress: EgressPolicy,
    limits: BridgeLimits,
}

/// What a live token opens: the invocation's calls, until its deadline.
#[derive(Clone)]
struct Live {
    handler: Arc<dyn CallHandler>,
    deadline: Instant,
    /// `calls_per_token` permits.
    slots: Arc<tokio::sync::Semaphore>,
}

/// The capability of one invocation; dropping it ends the token.
pub struct Ticket {
    id: u64,
    token: String,
    inner: Weak<Inner>,
}

impl Ticket {
    pub fn token(&self) -> &str {
        &self.token
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.upgrade() {
            if let Ok(mut live) = inner.live.lock() {
                live.remove(&self.id);
            }
        }
    }
}

/// Checks that a URL handed to a sandbox names its host by IP address: the
/// Dify node runner is killed by any DNS lookup.
pub fn check_ip_url(var: &str, url: &str) -> Result<()> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| Error::Config(format!("{var}={url:?} must start with http://")))?;
    let authority = rest.split('/').next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(authority)
    };
    host.parse::<IpAddr>().map(|_| ()).map_err(|_| {
        Error::Config(format!(
            "{var}={url:?} must use an IP address, not the host name {host:?}: the Dify Sandbox kills any process that does a DNS lookup"
        ))
    })
}

impl Bridge {
    /// Binds `bind` (e.g. `127.0.0.1:0`) and serves until dropped. `public_url`
    /// is how a sandbox reaches it; derived from the bound address when None.
    pub async fn start(bind: &str, public_url: Option<&str>) -> Result<Bridge> {
        Self::start_with(bind, public_url, EgressPolicy::default()).await
    }

    /// As [`Bridge::start`], with the policy of `/v1/fetch`. The bridge's own
    /// addresses are added to the policy's refusals.
    pub async fn start_with(
        bind: &str,
        public_url: Option<&str>,
        egress: EgressPolicy,
    ) -> Result<Bridge> {
        Self::start_limited(bind, public_url, egress, BridgeLimits::default()).await
    }

    /// As [`Bridge::start_with`], holding connections within `limits`.
    pub async fn start_limited(
        bind: &str,
        public_url: Option<&str>,
        egress: EgressPolicy,
        limits: BridgeLimits,
    ) -> Result<Bridge> {
        let listener = TcpListener::bind(bind).await.map_err(|e| {
            Error::Config(format!("RUNTIME_BRIDGE_BIND={bind:?}: cannot listen: {e}"))
        })?;
        let addr = listener.local_addr()?;
        let url = match public_url {
            Some(u) => {
                check_ip_url("RUNTIME_BRIDGE_URL", u)?;
                u.trim_end_matches('/').to_string()
            }
            None if addr.ip().is_unspecified() => {
                return Err(Error::Config(format!(
                    "RUNTIME_BRIDGE_BIND={bind:?} listens on all interfaces: set RUNTIME_BRIDGE_URL to http://<this host's IP as the sandbox sees it>:{}",
                    addr.port()
                )))
            }
            None => format!("http://{addr}"),
        };
        let mut secret = [0u8; 32];
        getrandom::fill(&mut secret)
            .map_err(|e| Error::Io(format!("no OS randomness for bridge tokens: {e}")))?;
        let mut egress = egress.deny(addr);
        if let Some(public) = url
            .strip_prefix("http://")
            .and_then(|r| r.split('/').next())
            .and_then(|a| a.parse::<SocketAddr>().ok())
        {
            egress = egress.deny(public);
        }
        let inner = Arc::new(Inner {
            secret,
            next: AtomicU64::new(1),
            live: Mutex::new(HashMap::new()),
            egress,
            limits,
        });
        let (shutdown, mut stop) = watch::channel(false);
        let serving = inner.clone();
        let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
        tokio::spawn(async move {
            loop {
                // A slot first: past the limit, connections wait unaccepted.
                let slot = tokio::select! {
                    s = slots.clone().acquire_owned() => s,
                    _ = stop.changed() => break,
                };
                let Ok(slot) = slot else { break };
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    _ = stop.changed() => break,
                };
                let Ok((stream, _)) = accepted else { continue };
                let inner = serving.clone();
                let mut stop = stop.clone();
                tokio::spawn(async move {
                    let _slot = slot;
                    let svc = hyper::service::service_fn(move |req| {
                        let inner = inner.clone();
                        async move { Ok::<_, Infallible>(handle(inner, req).await) }
                    });
                    let conn = hyper::server::conn::http1::Builder::new()
                        .timer(hyper_util::rt::TokioTimer::new())
                        .header_read_timeout(limits.header_timeout)
                        .serve_connection(TokioIo::new(stream), svc);
                    let mut conn = std::pin::pin!(conn);
                    tokio::select! {
                        _ = conn.as_mut() => {}
                        _ = stop.changed() => conn.as_mut().graceful_shutdown(),
                    }
                });
            }
        });
        Ok(Bridge {
            url,
            addr,
            inner,
            shutdown,
        })
    }

    /// The URL a sandbox uses to reach the bridge.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Mints the token of one invocation; its `fetch`es end by `deadline`.
    pub fn issue(&self, handler: Arc<dyn CallHandler>, deadline: Instant) -> Ticket {
        let id = self.inner.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut live) = self.inner.live.lock() {
            let slots = Arc::new(tokio::sync::Semaphore::new(
                self.inner.limits.calls_per_token.max(1),
            ));
            live.insert(
                id,
                Live {
                    handler,
                    deadline,
                    slots,
                },
            );
        }
        Ticket {
            id,
            token: format!("{id}.{}", self.inner.sign(id)),
            inner: Arc::downgrade(&self.inner),
        }
    }

    /// Invocations currently holding a token.
    pub fn live_tokens(&self) -> usize {
        self.inner.live.lock().map(|l| l.len()).unwrap_or(0)
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

impl Inner {
    fn mac(&self, id: u64) -> HmacSha256 {
        // HMAC accepts keys of any length, so this cannot fail.
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.secret).expect("HMAC takes any key length");
        mac.update(&id.to_be_bytes());
        mac
    }

    fn sign(&self, id: u64) -> String {
        self.mac(id)
            .finalize()
            .into_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    fn check(&self, token: Option<&str>) -> Result<Live> {
        let token = token.filter(|t| !t.is_empty()).ok_or(Error::TokenMissing)?;
        let (id, sig) = token.split_once('.').ok_or(Error::TokenInvalid)?;
        let id: u64 = id.parse().map_err(|_| Error::TokenInvalid)?;
        let sig = decode_hex(sig).ok_or(Error::TokenInvalid)?;
        // Constant-time comparison.
        self.mac(id)
            .verify_slice(&sig)
            .map_err(|_| Error::TokenInvalid)?;
        self.live
            .lock()
            .ok()
            .and_then(|l| l.get(&id).cloned())
            .ok_or(Error::TokenExpired)
    }
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn reply(status: StatusCode, body: Value) -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from(body.to_string())));
    *res.status_mut() = status;
    res.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    res
}

fn error_body(e: &Error) -> Value {
    let mut v = json!({ "ok": false, "error": e.to_string(), "errorCode": e.code() });
    if let Some((c, name)) = e.server_code() {
        v["serverCode"] = Value::from(c);
        if let Some(n) = name {
            v["codeName"] = Value::from(n);
        }
    }
    v
}

async fn handle(inner: Arc<Inner>, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let fetch = match (req.method(), req.uri().path()) {
        (&hyper::Method::POST, "/v1/call") => false,
        (&hyper::Method::POST, "/v1/fetch") => true,
        _ => {
            return reply(
                StatusCode::NOT_FOUND,
                json!({ "ok": false, "error": "not found: the bridge serves POST /v1/call and POST /v1/fetch", "errorCode": "NOT_FOUND" }),
            )
        }
    };
    let token = req
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.strip_prefix("Bearer ").unwrap_or(v).trim().to_string());
    let live = match inner.check(token.as_deref()) {
        Ok(l) => l,
        Err(e) => return reply(StatusCode::UNAUTHORIZED, error_body(&e)),
    };
    // A slot of this invocation before its body is read: waiting past the
    // deadline means the invocation is over.
    let slot = tokio::time::timeout_at(live.deadline, live.slots.clone().acquire_owned()).await;
    let Ok(Ok(_slot)) = slot else {
        return reply(StatusCode::UNAUTHORIZED, error_body(&Error::TokenExpired));
    };
    let max_body = inner.limits.max_body;
    let body = match Limited::new(req.into_body(), max_body).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let e = Error::invalid(format!(
                "bridge request body over {max_body} bytes (RUNTIME_MAX_RESULT_BYTES plus 1 MiB) or unreadable: {e}"
            ));
            return reply(StatusCode::BAD_REQUEST, error_body(&e));
        }
    };
    if fetch {
        let req = serde_json::from_slice::<Value>(&body)
            .map_err(|e| Error::invalid(format!("bridge fetch request is not JSON: {e}")))
            .and_then(|v| EgressRequest::from_json(&v));
        return match req {
            Ok(r) => match inner.egress.fetch(r, live.deadline).await {
                Ok(res) => {
                    let mut v = res.to_json();
                    v["ok"] = json!(true);
                    reply(StatusCode::OK, v)
                }
                Err(e) => reply(StatusCode::OK, error_body(&e)),
            },
            Err(e) => reply(StatusCode::BAD_REQUEST, error_body(&e)),
        };
    }
    let parsed: Result<(String, Value)> = serde_json::from_slice::<Value>(&body)
        .map_err(|e| Error::invalid(format!("bridge request is not JSON: {e}")))
        .and_then(|mut v| {
            let op = v
                .get("op")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(|| Error::invalid("bridge request needs a string 'op'"))?;
            Ok((
                op,
                v.get_mut("args").map(Value::take).unwrap_or(Value::Null),
            ))
        });
    let (op, args) = match parsed {
        Ok(p) => p,
        Err(e) => return reply(StatusCode::BAD_REQUEST, error_body(&e)),
    };
    match live.handler.call(op, args).await {
        Ok(value) => reply(StatusCode::OK, json!({ "ok": true, "value": value })),
        Err(e @ (Error::TokenExpired | Error::TokenInvalid | Error::TokenMissing)) => {
            reply(StatusCode::UNAUTHORIZED, error_body(&e))
        }
        Err(e) => reply(StatusCode::OK, error_body(&e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bridge_urls_must_be_ip_literals() {
        assert!(check_ip_url("V", "http://10.0.0.5:7070").is_ok());
        assert!(check_ip_url("V", "http://[::1]:7070/").is_ok());
        let e = check_ip_url("RUNTIME_BRIDGE_URL", "http://host.docker.internal:7070").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid configuration: RUNTIME_BRIDGE_URL=\"http://host.docker.internal:7070\" must use an IP address, not the host name \"host.docker.internal\": the Dify Sandbox kills any process that does a DNS lookup"
        );
        assert!(check_ip_url("V", "https://10.0.0.5")
            .unwrap_err()
            .to_string()
            .contains("must start with http://"));
    }
}
