//! `validateCode` and `runCode`: code checked and compiled in Rust
//! (`runtime_core::compile`), snippets run by the engine (`runtime_core::runcode`).

use napi::bindgen_prelude::*;
use napi::Env;
use napi_derive::napi;
use runtime_core::compile;
use runtime_core::error::whole_number;
use runtime_core::runcode::RunCodeRequest;
use runtime_core::{BackendKind, Error as CoreError, Language};
use serde_json::{json, Value};

use crate::args::Arg;
use crate::engine::engine;
use crate::error::{spawn, throw};

#[napi(catch_unwind)]
pub fn validate_code(env: &Env, language: Arg<String>, code: Arg<String>) -> Result<Value> {
    let lang = throw(env, compile::validation_lang(&language.0))?;
    let errors = compile::validate(lang, &code.0);
    Ok(json!({ "valid": errors.is_empty(), "errors": errors }))
}

#[napi(object)]
pub struct RunCodeOptions {
    pub language: String,
    pub code: String,
    pub timeout_ms: Option<f64>,
    pub backend: Option<String>,
}

#[napi(catch_unwind)]
pub fn run_code<'env>(
    env: &'env Env,
    options: Arg<RunCodeOptions>,
) -> Result<PromiseRaw<'env, Value>> {
    let o = options.0;
    let prepared = (|| {
        let engine = engine()?;
        let max = engine.config().max_timeout_ms;
        let timeout = "options.timeoutMs (RUNTIME_MAX_TIMEOUT_MS)";
        let req = RunCodeRequest {
            language: Language::parse(&o.language)?,
            code: o.code,
            timeout_ms: (o.timeout_ms)
                .map(|v| whole_number(timeout, v, 1, max))
                .transpose()?,
            backend: o.backend.as_deref().map(BackendKind::parse).transpose()?,
        };
        Ok::<_, CoreError>((engine, req))
    })();
    spawn(
        env,
        async move {
            let (engine, req) = prepared?;
            engine.run_code(req).await
        },
        |_, r| serde_json::to_value(r).map_err(|e| Error::from_reason(e.to_string())),
    )
}
