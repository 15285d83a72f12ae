//! Egress: the outbound HTTP a function may make with its own `fetch`,
//! performed by the host under one policy. The dify backend routes a
//! sandboxed `fetch` through the bridge to here; the local pool can use the
//! same [`EgressPolicy::fetch`].
//!
//! By default a request may reach only public addresses: loopback, private
//! (RFC 1918), link-local, CGNAT (100.64.0.0/10), IPv6 unique-local and
//! link-local, unspecified, multicast, reserved and the cloud-metadata
//! addresses are refused. The check is made on the address the host name
//! *resolves to*, once, and the connection is pinned to that address, so a
//! name that resolves to a public address at the check and to a private one
//! at the connection (DNS rebinding) cannot slip through. Every redirect hop
//! is resolved and checked again.
//!
//! - `RUNTIME_EGRESS=off` refuses every request.
//! - `RUNTIME_EGRESS_ALLOW=host[:port],CIDR,…` opens exceptions: a host name
//!   (any address it resolves to), an IP or CIDR range, each with an
//!   optional port (`127.0.0.1:8080`, `10.0.0.0/8`, `[::1]:3000`).
//! - Addresses given to [`EgressPolicy::deny`] (the bridge's own) are
//!   refused even when an exception covers them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use ipnet::IpNet;
use reqwest::Url;
use tokio::time::Instant;

use crate::error::{error_chain, Error, Result};

/// Redirects followed before giving up (as browsers and undici do).
const MAX_REDIRECTS: usize = 20;
/// Default cap on one response body.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// Who may be reached, read once from the environment.
#[derive(Debug, Clone)]
pub struct EgressPolicy {
    enabled: bool,
    allow: Vec<Rule>,
    deny: Vec<SocketAddr>,
    max_response_bytes: usize,
    clients: Clients,
}

/// HTTP clients kept between fetches, so connections are reused (building
/// a client and a TCP connection per fetch cost more than the request).
/// One per (host name, checked address): a host name's connections are
/// pinned to the address the policy checked, so reuse cannot rebind it.
#[derive(Debug, Clone, Default)]
struct Clients(
    std::sync::Arc<
        std::sync::Mutex<std::collections::HashMap<(String, SocketAddr), reqwest::Client>>,
    >,
);

impl Clients {
    /// Kept clients at most; past it the cache starts over.
    const MAX: usize = 256;

    fn get(&self, pinned: Option<&str>, addr: SocketAddr) -> Result<reqwest::Client> {
        let key = (pinned.unwrap_or("").to_string(), addr);
        if let Ok(map) = self.0.lock() {
            if let Some(c) = map.get(&key) {
                return Ok(c.clone());
            }
        }
        let mut builder = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy();
        if let Some(host) = pinned {
            // Pinned: the connection goes to the address we checked.
            builder = builder.resolve(host, addr);
        }
        let client = builder
            .build()
            .map_err(|e| Error::EgressFailed(format!("cannot build the HTTP client: {e}")))?;
        if let Ok(mut map) = self.0.lock() {
            if map.len() >= Self::MAX {
                map.clear();
            }
            map.insert(key, client.clone());
        }
        Ok(client)
    }
}

/// One `RUNTIME_EGRESS_ALLOW` entry.
#[derive(Debug, Clone, PartialEq)]
enum Rule {
    Host { host: String, port: Option<u16> },
    Net { net: IpNet, port: Option<u16> },
}

/// What Node's fetch sends unless the caller set it: some APIs refuse a
/// request without a User-Agent. `accept-encoding` is Node's own, so that
/// reqwest does not offer `br` and `zstd` on its own; it decodes gzip,
/// deflate, br and zstd bodies whoever asked for them, as Node's fetch does.
const NODE_FETCH_HEADERS: [(&str, &str); 5] = [
    ("accept", "*/*"),
    ("accept-encoding", "gzip, deflate"),
    ("accept-language", "*"),
    ("sec-fetch-mode", "cors"),
    ("user-agent", "node"),
];

