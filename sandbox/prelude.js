'use strict';
// The prelude: what every sandbox (a local worker or a Dify Sandbox run)
// gives user code — a per-invocation `console`, CommonJS loading with the
// user's own line numbers, and the result envelope; the `cloud` client and
// `ObjectId` come from sdk.js, which precedes this file (and defines
// `__util` and `__crypto`). A driver (worker.js for the local pool, dify.js
// for Dify) is appended and supplies the transport: how log lines, cloud
// calls and results travel. Nothing here touches process.stdout or the
// network by itself.

const __vm = require('vm');
const { isBuiltin: __isBuiltin } = require('module');

// ------------------------------------------------------------------ console

// One console per invocation. `sink(line)` receives each formatted line; the
// byte cap is enforced here so a chatty function cannot flood the host.
function __makeConsole(sink, capBytes) {
  let used = 0;
  let truncated = false;
  const counts = new Map();
  const timers = new Map();
  let indent = ''; // console.group's, two spaces a level, on every line
  let tabler = null; // Node's Console, made on the first console.table
  const emitText = (prefix, text) => {
    if (truncated) return;
    const line = prefix + (indent ? indent + text.replace(/\n/g, '\n' + indent) : text);
    used += Buffer.byteLength(line) + 1;
    if (used > capBytes) {
      truncated = true;
      sink(`[TRUNCATED] log output exceeded ${capBytes} bytes; further lines were dropped`);
      return;
    }
    sink(line);
  };
  const emit = (prefix, args) => emitText(prefix, __util.format(...args));
  const group = (...a) => { if (a.length) emit('', a); indent += '  '; };
  return {
    log: (...a) => emit('', a),
    info: (...a) => emit('', a),
    warn: (...a) => emit('[WARN] ', a),
    error: (...a) => emit('[ERROR] ', a),
    debug: (...a) => emit('[DEBUG] ', a),
    // The stack starts at the caller: captureStackTrace leaves out `trace`
    // itself, whether or not the runtime's frames are hidden.
    trace: function trace(...a) {
      const at = {};
      Error.captureStackTrace(at, trace);
      // As Node prints it: `Trace: message`, then the frames.
      const message = __util.format(...a);
      emitText('[DEBUG] ', (message ? 'Trace: ' + message : 'Trace') + '\n' + String(at.stack).split('\n').slice(1).join('\n'));
    },
    dir: (o, opts) => emit('', [__util.inspect(o, opts)]),
    table: (data, columns) => {
      if (!tabler) {
        const { Console } = require('console');
        const stdout = { write: (s) => { emitText('', s.endsWith('\n') ? s.slice(0, -1) : s); return true; } };
        tabler = new Console({ stdout, colorMode: false, ignoreErrors: false });
      }
      tabler.table(data, columns);
    },
    dirxml: (...a) => emit('', a),
    assert: (cond, ...a) => { if (!cond) emit('[ERROR] ', ['Assertion failed' + (a.length ? ':' : ''), ...a]); },
    count: (label = 'default') => { const n = (counts.get(label) || 0) + 1; counts.set(label, n); emit('', [`${label}: ${n}`]); },
    countReset: (label = 'default') => { counts.delete(label); },
    time: (label = 'default') => { timers.set(label, process.hrtime.bigint()); },
    timeEnd: (label = 'default') => {
      const t = timers.get(label);
      if (t !== undefined) { timers.delete(label); emit('', [`${label}: ${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(3)}ms`]); }
    },
    timeLog: (label = 'default', ...a) => {
      const t = timers.get(label);
      if (t !== undefined) emit('', [`${label}: ${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(3)}ms`, ...a]);
    },
    group,
    groupCollapsed: group,
    groupEnd: () => { indent = indent.slice(2); },
    // No-ops, as in a Node process whose stdout is not a terminal (clear)
    // or that has no inspector attached (the rest).
    clear: () => {}, profile: () => {}, profileEnd: () => {}, timeStamp: () => {},
  };
}

// -------------------------------------------------------------------- fetch

// A function's `fetch`: the request goes to the host, which performs it
// under the egress policy (crates/core/src/egress.rs). `send(request)` →
// Promise of `{ status, statusText, headers, body (base64), url, redirected }`,
// rejecting with the host's error (errorCode EGRESS_REFUSED / EGRESS_FAILED).
function __makeFetch(send, isDone) {
  return async function fetch(input, init) {
    if (isDone()) throw new TypeError('fetch after the function returned');
    const req = new Request(input, init);
    const signal = req.signal;
    if (signal && signal.aborted) throw signal.reason;
    const body = req.body === null ? null : Buffer.from(await req.arrayBuffer()).toString('base64');
    const sent = send({ url: req.url, method: req.method, headers: [...req.headers], body, redirect: req.redirect });
    let reply;
    try {
      reply = await (signal ? Promise.race([sent, new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason), { once: true }))]) : sent);
    } catch (err) {
      if (err && err.errorCode) {
        const e = new TypeError(err.message);
        e.code = err.errorCode;
        e.errorCode = err.errorCode;
        throw e;
      }
      throw err;
    }
    const nullBody = reply.status === 101 || reply.status === 204 || reply.status === 205 || reply.status === 304;
    const res = new Response(nullBody ? null : Buffer.from(reply.body, 'base64'), { status: reply.status, statusText: reply.statusText, headers: reply.headers });
    Object.defineProperty(res, 'url', { value: reply.url });
    Object.defineProperty(res, 'redirected', { value: reply.redirected });
    return res;
  };
}

