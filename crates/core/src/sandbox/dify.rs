//! The dify backend: runs a [`Job`] in a remote Dify Sandbox
//! (`POST {SANDBOX_URL}/v1/sandbox/run`), as the real server behaves (see
//! DIFY-SANDBOX.md): both response shapes, an empty-bodied 401, 503 when
//! busy (safe to retry: the code did not run), no output limit (we cap what
//! we read), the server's own timeout and seccomp kills.
//!
//! The program sent is the prelude plus `sandbox/dify.js` plus one call with
//! the job's data; logs and the result come back as nonce-tagged stdout
//! frames, and `cloud.*` calls come through the [`Bridge`] with the
//! invocation's token.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::{sleep, Instant};

use super::{json_null, FailureKind, Job, LogBuffer, Outcome, PRELUDE_JS};
use crate::bridge::Bridge;
use crate::error::{error_chain, Error, Result};

/// The Dify driver (appended to the prelude).
pub const DIFY_JS: &str = include_str!("../../../../sandbox/dify.js");

/// Time allowed beyond the function's timeout for the round trip and the
/// server's own process start (~70 ms for node). A function that blocks its
/// event loop cannot stop itself, so past this the client gives up and
/// reports the timeout; the server's `worker_timeout` kills the process.
const CLIENT_MARGIN: Duration = Duration::from_millis(1000);

/// Longest wait between two tries after a 503: the server's queue drains at
/// its workers' pace, so doubling without a cap would sleep past the moment
/// it has room (and past the deadline).
const MAX_BACKOFF: Duration = Duration::from_secs(2);

pub struct DifyConfig {
    pub url: String,
    pub api_key: String,
    pub retries: u32,
    pub max_response_bytes: usize,
    /// The time zone the program sets before user code runs.
    pub tz: String,
}

pub struct DifyClient {
    http: reqwest::Client,
    config: DifyConfig,
    bridge: Arc<Bridge>,
    /// The prelude and driver, built once.
    program_head: String,
}

#[derive(Deserialize)]
struct Envelope {
    code: i64,
    #[serde(default)]
    message: String,
    data: Option<RunData>,
}

/// Both shapes: releases up to 0.2.15 send only `stdout` and `error` (with
/// stderr folded into `error`).
#[derive(Deserialize, Default)]
struct RunData {
    #[serde(default)]
    stdout: String,
    #[serde(default)]
    stderr: Option<String>,
    #[serde(default)]
    error: String,
    #[serde(default)]
    exit_code: Option<i64>,
}

impl DifyClient {
    pub fn new(config: DifyConfig, bridge: Arc<Bridge>) -> Result<Self> {
        if !config.url.starts_with("http://") && !config.url.starts_with("https://") {
            return Err(Error::Config(format!(
                "SANDBOX_URL={:?} must be an http:// or https:// URL",
                config.url
            )));
        }
        let http = reqwest::Client::builder()
            .pool_idle_timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| Error::Config(format!("cannot build the HTTP client: {e}")))?;
        Ok(DifyClient {
            http,
            config,
            bridge,
            program_head: format!("{PRELUDE_JS}\n{DIFY_JS}\n"),
        })
    }

    pub fn bridge(&self) -> &Bridge {
        &self.bridge
    }

    /// The full program of one run.
    pub fn program(&self, job: &Job, nonce: &str, token: &str) -> String {
        let cfg = json!({
            "nonce": nonce,
            "token": token,
            "bridgeUrl": self.bridge.url(),
            "name": &*job.name,
            "code": &*job.code,
            "ctx": &job.ctx,
            "env": &*job.env,
            "logCap": job.log_cap,
            "maxResult": job.max_result,
            "timeoutMs": job.timeout_ms,
            "tz": &self.config.tz,
        });
        // JSON is a JavaScript expression; U+2028/9 are legal in both since ES2019.
        format!("{}__difyMain({cfg});\n", self.program_head)
    }

    pub async fn run(&self, job: &Job) -> Result<Outcome> {
        let started = Instant::now();
        let deadline = job.deadline_from_now();
        job.calls.started(deadline);
        let ticket = self.bridge.issue(job.calls.clone(), deadline);
        let nonce = format!("\u{1e}{}:", random_hex(12));
        let body = json!({
            "language": "nodejs",
            "code": self.program(job, &nonce, ticket.token()),
            "preload": "",
            "enable_network": true,
        });
        let mut outcome = match self.post_with_retries(&body, job, deadline).await {
            Ok(data) => parse_output(data, &nonce, job),
            // What the user code did, as on the local pool: not an API error.
            Err(Error::Timeout { ms }) => Outcome::timeout(Vec::new(), ms),
            Err(e) => return Err(e),
        };
        drop(ticket);
        outcome.run_ms = started.elapsed().as_secs_f64() * 1000.0;
        Ok(outcome)
    }

    /// Sends the run, retrying only 503 (the server did not run the code).
    async fn post_with_retries(
        &self,
        body: &Value,
        job: &Job,
        deadline: Instant,
    ) -> Result<RunData> {
        let url = format!("{}/v1/sandbox/run", self.config.url);
        let mut backoff = Duration::from_millis(100);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = deadline.saturating_duration_since(Instant::now());
            let sent = self
                .http
                .post(&url)
                .header("X-Api-Key", &self.config.api_key)
                .json(body)
                .timeout(remaining + CLIENT_MARGIN)
                .send()
                .await;
            let mut res = match sent {
                Ok(r) => r,
                Err(e) if e.is_timeout() => return Err(Error::Timeout { ms: job.timeout_ms }),
                Err(e) => {
                    return Err(Error::SandboxUnreachable {
                        url: self.config.url.clone(),
                        cause: error_chain(&e),
                    })
                }
            };
            let status = res.status().as_u16();
            if status == 503 && attempt <= self.config.retries {
                // Jitter, so that callers turned away together do not all
                // come back in the same instant.
                let wait = jittered(backoff);
                if Instant::now() + wait < deadline {
                    sleep(wait).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
            let bytes = read_capped(
                &mut res,
                self.config.max_response_bytes,
                &self.config.url,
                job,
            )
            .await?;
            return match status {
                401 => Err(Error::SandboxAuth),
                503 => Err(Error::SandboxBusy { attempts: attempt }),
                200 | 400 => {
                    let env: Envelope = serde_json::from_slice(&bytes).map_err(|e| {
                        Error::Protocol(format!(
                            "the Dify Sandbox answered HTTP {status} with an unreadable body ({e}): {}",
                            String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                        ))
                    })?;
                    if env.code == 0 {
                        env.data.ok_or_else(|| {
                            Error::Protocol("the Dify Sandbox answered success without data".into())
                        })
                    } else if env.message.to_lowercase().contains("network") {
                        Err(Error::SandboxNetworkDisabled(env.message))
                    } else {
                        Err(Error::Sandbox(format!(
                            "{} (code {})",
                            env.message, env.code
                        )))
                    }
                }
                other => Err(Error::Sandbox(format!(
                    "HTTP {other}: {}",
                    String::from_utf8_lossy(&bytes[..bytes.len().min(200)])
                ))),
            };
        }
    }
}