/// A request as `fetch` describes it.
#[derive(Debug, Clone, Default)]
pub struct EgressRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub redirect: RedirectMode,
}

/// `fetch`'s `redirect` option.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RedirectMode {
    /// Follow each hop, checking it against the policy.
    #[default]
    Follow,
    /// Hand the 3xx response back as it is (Node's fetch does; a browser
    /// would make it opaque).
    Manual,
    /// A redirect fails the fetch.
    Error,
}

/// The final response (after redirects).
#[derive(Debug, Clone)]
pub struct EgressResponse {
    pub status: u16,
    pub status_text: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The URL of the response (the last hop).
    pub url: String,
    pub redirected: bool,
}

impl EgressRequest {
    /// Reads `{ url, method, headers: [[k, v]…], body: base64? }`, as
    /// `fetch` in a sandbox sends it (over a worker pipe or the bridge).
    pub fn from_json(v: &serde_json::Value) -> Result<Self> {
        use base64::Engine as _;
        let url = v
            .get("url")
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| Error::invalid("fetch request needs a string 'url'"))?;
        let headers = v
            .get("headers")
            .and_then(serde_json::Value::as_array)
            .map(|hs| {
                hs.iter()
                    .filter_map(|h| {
                        Some((
                            h.get(0)?.as_str()?.to_string(),
                            h.get(1)?.as_str()?.to_string(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let body = match v.get("body").and_then(serde_json::Value::as_str) {
            Some(b) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .map_err(|e| Error::invalid(format!("fetch request body is not base64: {e}")))?,
            None => Vec::new(),
        };
        let redirect = match v.get("redirect").and_then(serde_json::Value::as_str) {
            None | Some("follow") => RedirectMode::Follow,
            Some("manual") => RedirectMode::Manual,
            Some("error") => RedirectMode::Error,
            Some(other) => {
                return Err(Error::invalid(format!(
                    "fetch request redirect must be 'follow', 'manual' or 'error', not {other:?}"
                )))
            }
        };
        Ok(EgressRequest {
            redirect,
            method: v
                .get("method")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("GET")
                .to_string(),
            url: url.to_string(),
            headers,
            body,
        })
    }
}

impl EgressResponse {
    /// `{ status, statusText, headers, body: base64, url, redirected }`.
    pub fn to_json(&self) -> serde_json::Value {
        use base64::Engine as _;
        serde_json::json!({
            "status": self.status,
            "statusText": self.status_text,
            "headers": self.headers,
            "body": base64::engine::general_purpose::STANDARD.encode(&self.body),
            "url": self.url,
            "redirected": self.redirected,
        })
    }
}

impl Default for EgressPolicy {
    fn default() -> Self {
        EgressPolicy {
            enabled: true,
            allow: Vec::new(),
            deny: Vec::new(),
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            clients: Clients::default(),
        }
    }
}

/// Why an address is not public, or None when it is.
pub fn non_public(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => non_public_v4(v4),
        IpAddr::V6(v6) => non_public_v6(v6),
    }
}

fn non_public_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    Some(match o {
        [169, 254, 169, 254] => "cloud-metadata",
        [127, ..] => "loopback",
        [0, ..] => "unspecified",
        [10, ..] | [192, 168, ..] => "private (RFC 1918)",
        [172, b, ..] if (16..32).contains(&b) => "private (RFC 1918)",
        [169, 254, ..] => "link-local",
        [100, b, ..] if (64..128).contains(&b) => "carrier-grade NAT (100.64.0.0/10)",
        [192, 0, 0, _] => "IETF protocol assignment",
        [198, 18 | 19, ..] => "benchmarking",
        [224..=239, ..] => "multicast",
        [240..=255, ..] => "reserved",
        _ => return None,
    })
}

fn non_public_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254) {
        return Some("cloud-metadata");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    // IPv4 inside IPv6: mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96), 6to4 (2002::/16).
    if let Some(v4) = ip.to_ipv4_mapped() {
        return non_public_v4(v4);
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return non_public_v4(Ipv4Addr::new(
            (s[6] >> 8) as u8,
            s[6] as u8,
            (s[7] >> 8) as u8,
            s[7] as u8,
        ));
    }
    if s[0] == 0x2002 {
        return non_public_v4(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    Some(match s[0] {
        x if x & 0xfe00 == 0xfc00 => "unique-local (fc00::/7)",
        x if x & 0xffc0 == 0xfe80 => "link-local",
        x if x & 0xffc0 == 0xfec0 => "site-local",
        x if x & 0xff00 == 0xff00 => "multicast",
        // ::/96 (IPv4-compatible, deprecated) and the rest of ::/8.
        0 => "reserved",
        _ => return None,
    })
}

impl EgressPolicy {
    pub fn from_env() -> Result<Self> {
        Self::from_lookup(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()))
    }

    /// Reads `RUNTIME_EGRESS` and `RUNTIME_EGRESS_ALLOW` through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let mut p = EgressPolicy::default();
        if let Some(v) = get("RUNTIME_EGRESS") {
            p.enabled = match v.trim() {
                "off" => false,
                "on" => true,
                other => {
                    return Err(Error::Config(format!(
                        "RUNTIME_EGRESS={other:?}: expected 'on' or 'off'"
                    )))
                }
            };
        }
        if let Some(v) = get("RUNTIME_EGRESS_ALLOW") {
            for entry in v.split(',').map(str::trim).filter(|e| !e.is_empty()) {
                p.allow.push(parse_rule(entry)?);
            }
        }
        Ok(p)
    }

    /// Refuses `addr` whatever the exceptions say (the bridge's own address).
    pub fn deny(mut self, addr: SocketAddr) -> Self {
        self.deny.push(addr);
        self
    }

    pub fn with_max_response_bytes(mut self, n: usize) -> Self {
        self.max_response_bytes = n;
        self
    }

    /// Checks one resolved address of `host`.
    pub fn check(&self, url: &str, host: &str, addr: SocketAddr) -> Result<()> {
        let ip = canonical(addr.ip());
        if self.deny.iter().any(|d| {
            d.port() == addr.port() && (canonical(d.ip()) == ip || d.ip().is_unspecified())
        }) {
            return Err(Error::EgressRefused(format!(
                "fetch {url} refused: {addr} is the runtime's own bridge, which functions may not call with fetch"
            )));
        }
        if !self.enabled {
            return Err(Error::EgressRefused(format!(
                "fetch {url} refused: outbound requests are off (RUNTIME_EGRESS=off)"
            )));
        }
        let Some(kind) = non_public(ip) else {
            return Ok(());
        };
        if self.allow.iter().any(|r| r.covers(host, ip, addr.port())) {
            return Ok(());
        }
        let named = if host.parse::<IpAddr>().is_ok() || host.starts_with('[') {
            String::new()
        } else {
            format!("{host} resolves to ")
        };
        Err(Error::EgressRefused(format!(
            "fetch {url} refused: {named}{ip}, a {kind} address; functions may reach only public addresses unless RUNTIME_EGRESS_ALLOW lists it (e.g. RUNTIME_EGRESS_ALLOW={})",
            match addr {
                SocketAddr::V4(a) => a.to_string(),
                SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
            }
        )))
    }

    /// Resolves `url`'s host once and returns the first address the policy
    /// allows (the request is then pinned to it), or the refusal of the first.
    pub async fn resolve(&self, url: &Url) -> Result<SocketAddr> {
        let host = url
            .host_str()
            .ok_or_else(|| Error::invalid(format!("fetch {url}: the URL has no host")))?;
        let port = url
            .port_or_known_default()
            .ok_or_else(|| Error::invalid(format!("fetch {url}: the URL has no port")))?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = if let Ok(ip) = bare.parse::<IpAddr>() {
            vec![SocketAddr::new(ip, port)]
        } else {
            if !self.enabled {
                // Refuse before any DNS traffic.
                return Err(Error::EgressRefused(format!(
                    "fetch {url} refused: outbound requests are off (RUNTIME_EGRESS=off)"
                )));
            }
            tokio::net::lookup_host((bare, port))
                .await
                .map_err(|e| {
                    Error::EgressFailed(format!("fetch {url}: cannot resolve {bare}: {e}"))
                })?
                .collect()
        };
        let mut first_refusal = None;
        for a in addrs {
            match self.check(url.as_str(), bare, a) {
                Ok(()) => return Ok(a),
                Err(e) => {
                    first_refusal.get_or_insert(e);
                }
            }
        }
        Err(first_refusal.unwrap_or_else(|| {
            Error::EgressFailed(format!("fetch {url}: {bare} resolves to no address"))
        }))
    }

    /// Performs `req` (following redirects, each hop checked) before
    /// `deadline`, reading at most the policy's response cap.
    pub async fn fetch(&self, req: EgressRequest, deadline: Instant) -> Result<EgressResponse> {
        let mut url = Url::parse(&req.url)
            .map_err(|e| Error::invalid(format!("fetch: invalid URL {:?}: {e}", req.url)))?;
        let mut method = reqwest::Method::from_bytes(req.method.to_uppercase().as_bytes())
            .map_err(|_| Error::invalid(format!("fetch: invalid method {:?}", req.method)))?;
        let mut body = req.body;
        let mut headers = req.headers;
        for (name, value) in NODE_FETCH_HEADERS {
            if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name)) {
                headers.push((name.to_string(), value.to_string()));
            }
        }
        let mut redirected = false;
        for _ in 0..=MAX_REDIRECTS {
            if url.scheme() != "http" && url.scheme() != "https" {
                return Err(Error::invalid(format!(
                    "fetch {url}: only http and https URLs can be fetched"
                )));
            }
            let addr = self.resolve(&url).await?;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(Error::EgressFailed(format!(
                    "fetch {url}: the invocation's time ran out"
                )));
            }
            let pinned = url
                .host_str()
                .filter(|h| h.parse::<IpAddr>().is_err() && !h.starts_with('['));
            let client = self.clients.get(pinned, addr)?;
            let mut rb = client
                .request(method.clone(), url.clone())
                .timeout(remaining);
            for (k, v) in &headers {
                rb = rb.header(k.as_str(), v.as_str());
            }
            if !body.is_empty() {
                rb = rb.body(body.clone());
            }
            let mut res = rb.send().await.map_err(|e| fail(&url, &e))?;
            let status = res.status();
            let location = res
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|l| l.to_str().ok())
                .map(str::to_string);
            let location = location.filter(|_| req.redirect != RedirectMode::Manual);
            if let (true, Some(loc)) = (status.is_redirection(), location) {
                let next = url.join(&loc).map_err(|e| {
                    Error::EgressFailed(format!("fetch {url}: bad redirect Location {loc:?}: {e}"))
                })?;
                if req.redirect == RedirectMode::Error {
                    return Err(Error::EgressFailed(format!(
                        "fetch {url}: unexpected redirect ({status} to {next}) with redirect: 'error'"
                    )));
                }
                // 303, and 301/302 after a POST, become a GET without a body.
                if status == 303
                    || ((status == 301 || status == 302) && method == reqwest::Method::POST)
                {
                    method = reqwest::Method::GET;
                    body.clear();
                    headers.retain(|(k, _)| {
                        !k.eq_ignore_ascii_case("content-type")
                            && !k.eq_ignore_ascii_case("content-length")
                    });
                }
                if next.origin() != url.origin() {
                    headers.retain(|(k, _)| {
                        !k.eq_ignore_ascii_case("authorization")
                            && !k.eq_ignore_ascii_case("cookie")
                    });
                }
                url = next;
                redirected = true;
                continue;
            }
            let mut out = Vec::new();
            while let Some(chunk) = res.chunk().await.map_err(|e| fail(&url, &e))? {
                if out.len() + chunk.len() > self.max_response_bytes {
                    return Err(Error::EgressFailed(format!(
                        "fetch {url}: the response body exceeds {} bytes",
                        self.max_response_bytes
                    )));
                }
                out.extend_from_slice(&chunk);
            }
            return Ok(EgressResponse {
                status: status.as_u16(),
                status_text: status.canonical_reason().unwrap_or("").to_string(),
                headers: res
                    .headers()
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((k.as_str().to_string(), v.to_str().ok()?.to_string()))
                    })
                    .collect(),
                body: out,
                url: url.to_string(),
                redirected,
            });
        }
        Err(Error::EgressFailed(format!(
            "fetch {}: more than {MAX_REDIRECTS} redirects",
            req.url
        )))
    }
}

