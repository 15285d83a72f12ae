//! A circuit breaker per service (database, storage) of a Cloud.
//!
//! - A call that has not finished after [`SLOW_CALL`] checks whether the
//!   service accepts TCP connections at all; if every address refuses them
//!   (the server is not running), it fails then, instead of waiting out the
//!   driver's server-selection timeout while holding a worker. A slow
//!   answer to that check proves nothing (a busy server is slow), so the
//!   call then goes on.
//! - When a call finds the service unreachable, the breaker opens: later
//!   calls fail at once with the same error. A background task probes the
//!   service's addresses (a TCP connect every [`PROBE_EVERY`]) and closes the
//!   breaker as soon as one answers, so recovery takes well under a second
//!   after the service is back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::error::{Error, Result};

pub const PROBE_EVERY: Duration = Duration::from_millis(200);
/// How long a call runs before its service's reachability is checked.
pub const SLOW_CALL: Duration = Duration::from_millis(300);
const PROBE_CONNECT: Duration = Duration::from_millis(500);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Database,
    Storage,
}

#[derive(Default)]
struct State {
    /// Why the service is considered down; `None` while closed.
    open: Option<String>,
    /// Whether any call has completed yet (for `health()`).
    seen: bool,
}

pub struct Breaker {
    service: Service,
    state: Arc<Mutex<State>>,
}

impl Breaker {
    pub fn new(service: Service) -> Self {
        Breaker {
            service,
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    fn error(service: Service, cause: &str) -> Error {
        let msg = format!(
            "{cause} (failing fast until it answers again; checked every {} ms)",
            PROBE_EVERY.as_millis()
        );
        match service {
            Service::Database => Error::DatabaseUnreachable(msg),
            Service::Storage => Error::StorageUnreachable(msg),
        }
    }

    /// Fails at once while the service is known to be down.
    pub fn check(&self) -> Result<()> {
        match self.state.lock() {
            Ok(s) => match &s.open {
                Some(cause) => Err(Self::error(self.service, cause)),
                None => Ok(()),
            },
            Err(_) => Ok(()),
        }
    }

    /// Runs one call of the service at `targets` (`host:port`) through the
    /// breaker.
    pub async fn run<T>(
        &self,
        targets: impl Fn() -> Vec<String>,
        call: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        self.check()?;
        tokio::pin!(call);
        let r = tokio::select! {
            r = &mut call => r,
            _ = tokio::time::sleep(SLOW_CALL) => {
                let t = targets();
                if !all_refuse(&t).await {
                    call.await
                } else {
                    let what = match self.service {
                        Service::Database => "MongoDB",
                        Service::Storage => "S3",
                    };
                    Err(Self::error(
                        self.service,
                        &format!("no {what} server reachable at {}: connection refused", t.join(",")),
                    ))
                }
            }
        };
        self.record(&r, targets);
        r
    }

    /// Notes a call's result; an unreachable service opens the breaker and
    /// starts probing `targets` (`host:port`) in the background.
    pub fn record<T>(&self, result: &Result<T>, targets: impl FnOnce() -> Vec<String>) {
        let unreachable = match result {
            Err(Error::DatabaseUnreachable(m)) | Err(Error::StorageUnreachable(m)) => Some(m),
            _ => None,
        };
        let Ok(mut s) = self.state.lock() else { return };
        s.seen = true;
        let Some(cause) = unreachable else { return };
        if s.open.is_some() {
            return;
        }
        s.open = Some(cause.clone());
        drop(s);
        let targets = targets();
        let state = Arc::downgrade(&self.state);
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            return;
        };
        rt.spawn(async move {
            loop {
                tokio::time::sleep(PROBE_EVERY).await;
                let Some(state) = state.upgrade() else { return };
                if any_answers(&targets).await {
                    if let Ok(mut s) = state.lock() {
                        s.open = None;
                    }
                    return;
                }
            }
        });
    }

    /// `up`, `down` or `unknown` (no call yet), for `health()`.
    pub fn state(&self) -> &'static str {
        match self.state.lock() {
            Ok(s) if s.open.is_some() => "down",
            Ok(s) if s.seen => "up",
            _ => "unknown",
        }
    }
}

/// Whether every address actively refuses a connection (nothing listens).
async fn all_refuse(targets: &[String]) -> bool {
    if targets.is_empty() {
        return false;
    }
    for t in targets {
        let connect = tokio::net::TcpStream::connect(t.as_str());
        match tokio::time::timeout(PROBE_CONNECT, connect).await {
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
            _ => return false,
        }
    }
    true
}

async fn any_answers(targets: &[String]) -> bool {
    if targets.is_empty() {
        // Nothing to probe: let the next call find out.
        return true;
    }
    for t in targets {
        let connect = tokio::net::TcpStream::connect(t.as_str());
        if let Ok(Ok(_)) = tokio::time::timeout(PROBE_CONNECT, connect).await {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opens_on_unreachable_and_closes_when_the_port_answers() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        drop(listener);
        let b = Breaker::new(Service::Database);
        assert_eq!(b.state(), "unknown");
        let r: Result<()> = Err(Error::DatabaseUnreachable("refused".into()));
        let a = addr.clone();
        b.record(&r, move || vec![a]);
        let e = b.check().unwrap_err();
        assert_eq!(e.code(), "DATABASE_UNREACHABLE");
        assert!(e.to_string().contains("failing fast"), "{e}");
        assert_eq!(b.state(), "down");
        // Other errors neither open nor close it.
        b.record::<()>(&Err(Error::invalid("x")), Vec::new);
        assert_eq!(b.state(), "down");
        let _back = tokio::net::TcpListener::bind(&addr).await.unwrap();
        let t0 = std::time::Instant::now();
        while b.check().is_err() {
            assert!(t0.elapsed() < Duration::from_secs(2), "breaker stayed open");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(b.state(), "up");
    }
}
