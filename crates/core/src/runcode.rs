//! `runCode`: the coze-loop code runner. A snippet is a function body (top
//! level `return` and `await`), compiled by [`crate::compile`] and run as an
//! ordinary invocation on either backend; its console calls become a
//! process's stdout and stderr, its return value JSON text.

use std::sync::Arc;

use serde_json::value::RawValue;

use crate::config::{BackendKind, InvocationOptions, Language};
use crate::engine::{Engine, ExecuteRequest};
use crate::error::{Error, Result};
use crate::sandbox::FailureKind;

/// One `runCode` call.
#[derive(Debug, Clone)]
pub struct RunCodeRequest {
    pub language: Language,
    pub code: String,
    pub timeout_ms: Option<u64>,
    pub backend: Option<BackendKind>,
}

/// What `runCode` resolves with (serialized as JavaScript sees it).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunCodeResult {
    pub stdout: String,
    pub stderr: String,
    /// The return value as JSON text; empty when the snippet returned nothing.
    pub ret_val: String,
    /// 0 when the snippet completed, 1 when it failed (threw, did not
    /// compile, timed out…).
    pub exit_code: i32,
    pub time: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(rename = "errorCode", skip_serializing_if = "Option::is_none")]
    pub kind: Option<FailureKind>,
}

/// The name snippets run under: stacks read `snippet.ts:3:9`.
pub const SNIPPET_NAME: &str = "snippet";

impl Engine {
    pub async fn run_code(self: &Arc<Self>, req: RunCodeRequest) -> Result<RunCodeResult> {
        if req.language == Language::Python3 {
            return Err(Error::invalid(
                "language 'python3' is not supported by runCode yet: use 'javascript' or 'typescript'",
            ));
        }
        let r = self
            .execute(ExecuteRequest {
                name: SNIPPET_NAME.into(),
                code: req.code,
                hash: String::new(),
                ctx: "{}".into(),
                options: InvocationOptions {
                    timeout_ms: req.timeout_ms,
                    language: Some(req.language),
                    backend: req.backend,
                    snippet: true,
                    // A snippet is a process run once: it writes to its own
                    // stdout, and nothing of it outlives the run.
                    reuse_context: Some(false),
                    ..Default::default()
                },
                cloud: None,
            })
            .await?;
        let (stdout, mut stderr) = split_streams(&r.logs);
        let ret_val = if r.error.is_none() {
            ret_val_of(r.data.get())
        } else {
            String::new()
        };
        if let Some(e) = &r.error {
            // What a process prints for an uncaught error: its stack.
            stderr.push_str(r.stack.as_deref().filter(|s| !s.is_empty()).unwrap_or(e));
            stderr.push('\n');
        }
        Ok(RunCodeResult {
            stdout,
            stderr,
            ret_val,
            exit_code: if r.error.is_some() { 1 } else { 0 },
            time: r.time,
            error: r.error,
            kind: r.kind,
        })
    }
}

/// The snippet's streams tag each write `O` (stdout) or `E` (stderr) and keep
/// it as written, newline included, see `compile::SNIPPET_PREFIX`; untagged
/// lines come from the sandbox itself (the truncation notice, a
/// `cloud.invoke`d function's `[name] ` lines) and end with a newline.
fn split_streams(logs: &[String]) -> (String, String) {
    let (mut out, mut err) = (String::new(), String::new());
    for line in logs {
        if let Some(t) = line.strip_prefix('O') {
            out.push_str(t);
        } else if let Some(t) = line.strip_prefix('E') {
            err.push_str(t);
        } else {
            let to = if line.starts_with("[TRUNCATED]") || line.starts_with("[ERROR] ") {
                &mut err
            } else {
                &mut out
            };
            to.push_str(line);
            to.push('\n');
        }
    }
    (out, err)
}

/// The wrapper returns `[value]`, or `[]` for undefined.
fn ret_val_of(data: &str) -> String {
    serde_json::from_str::<Vec<&RawValue>>(data)
        .ok()
        .and_then(|v| v.first().map(|r| r.get().to_string()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_split_by_tag_not_by_text() {
        let logs = vec![
            "OHello World\n".to_string(),
            "O[ERROR] printed by console.log\n".to_string(),
            "Ebad\n".to_string(),
            "Ono newline, ".to_string(),
            "Oas written\n".to_string(),
            "a: 1".to_string(),
            "[ERROR] from the sandbox".to_string(),
        ];
        let (out, err) = split_streams(&logs);
        assert_eq!(
            out,
            "Hello World\n[ERROR] printed by console.log\nno newline, as written\na: 1\n"
        );
        assert_eq!(err, "bad\n[ERROR] from the sandbox\n");
    }

    #[test]
    fn ret_val_distinguishes_undefined_from_null() {
        assert_eq!(ret_val_of("[42]"), "42");
        assert_eq!(ret_val_of("[null]"), "null");
        assert_eq!(ret_val_of("[]"), "");
        assert_eq!(ret_val_of("[{\"a\":[1]}]"), "{\"a\":[1]}");
    }
}
