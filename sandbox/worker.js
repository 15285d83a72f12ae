// ---------------------------------------------------------------------------
// Local driver, appended to prelude.js and protocol.js: one warm worker
// process of the local pool. It reads frames on stdin and writes frames on
// stdout, as crates/core/src/sandbox/protocol.rs describes (frames are built
// only by `__frame` in protocol.js). Pipe writes are synchronous on Linux, so
// a frame is never lost to an exit. One invocation at a time: faults (a hang,
// OOM, exit) stay with the invocation that caused them, and the Rust pool
// replaces the process.
// ---------------------------------------------------------------------------

const __OWN_FILE = __filename;
__hideRuntimeFrames(__OWN_FILE);
const __MODULE_BUDGET = Number(process.argv[2]) || 32 * 1024 * 1024;
const __modules = new Map(); // key → {script, filename, bytes}; Map order = LRU order
const __keyOfName = new Map(); // name → key: a new hash replaces the old entry
let __moduleBytes = 0;
let __spare = null;
let __current = null;

let __write = (line) => { process.stdout.write(line + '\n'); };

function __remember(key, name, mod) {
  const old = __keyOfName.get(name);
  if (old !== undefined && old !== key) __forget(old);
  __keyOfName.set(name, key);
  __modules.set(key, mod);
  __moduleBytes += mod.bytes;
  __trim(key);
}
function __trim(key) {
  for (const [k] of __modules) {
    if (__moduleBytes <= __MODULE_BUDGET || k === key) break;
    __forget(k);
  }
}
// options.reuseContext: the module's context stays with its cache entry
// (and goes when the entry does). Counted at 1 MiB: a bare context holds
// ~150 KiB of heap on Node 20, the module's own state comes on top.
const __KEPT_BYTES = 1024 * 1024;
function __keep(key, mod, c) {
  if (!mod.kept) {
    mod.bytes += __KEPT_BYTES;
    __moduleBytes += __KEPT_BYTES;
  }
  mod.kept = c;
  __trim(key);
}
function __forget(key) {
  const m = __modules.get(key);
  if (!m) return;
  __modules.delete(key);
  __moduleBytes -= m.bytes;
  if (__keyOfName.get(m.name) === key) __keyOfName.delete(m.name);
}

function __finish(inv, line) {
  if (inv.done) return;
  inv.done = true;
  inv.timers.clearAll();
  for (const p of inv.pending.values()) p.reject(new Error('the invocation ended'));
  inv.pending.clear();
  if (__current === inv) __current = null;
  __write(line);
  setImmediate(__prepareSpare);
}
function __fail(inv, info) {
  __finish(inv, __frame.fail(inv.nonce, info));
}
function __failWith(inv, label, err, retire) {
  const info = __describeThrown(err, __OWN_FILE);
  info.error = `${label}: ${info.error}`;
  info.retire = retire;
  __fail(inv, info);
}

function __prepareSpare() {
  if (!__spare && !__current) __spare = __freshContext();
}

async function __run(msg) {
  let mod = __modules.get(msg.key);
  if (mod) {
    __modules.delete(msg.key); // bump to most recently used
    __modules.set(msg.key, mod);
  } else if (typeof msg.code !== 'string') {
    __write(__frame.need(msg.nonce));
    return;
  }
  const inv = { nonce: msg.nonce, done: false, seq: 0, pending: new Map(), timers: null, promiseProto: null };
  inv.timers = __makeTimers((err) => __fault(inv, 'uncaughtException', 'Uncaught exception in a timer callback', err, false, 'uncaughtException'));
  __current = inv;
  if (!mod) {
    try {
      mod = __compile(msg.name, msg.code);
    } catch (err) {
      __fail(inv, { error: err.message, stack: err.stack, kind: err.__kind || 'SYNTAX_ERROR' });
      return;
    }
    mod.name = msg.name;
    mod.bytes = msg.code.length * 2 + 1024;
    __remember(msg.key, msg.name, mod);
  }
  let c;
  if (msg.reuse && mod.kept && mod.kept.fn) c = mod.kept;
  else {
    c = __spare || __freshContext();
    __spare = null;
    if (msg.reuse) __keep(msg.key, mod, c);
  }
  inv.context = c;
  inv.promiseProto = c.promiseProto;
  const maxArgs = msg.maxResult;
  const log = (line) => { if (!inv.done) __write(__frame.log(inv.nonce, line)); };
  const call = (op, args) => new Promise((resolve, reject) => {
    if (inv.done) { reject(new Error('cloud call after the function returned')); return; }
    const json = JSON.stringify(args === undefined ? null : args);
    if (maxArgs && json.length > maxArgs / 3 && Buffer.byteLength(json) > maxArgs) {
      reject(__argError(`cloud call arguments are larger than ${maxArgs} bytes (RUNTIME_MAX_RESULT_BYTES)`));
      return;
    }
    if (__hasLoneSurrogate(json)) {
      reject(__argError('cloud call arguments contain a string with a lone UTF-16 surrogate, which is not valid Unicode and cannot be stored'));
      return;
    }
    const seq = ++inv.seq;
    inv.pending.set(seq, { resolve, reject });
    __write(__frame.call(inv.nonce, seq, op, json));
  });
  await __invoke(mod, c, msg, {
    log, call, timers: inv.timers, ownFile: __OWN_FILE,
    fetch: __makeFetch((r) => call('fetch', r), () => inv.done),
    isDone: () => inv.done,
    done: (json) => __finish(inv, __frame.done(inv.nonce, json)),
    fail: (info) => __fail(inv, info),
  });
}

