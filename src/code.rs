//! `validateCode` and `runCode`: TypeScript/JavaScript checked and compiled
//! in Rust (`runtime_core::compile`), snippets run by the engine
//! (`runtime_core::runcode`). Translation only.

use napi::bindgen_prelude::*;
use napi::Env;
use napi_derive::napi;
use runtime_core::compile::{self, Lang};
use runtime_core::runcode::RunCodeRequest;
use runtime_core::{BackendKind, Error as CoreError, Language};

use crate::args::{int, Arg};
use crate::engine::engine;
use crate::error::{spawn, throw};

/// One syntax error found by `validateCode`.
#[napi(object)]
pub struct CodeError {
    pub message: String,
    /// 1-based.
    pub line: u32,
    /// 1-based, in UTF-16 units (as JavaScript strings count).
    pub column: u32,
}

/// What `validateCode` returns.
#[napi(object)]
pub struct Validation {
    pub valid: bool,
    /// Sorted by position; empty when `valid`.
    pub errors: Vec<CodeError>,
}

fn lang_of(language: &str) -> std::result::Result<Lang, CoreError> {
    match Language::parse(language)? {
        Language::Nodejs => Ok(Lang::JavaScript),
        Language::Typescript => Ok(Lang::TypeScript),
        Language::Python3 => Err(CoreError::invalid(
            "language 'python3' is not supported by validateCode yet: use 'javascript' or 'typescript'",
        )),
    }
}

/// Checks the syntax of `code` in Rust, without running it or starting a sandbox
/// (microseconds to a few ms). The code is read as a snippet, a function body: top-level
/// `return` and `await` are valid, and so are `import`/`export`, so a module validates
/// too. Early errors count (a `let` declared twice, `break` outside a loop); types are not
/// checked. `language`: `'typescript'` (`'ts'`) or `'javascript'` (`'js'`, `'nodejs'`);
/// any other is an `INVALID_ARGUMENT` error.
#[napi(ts_args_type = "language: string, code: string", catch_unwind)]
pub fn validate_code(env: &Env, language: Arg<String>, code: Arg<String>) -> Result<Validation> {
    let lang = throw(env, lang_of(&language.0))?;
    let errors: Vec<CodeError> = compile::validate(lang, &code.0)
        .into_iter()
        .map(|d| CodeError {
            message: d.message,
            line: d.line,
            column: d.column,
        })
        .collect();
    Ok(Validation {
        valid: errors.is_empty(),
        errors,
    })
}

/// What `runCode` runs.
#[napi(object)]
pub struct RunCodeOptions {
    /// `'javascript'` (`'js'`, `'nodejs'`) or `'typescript'` (`'ts'`).
    pub language: String,
    /// A function body: top-level `return` (the result) and `await`; `import` of Node
    /// built-ins works, `export` does not.
    pub code: String,
    /// An integer from 1 to RUNTIME_MAX_TIMEOUT_MS.
    /// @default RUNTIME_TIMEOUT_MS or 10000
    pub timeout_ms: Option<f64>,
    /// `'local'` or `'dify'`, as for executeFunction.
    /// @default RUNTIME_BACKEND
    pub backend: Option<String>,
}

/// What `runCode` resolves with: a process's view of the snippet.
#[napi(object)]
pub struct RunCodeResult {
    /// `console.log`/`info`/`debug`/`dir` output, one line per call, as a process prints it.
    pub stdout: String,
    /// `console.error`/`warn`/`trace` output; on failure, ends with the error's stack
    /// (positions in the user's code: `snippet.ts:3:7`) or message.
    pub stderr: String,
    /// The return value as JSON text (`'42'`, `'{"a":1}'`); `''` when nothing was returned.
    pub ret_val: String,
    /// 0 when the snippet completed, 1 when it threw, did not compile or timed out.
    pub exit_code: i32,
    /// Wall milliseconds of the run.
    pub time: f64,
    /// Set on failure: the message (`Function timed out after N ms`, `SyntaxError: … (snippet.js:1)`, the thrown message).
    pub error: Option<String>,
    /// As `ExecuteResult.errorCode`: `FUNCTION_THREW`, `TIMEOUT`, `SYNTAX_ERROR`, ….
    pub error_code: Option<String>,
}

/// Runs a code snippet the way coze-loop's code runner does, on the warm pool (or the
/// Dify Sandbox): `runCode({ language: 'js', code: "console.log('Hello World'); return 42;" })`
/// resolves with `{ stdout: 'Hello World\n', stderr: '', retVal: '42', exitCode: 0, time }`.
/// Resolves for anything the code did (throw, timeout, syntax error: see `exitCode`,
/// `error`); rejects only for misuse: `INVALID_ARGUMENT` (unknown language, `python3`,
/// timeoutMs out of range), and the errors `executeFunction` rejects with.
#[napi(
    ts_args_type = "options: RunCodeOptions",
    ts_return_type = "Promise<RunCodeResult>",
    catch_unwind
)]
pub fn run_code<'env>(
    env: &'env Env,
    options: Arg<RunCodeOptions>,
) -> Result<PromiseRaw<'env, RunCodeResult>> {
    let o = options.0;
    let prepared = (|| {
        let engine = engine()?;
        let max = engine.config().max_timeout_ms;
        let req = RunCodeRequest {
            language: Language::parse(&o.language)?,
            code: o.code,
            timeout_ms: o
                .timeout_ms
                .map(|v| int("options.timeoutMs (RUNTIME_MAX_TIMEOUT_MS)", v, 1, max))
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
        |_, r| {
            Ok(RunCodeResult {
                stdout: r.stdout,
                stderr: r.stderr,
                ret_val: r.ret_val,
                exit_code: r.exit_code,
                time: r.time,
                error: r.error,
                error_code: r.kind.map(|k| k.as_str().to_string()),
            })
        },
    )
}
