//! `setFunctionLoader`: where `cloud.invoke` finds functions. The loader
//! (wrapped by index.js so it always returns a Promise) reaches the core
//! through its `FunctionLoader` trait, over a threadsafe function.

use std::sync::Arc;

use napi::bindgen_prelude::*;
use napi::threadsafe_function::ThreadsafeFunction;
use napi_derive::napi;
use runtime_core::engine::{FunctionLoader, LoadFuture, StoredFunction};
use runtime_core::Error as CoreError;
use serde_json::Value;

use crate::args::Arg;
use crate::engine::engine;
use crate::error::throw;

// Weak: a loader must not keep the host process alive.
type LoaderFn = ThreadsafeFunction<String, Promise<Option<Value>>, String, Status, false, true>;

struct JsLoader(Arc<LoaderFn>);

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
                Some(v) => StoredFunction::from_loader(&name, v).map(Some),
            }
        })
    }
}

#[napi(catch_unwind)]
pub fn set_function_loader(
    env: &Env,
    loader: Arg<Option<Function<String, Promise<Option<Value>>>>>,
) -> Result<()> {
    let engine = throw(env, engine())?;
    let loader = match loader.0 {
        None => None,
        Some(f) => {
            let tsfn: LoaderFn = f
                .build_threadsafe_function()
                .callee_handled::<false>()
                .weak::<true>()
                .build()?;
            Some(Arc::new(JsLoader(Arc::new(tsfn))) as Arc<dyn FunctionLoader>)
        }
    };
    engine.set_loader(loader);
    Ok(())
}
