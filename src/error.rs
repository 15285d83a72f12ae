//! The one place where core errors become JavaScript errors: a real `Error`
//! whose `message` is the core's message and whose `errorCode` is the core's
//! stable code (`TIMEOUT`, `DATABASE_ERROR`, …). `code` is the same, except
//! for MongoDB server errors, where it is the server's number (11000) with
//! `codeName`, as the Node driver has it — the same fields a function sees.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt as _;
use napi::bindgen_prelude::{JsObjectValue, JsValue, PromiseRaw, ToNapiValue};
use napi::{Env, Status};
use runtime_core::Error as CoreError;

/// Builds the JavaScript error for `e` (on the JavaScript thread).
pub fn js_error(env: &Env, e: &CoreError) -> napi::Error {
    let build = || -> napi::Result<napi::Error> {
        let mut obj = env.create_error(napi::Error::new(Status::GenericFailure, e.to_string()))?;
        obj.set_named_property("errorCode", e.code())?;
        match e.server_code() {
            Some((c, name)) => {
                obj.set_named_property("code", c)?;
                // Kept for code written before `code` carried the number.
                obj.set_named_property("serverCode", c)?;
                if let Some(n) = name {
                    obj.set_named_property("codeName", n)?;
                }
            }
            None => obj.set_named_property("code", e.code())?,
        }
        Ok(napi::Error::from(obj.to_unknown()))
    };
    build().unwrap_or_else(|fallback| fallback)
}

/// For synchronous exports: a core error thrown with its code.
pub fn throw<T>(env: &Env, r: runtime_core::Result<T>) -> napi::Result<T> {
    r.map_err(|e| js_error(env, &e))
}

/// A panic turned into an error: a bug of ours must reject one call, not
/// abort the host process.
fn panicked(what: &str) -> CoreError {
    CoreError::Io(format!(
        "internal error: the runtime panicked while {what}; the process is unaffected"
    ))
}

/// Runs a core future on tokio and returns a Promise that resolves with
/// `convert(value)` or rejects with the coded JavaScript error. A panic in
/// the future or in `convert` rejects the Promise.
pub fn spawn<'env, T, V, F, C>(
    env: &'env Env,
    fut: F,
    convert: C,
) -> napi::Result<PromiseRaw<'env, V>>
where
    T: Send + 'static,
    V: ToNapiValue,
    F: Future<Output = runtime_core::Result<T>> + Send + 'static,
    C: FnOnce(&Env, T) -> napi::Result<V> + 'static,
{
    let fut = AssertUnwindSafe(fut).catch_unwind();
    env.spawn_future_with_callback(
        async move {
            Ok(fut
                .await
                .unwrap_or_else(|_| Err(panicked("running a call"))))
        },
        move |env, res| match res {
            Ok(v) => std::panic::catch_unwind(AssertUnwindSafe(|| convert(env, v)))
                .unwrap_or_else(|_| Err(js_error(env, &panicked("converting a result")))),
            Err(e) => Err(js_error(env, &e)),
        },
    )
}