// ------------------------------------------------------------------ modules

const __ESM_HINT = 'ES module syntax is not supported: compile the function to CommonJS ' +
  '(module.exports = fn, exports.default = fn or exports.main = fn)';

// Compiles user code once. The wrapper's opening is on line 1 with the code,
// so every line number in a stack is the user's own.
function __compile(name, code) {
  const filename = name + '.js';
  const prefix = '(function (exports, require, module, __filename, __dirname) {';
  try {
    // A negative column offset keeps line-1 columns the user's too.
    const script = new __vm.Script(prefix + code + '\n})', { filename, columnOffset: -prefix.length });
    return { script, filename, twins: __twinsOf(code) };
  } catch (err) {
    throw __syntaxError(err, filename);
  }
}

function __syntaxError(err, filename) {
  const msg = String(err && err.message);
  if (/Cannot use import statement|Unexpected token 'export'|import\.meta|await is only valid/.test(msg)) {
    const e = new Error(__ESM_HINT + ` (${msg})`);
    e.stack = e.message;
    e.__kind = 'ESM_SYNTAX';
    return e;
  }
  // V8 puts "file:line", the source line and a caret before the message.
  const head = String(err && err.stack || '').split('\n\n')[0];
  const [where, text = ''] = head.split('\n');
  const line = where.startsWith(filename + ':') ? where.slice(filename.length + 1) : '';
  // `using` declarations (TypeScript 5.2, ES2026) parse, and run from
  // Node 24 on; older V8 said only "Unexpected identifier 'r'".
  const hint = /^Unexpected identifier/.test(msg) && /(^|[^\w$.])using\s+[\w$]/.test(text)
    ? `: \`using\` declarations need Node.js 24 or later, and this sandbox runs ${process.version}: use try/finally`
    : '';
  const e = new Error(`SyntaxError: ${msg}${hint}${line ? ` (${filename}:${line})` : ''}`);
  e.stack = head + `\n\nSyntaxError: ${msg}${hint}`;
  e.__kind = 'SYNTAX_ERROR';
  return e;
}

// Modules that open sockets: a function has none (the kernel refuses them
// in local workers, the Dify Sandbox kills the run); its network is `fetch`,
// performed (and its host name resolved) by the host.
const __NET_MODULES = new Set(['net', 'tls', 'http', 'https', 'http2', 'dgram']);
function __netError(what) {
  const e = new Error(`${what} is not available in a function: it has no network sockets. ` +
    'Use fetch(url, init), which the runtime performs for the function under its egress policy (RUNTIME_EGRESS_ALLOW)');
  e.code = 'EGRESS_REFUSED';
  e.errorCode = 'EGRESS_REFUSED';
  return e;
}
function __netModule(id) {
  const real = require(id);
  const out = {};
  for (const k of Object.keys(real)) {
    const v = real[k];
    out[k] = typeof v === 'function' && /^(request|get|connect|createConnection|createServer|createSocket|lookup|resolve|Server|Socket|Agent)/.test(k)
      ? function () { throw __netError(`${id}.${k}()`); }
      : v;
  }
  return Object.freeze(out);
}

// `dns` and `dns/promises` refuse the same way. Built without loading Node's
// dns, which starts a resolver: the real Dify Sandbox kills the run for that
// alone (a lookup timed out locally, EAI_AGAIN, with no word on why).
const __DNS_CALLS = ['lookup', 'lookupService', 'resolve', 'resolve4', 'resolve6', 'resolveAny', 'resolveCaa',
  'resolveCname', 'resolveMx', 'resolveNaptr', 'resolveNs', 'resolvePtr', 'resolveSoa', 'resolveSrv', 'resolveTxt',
  'reverse', 'Resolver', 'getServers', 'setServers'];
function __dnsModule(id) {
  const out = {};
  for (const k of __DNS_CALLS) out[k] = function () { throw __netError(`${id}.${k}()`); };
  if (id === 'dns') out.promises = __dnsModule('dns.promises');
  return Object.freeze(out);
}

