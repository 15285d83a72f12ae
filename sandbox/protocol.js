// ---------------------------------------------------------------------------
// The pipe protocol of a local worker, JavaScript side: the one place where
// frames are built and named. The Rust side, with the full description, is
// crates/core/src/sandbox/protocol.rs; crates/core/tests/protocol.rs checks
// that both agree. One JSON object per line, externally tagged:
//   host → worker: {"run":{…}}  {"reply":{…}}
//   worker → host: {"ready":{…}} {"need":{…}} {"log":{…}} {"call":{…}}
//                  {"done":{…}} {"fail":{…}}
// ---------------------------------------------------------------------------

const __PROTOCOL = Object.freeze({
  // Fields of the frames the worker reads.
  toWorker: {
    // followed by one line: ctx as JSON text
    run: ['nonce', 'key', 'name', 'code', 'env', 'logCap', 'maxResult', 'reuse'],
    reply: ['nonce', 'seq', 'ok', 'value', 'error', 'errorCode', 'serverCode', 'codeName'],
  },
  // Failure kinds (ExecuteResult.errorCode) the worker reports.
  kinds: [
    'FUNCTION_THREW', 'TIMEOUT', 'QUEUE_TIMEOUT', 'OUT_OF_MEMORY', 'EXITED', 'CRASHED',
    'SYNTAX_ERROR', 'ESM_SYNTAX', 'NO_EXPORT', 'BAD_RESULT', 'RESULT_TOO_LARGE', 'BLOCKED',
    'PROTOCOL_VIOLATION',
  ],
});

// A JSON text (from JSON.stringify) holds a lone surrogate exactly when it
// has a \uD800–\uDFFF escape that is not itself an escaped backslash: JSON
// .stringify writes paired surrogates as characters and escapes lone ones.
const __LONE_SURROGATE = /(?:^|[^\\])(?:\\\\)*\\u[dD][89a-fA-F][0-9a-fA-F]{2}/;
function __hasLoneSurrogate(json) { return __LONE_SURROGATE.test(json); }

const __q = JSON.stringify;
const __wf = (s) => (typeof s === 'string' ? s.toWellFormed() : s);

// Frames the worker writes. `dataJson` / `argsJson` are JSON texts already.
const __frame = Object.freeze({
  ready: (pid, node) => __q({ ready: { pid, node } }),
  need: (nonce) => __q({ need: { nonce } }),
  log: (nonce, line) => __q({ log: { nonce, line: __wf(line) } }),
  call: (nonce, seq, op, argsJson) =>
    '{"call":{"nonce":' + __q(nonce) + ',"seq":' + seq + ',"op":' + __q(op) + ',"args":' + argsJson + '}}',
  done: (nonce, dataJson) => '{"done":{"nonce":' + __q(nonce) + ',"data":' + dataJson + '}}',
  fail: (nonce, info) => __q({
    fail: {
      nonce, error: __wf(String(info.error)), stack: __wf(info.stack),
      kind: __PROTOCOL.kinds.includes(info.kind) ? info.kind : 'FUNCTION_THREW',
      retire: !!info.retire,
    },
  }),
});
