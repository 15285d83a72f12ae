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

use crate::error::throw;
use crate::execute::engine;

// Weak: a loader must not keep the host process alive.
type LoaderFn = ThreadsafeFunction<String, Promise<Option<Value>>, String, Status, false, true>;

struct JsLoader(Arc<LoaderFn>);

fn parse(name: &str, v: Value) -> std::result::Result<StoredFunction, CoreError> {
    let bad =
        |why: &str| CoreError::invalid(format!("the function loader's result for {name:?} {why}"));
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
                CoreError::invalid(format!(
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
/// `null` when there is no such function (`FUNCTION_NOT_FOUND`). `null`
/// restores the default: the `FUNCTIONS_COLLECTION` collection of the
/// invocation's Cloud.
#[napi]
pub fn set_function_loader(
    env: &Env,
    loader: Option<Function<String, Promise<Option<Value>>>>,
) -> Result<()> {
    let engine = throw(env, engine())?;
    match loader {
        None => engine.set_loader(None),
        Some(f) => {
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