// What a driver may narrow: Dify's allow-list has no getgid, and Node's
// os.tmpdir() asks for it (to read TMPDIR safely), so either kills the run.
const __host = {
  getgid: () => (process.getgid ? process.getgid() : -1),
  tmpdir: () => require('os').tmpdir(),
  // The folder relative paths resolve against (a local worker's is its
  // private temp folder).
  cwd: () => process.cwd(),
  // A built-in module as functions get it (dify.js narrows fs, zlib, crypto).
  adapt: (id, mod) => mod,
  // The global `crypto` of a function's context (dify.js narrows subtle).
  webcrypto: () => globalThis.crypto,
  // One of Node's lazily loaded globals, as a function's context gets it
  // (dify.js narrows CompressionStream and DecompressionStream).
  global: (name) => globalThis[name],
  // getrusage: Dify's allow-list has none (dify.js refuses these).
  cpuUsage: (previous) => process.cpuUsage(previous),
  resourceUsage: () => process.resourceUsage(),
};
// `os` as a sandboxed process sees it. Node's own answers were errors a
// function could not act on: networkInterfaces() "uv_interface_addresses
// returned Unknown system error 1" (no network), homedir() and userInfo()
// EACCES (the password database is not readable). A function has no network
// interfaces, and its home is its private temp folder.
function __osModule() {
  const real = require('os');
  const userInfo = (options) => {
    const home = __host.tmpdir();
    const enc = options && options.encoding === 'buffer' ? (s) => Buffer.from(s) : (s) => s;
    return { uid: process.getuid ? process.getuid() : -1, gid: __host.getgid(), username: enc('sandbox'), homedir: enc(home), shell: null };
  };
  return Object.assign({}, real, { networkInterfaces: () => ({}), tmpdir: () => __host.tmpdir(), homedir: () => __host.tmpdir(), userInfo });
}

// `fs` with existsSync that never throws, as Node documents it: under Node's
// permission model it threw ERR_ACCESS_DENIED for paths outside the sandbox
// (`if (fs.existsSync(p))` failed the function); such a path does not exist
// for the function. A copy per invocation, so a module patching `fs` (as
// graceful-fs does) patches only its own invocation's.
function __fsModule() {
  const real = require('fs');
  const existsSync = function existsSync(path) {
    try {
      return real.existsSync(path);
    } catch (err) {
      if (err && err.code === 'ERR_ACCESS_DENIED') return false;
      throw err;
    }
  };
  return Object.assign({}, real, { existsSync });
}

// `require` of one invocation: Node built-ins, with the timers owned by the
// invocation (cleared when it ends) and the socket modules refusing with a
// pointer to fetch. None of this is the boundary (`require('process')` is
// the worker's real `process`): the kernel layers of
// crates/core/src/sandbox/isolation.rs are; this gives clear errors.
function __makeRequire(timers) {
  // Built on first use: most functions never require timers.
  let timersModule, timersPromises, osModule, fsModule;
  const t = timers.globals;
  return function require(id) {
    const bare = typeof id === 'string' && id.startsWith('node:') ? id.slice(5) : id;
    if (bare === 'timers') {
      return timersModule || (timersModule = Object.freeze(Object.assign({}, __sandboxRequire('timers'), t)));
    }
    if (bare === 'timers/promises') {
      const p = timers.promises;
      return timersPromises || (timersPromises = Object.freeze({
        setTimeout: p.setTimeout,
        setImmediate: p.setImmediate,
        scheduler: Object.freeze({ wait: (ms, options) => p.setTimeout(ms, undefined, options), yield: () => p.setImmediate() }),
      }));
    }
    if (__NET_MODULES.has(bare)) return __netModule(bare);
    if (bare === 'dns' || bare === 'dns/promises') return __dnsModule(bare);
    if (bare === 'os') return osModule || (osModule = __host.adapt('os', __osModule()));
    if (bare === 'fs') return fsModule || (fsModule = __host.adapt('fs', __fsModule()));
    return __host.adapt(bare, __sandboxRequire(id));
  };
}

function __sandboxRequire(id) {
  if (typeof id === 'string' && __isBuiltin(id)) return require(id);
  const e = new Error(`Cannot find module '${id}': functions can require only Node built-in modules (bundle other packages into the compiled code)`);
  e.code = 'MODULE_NOT_FOUND';
  throw e;
}

function __describeExports(exp) {
  if (exp === null || exp === undefined) return String(exp);
  if (typeof exp !== 'object') return typeof exp;
  const keys = Object.keys(exp);
  return keys.length ? `an object with keys ${keys.slice(0, 8).join(', ')}` : 'an empty object';
}

