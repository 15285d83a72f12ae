// ---------------------------------------------------------------------------
// Local driver, appended to prelude.js: one warm worker process of the local
// pool. It reads newline-delimited JSON frames on stdin and writes frames on
// stdout (pipe writes are synchronous on Linux, so a frame is never lost to
// an exit). One invocation at a time: faults (a hang, OOM, exit) stay with the
// invocation that caused them, and the Rust pool replaces the process.
//
// In:  {t:'run', id, key, name, code|null, ctx, env, logCap}
//      {t:'reply', id, seq, ok, value | error, code}
// Out: {t:'ready'} {t:'need', id} {t:'log', id, line} {t:'call', id, seq, op, args}
//      {t:'done', id, data} {t:'fail', id, error, stack, retire?}
// ---------------------------------------------------------------------------

const __OWN_FILE = __filename;
const __MODULE_BUDGET = Number(process.argv[2]) || 32 * 1024 * 1024;
const __modules = new Map(); // key → {script, filename, bytes}; Map order = LRU order
const __keyOfName = new Map(); // name → key: a new hash replaces the old entry
let __moduleBytes = 0;
let __spare = null;
let __current = null;

function __send(obj) { process.stdout.write(JSON.stringify(obj) + '\n'); }

function __remember(key, name, mod) {
  const old = __keyOfName.get(name);
  if (old !== undefined && old !== key) __forget(old);
  __keyOfName.set(name, key);
  __modules.set(key, mod);
  __moduleBytes += mod.bytes;
  for (const [k] of __modules) {
    if (__moduleBytes <= __MODULE_BUDGET || k === key) break;
    __forget(k);
  }
}
function __forget(key) {
  const m = __modules.get(key);
  if (!m) return;
  __modules.delete(key);
  __moduleBytes -= m.bytes;
  if (__keyOfName.get(m.name) === key) __keyOfName.delete(m.name);
}

function __finish(inv, frame) {
  if (inv.done) return;
  inv.done = true;
  inv.timers.clearAll();
  if (__current === inv) __current = null;
  process.stdout.write(frame + '\n');
  setImmediate(__prepareSpare);
}
function __fail(inv, info, retire) {
  const frame = { t: 'fail', id: inv.id, error: info.error };
  if (info.stack) frame.stack = info.stack;
  if (info.kind) frame.kind = info.kind;
  if (retire) frame.retire = true;
  __finish(inv, JSON.stringify(frame));
}
function __failWith(inv, label, err, retire) {
  const info = __describeThrown(err, __OWN_FILE);
  info.error = `${label}: ${info.error}`;
  __fail(inv, info, retire);
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
    __send({ t: 'need', id: msg.id });
    return;
  }
  const inv = { id: msg.id, done: false, seq: 0, pending: new Map(), timers: null, promiseProto: null };
  inv.timers = __makeTimers((err) => __failWith(inv, 'Uncaught exception in a timer callback', err));
  __current = inv;
  if (!mod) {
    try {
      mod = __compile(msg.name, msg.code);
    } catch (err) {
      __fail(inv, { error: err.message, stack: err.stack, kind: err.__kind });
      return;
    }
    mod.name = msg.name;
    mod.bytes = msg.code.length * 2 + 1024;
    __remember(msg.key, msg.name, mod);
  }
  const c = __spare || __freshContext();
  __spare = null;
  inv.promiseProto = c.promiseProto;
  const log = (line) => { if (!inv.done) __send({ t: 'log', id: inv.id, line }); };
  const call = (op, args) => new Promise((resolve, reject) => {
    if (inv.done) { reject(new Error('cloud call after the function returned')); return; }
    const seq = ++inv.seq;
    inv.pending.set(seq, { resolve, reject });
    __send({ t: 'call', id: inv.id, seq, op, args });
  });
  await __invoke(mod, c, msg, {
    log, call, timers: inv.timers, ownFile: __OWN_FILE,
    isDone: () => inv.done,
    done: (json) => __finish(inv, '{"t":"done","id":' + inv.id + ',"data":' + json + '}'),
    fail: (info) => __fail(inv, info),
  });
}

function __onReply(msg) {
  const inv = __current;
  if (!inv || inv.id !== msg.id) return; // the invocation already ended
  const p = inv.pending.get(msg.seq);
  if (!p) return;
  inv.pending.delete(msg.seq);
  if (msg.ok) p.resolve(msg.value);
  else p.reject(__callError(msg));
}

// Faults that escape an invocation's own try/catch.
process.on('unhandledRejection', (reason, promise) => {
  const inv = __current;
  // Attribute only rejections of promises made in the current invocation's
  // context; a leftover from an earlier invocation must not fail this one.
  if (inv && Object.getPrototypeOf(promise) === inv.promiseProto) {
    __failWith(inv, 'Unhandled promise rejection', reason);
  }
});
process.on('uncaughtException', (err) => {
  const inv = __current;
  if (inv) __failWith(inv, 'Uncaught exception', err, true);
  else process.exitCode = 70;
});
process.on('exit', (code) => {
  const inv = __current;
  if (inv && !inv.done) {
    inv.done = true;
    process.stdout.write(JSON.stringify({ t: 'fail', id: inv.id, error: `Function called process.exit(${code})`, kind: 'exit', retire: true }) + '\n');
  }
});

let __buf = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (chunk) => {
  __buf += chunk;
  let i;
  while ((i = __buf.indexOf('\n')) >= 0) {
    const line = __buf.slice(0, i);
    __buf = __buf.slice(i + 1);
    if (!line) continue;
    let msg;
    try { msg = JSON.parse(line); } catch { continue; }
    if (msg.t === 'run') __run(msg);
    else if (msg.t === 'reply') __onReply(msg);
  }
});
process.stdin.on('end', () => process.exit(0));

__prepareSpare();
__send({ t: 'ready', pid: process.pid, node: process.version });
