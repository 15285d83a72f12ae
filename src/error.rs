//! The one place where core errors become JavaScript errors: a real `Error`
//! whose `message` is the core's message and whose `code` is the core's
//! stable code (`TIMEOUT`, `DATABASE_ERROR`, …), so callers can branch on it.

use std::future::Future;

use napi::bindgen_prelude::{JsObjectValue, JsValue, PromiseRaw, ToNapiValue};
use napi::{Env, Status};
use runtime_core::Error as CoreError;

/// Builds the JavaScript error for `e` (on the JavaScript thread).
pub fn js_error(env: &Env, e: &CoreError) -> napi::Error {
    let build = || -> napi::Result<napi::Error> {
        let mut obj = env.create_error(napi::Error::new(Status::GenericFailure, e.to_string()))?;
        obj.set_named_property("code", e.code())?;
        if let CoreError::Database {
            server_code: Some(c),
            ..
        } = e
        {
            // The MongoDB server's own code (11000 = duplicate key), as the Node driver exposes it.
            obj.set_named_property("serverCode", *c)?;
        }
        Ok(napi::Error::from(obj.to_unknown()))
    };
    build().unwrap_or_else(|fallback| fallback)
}

/// For synchronous exports: a core error thrown with its code.
pub fn throw<T>(env: &Env, r: runtime_core::Result<T>) -> napi::Result<T> {
    r.map_err(|e| js_error(env, &e))
}

/// Runs a core future on tokio and returns a Promise that resolves with
/// `convert(value)` or rejects with the coded JavaScript error.
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
    env.spawn_future_with_callback(async move { Ok(fut.await) }, move |env, res| match res {
        Ok(v) => convert(env, v),
        Err(e) => Err(js_error(env, &e)),
    })
}

/// A Promise already rejected with the coded error (misuse found before any
/// work started, for exports that otherwise answer with a Promise).
pub fn reject<V>(env: &Env, e: CoreError) -> napi::Result<PromiseRaw<'_, V>>
where
    V: ToNapiValue + Send + 'static,
{
    spawn(env, async move { Err::<V, _>(e) }, |_, v| Ok(v))
}