// Finds the callable the way the seed's loader does: module.exports itself,
// then exports.default, then exports.main.
function __entry(exp) {
  const fn = typeof exp === 'function' ? exp
    : exp && typeof exp.default === 'function' ? exp.default
      : exp && typeof exp.main === 'function' ? exp.main : undefined;
  // A class's `prototype` is read-only, a function's is not (arrows have
  // none): V8's own "Class constructor … cannot be invoked without 'new'"
  // named neither the export nor what to do.
  if (fn && Object.getOwnPropertyDescriptor(fn, 'prototype')?.writable !== false) return fn;
  const e = new Error(fn
    ? 'No callable export: the export is a class, which cannot be called as a function: export a function (export default async function (ctx) { … }) that uses it'
    : `No callable export: set module.exports = fn, exports.default = fn or exports.main = fn (found ${__describeExports(exp)})`);
  e.stack = e.message;
  e.__kind = 'NO_EXPORT';
  throw e;
}

// ------------------------------------------------------------------ results

// Stringifies the return value; `undefined` becomes null. A value that cannot
// be JSON (BigInt, circular) or is larger than `maxBytes` is the function's
// error, not a crash. The length check is in UTF-16 units first (cheap) and
// in bytes only near the limit.
function __serialize(value, maxBytes) {
  let s;
  try {
    s = JSON.stringify(value === undefined ? null : value);
  } catch (err) {
    const tooBig = err instanceof RangeError && /Invalid string length/.test(err.message);
    const e = new Error(tooBig
      ? `Function returned a result larger than ${maxBytes} bytes of JSON (RUNTIME_MAX_RESULT_BYTES)`
      : `Function returned a value that cannot be converted to JSON: ${err && err.message}`);
    e.stack = e.message;
    e.__kind = tooBig ? 'RESULT_TOO_LARGE' : 'BAD_RESULT';
    throw e;
  }
  if (s === undefined) return 'null';
  if (maxBytes && s.length > maxBytes / 3 && Buffer.byteLength(s) > maxBytes) {
    const e = new Error(`Function returned a result larger than ${maxBytes} bytes of JSON (RUNTIME_MAX_RESULT_BYTES)`);
    e.stack = e.message;
    e.__kind = 'RESULT_TOO_LARGE';
    throw e;
  }
  return s;
}

