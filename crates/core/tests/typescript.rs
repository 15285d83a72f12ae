//! TypeScript and ES modules compiled in Rust, stacks in source lines, and
//! `runCode`, on both backends: the local pool and the Dify Sandbox stand-in
//! (`node __test__/fixtures/dify-sandbox.mjs`).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use runtime_core::cloud::Cloud;
use runtime_core::engine::{Engine, ExecuteRequest, ExecuteResult};
use runtime_core::runcode::RunCodeRequest;
use runtime_core::sandbox::FailureKind;
use runtime_core::{BackendKind, CloudConfig, InvocationOptions, Language, RuntimeConfig};
use serde_json::json;

struct StandIn(Child, String);

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn stand_in() -> StandIn {
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../__test__/fixtures/dify-sandbox.mjs"
    );
    let mut child = Command::new("node")
        .arg(fixture)
        .args(["--api-key", "key"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("node runs the stand-in");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = serde_json::from_str::<serde_json::Value>(&line).unwrap()["url"]
        .as_str()
        .unwrap()
        .to_string();
    StandIn(child, url)
}

/// Both engines; the stand-in lives as long as the returned guard.
fn engines() -> (Vec<(&'static str, Arc<Engine>)>, StandIn) {
    let s = stand_in();
    let make = |c: RuntimeConfig| {
        let e = Engine::new(c);
        e.set_default_cloud(Arc::new(Cloud::new(CloudConfig::from_vars(&[]))))
            .unwrap();
        e
    };
    let local = make(RuntimeConfig {
        pool_size: 1,
        ..RuntimeConfig::default()
    });
    let dify = make(RuntimeConfig {
        backend: BackendKind::Dify,
        sandbox_url: Some(s.1.clone()),
        sandbox_api_key: Some("key".into()),
        ..RuntimeConfig::default()
    });
    (vec![("local", local), ("dify", dify)], s)
}

async fn run(e: &Arc<Engine>, name: &str, code: &str, language: Language) -> ExecuteResult {
    e.execute(ExecuteRequest {
        name: name.into(),
        code: code.into(),
        hash: String::new(),
        ctx: json!({ "body": { "n": 2 } }).to_string(),
        options: InvocationOptions {
            language: Some(language),
            ..Default::default()
        },
        cloud: None,
    })
    .await
    .expect("execute")
}

const TS_FN: &str = "import { createHash } from 'node:crypto';
import * as path from 'path';

interface Body { n: number }
enum Scale { One = 1, Ten = 10 }

export default async function handler(ctx: { body: Body }): Promise<object> {
  const n: number = ctx.body.n * Scale.Ten;
  if (n > 100) {
    throw new RangeError('too big: ' + n);
  }
  return { n, sha: createHash('sha1').update('x').digest('hex').slice(0, 8), ext: path.extname('a.ts') };
}
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typescript_with_es_modules_runs_and_stacks_name_ts_lines() {
    let (engines, _guard) = engines();
    for (backend, e) in &engines {
        let r = run(e, "tsfn", TS_FN, Language::Typescript).await;
        assert_eq!(r.error, None, "{backend}: {:?}", r.stack);
        assert_eq!(
            r.data_value(),
            json!({ "n": 20, "sha": "11f6ad8e", "ext": ".ts" }),
            "{backend}"
        );
        // The throw is on line 10 of the TypeScript, column 11 (`new`).
        let big = TS_FN.replace("ctx.body.n * Scale.Ten", "ctx.body.n * 1000");
        let r = run(e, "tsfn", &big, Language::Typescript).await;
        assert_eq!(r.error.as_deref(), Some("too big: 2000"), "{backend}");
        assert_eq!(r.kind, Some(FailureKind::FunctionThrew));
        let stack = r.stack.unwrap_or_default();
        assert!(
            stack.starts_with("RangeError: too big: 2000\n    at handler (tsfn.ts:10:11)"),
            "{backend}: {stack}"
        );
        assert!(!stack.contains("tsfn.js"), "{backend}: {stack}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn syntax_errors_name_the_source_line_without_running() {
    let (engines, _guard) = engines();
    for (backend, e) in &engines {
        let r = run(
            e,
            "broken",
            "const a: number = 1;\n\nlet b: string = ;\nexport default () => a;\n",
            Language::Typescript,
        )
        .await;
        assert_eq!(r.kind, Some(FailureKind::SyntaxError), "{backend}");
        assert_eq!(
            r.error.as_deref(),
            Some("SyntaxError: Unexpected token (broken.ts:3)"),
            "{backend}"
        );
        assert!(r
            .stack
            .unwrap_or_default()
            .starts_with("broken.ts:3\nlet b: string = ;\n                ^"));
        let r = run(
            e,
            "meta",
            "export default () => import.meta.url",
            Language::Nodejs,
        )
        .await;
        assert_eq!(r.kind, Some(FailureKind::EsmSyntax), "{backend}");
        assert_eq!(
            r.error.as_deref(),
            Some("import.meta is not supported: functions run as CommonJS (use __filename) (meta.js:1)")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_es_modules_and_commonjs_both_work() {
    let (engines, _guard) = engines();
    for (backend, e) in &engines {
        let esm = "import os from 'node:os';\nexport function main(ctx) {\n  return typeof os.cpus + ctx.body.n;\n}\n";
        let r = run(e, "esm", esm, Language::Nodejs).await;
        assert_eq!(r.error, None, "{backend}: {:?}", r.stack);
        assert_eq!(r.data_value(), json!("function2"));
        let r = run(
            e,
            "cjs",
            "module.exports = (ctx) => {\n\n  throw new Error('cjs ' + ctx.body.n)\n}",
            Language::Nodejs,
        )
        .await;
        assert!(
            r.stack.unwrap_or_default().contains("(cjs.js:3:9)"),
            "{backend}"
        );
        // Only Node built-ins can be imported.
        let r = run(
            e,
            "dep",
            "import _ from 'lodash';\nexport default () => _;",
            Language::Nodejs,
        )
        .await;
        assert!(
            r.error.unwrap_or_default().starts_with(
                "Cannot find module 'lodash': functions can require only Node built-in modules"
            ),
            "{backend}"
        );
    }
}

fn req(language: Language, code: &str) -> RunCodeRequest {
    RunCodeRequest {
        language,
        code: code.into(),
        timeout_ms: Some(2000),
        backend: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_code_is_the_coze_loop_contract() {
    let (engines, _guard) = engines();
    for (backend, e) in &engines {
        let r = e
            .run_code(req(
                Language::Nodejs,
                "console.log('Hello World'); return 42;",
            ))
            .await
            .unwrap();
        assert_eq!(
            (
                r.stdout.as_str(),
                r.stderr.as_str(),
                r.ret_val.as_str(),
                r.exit_code
            ),
            ("Hello World\n", "", "42", 0),
            "{backend}"
        );
        let r = e
            .run_code(req(
                Language::Typescript,
                "const x: number = await Promise.resolve(2);\nconsole.error('to stderr', x);\nconsole.log('[ERROR] still stdout');\nreturn { x };",
            ))
            .await
            .unwrap();
        assert_eq!(r.stdout, "[ERROR] still stdout\n", "{backend}");
        assert_eq!(r.stderr, "to stderr 2\n");
        assert_eq!(r.ret_val, "{\"x\":2}");
        let r = e
            .run_code(req(Language::Nodejs, "console.log(1)"))
            .await
            .unwrap();
        assert_eq!((r.ret_val.as_str(), r.exit_code), ("", 0), "{backend}");

        let r = e
            .run_code(req(
                Language::Typescript,
                "type T = number;\nconsole.log('before');\nthrow new TypeError('bad ' + (1 as T));",
            ))
            .await
            .unwrap();
        assert_eq!(r.exit_code, 1, "{backend}");
        assert_eq!(r.stdout, "before\n");
        assert_eq!(r.error.as_deref(), Some("bad 1"));
        assert!(
            r.stderr
                .starts_with("TypeError: bad 1\n    at snippet.ts:3:7"),
            "{backend}: {}",
            r.stderr
        );
        assert!(!r.stderr.contains("module.exports"), "{}", r.stderr);

        let r = e
            .run_code(req(Language::Nodejs, "while (true) {}"))
            .await
            .unwrap();
        assert_eq!(r.kind, Some(FailureKind::Timeout), "{backend}");
        assert_eq!(r.error.as_deref(), Some("Function timed out after 2000 ms"));
        assert_eq!(r.exit_code, 1);

        let r = e
            .run_code(req(Language::Nodejs, "const a = ;"))
            .await
            .unwrap();
        assert_eq!(r.kind, Some(FailureKind::SyntaxError), "{backend}");
        assert_eq!(
            r.error.as_deref(),
            Some("SyntaxError: Unexpected token (snippet.js:1)")
        );
        assert!(r.stderr.starts_with("snippet.js:1\nconst a = ;\n"));

        let err = e
            .run_code(req(Language::Python3, "print(1)"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), "INVALID_ARGUMENT");
        assert_eq!(
            err.to_string(),
            "language 'python3' is not supported by runCode yet: use 'javascript' or 'typescript'"
        );
    }
}

#[test]
fn languages_parse_with_their_aliases() {
    for (s, l) in [
        ("ts", Language::Typescript),
        ("typescript", Language::Typescript),
        ("js", Language::Nodejs),
        ("javascript", Language::Nodejs),
        ("nodejs", Language::Nodejs),
        ("python", Language::Python3),
    ] {
        assert_eq!(Language::parse(s).unwrap(), l);
    }
    let e = Language::parse("ruby").unwrap_err();
    assert_eq!(e.code(), "INVALID_ARGUMENT");
    assert_eq!(
        e.to_string(),
        "unknown language \"ruby\": expected 'typescript' ('ts'), 'javascript' ('js', 'nodejs') or 'python3' ('python')"
    );
}