fn fail(url: &Url, e: &reqwest::Error) -> Error {
    if e.is_timeout() {
        Error::EgressFailed(format!("fetch {url}: the invocation's time ran out"))
    } else {
        Error::EgressFailed(format!("fetch {url}: {}", error_chain(e)))
    }
}

/// `::ffff:a.b.c.d` compares as `a.b.c.d`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

impl Rule {
    fn covers(&self, host: &str, ip: IpAddr, port: u16) -> bool {
        match self {
            Rule::Host { host: h, port: p } => {
                h.eq_ignore_ascii_case(host) && p.is_none_or(|p| p == port)
            }
            Rule::Net { net, port: p } => net.contains(&ip) && p.is_none_or(|p| p == port),
        }
    }
}

fn parse_rule(entry: &str) -> Result<Rule> {
    let bad = || {
        Error::Config(format!(
            "RUNTIME_EGRESS_ALLOW entry {entry:?}: expected host[:port], IP[:port] or CIDR (e.g. api.example.com, 10.1.2.3:8080, [::1]:3000, 10.0.0.0/8)"
        ))
    };
    // [v6]:port or [v6]
    if let Some(rest) = entry.strip_prefix('[') {
        let (ip, after) = rest.split_once(']').ok_or_else(bad)?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| bad())?),
            None if after.is_empty() => None,
            None => return Err(bad()),
        };
        let ip: IpAddr = ip.parse().map_err(|_| bad())?;
        return Ok(Rule::Net {
            net: IpNet::from(ip),
            port,
        });
    }
    if entry.contains('/') {
        return Ok(Rule::Net {
            net: entry.parse().map_err(|_| bad())?,
            port: None,
        });
    }
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Ok(Rule::Net {
            net: IpNet::from(ip),
            port: None,
        });
    }
    let (host, port) = match entry.rsplit_once(':') {
        Some((h, p)) => (h, Some(p.parse::<u16>().map_err(|_| bad())?)),
        None => (entry, None),
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(Rule::Net {
            net: IpNet::from(ip),
            port,
        });
    }
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_')
    {
        return Err(bad());
    }
    Ok(Rule::Host {
        host: host.to_ascii_lowercase(),
        port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allow: &str) -> EgressPolicy {
        EgressPolicy::from_lookup(|k| (k == "RUNTIME_EGRESS_ALLOW").then(|| allow.to_string()))
            .unwrap()
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn a_request_names_its_redirect_mode() {
        let req = |v: serde_json::Value| EgressRequest::from_json(&v);
        let mode = |r: &str| {
            req(serde_json::json!({ "url": "http://a/", "redirect": r })).map(|r| r.redirect)
        };
        assert_eq!(
            req(serde_json::json!({ "url": "http://a/" }))
                .map(|r| r.redirect)
                .ok(),
            Some(RedirectMode::Follow)
        );
        assert_eq!(mode("follow").ok(), Some(RedirectMode::Follow));
        assert_eq!(mode("manual").ok(), Some(RedirectMode::Manual));
        assert_eq!(mode("error").ok(), Some(RedirectMode::Error));
        let e = mode("sideways")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            e.contains(
                "fetch request redirect must be 'follow', 'manual' or 'error', not \"sideways\""
            ),
            "{e}"
        );
    }

    #[test]
    fn non_public_addresses_are_named() {
        for (ip, kind) in [
            ("127.0.0.1", "loopback"),
            ("10.1.2.3", "private (RFC 1918)"),
            ("172.31.0.1", "private (RFC 1918)"),
            ("192.168.1.1", "private (RFC 1918)"),
            ("169.254.1.1", "link-local"),
            ("169.254.169.254", "cloud-metadata"),
            ("100.64.0.1", "carrier-grade NAT (100.64.0.0/10)"),
            ("0.0.0.0", "unspecified"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("fd00:ec2::254", "cloud-metadata"),
            ("fc00::1", "unique-local (fc00::/7)"),
            ("fe80::1", "link-local"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:169.254.169.254", "cloud-metadata"),
            ("64:ff9b::a00:1", "private (RFC 1918)"),
            ("2002:c0a8:101::1", "private (RFC 1918)"),
            ("ff02::1", "multicast"),
        ] {
            assert_eq!(non_public(ip.parse().unwrap()), Some(kind), "{ip}");
        }
        for ip in [
            "93.184.215.14",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
        ] {
            assert_eq!(non_public(ip.parse().unwrap()), None, "{ip}");
        }
    }

    #[test]
    fn refusals_name_the_address_and_the_variable() {
        let p = EgressPolicy::default();
        let e = p
            .check("http://db.internal/x", "db.internal", sa("10.0.0.5:80"))
            .unwrap_err();
        assert_eq!(e.code(), "EGRESS_REFUSED");
        assert_eq!(e.to_string(), "egress refused: fetch http://db.internal/x refused: db.internal resolves to 10.0.0.5, a private (RFC 1918) address; functions may reach only public addresses unless RUNTIME_EGRESS_ALLOW lists it (e.g. RUNTIME_EGRESS_ALLOW=10.0.0.5:80)");
        let e = p
            .check(
                "http://169.254.169.254/",
                "169.254.169.254",
                sa("169.254.169.254:80"),
            )
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("169.254.169.254, a cloud-metadata address"),
            "{e}"
        );
        assert!(p.check("http://x/", "x", sa("93.184.215.14:80")).is_ok());
    }

    #[test]
    fn exceptions_by_host_ip_cidr_and_port() {
        let p = policy("localhost:8080, 10.0.0.0/8 ,[::1]:3000,192.168.1.7");
        assert!(p.check("u", "localhost", sa("127.0.0.1:8080")).is_ok());
        assert!(p.check("u", "localhost", sa("127.0.0.1:8081")).is_err());
        assert!(p.check("u", "a", sa("10.9.9.9:1")).is_ok());
        assert!(p.check("u", "::1", sa("[::1]:3000")).is_ok());
        assert!(p.check("u", "::1", sa("[::1]:3001")).is_err());
        assert!(p.check("u", "h", sa("192.168.1.7:443")).is_ok());
        assert!(p.check("u", "h", sa("192.168.1.8:443")).is_err());
        let e = EgressPolicy::from_lookup(|k| (k == "RUNTIME_EGRESS_ALLOW").then(|| "a b".into()))
            .unwrap_err();
        assert!(
            e.to_string().contains("RUNTIME_EGRESS_ALLOW entry \"a b\""),
            "{e}"
        );
    }

    #[test]
    fn off_refuses_everything_and_the_bridge_is_never_reachable() {
        let off =
            EgressPolicy::from_lookup(|k| (k == "RUNTIME_EGRESS").then(|| "off".into())).unwrap();
        let e = off
            .check("http://x/", "x", sa("93.184.215.14:80"))
            .unwrap_err();
        assert_eq!(e.to_string(), "egress refused: fetch http://x/ refused: outbound requests are off (RUNTIME_EGRESS=off)");
        let p = policy("127.0.0.0/8").deny(sa("127.0.0.1:7070"));
        assert!(p.check("u", "h", sa("127.0.0.1:7071")).is_ok());
        let e = p.check("u", "h", sa("127.0.0.1:7070")).unwrap_err();
        assert!(e.to_string().contains("is the runtime's own bridge"), "{e}");
        assert!(p.check("u", "h", sa("[::ffff:127.0.0.1]:7070")).is_err());
    }
}
