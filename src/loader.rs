//! `setFunctionLoader`: lets the host tell `cloud.invoke` where functions
//! live. The JavaScript loader reaches the core only through the core's
//! `FunctionLoader` trait, implemented here over a threadsafe function.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;
use runtime_core::engine::{FunctionLoader, LoadFuture, StoredFunction};
use runtime_core::Error as CoreError;
use serde_json::Value;

use crate::args::Arg;
use crate::error::throw;

const LOADER_GUARD: &str = r#"(loader) => function guardedLoader(name) {
  let r;
  try { r = loader(name); } catch (e) { return Promise.reject(e); }
  if (r === null || (typeof r !== 'object' && typeof r !== 'function') || typeof r.then !== 'function') {
    return Promise.reject(new TypeError('the function loader must return a Promise (make it an async function), got ' + (r === null ? 'null' : typeof r)));
  }
  return Promise.resolve(r).then((v) => (v === undefined ? null : v));
}"#;

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
use crate::engine::engine;

// Weak: a loader must not keep the host process alive.
type LoaderFn = ThreadsafeFunction<String, Promise<Option<Value>>, String, Status, false, true>;

/// `(loader) => guardedLoader`, compiled from [`LOADER_GUARD`].
type Guard<'a> =
    Function<'a, Function<'a, String, Unknown<'a>>, Function<'a, String, Promise<Option<Value>>>>;

struct JsLoader(Arc<LoaderFn>);

fn parse(name: &str, v: Value) -> std::result::Result<StoredFunction, CoreError> {
    let bad = |why: &str| {
        CoreError::LoaderFailed(format!(
            "the function loader's result for {name:?} {why}: it must resolve to {{ name, compiled, hash }} or null"
        ))
    };
    if !v.is_object() {
        return Err(bad(&format!("is {}", kind_of(&v))));
    }
    let code = v
        .get("compiled")
        .or_else(|| v.get("code"))
        .and_then(Value::as_str)
        .ok_or_else(|| bad("has no string `compiled` (or `code`)"))?;
    Ok(StoredFunction {
        name: v
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or(name)
            .to_string(),
        code: code.to_string(),
        hash: v
            .get("hash")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
    })
}

impl FunctionLoader for JsLoader {
    fn load(&self, name: String) -> LoadFuture {
        let f = self.0.clone();
        Box::pin(async move {
            let failed = |e: napi::Error| {
                CoreError::LoaderFailed(format!(
                    "the function loader failed for {name:?}: {}",
                    e.reason
                ))
            };
            let promise = f.call_async(name.clone()).await.map_err(failed)?;
            match promise.await.map_err(failed)? {
                None | Some(Value::Null) => Ok(None),
                Some(v) => parse(&name, v).map(Some),
            }
        })
    }
}

/// Sets how `cloud.invoke(name)` finds functions: `loader(name)` must return
/// a Promise of `{ compiled, hash?, name? }` (or `code` for `compiled`), or
/// of `null` when there is no such function (`FUNCTION_NOT_FOUND`). A loader
/// that throws, returns something other than a Promise, rejects, or resolves
/// to another shape makes that `cloud.invoke` reject with `LOADER_FAILED`
/// (the host keeps running). `null` restores the default: the
/// `FUNCTIONS_COLLECTION` collection of the invocation's Cloud.
#[napi(
    ts_args_type = "loader: ((name: string) => Promise<{ name?: string, compiled: string, hash?: string } | null>) | null",
    catch_unwind
)]
pub fn set_function_loader(
    env: &Env,
    loader: Arg<Option<Function<String, Unknown>>>,
) -> Result<()> {
    let engine = throw(env, engine())?;
    match loader.0 {
        None => engine.set_loader(None),
        Some(f) => {
            // The user's loader runs inside a guard written in JavaScript, so
            // a synchronous throw or a non-Promise return becomes a rejection
            // instead of an exception on the host's event loop.
            let guard: Guard = env.run_script(LOADER_GUARD)?;
            let f = guard.call(f)?;
            let tsfn: LoaderFn = f
                .build_threadsafe_function()
                .callee_handled::<false>()
                .weak::<true>()
                .build()?;
            engine.set_loader(Some(Arc::new(JsLoader(Arc::new(tsfn)))));
        }
    }
    Ok(())
}