// Runtime frames: our own file, Node internals, and (on Dify) the eval'd program.
const __RUNTIME_FRAME = /\(node:|\(vm\.js|at node:|\beval at\b|at __invoke|at __difyMain|at Object\.<anonymous> \(/;
function __isRuntimeFrame(line, ownFile) {
  return /^\s+at /.test(line) && (line.includes(ownFile) || __RUNTIME_FRAME.test(line));
}

// Keeps the user's frames and drops the runtime's own.
function __cleanStack(stack, ownFile) {
  if (typeof stack !== 'string') return undefined;
  return stack.split('\n').filter((l) => !__isRuntimeFrame(l, ownFile)).join('\n');
}

// Every error's `stack` as user code reads, logs or returns it leaves out the
// runtime's frames too (they named this file's path and Node's stream
// internals under every function's own frames). Set on the driver's own
// Error: Node asks it for errors of every context whose Error has no
// prepareStackTrace of its own (Node 20 and 24), so a function still sees
// `Error.prepareStackTrace` undefined and may set its own. The format is
// V8's default, frame for frame.
function __hideRuntimeFrames(ownFile) {
  Error.prepareStackTrace = (error, frames) => {
    let out;
    try { out = Error.prototype.toString.call(error); } catch { out = 'Error'; }
    for (const f of frames) {
      const line = `    at ${f}`;
      if (!__isRuntimeFrame(line, ownFile)) out += '\n' + line;
    }
    return out;
  };
}

// Node's permission model says only "Access to this API has been restricted".
const __ACCESS_HINT = ' (refused by the runtime\'s sandbox: functions may write files only under os.tmpdir(), and may not start processes or worker threads)';

function __describeThrown(err, ownFile) {
  if (err instanceof Error || (err && typeof err === 'object' && typeof err.message === 'string' && typeof err.stack === 'string')) {
    let error = err.message || String(err.name || 'Error');
    let kind = typeof err.__kind === 'string' ? err.__kind : 'FUNCTION_THREW';
    if (err.code === 'ERR_ACCESS_DENIED') {
      // Node 22+ suggests a flag the function cannot pass: say what applies.
      error = error.replace(/\. Use --allow-[\w-]+ to manage permissions\.?$/, '') + __ACCESS_HINT;
      kind = 'BLOCKED';
    }
    // Buffers and ArrayBuffers count against the worker's data limit
    // (RLIMIT_DATA), which memoryMb sets.
    if (err instanceof RangeError && /Array buffer allocation failed|allocation failed/i.test(error)) {
      error = `Out of memory: ${error} (Buffers and ArrayBuffers count against memoryMb)`;
      kind = 'OUT_OF_MEMORY';
    }
    return { error, stack: __cleanStack(err.stack, ownFile), kind };
  }
  return { error: `Function threw a non-Error value: ${__util.inspect(err, { depth: 2, breakLength: Infinity })}`, kind: 'FUNCTION_THREW' };
}

// The globals of a fresh invocation context, besides what V8 provides. Host
// objects are shared read-only by reference; per-invocation ones (console,
// cloud, timers, process) are set when the context is used.
// fetch and its classes come from undici, which Node loads on first access
// (~25 ms, measured in a Dify run, where every run is a new process): the
// context gets them lazily, as Node's own global does, and a driver may
// replace them (dify.js replaces fetch).
// Node's other web globals (events, streams, messaging, File, performance
// and Web Crypto classes) load the same way: a function that made
// `new EventTarget()`, `new ReadableStream()` or `new DOMException()` got
// "… is not defined", though `node` has them all as globals. Only those the
// workers' Node has (a name missing from Node 20 stays missing).
const __LAZY_WEB = ['fetch', 'Headers', 'Request', 'Response', 'FormData', 'Blob',
  'DOMException', 'Event', 'EventTarget', 'CustomEvent', 'MessageChannel', 'MessagePort', 'MessageEvent', 'BroadcastChannel',
  'ReadableStream', 'ReadableStreamDefaultReader', 'ReadableStreamBYOBReader', 'ReadableStreamBYOBRequest',
  'ReadableByteStreamController', 'ReadableStreamDefaultController', 'TransformStream', 'TransformStreamDefaultController',
  'WritableStream', 'WritableStreamDefaultWriter', 'WritableStreamDefaultController', 'ByteLengthQueuingStrategy',
  'CountQueuingStrategy', 'TextEncoderStream', 'TextDecoderStream', 'CompressionStream', 'DecompressionStream', 'File',
  'Performance', 'PerformanceEntry', 'PerformanceMark', 'PerformanceMeasure', 'PerformanceObserver',
  'PerformanceObserverEntryList', 'PerformanceResourceTiming', 'Crypto', 'CryptoKey', 'SubtleCrypto',
].filter((name) => name in globalThis);
// Descriptors made once: defining six accessors with fresh closures cost
// ~7 µs of every context; these 42 shared ones cost ~6 µs. The getter
// settles the value on its receiver, the context's global.
const __LAZY_WEB_DESCRIPTORS = Object.fromEntries(__LAZY_WEB.map((name) => {
  function settle(value) { Object.defineProperty(this, name, { value, writable: true, configurable: true, enumerable: true }); }
  return [name, {
    get() { const v = __host.global(name); settle.call(this, v); return v; },
    set: settle,
    configurable: true,
    enumerable: true,
  }];
}));
function __baseGlobals() {
  const g = {
    Buffer, URL, URLSearchParams, TextEncoder, TextDecoder, AbortController, AbortSignal,
    structuredClone, atob, btoa, queueMicrotask, performance,
    crypto: __host.webcrypto(), ObjectId, require: __sandboxRequire,
  };
  Object.defineProperties(g, __LAZY_WEB_DESCRIPTORS);
  return g;
}

// What user code sees as `process`: no host environment, no exit. Its
// stdout and stderr write to the invocation's log (a line per write, one
// trailing newline dropped; stderr as `[ERROR] `), emitWarning logs
// `[WARN] `, and its events are the invocation's own (the runtime emits none):
// libraries that call process.stdout.write, process.emitWarning or
// process.on('exit', …) failed with a TypeError. runCode's snippet wrapper
// points the streams at stdout and stderr through `__STREAMS`. A class, so
// that an invocation pays for one small object (the warm path makes one per
// call); what is the same for every invocation lives on the prototype.
const __STREAMS = Symbol.for('simple-ide.runtime.streams');
const __EventEmitter = require('events');
const __trimNewline = (text) => (text.endsWith('\n') ? text.slice(0, -1) : text);
function __stdStream(fd, write) {
  return Object.freeze({
    fd, isTTY: false, writable: true,
    write(chunk, encoding, cb) {
      if (typeof chunk !== 'string' && !(chunk instanceof Uint8Array)) {
        throw new TypeError('The "chunk" argument must be of type string or an instance of Buffer or Uint8Array');
      }
      write(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString());
      const done = typeof encoding === 'function' ? encoding : cb;
      if (typeof done === 'function') process.nextTick(done);
      return true;
    },
    on() { return this; }, once() { return this; }, off() { return this; }, removeListener() { return this; },
  });
}
const __nodeProcess = process;
// Node reads rss from /proc/self/stat, which a worker may not open
// (Landlock reads only node and the worker script), so process.memoryUsage()
// threw "EACCES: permission denied, uv_resident_set_memory". Where that
// happens, V8's own figures stand in: rss is the heap's resident size plus
// malloc'd and external memory (no code pages), and arrayBuffers is given as
// external, which includes it.
let __procReadable = true;
function __memoryUsage() {
  if (__procReadable) {
    try { return __nodeProcess.memoryUsage(); } catch { __procReadable = false; }
  }
  const h = require('v8').getHeapStatistics();
  return {
    rss: h.total_physical_size + h.malloced_memory + h.external_memory,
    heapTotal: h.total_heap_size,
    heapUsed: h.used_heap_size,
    external: h.external_memory,
    arrayBuffers: h.external_memory,
  };
}
// Named `process`, as a function sees it printed (`process { env: {} }`);
// inside the class body that name is the class, so Node's is __nodeProcess.
const __Process = class process {
  #console; #streams = null; #stdout = null; #stderr = null; #events = null;
  constructor(console) {
    this.env = {};
    this.#console = console;
  }
  #write(fd, text) {
    if (this.#streams) this.#streams[fd - 1](text);
    else if (fd === 1) this.#console.log(__trimNewline(text));
    else this.#console.error(__trimNewline(text));
  }
  get stdout() { return this.#stdout || (this.#stdout = __stdStream(1, (text) => this.#write(1, text))); }
  get stderr() { return this.#stderr || (this.#stderr = __stdStream(2, (text) => this.#write(2, text))); }
  emitWarning(warning, options, code) {
    // An Error of the function's own context is not an instanceof ours.
    const isError = __util.types.isNativeError(warning) || warning instanceof Error;
    let type = isError ? String(warning.name) : 'Warning';
    if (typeof options === 'string') type = options;
    else if (options && typeof options === 'object') {
      if (typeof options.type === 'string') type = options.type;
      if (typeof options.code === 'string') code = options.code;
    }
    const line = `${typeof code === 'string' ? `[${code}] ` : ''}${type}: ${isError ? String(warning.message) : String(warning)}`;
    if (this.#streams) this.#streams[1](line + '\n');
    else this.#console.warn(line);
  }
  #ee() { return this.#events || (this.#events = new __EventEmitter()); }
  on(...a) { this.#ee().on(...a); return this; }
  once(...a) { this.#ee().once(...a); return this; }
  off(...a) { this.#ee().off(...a); return this; }
  addListener(...a) { this.#ee().addListener(...a); return this; }
  removeListener(...a) { this.#ee().removeListener(...a); return this; }
  removeAllListeners(...a) { this.#ee().removeAllListeners(...a); return this; }
  prependListener(...a) { this.#ee().prependListener(...a); return this; }
  prependOnceListener(...a) { this.#ee().prependOnceListener(...a); return this; }
  setMaxListeners(n) { this.#ee().setMaxListeners(n); return this; }
  emit(...a) { return this.#ee().emit(...a); }
  listeners(name) { return this.#ee().listeners(name); }
  listenerCount(name) { return this.#ee().listenerCount(name); }
  eventNames() { return this.#ee().eventNames(); }
  nextTick(fn, ...args) { __nodeProcess.nextTick(fn, ...args); }
  memoryUsage() { return __memoryUsage(); }
  cpuUsage(previous) { return __host.cpuUsage(previous); }
  resourceUsage() { return __host.resourceUsage(); }
  uptime() { return __nodeProcess.uptime(); }
  cwd() { return __host.cwd(); }
  exit(code) {
    const e = new Error(`process.exit(${code === undefined ? '' : code}) is not allowed in a function: return a value or throw an error instead`);
    e.__kind = 'EXITED';
    throw e;
  }
  [__STREAMS](out, err) { this.#streams = [out, err]; }
};
Object.defineProperties(__Process.prototype, {
  [Symbol.toStringTag]: { value: 'process' },
  argv: { value: Object.freeze([]), enumerable: true },
  execArgv: { value: Object.freeze([]), enumerable: true },
  pid: { value: process.pid, enumerable: true },
  title: { value: 'node', enumerable: true },
  release: { value: Object.freeze({ ...process.release }), enumerable: true },
  platform: { value: process.platform, enumerable: true },
  arch: { value: process.arch, enumerable: true },
  version: { value: process.version, enumerable: true },
  versions: { value: process.versions, enumerable: true },
  hrtime: { value: Object.freeze(Object.assign((t) => process.hrtime(t), { bigint: () => process.hrtime.bigint() })), enumerable: true },
});
__Process.prototype.memoryUsage.rss = () => __memoryUsage().rss;
Object.freeze(__Process.prototype.memoryUsage);
Object.freeze(__Process.prototype);

// Node's rule for a fault nothing caught: a process with listeners for
// 'unhandledRejection' or 'uncaughtException' hands it to them and goes on.
// A function's listeners (on its own process, in context `c`) get its faults
// the same way. Returns null when they took it, else what fails the
// invocation: the driver's `label` and `err` without listeners, or the error
// a listener threw (`listener: true`).
function __unhandledFault(c, event, label, err, ...args) {
  const p = c && c.process;
  if (!p || p.listenerCount(event) === 0) return { label, err, listener: false };
  try {
    p.emit(event, err, ...args);
    return null;
  } catch (thrown) {
    return { label: `Uncaught exception in a process.on('${event}') listener`, err: thrown, listener: true };
  }
}

// Timers owned by one invocation: cleared when it ends so nothing it
// scheduled runs during the next one; a throwing callback fails the
// invocation instead of the process.
function __makeTimers(fail) {
  const live = new Set();
  const guard = (fn, args) => {
    if (typeof fn !== 'function') throw new TypeError('The "callback" argument must be of type function');
    return () => { try { fn(...args); } catch (err) { fail(err); } };
  };
  const add = (h) => { live.add(h); return h; };
  const globals = {
    setTimeout: (fn, ms, ...args) => { const g = guard(fn, args); const h = setTimeout(() => { live.delete(h); g(); }, ms); return add(h); },
    setInterval: (fn, ms, ...args) => add(setInterval(guard(fn, args), ms)),
    setImmediate: (fn, ...args) => { const g = guard(fn, args); const h = setImmediate(() => { live.delete(h); g(); }); return add(h); },
    clearTimeout: (h) => { live.delete(h); clearTimeout(h); },
    clearInterval: (h) => { live.delete(h); clearInterval(h); },
    clearImmediate: (h) => { live.delete(h); clearImmediate(h); },
  };
  const clearAll = () => {
    for (const h of live) { clearTimeout(h); clearInterval(h); clearImmediate(h); }
    live.clear();
  };
  // timers/promises, on this invocation's timers; also what
  // util.promisify(setTimeout) returns (`const sleep = promisify(setTimeout)`
  // threw 'The "callback" argument must be of type function').
  const later = (schedule, cancel, value, options) => new Promise((resolve, reject) => {
    const signal = options && options.signal;
    if (signal && signal.aborted) { reject(__abortError(signal)); return; }
    const onAbort = () => { cancel(h); reject(__abortError(signal)); };
    const h = schedule(() => { if (signal) signal.removeEventListener('abort', onAbort); resolve(value); });
    if (signal) signal.addEventListener('abort', onAbort, { once: true });
  });
  const promises = {
    setTimeout: (ms, value, options) => later((fn) => globals.setTimeout(fn, ms), globals.clearTimeout, value, options),
    setImmediate: (value, options) => later((fn) => globals.setImmediate(fn), globals.clearImmediate, value, options),
  };
  __linkPromisified(globals, promises);
  return { globals, promises, clearAll };
}
// What util.promisify(setTimeout) and (setImmediate) return: `promises`'.
function __linkPromisified(globals, promises) {
  Object.defineProperty(globals.setTimeout, __util.promisify.custom, { value: promises.setTimeout });
  Object.defineProperty(globals.setImmediate, __util.promisify.custom, { value: promises.setImmediate });
}
function __abortError(signal) {
  const e = new Error('The operation was aborted', { cause: signal.reason });
  e.name = 'AbortError';
  e.code = 'ABORT_ERR';
  return e;
}

// Node's built-ins make their objects in the worker's realm, not the
// context's: in a function, `err instanceof Error` was false for an error of
// fetch, cloud.invoke, require, fs or URL (TypeScript's `if (e instanceof
// Error)`), as were `Buffer.from('x') instanceof Uint8Array` and
// `fs.promises.stat(p) instanceof Promise`. A context's constructor named
// after `instanceof` in the function's code gets a Symbol.hasInstance that
// also accepts an instance of the worker's twin. Only those: each costs
// its invocation a few µs (~10 at most measured), all 32 would add ~100 µs
// to every call. A subclass the function defines inherits it but still
// matches only its own instances.
const __REALM_TWINS = new Set(['Object', 'Function', 'Array', 'Promise', 'RegExp', 'Date', 'Map', 'Set', 'WeakMap',
  'WeakSet', 'Error', 'EvalError', 'RangeError', 'ReferenceError', 'SyntaxError', 'TypeError', 'URIError',
  'AggregateError', 'ArrayBuffer', 'SharedArrayBuffer', 'DataView', 'Int8Array', 'Uint8Array', 'Uint8ClampedArray',
  'Int16Array', 'Uint16Array', 'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'BigInt64Array',
  'BigUint64Array'].filter((name) => typeof globalThis[name] === 'function'));
function __twinsOf(code) {
  const names = new Set();
  for (const m of code.matchAll(/\binstanceof\s+([A-Za-z0-9]+)\b/g)) if (__REALM_TWINS.has(m[1])) names.add(m[1]);
  const list = [...names];
  return list.length ? { names: list, host: list.map((name) => globalThis[name]) } : null;
}
function __linkTwins(twins) {
  const ordinary = Function.prototype[Symbol.hasInstance];
  const { names, host } = twins;
  for (let i = 0; i < names.length; i++) {
    const own = globalThis[names[i]], twin = host[i];
    Object.defineProperty(own, Symbol.hasInstance, {
      value(v) { return ordinary.call(this, v) || (this === own && ordinary.call(twin, v)); },
      configurable: true,
      writable: true,
    });
  }
}
// Prepares a fresh context. Creating one costs most of an invocation's CPU
// (~0.6 ms), so drivers make the next one while idle.
const __ctxHelpers = new __vm.Script('[(s) => JSON.parse(s), Promise.prototype, (g) => { g.global = globalThis; }, ' +
  '(ObjectId, Buffer) => (' + __fromWire.toString() + '), ' + __linkTwins.toString() + ']');
function __freshContext() {
  const g = __baseGlobals();
  __vm.createContext(g);
  const [parse, promiseProto, link, makeFromWire, linkTwins] = __ctxHelpers.runInContext(g);
  link(g);
  return { g, parse, promiseProto, linkTwins, fromWire: makeFromWire(ObjectId, Buffer) };
}

// Runs one invocation of a compiled module in the prepared context `c`.
// `input`: {ctx (JSON text), env, logCap, maxResult, reuse (keep `c`: see
// __keepBindings)}. `io`: {log(line), call(op, args)
// → Promise, fetch?, timers, ownFile, isDone(), done(json), fail(info)} — the
// driver's transport. Shared by both drivers so a function behaves the same
// on every backend.
async function __invoke(mod, c, input, io) {
  const g = c.g;
  const callConsole = __makeConsole(io.log, input.logCap || 1048576);
  let req;
  if (input.reuse) {
    if (!c.slot) __keepBindings(c);
    const s = c.slot;
    s.console = callConsole;
    s.call = io.call;
    s.log = io.log;
    s.timers = io.timers;
    s.fetch = io.fetch;
    s.env = Object.freeze(Object.assign({}, input.env || {}));
    req = c.require;
  } else {
    g.console = callConsole;
    g.cloud = __makeCloud(io.call, input.env, io.log, c.fromWire);
    g.process = c.process = new __Process(callConsole);
    Object.assign(g, io.timers.globals);
    req = __makeRequire(io.timers);
    g.require = req;
    if (io.fetch) g.fetch = io.fetch;
  }
  if (mod.twins && !c.twinsLinked) {
    c.linkTwins(mod.twins);
    c.twinsLinked = true;
  }
  try {
    let fn = c.fn;
    if (!fn) {
      const wrapper = mod.script.runInContext(g);
      const module = { exports: {} };
      wrapper.call(module.exports, module.exports, req, module, mod.filename, '/');
      fn = __entry(module.exports);
      if (input.reuse) c.fn = fn;
    }
    const ctx = c.parse(typeof input.ctx === 'string' ? input.ctx : '{}');
    ctx.cloud = g.cloud;
    const result = await fn(ctx);
    if (io.isDone()) return;
    io.done(__serialize(result, input.maxResult));
  } catch (err) {
    if (io.isDone()) return;
    if (err && err.__kind === 'EXITED') io.fail({ error: err.message, kind: 'EXITED' });
    else if (err && (err.__kind === 'RESULT_TOO_LARGE' || err.__kind === 'BAD_RESULT' || err.__kind === 'NO_EXPORT')) io.fail({ error: err.message, kind: err.__kind });
    else io.fail(__describeThrown(err, io.ownFile));
  }
}

// A kept context (options.reuseContext): the module ran once and its state
// stays for the tenant's next call of the same code. What belongs to one
// call (console, cloud, process, timers, fetch, require) is bound once, to
// forwarders that reach the current call through `c.slot`: a
// `const db = cloud.database()` or `const { log } = console` at module
// level keeps working in later calls, and logs and cloud calls count
// against the call that makes them.
const __TIMER_NAMES = ['setTimeout', 'setInterval', 'setImmediate', 'clearTimeout', 'clearInterval', 'clearImmediate'];
const __CONSOLE_NAMES = Object.keys(__makeConsole(() => {}, 0));
function __keepBindings(c) {
  const g = c.g;
  const slot = c.slot = { console: null, call: null, log: null, timers: null, fetch: null, env: null };
  const con = {};
  for (const k of __CONSOLE_NAMES) con[k] = (...a) => slot.console[k](...a);
  g.console = con;
  const base = __makeCloud((op, args) => slot.call(op, args), null, (line) => slot.log(line), c.fromWire);
  const cloud = {};
  for (const k of Object.keys(base)) if (k !== 'env') cloud[k] = base[k];
  Object.defineProperty(cloud, 'env', { get: () => slot.env, enumerable: true });
  g.cloud = Object.freeze(cloud);
  g.process = c.process = new __Process(con);
  const globals = {};
  for (const k of __TIMER_NAMES) globals[k] = (...a) => slot.timers.globals[k](...a);
  const promises = {
    setTimeout: (...a) => slot.timers.promises.setTimeout(...a),
    setImmediate: (...a) => slot.timers.promises.setImmediate(...a),
  };
  __linkPromisified(globals, promises);
  Object.assign(g, globals);
  g.require = c.require = __makeRequire({ globals, promises });
  g.fetch = (...a) => slot.fetch(...a);
}
