// ---------------------------------------------------------------------------
// Dify driver, appended to prelude.js and followed by one call
// `__difyMain({...})`: the whole program of one run in a Dify Sandbox.
//
// The real node runner evals this inside a CommonJS script after installing
// a seccomp filter, so: no top-level await, no process.cwd(), no directory
// listing, no DNS (the bridge URL is an IP literal), no npm packages,
// nothing from `preload`. stdout and stderr come back separately with their
// interleaving lost, so every log line and the result go to stdout as
// frames: a line starting with a per-run nonce, then L (a log line) or R
// (the result), then JSON. Frames start on a fresh line, so user output
// written with process.stdout.write cannot glue onto them, and without the
// nonce user output cannot be taken for a frame.
// ---------------------------------------------------------------------------

function __difyMain(cfg) {
  const http = require('http');
  const ownFile = 'dify-runtime';
  const emit = (kind, payload) => { process.stdout.write('\n' + cfg.nonce + kind + payload + '\n'); };
  let done = false;
  const finish = (payload) => {
    if (done) return;
    done = true;
    timers.clearAll();
    clearTimeout(deadline);
    // Leftover handles (an open socket, an interval) must not keep the run
    // alive until the server's own timeout; exit once stdout has drained
    // (a pipe may be written asynchronously, and exit would cut it).
    process.stdout.write('\n' + cfg.nonce + 'R' + payload + '\n', () => process.exit(0));
  };
  const fail = (info) => finish(JSON.stringify(Object.assign({ failed: true }, info)));
  const timers = __makeTimers((err) => {
    const info = __describeThrown(err, ownFile);
    info.error = 'Uncaught exception in a timer callback: ' + info.error;
    fail(info);
  });
  // The function's own deadline: a promise that never settles must time out
  // like it does on the local pool, not end the process early.
  const deadline = setTimeout(() => fail({ error: `Function timed out after ${cfg.timeoutMs} ms`, kind: 'TIMEOUT' }), cfg.timeoutMs);

  const bridge = new URL(cfg.bridgeUrl);
  const call = (op, args) => new Promise((resolve, reject) => {
    if (done) { reject(new Error('cloud call after the function returned')); return; }
    const body = JSON.stringify({ op, args });
    const req = http.request({
      host: bridge.hostname.replace(/^\[|\]$/g, ''), port: bridge.port || 80, method: 'POST',
      path: bridge.pathname.replace(/\/$/, '') + '/v1/call',
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: 'Bearer ' + cfg.token },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { text += d; });
      res.on('end', () => {
        let reply;
        try { reply = JSON.parse(text); } catch { reject(new Error(`cloud bridge answered HTTP ${res.statusCode} with a non-JSON body`)); return; }
        if (reply.ok) resolve(reply.value);
        else reject(__callError(reply));
      });
    });
    req.on('error', (e) => reject(new Error(`cloud bridge unreachable at ${cfg.bridgeUrl}: ${e.message}`)));
    req.end(body);
  });

  process.on('unhandledRejection', (reason) => {
    const info = __describeThrown(reason, ownFile);
    info.error = 'Unhandled promise rejection: ' + info.error;
    fail(info);
  });
  process.on('uncaughtException', (err) => {
    const info = __describeThrown(err, ownFile);
    info.error = 'Uncaught exception: ' + info.error;
    fail(info);
  });

  process.on('exit', (code) => {
    if (!done) { done = true; emit('R', JSON.stringify({ failed: true, error: `Function called process.exit(${code})`, kind: 'EXITED' })); }
  });

  let mod;
  try {
    mod = __compile(cfg.name, cfg.code);
  } catch (err) {
    fail({ error: err.message, stack: err.stack, kind: err.__kind || 'SYNTAX_ERROR' });
    return;
  }
  const c = __freshContext();
  __invoke(mod, c, cfg, {
    log: (line) => { if (!done) emit('L', JSON.stringify(line)); },
    call, timers, ownFile,
    isDone: () => done,
    done: (json) => finish('{"data":' + json + '}'),
    fail,
  });
}