/// Reads the body, refusing more than `cap` bytes so memory stays bounded
/// (the real server has no output limit).
async fn read_capped(
    res: &mut reqwest::Response,
    cap: usize,
    url: &str,
    job: &Job,
) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        match res.chunk().await {
            Ok(Some(chunk)) => {
                if out.len() + chunk.len() > cap {
                    return Err(Error::OutputTooLarge { limit: cap });
                }
                out.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(out),
            Err(e) if e.is_timeout() => return Err(Error::Timeout { ms: job.timeout_ms }),
            Err(e) => {
                return Err(Error::SandboxUnreachable {
                    url: url.to_string(),
                    cause: error_chain(&e),
                })
            }
        }
    }
}

#[derive(Deserialize)]
struct ResultFrame {
    // Raw: a result of any depth stays text until JavaScript parses it.
    data: Option<Box<serde_json::value::RawValue>>,
    #[serde(default)]
    failed: bool,
    error: Option<String>,
    stack: Option<String>,
    kind: Option<FailureKind>,
}

/// Turns the run's output into the same [`Outcome`] the local pool gives.
fn parse_output(data: RunData, nonce: &str, job: &Job) -> Outcome {
    // The server answers once the run is over: lines reach a sink then.
    let mut logs = LogBuffer::streaming(job.log_cap, job.on_log.clone());
    let mut result: Option<ResultFrame> = None;
    for line in data.stdout.split('\n') {
        let Some(frame) = line.strip_prefix(nonce) else {
            continue;
        };
        if let Some(l) = frame.strip_prefix('L') {
            if let Ok(text) = serde_json::from_str::<String>(l) {
                logs.push(text);
            }
        } else if let Some(r) = frame.strip_prefix('R') {
            result = serde_json::from_str(r).ok();
        }
    }
    if let Some(r) = result {
        return if r.failed {
            Outcome::failed(
                logs.lines,
                r.kind.unwrap_or(FailureKind::FunctionThrew),
                r.error.unwrap_or_else(|| "Function failed".into()),
            )
            .with_stack(r.stack)
        } else {
            Outcome::ok(r.data.unwrap_or_else(json_null), logs.lines)
        };
    }
    // No result frame: the server stopped the process.
    let error = data.error.trim_end();
    if error.ends_with("error: timeout") {
        return Outcome::timeout(logs.lines, job.timeout_ms);
    }
    if error.contains("operation not permitted") {
        return Outcome::failed(
            logs.lines,
            FailureKind::Blocked,
            "The Dify Sandbox killed the function for a blocked system call (operation not permitted). Likely cause: \
             a Node API whose system call the runner's allow-list lacks, such as require('inspector').open() or \
             v8.writeHeapSnapshot()"
                .into(),
        );
    }
    let stderr = data.stderr.as_deref().unwrap_or(error).trim();
    let tail: Vec<&str> = stderr.lines().rev().take(5).collect();
    Outcome::failed(
        logs.lines,
        FailureKind::Crashed,
        format!(
            "Function crashed its sandbox process (exit code {}){}",
            data.exit_code
                .map(|c| c.to_string())
                .unwrap_or_else(|| "unknown".into()),
            if tail.is_empty() {
                String::new()
            } else {
                format!(
                    ": {}",
                    tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
                )
            }
        ),
    )
}

/// `base` scaled by a random factor in [0.5, 1.5).
fn jittered(base: Duration) -> Duration {
    let mut b = [0u8; 2];
    let _ = getrandom::fill(&mut b);
    base.mul_f64(0.5 + f64::from(u16::from_le_bytes(b)) / 65536.0)
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    let _ = getrandom::fill(&mut b);
    b.iter().map(|x| format!("{x:02x}")).collect()
}
