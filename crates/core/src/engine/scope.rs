//! The scope of one invocation: it serves the function's `cloud.*` calls
//! (database, storage, invoke) against the invocation's own Cloud, and its
//! `fetch` under the egress policy, and refuses them once the invocation has
//! ended. Holding it is the capability.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::{Engine, InvokeRequest};
use crate::cloud::call::{Caller, Op};
use crate::cloud::{Cloud, Limits};
use crate::config::BackendKind;
use crate::egress::EgressRequest;
use crate::error::{Error, Result};
use crate::sandbox::{CallFuture, CallHandler};

pub struct Scope {
    // Weak: an invocation must not keep the engine alive.
    engine: Weak<Engine>,
    cloud: Arc<Cloud>,
    /// Nested invokes run as the caller's tenant.
    tenant: Arc<str>,
    /// Bounds this invocation's `cloud.invoke`s in flight.
    invokes: Arc<Semaphore>,
    /// Bounds its database, storage and `fetch` calls in flight: the
    /// clients' connection pools serve every tenant, and a function firing
    /// thousands at once would queue everyone else's behind its own.
    calls: Arc<Semaphore>,
    /// `RUNTIME_MAX_READ_BYTES`: the largest read answered to the function.
    max_read: usize,
    depth: u32,
    backend: BackendKind,
    /// Set when the function starts running; nested invokes end by it.
    deadline: Arc<Mutex<Option<Instant>>>,
    // Shared by the clones that in-flight calls hold.
    ended: Arc<AtomicBool>,
}

impl Scope {
    pub fn new(
        engine: Arc<Engine>,
        cloud: Arc<Cloud>,
        tenant: Arc<str>,
        depth: u32,
        backend: BackendKind,
    ) -> Self {
        Scope {
            invokes: Arc::new(Semaphore::new(engine.config().max_concurrent_invokes)),
            calls: Arc::new(Semaphore::new(engine.config().max_concurrent_calls)),
            max_read: engine.config().max_read_bytes,
            engine: Arc::downgrade(&engine),
            cloud,
            tenant,
            depth,
            backend,
            deadline: Arc::new(Mutex::new(None)),
            ended: Arc::new(AtomicBool::new(false)),
        }
    }

    fn deadline(&self) -> Option<Instant> {
        self.deadline.lock().ok().and_then(|d| *d)
    }

    /// Marks the invocation over: every later call is refused.
    pub fn end(&self) {
        self.ended.store(true, Ordering::SeqCst);
    }

    pub fn is_ended(&self) -> bool {
        self.ended.load(Ordering::SeqCst)
    }

    /// Runs one call for this invocation: decoded into the typed
    /// [`Op`], the walls of a function checked by the Cloud.
    pub async fn dispatch(&self, op: &str, args: Value) -> Result<Value> {
        if self.is_ended() {
            return Err(Error::TokenExpired);
        }
        let op = Op::decode(op, args)?;
        if let Op::Invoke { name, data } = op {
            return self.invoke(name, data).await;
        }
        // Extra calls wait here, each still bounded by the deadline (an
        // invocation's calls are aborted when it ends).
        let _permit = self
            .calls
            .acquire()
            .await
            .map_err(|_| Error::invalid("the invocation has ended"))?;
        match op {
            Op::Fetch(req) => self.fetch(req).await,
            op => self
                .cloud
                .apply_within(op, Caller::Function, self.limits())
                .await
                .map(crate::cloud::bson::Bson::into_relaxed_extjson),
        }
    }

    /// The limits of this invocation's next database or storage call: the
    /// read budget, and the time left before its deadline (less a margin,
    /// so the server's `MaxTimeMSExpired` reaches the function before the
    /// runtime's own timeout ends it).
    fn limits(&self) -> Limits {
        const MARGIN: Duration = Duration::from_millis(50);
        let max_time = self.deadline().map(|d| {
            d.saturating_duration_since(Instant::now())
                .saturating_sub(MARGIN)
                .max(Duration::from_millis(1))
        });
        Limits {
            max_read: Some(self.max_read),
            max_time,
        }
    }

    async fn invoke(&self, name: String, data: Value) -> Result<Value> {
        let engine = self
            .engine
            .upgrade()
            .ok_or_else(|| Error::invalid("the runtime is shutting down"))?;
        // Extra invokes wait here (each still bounded by the deadline), so
        // one invocation cannot take every worker of the host.
        let _permit = self
            .invokes
            .acquire()
            .await
            .map_err(|_| Error::invalid("the invocation has ended"))?;
        let result = engine
            .invoke_function(InvokeRequest {
                cloud: self.cloud.clone(),
                name: name.clone(),
                data,
                depth: self.depth + 1,
                backend: Some(self.backend),
                parent_deadline: self.deadline(),
                tenant: Some(self.tenant.clone()),
            })
            .await?;
        result.into_invoke_reply(&name)
    }
}

impl Scope {
    /// A function's own `fetch`, performed here under the egress policy
    /// and ending by the invocation's deadline.
    async fn fetch(&self, req: EgressRequest) -> Result<Value> {
        let engine = self
            .engine
            .upgrade()
            .ok_or_else(|| Error::invalid("the runtime is shutting down"))?;
        let deadline = self
            .deadline()
            .unwrap_or_else(|| Instant::now() + engine.config().timeout());
        let res = engine.config().egress.fetch(req, deadline).await?;
        Ok(res.to_json())
    }
}

impl CallHandler for Scope {
    fn call(&self, op: String, args: Value) -> CallFuture {
        // The future must be 'static: it owns clones of what it needs.
        let this = Scope {
            engine: self.engine.clone(),
            cloud: self.cloud.clone(),
            tenant: self.tenant.clone(),
            invokes: self.invokes.clone(),
            calls: self.calls.clone(),
            max_read: self.max_read,
            depth: self.depth,
            backend: self.backend,
            deadline: self.deadline.clone(),
            ended: self.ended.clone(),
        };
        // A panic while serving a call (a bug of ours, or of a client
        // library on input we did not foresee) fails that call at once
        // instead of leaving the function waiting until its timeout.
        Box::pin(async move {
            use futures_util::FutureExt as _;
            std::panic::AssertUnwindSafe(this.dispatch(&op, args))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| {
                    Err(Error::Io(format!(
                        "internal error: the runtime panicked while serving {op}"
                    )))
                })
        })
    }

    fn started(&self, deadline: Instant) {
        if let Ok(mut d) = self.deadline.lock() {
            *d = Some(deadline);
        }
    }
}
