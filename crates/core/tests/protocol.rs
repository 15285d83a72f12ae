//! Conformance of the two sides of the worker protocol: the frames
//! `sandbox/protocol.js` builds parse as the Rust [`FromWorker`] frames
//! (every variant, no unknown field), the Rust [`ToWorker`] frames carry
//! exactly the fields the JavaScript side reads, and both list the same
//! failure kinds.

use std::collections::BTreeSet;
use std::process::Command;

use runtime_core::sandbox::protocol::{FromWorker, Reply, Run, ToWorker};
use runtime_core::sandbox::{FailureKind, PROTOCOL_JS};
use serde_json::{json, Value};

/// Runs protocol.js in node and returns what the JavaScript side says.
fn javascript_side() -> Value {
    let script = format!(
        "{PROTOCOL_JS}\n;process.stdout.write(JSON.stringify({{
            toWorker: __PROTOCOL.toWorker,
            kinds: __PROTOCOL.kinds,
            frames: [
              __frame.ready(42, 'v20.0.0'),
              __frame.need('n1'),
              __frame.log('n1', 'line \\ud800 end'),
              __frame.call('n1', 3, 'db.findOne', '{{\"collection\":\"c\"}}'),
              __frame.done('n1', '{{\"deep\":[[[1]]],\"lone\":\"\\\\udc00\"}}'),
              __frame.fail('n1', {{ error: 'boom', stack: 'Error: boom\\n at f', kind: 'TIMEOUT', retire: true }}),
              __frame.fail('n1', {{ error: 'x', kind: 'NOT_A_KIND' }}),
            ],
            lone: [__hasLoneSurrogate(JSON.stringify('a\\ud800b')), __hasLoneSurrogate(JSON.stringify('\\ud83d\\ude00')),
                   __hasLoneSurrogate(JSON.stringify('\\\\ud800')), __hasLoneSurrogate(JSON.stringify('\\\\\\ud800'))],
        }}))"
    );
    let out = Command::new("node")
        .arg("-e")
        .arg(script)
        .output()
        .expect("node runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON from node")
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}

#[test]
fn both_sides_agree() {
    let js = javascript_side();

    // Worker → host: every frame the JavaScript side builds parses, and
    // together they cover every variant.
    let mut seen = BTreeSet::new();
    for f in js["frames"].as_array().expect("frames") {
        let text = f.as_str().expect("frame text");
        let frame: FromWorker = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("JavaScript frame {text} does not parse: {e}"));
        let name = match &frame {
            FromWorker::Ready { pid, node } => {
                assert_eq!((*pid, node.as_str()), (42, "v20.0.0"));
                "ready"
            }
            FromWorker::Need { .. } => "need",
            FromWorker::Log { line, .. } => {
                assert_eq!(
                    line, "line \u{fffd} end",
                    "lone surrogates in logs become U+FFFD"
                );
                "log"
            }
            FromWorker::Call { seq, op, args, .. } => {
                assert_eq!(
                    (*seq, op.as_str(), args.get()),
                    (3, "db.findOne", r#"{"collection":"c"}"#)
                );
                "call"
            }
            FromWorker::Done { data, .. } => {
                assert_eq!(data.get(), r#"{"deep":[[[1]]],"lone":"\udc00"}"#);
                "done"
            }
            FromWorker::Fail { kind, retire, .. } => {
                if *retire {
                    assert_eq!(*kind, FailureKind::Timeout);
                } else {
                    assert_eq!(
                        *kind,
                        FailureKind::FunctionThrew,
                        "unknown kinds are sent as FUNCTION_THREW"
                    );
                }
                "fail"
            }
        };
        assert_eq!(frame.nonce().unwrap_or("n1"), "n1");
        seen.insert(name);
    }
    assert_eq!(
        seen,
        ["ready", "need", "log", "call", "done", "fail"]
            .into_iter()
            .collect()
    );

    // Host → worker: the fields Rust writes are the fields JavaScript reads.
    let env = json!({});
    let run = ToWorker::Run(Run {
        nonce: "n",
        key: "k",
        name: "f",
        code: Some("c"),
        env: &env,
        log_cap: 1,
        max_result: 2,
        reuse: true,
    });
    let value = json!(1);
    let reply_ok = ToWorker::Reply(Reply {
        nonce: "n",
        seq: 1,
        ok: true,
        value: Some(&value),
        error: None,
        error_code: None,
        server_code: None,
        code_name: None,
    });
    let reply_err = ToWorker::Reply(Reply {
        nonce: "n",
        seq: 1,
        ok: false,
        value: None,
        error: Some("e".into()),
        error_code: Some("DATABASE_ERROR"),
        server_code: Some(11000),
        code_name: Some("DuplicateKey"),
    });
    let parse = |f: &ToWorker| -> Value { serde_json::from_str(&f.to_line()).expect("json") };
    let run = parse(&run);
    assert_eq!(keys(&run["run"]), keys_of(&js["toWorker"]["run"]));
    let mut reply = keys(&parse(&reply_ok)["reply"]);
    reply.extend(keys(&parse(&reply_err)["reply"]));
    assert_eq!(reply, keys_of(&js["toWorker"]["reply"]));

    // Failure kinds.
    let rust: Vec<&str> = FailureKind::ALL.iter().map(|k| k.as_str()).collect();
    let js_kinds: Vec<&str> = js["kinds"]
        .as_array()
        .expect("kinds")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(rust, js_kinds);

    // Lone-surrogate detection: a lone one, a pair, an escaped backslash, and
    // an escaped backslash followed by a lone one.
    assert_eq!(js["lone"], json!([true, false, false, true]));
}

fn keys_of(list: &Value) -> BTreeSet<String> {
    list.as_array()
        .expect("field list")
        .iter()
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect()
}