// A fault of the invocation: to the function's own process listeners if it
// has any (as Node does), else the invocation fails with `label`.
function __fault(inv, event, label, err, retire, ...args) {
  const f = __unhandledFault(inv.context, event, label, err, ...args);
  if (f) __failWith(inv, f.label, f.err, retire && !f.listener);
}

function __argError(message) {
  const e = new Error(message);
  e.errorCode = 'INVALID_ARGUMENT';
  e.code = 'INVALID_ARGUMENT';
  return e;
}

function __onReply(msg) {
  const inv = __current;
  if (!inv || inv.nonce !== msg.nonce) return; // the invocation already ended
  const p = inv.pending.get(msg.seq);
  if (!p) return;
  inv.pending.delete(msg.seq);
  if (msg.ok) p.resolve(msg.value);
  else p.reject(__callError(msg));
}

// SIGUSR1 would open the inspector (what `process._debugProcess` sends):
// a handler keeps it shut. The kernel layers refuse such signals too.
process.on('SIGUSR1', () => {});

// Faults that escape an invocation's own try/catch.
process.on('unhandledRejection', (reason, promise) => {
  const inv = __current;
  // Attribute only rejections of promises made in the current invocation's
  // context; a leftover from an earlier invocation must not fail this one.
  if (inv && Object.getPrototypeOf(promise) === inv.promiseProto) {
    __fault(inv, 'unhandledRejection', 'Unhandled promise rejection', reason, false, promise);
  }
});
process.on('uncaughtException', (err, origin) => {
  const inv = __current;
  if (inv) __fault(inv, 'uncaughtException', 'Uncaught exception', err, true, origin);
  else process.exitCode = 70;
});
process.on('exit', (code) => {
  const inv = __current;
  if (inv && !inv.done) {
    inv.done = true;
    __write(__frame.fail(inv.nonce, { error: `Function called process.exit(${code})`, kind: 'EXITED', retire: true }));
  }
});

let __awaitingCtx = null; // a run frame whose ctx line comes next
function __onLine(line) {
  if (__awaitingCtx) {
    const run = __awaitingCtx;
    __awaitingCtx = null;
    run.ctx = line;
    __run(run);
    return;
  }
  let msg;
  try { msg = JSON.parse(line); } catch { return; }
  if (msg.run) __awaitingCtx = msg.run;
  else if (msg.reply) __onReply(msg.reply);
}

// Lines can be tens of MiB: keep the pieces and join once, so delivery is
// linear in the size (appending to one string and searching it from the
// start on every chunk was quadratic).
let __parts = [];
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  let start = 0;
  let i;
  while ((i = chunk.indexOf('\n', start)) >= 0) {
    __parts.push(chunk.slice(start, i));
    const line = __parts.length === 1 ? __parts[0] : __parts.join('');
    __parts = [];
    start = i + 1;
    if (line || __awaitingCtx) __onLine(line);
  }
  if (start < chunk.length) __parts.push(chunk.slice(start));
});
process.stdin.on('end', () => process.exit(0));

// Before it says ready, a blank worker runs one invocation of its own (no
// tenant's code or data; nothing of it is written or kept), so that V8 has
// compiled the invocation path, which it compiles lazily on first use: a
// new tenant's first call paid for that (bench/isolation.mjs newtenant,
// alternated: 5.5-6.0 ms without, 4.1-4.9 ms with).
async function __warmUp() {
  const write = __write;
  __write = () => {};
  const key = '\0warm-up';
  try {
    await __run({ nonce: '', key, name: 'warm-up', code: 'module.exports = async (ctx) => { console.log("x", ctx.body); return { ok: [ctx.body.n] } }',
      env: {}, logCap: 1024, maxResult: 1024, ctx: '{"body":{"n":1}}' });
  } catch {
    // Only a cost: the first call compiles what this did not.
  } finally {
    __write = write;
    __current = null;
    __forget(key);
  }
}

__warmUp().then(() => {
  __prepareSpare();
  __write(__frame.ready(process.pid, process.version));
});
