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
//
// The allow-list lacks `writev` and `shutdown` (measured against the real
// server: see DIFY-SANDBOX.md and shared/dify-sandbox/README.md), so:
// - frames are written with fs.writeSync, i.e. plain `write` calls that block
//   until the server has read them: the first 1000 at once (so a function
//   killed at the server's timeout keeps the logs it wrote), later ones
//   collected and written one `write` per flush (past 64 KiB, every 50 ms, at
//   the end). Writing with console.log/process.stdout.write lets node queue
//   writes on a full pipe and flush them with `writev`: killed after a few
//   hundred KB.
// - the bridge is spoken to over a raw socket: one `write` of head + body,
//   read until the server closes, then destroy() (never end(): `shutdown`).
//   http.request and fetch POST bodies go out with `writev`: killed.
// - the function's own `fetch` goes through the bridge (`/v1/fetch`), and
//   the host performs it under its egress policy.
// ---------------------------------------------------------------------------

// The real node runner cannot start libuv's thread pool, so asynchronous fs,
// zlib and crypto work never finishes: a function waited for its whole
// timeout and got "Function timed out". Those calls now fail at once and
// name the synchronous call that works (fs.readFileSync, zlib.gzipSync…).
// Callbacks and promises alike; one adapted copy per module and run.
const __adapted = new Map();
function __noThreadPool(what, instead) {
  const e = new Error(`${what} cannot run on the Dify Sandbox: its node runner has no thread pool, so asynchronous fs, zlib and crypto calls never finish. ` +
    `Use ${instead}`);
  e.code = 'DIFY_NO_THREAD_POOL';
  return e;
}
function __withoutThreadPool(id, mod) {
  if (!/^(fs|fs\/promises|zlib|crypto)$/.test(id) || !mod) return mod;
  if (__adapted.has(mod)) return __adapted.get(mod);
  const out = Object.assign({}, mod);
  const sync = (k) => (typeof mod[k + 'Sync'] === 'function' ? `${id}.${k}Sync()` : 'the synchronous API');
  if (id === 'fs/promises') {
    const fsSync = require('fs');
    for (const k of Object.keys(mod)) {
      if (typeof mod[k] !== 'function') continue;
      const instead = typeof fsSync[k + 'Sync'] === 'function' ? `fs.${k}Sync()` : 'the synchronous fs API';
      out[k] = function () { return Promise.reject(__noThreadPool(`${id}.${k}()`, instead)); };
    }
  } else {
    for (const k of Object.keys(mod)) {
      const v = mod[k];
      if (typeof v !== 'function' || k.endsWith('Sync')) continue;
      const asyncTwin = typeof mod[k + 'Sync'] === 'function';
      const stream = (id === 'fs' && /^create(Read|Write)Stream$/.test(k)) || (id === 'zlib' && /^create[A-Z]/.test(k));
      if (asyncTwin || stream) {
        out[k] = function () { throw __noThreadPool(`${id}.${k}()`, stream ? `the synchronous ${id} API (${id === 'fs' ? 'fs.readFileSync(), fs.writeFileSync()' : 'zlib.gzipSync(), zlib.gunzipSync()'})` : sync(k)); };
      } else if (id === 'crypto' && (k === 'randomBytes' || k === 'randomInt')) {
        // Without a callback these are synchronous and work.
        out[k] = function (...args) {
          if (typeof args[args.length - 1] === 'function') throw __noThreadPool(`crypto.${k}() with a callback`, `crypto.${k}() without one`);
          return v.apply(mod, args);
        };
      }
    }
    if (id === 'fs') out.promises = __withoutThreadPool('fs/promises', mod.promises);
    if (id === 'crypto') {
      if (mod.webcrypto) out.webcrypto = __webcryptoWithoutThreadPool(mod.webcrypto, 'crypto.webcrypto');
      if (mod.subtle) out.subtle = __subtleWithoutThreadPool(mod.subtle, 'crypto.subtle');
    }
  }
  __adapted.set(mod, out);
  return out;
}

// Web Crypto's subtle runs these as thread-pool jobs: on Dify they waited for
// the timeout. importKey, exportKey and the rest work.
const __SUBTLE_JOBS = new Set(['encrypt', 'decrypt', 'sign', 'verify', 'digest', 'generateKey', 'deriveKey', 'deriveBits', 'wrapKey', 'unwrapKey']);
function __subtleWithoutThreadPool(subtle, label) {
  const out = {};
  for (const k of Object.getOwnPropertyNames(Object.getPrototypeOf(subtle))) {
    if (k === 'constructor' || typeof subtle[k] !== 'function') continue;
    out[k] = __SUBTLE_JOBS.has(k)
      ? function () { return Promise.reject(__noThreadPool(`${label}.${k}()`, "the synchronous node:crypto API (require('crypto'): createHash, createHmac, createCipheriv, sign, verify)")); }
      : subtle[k].bind(subtle);
  }
  return Object.freeze(out);
}
function __webcryptoWithoutThreadPool(webcrypto, label) {
  return Object.freeze({
    getRandomValues: (array) => webcrypto.getRandomValues(array),
    randomUUID: () => webcrypto.randomUUID(),
    subtle: __subtleWithoutThreadPool(webcrypto.subtle, `${label}.subtle`),
  });
}

function __noSyscall(what, syscall, instead) {
  const e = new Error(`${what} cannot run on the Dify Sandbox: its system-call allow-list has no ${syscall}, and a blocked call ends the run. Use ${instead}`);
  e.code = 'DIFY_UNSUPPORTED';
  return e;
}
// Synchronous fs and os calls whose system calls the real node runner's
// allow-list lacks (measured against the real server: each ended the run as
// "killed for a blocked system call", which named none of them). They now
// throw DIFY_UNSUPPORTED naming what works instead. existsSync and
// accessSync (F_OK, R_OK) are answered with open(), which the list has.
const __NO_WRITABLE = 'cloud.storage to keep files: the Dify runner has no writable folder';
const __BLOCKED_FS = {
  statSync: ['statx', 'fs.existsSync() to test for a path, fs.readFileSync() to read a file'],
  lstatSync: ['statx', 'fs.existsSync() to test for a path, fs.readlinkSync() for a link'],
  fstatSync: ['statx', 'fs.readFileSync() to read a whole file'],
  statfsSync: ['statfs', 'nothing: the Dify runner cannot describe its file system'],
  readdirSync: ['getdents64', 'fs.existsSync() for a path you know'],
  opendirSync: ['getdents64', 'fs.existsSync() for a path you know'],
  cpSync: ['statx', __NO_WRITABLE],
  copyFileSync: ['copy_file_range', __NO_WRITABLE],
  mkdirSync: ['mkdir', __NO_WRITABLE],
  mkdtempSync: ['mkdir', __NO_WRITABLE],
  rmSync: ['unlink', __NO_WRITABLE],
  rmdirSync: ['rmdir', __NO_WRITABLE],
  unlinkSync: ['unlink', __NO_WRITABLE],
  renameSync: ['rename', __NO_WRITABLE],
  linkSync: ['link', __NO_WRITABLE],
  symlinkSync: ['symlink', __NO_WRITABLE],
  truncateSync: ['truncate', __NO_WRITABLE],
  ftruncateSync: ['ftruncate', __NO_WRITABLE],
  chmodSync: ['chmod', __NO_WRITABLE],
  fchmodSync: ['fchmod', __NO_WRITABLE],
  lchmodSync: ['chmod', __NO_WRITABLE],
  chownSync: ['chown', __NO_WRITABLE],
  fchownSync: ['fchown', __NO_WRITABLE],
  lchownSync: ['lchown', __NO_WRITABLE],
  utimesSync: ['utimensat', __NO_WRITABLE],
  futimesSync: ['utimensat', __NO_WRITABLE],
  lutimesSync: ['utimensat', __NO_WRITABLE],
  fsyncSync: ['fsync', __NO_WRITABLE],
  fdatasyncSync: ['fdatasync', __NO_WRITABLE],
  readvSync: ['readv', 'fs.readSync()'],
  writevSync: ['writev', 'fs.writeSync()'],
  watch: ['inotify_init1', 'nothing: the Dify runner cannot watch files'],
  watchFile: ['statx', 'nothing: the Dify runner cannot watch files'],
};
const __BLOCKED_OS = {
  totalmem: ['sysinfo', 'process.memoryUsage() for the function\'s own memory'],
  freemem: ['sysinfo', 'process.memoryUsage() for the function\'s own memory'],
  loadavg: ['sysinfo', 'nothing: the Dify runner cannot read the system\'s load'],
  getPriority: ['getpriority', 'nothing: the Dify runner cannot read priorities'],
  setPriority: ['setpriority', 'nothing: the Dify runner cannot change priorities'],
};
// A position makes Node use pread64/pwrite64, which the list lacks.
const __hasPosition = (p) => (typeof p === 'number' && p >= 0) || typeof p === 'bigint';
function __withoutBlockedSyscalls(id, mod) {
  if ((id !== 'fs' && id !== 'os') || !mod) return mod;
  const out = Object.assign({}, mod);
  for (const [k, [syscall, instead]] of Object.entries(id === 'fs' ? __BLOCKED_FS : __BLOCKED_OS)) {
    if (typeof mod[k] === 'function') out[k] = function () { throw __noSyscall(`${id}.${k}()`, syscall, instead); };
  }
  if (id === 'os') return out;
  const { O_RDONLY, O_NONBLOCK, R_OK, W_OK, X_OK } = mod.constants;
  // open() for reading without blocking (a FIFO) and without side effects.
  const probe = (path) => mod.closeSync(mod.openSync(path, O_RDONLY | O_NONBLOCK));
  out.existsSync = function existsSync(path) {
    try {
      probe(path);
      return true;
    } catch (err) {
      // It exists, but this uid may not read it.
      return !!err && (err.code === 'EACCES' || err.code === 'EPERM');
    }
  };
  out.accessSync = function accessSync(path, mode) {
    if (mode & (W_OK | X_OK)) throw __noSyscall('fs.accessSync() with W_OK or X_OK', 'access', `fs.existsSync() or fs.accessSync(path, fs.constants.R_OK); ${__NO_WRITABLE}`);
    probe(path);
  };
  out.readSync = function readSync(fd, buffer, offsetOrOptions, length, position) {
    const pos = offsetOrOptions !== null && typeof offsetOrOptions === 'object' ? offsetOrOptions.position : position;
    if (__hasPosition(pos)) throw __noSyscall('fs.readSync() at a position', 'pread64', 'fs.readSync() without a position (it reads on from the last read)');
    return mod.readSync.apply(mod, arguments);
  };
  out.writeSync = function writeSync(fd, data, offsetOrPosition, length, position) {
    const pos = typeof data === 'string' ? offsetOrPosition : (offsetOrPosition !== null && typeof offsetOrPosition === 'object' ? offsetOrPosition.position : position);
    if (__hasPosition(pos)) throw __noSyscall('fs.writeSync() at a position', 'pwrite64', 'fs.writeSync() without a position');
    return mod.writeSync.apply(mod, arguments);
  };
  // Node reads a whole file into a Buffer after an fstat (statx, killed);
  // UTF-8 text it reads without one.
  out.readFileSync = function readFileSync(path, options) {
    const encoding = typeof options === 'string' ? options : options && options.encoding;
    if (encoding === 'utf8' || encoding === 'utf-8') return mod.readFileSync(path, options);
    const flag = (options && typeof options === 'object' && options.flag) || 'r';
    const own = typeof path !== 'number';
    const fd = own ? mod.openSync(path, flag) : path;
    try {
      const chunks = [];
      for (;;) {
        const chunk = Buffer.allocUnsafe(65536);
        const n = mod.readSync(fd, chunk, 0, chunk.length, null);
        if (n === 0) break;
        chunks.push(n === chunk.length ? chunk : chunk.subarray(0, n));
      }
      const all = Buffer.concat(chunks);
      return encoding ? all.toString(encoding) : all;
    } finally {
      if (own) mod.closeSync(fd);
    }
  };
  // No folder there is writable, not even os.tmpdir(): say so where a write
  // fails ("ENOENT … open '/tmp/x'" read as a bug of the function's).
  const writes = (flags) => (typeof flags === 'number' ? (flags & (mod.constants.O_WRONLY | mod.constants.O_RDWR | mod.constants.O_CREAT)) !== 0 : /[wa+]/.test(String(flags || 'r')));
  const hinted = (name, isWrite) => function () {
    try {
      return mod[name].apply(mod, arguments);
    } catch (err) {
      if (err && /^(ENOENT|EACCES|EROFS|EPERM)$/.test(err.code) && isWrite(arguments)) err.message += ` (${__NO_WRITABLE})`;
      throw err;
    }
  };
  out.writeFileSync = hinted('writeFileSync', () => true);
  out.appendFileSync = hinted('appendFileSync', () => true);
  out.openSync = hinted('openSync', (a) => writes(a[1]));
  // realpath(3) walks with readlink, which the list has; Node's own
  // realpathSync walks with lstat (statx).
  out.realpathSync = Object.assign(function realpathSync(path, options) {
    const p = path !== null && typeof path === 'object' && typeof path.href === 'string' ? require('url').fileURLToPath(path) : String(path);
    return mod.realpathSync.native(require('path').resolve(p), options);
  }, { native: mod.realpathSync.native });
  return out;
}

// Starting a process or a thread ended the run on the real server ("killed
// for a blocked system call", which a function cannot catch). Refused up
// front instead, with the errorCode the local workers give (BLOCKED).
const __SPAWNERS = {
  child_process: ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'],
  cluster: ['fork'],
};
function __noProcesses(what) {
  const e = new Error(`${what} cannot run on the Dify Sandbox: functions may not start processes or worker threads, and its system-call allow-list ends a run that tries`);
  e.code = 'DIFY_UNSUPPORTED';
  e.__kind = 'BLOCKED';
  return e;
}
function __withoutProcesses(id, mod) {
  if (!mod) return mod;
  if (id === 'worker_threads') {
    return Object.assign({}, mod, { Worker: class Worker { constructor() { throw __noProcesses('new Worker()'); } } });
  }
  // Own keys only: an id such as 'constructor' must not find Object's.
  if (!Object.hasOwn(__SPAWNERS, id)) return mod;
  const out = Object.assign({}, mod);
  for (const k of __SPAWNERS[id]) out[k] = function () { throw __noProcesses(`${id}.${k}()`); };
  return out;
}

const __THREAD_POOL_GLOBALS = new Map(['CompressionStream', 'DecompressionStream'].map((name) => [name, ({
  [name]: class {
    constructor() { throw __noThreadPool(`new ${name}()`, 'the synchronous zlib API (zlib.gzipSync(), zlib.gunzipSync(), zlib.deflateSync(), …)'); }
  },
})[name]]));

function __difyMain(cfg) {
  // The runner's environment is not ours to set; Node re-reads TZ when
  // process.env.TZ changes, and ICU has the zone data without zoneinfo.
  if (cfg.tz) process.env.TZ = cfg.tz;
  const fs = require('fs');
  const net = require('net');
  const ownFile = 'dify-runtime';
  __hideRuntimeFrames(ownFile);
  // Not in the allow-list: os.userInfo() and os.tmpdir() killed the run.
  // The runner's environment is empty, so Node's own answer is /tmp.
  __host.getgid = () => -1;
  __host.tmpdir = () => '/tmp';
  __host.adapt = (id, mod) => __withoutProcesses(id, __withoutBlockedSyscalls(id, __withoutThreadPool(id, mod)));
  // getcwd is not in the allow-list either, and Node's path.resolve() of a
  // relative path asks for it. The runner works in the root of its chroot.
  __host.cwd = () => '/';
  process.cwd = __host.cwd;
  __host.webcrypto = () => __webcryptoWithoutThreadPool(globalThis.crypto, 'crypto');
  // getrusage is not in the allow-list: calling it killed the run.
  __host.cpuUsage = () => { throw __noSyscall('process.cpuUsage()', 'getrusage', 'performance.now() for elapsed time'); };
  __host.resourceUsage = () => { throw __noSyscall('process.resourceUsage()', 'getrusage', 'process.memoryUsage() and performance.now()'); };
  // Web compression streams run zlib on the thread pool too.
  __host.global = (name) => __THREAD_POOL_GLOBALS.get(name) ?? globalThis[name];

  // ------------------------------------------------------------ stdout
  let pending = [];
  let pendingBytes = 0;
  const flush = () => {
    if (pending.length === 0) return;
    const buf = Buffer.from(pending.join(''));
    pending = [];
    pendingBytes = 0;
    let off = 0;
    while (off < buf.length) {
      try {
        off += fs.writeSync(1, buf, off, buf.length - off);
      } catch (e) {
        // A non-blocking pipe that is full (if anything opened process.stdout):
        // the server is reading; try again.
        if (e.code !== 'EAGAIN') throw e;
      }
    }
  };
  const flusher = setInterval(flush, 50);
  let frames = 0;
  const emit = (kind, payload) => {
    const frame = '\n' + cfg.nonce + kind + payload + '\n';
    pending.push(frame);
    pendingBytes += frame.length;
    if (++frames <= 1000 || pendingBytes >= 65536) flush();
  };

  let done = false;
  const finish = (payload) => {
    if (done) return;
    done = true;
    timers.clearAll();
    clearTimeout(deadline);
    clearInterval(flusher);
    emit('R', payload);
    flush();
    // Leftover handles (an open socket, an interval) must not keep the run
    // alive until the server's own timeout.
    process.exit(0);
  };
  const fail = (info) => finish(JSON.stringify(Object.assign({ failed: true }, info)));
  let context = null; // the function's, once made: its process may listen for faults
  // A fault nothing caught: to the function's own process listeners if it
  // has any (as Node does), else the run fails with `label`.
  const fault = (event, label, err, ...args) => {
    const f = __unhandledFault(context, event, label, err, ...args);
    if (!f) return;
    const info = __describeThrown(f.err, ownFile);
    info.error = `${f.label}: ${info.error}`;
    fail(info);
  };
  const timers = __makeTimers((err) => fault('uncaughtException', 'Uncaught exception in a timer callback', err, 'uncaughtException'));
  // The function's own deadline: a promise that never settles must time out
  // like it does on the local pool, not end the process early.
  const deadline = setTimeout(() => fail({ error: `Function timed out after ${cfg.timeoutMs} ms`, kind: 'TIMEOUT' }), cfg.timeoutMs);

  // ------------------------------------------------------------ bridge
  const bridge = new URL(cfg.bridgeUrl);
  const bridgeHost = bridge.hostname.replace(/^\[|\]$/g, '');
  const bridgePort = Number(bridge.port || 80);
  const bridgePath = bridge.pathname.replace(/\/$/, '');
  // POSTs `body` (a string) to the bridge → Promise of the parsed JSON reply.
  const post = (route, body) => new Promise((resolve, reject) => {
    const payload = Buffer.from(body);
    const head = `POST ${bridgePath}${route} HTTP/1.1\r\nHost: ${bridge.host}\r\nAuthorization: Bearer ${cfg.token}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${payload.length}\r\nConnection: close\r\n\r\n`;
    const socket = net.connect({ host: bridgeHost, port: bridgePort, allowHalfOpen: true });
    const chunks = [];
    let settled = false;
    const settle = (fn, v) => { if (!settled) { settled = true; socket.destroy(); fn(v); } };
    socket.on('connect', () => socket.write(Buffer.concat([Buffer.from(head), payload])));
    socket.on('data', (d) => chunks.push(d));
    socket.on('error', (e) => settle(reject, new Error(`cloud bridge unreachable at ${cfg.bridgeUrl}: ${e.message}`)));
    socket.on('end', () => {
      const raw = Buffer.concat(chunks);
      const split = raw.indexOf('\r\n\r\n');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(raw.subarray(0, 16).toString('latin1'))?.[1]);
      const text = split < 0 ? '' : raw.subarray(split + 4).toString('utf8');
      try { settle(resolve, JSON.parse(text)); } catch { settle(reject, new Error(`cloud bridge answered HTTP ${status || '?'} with a non-JSON body`)); }
    });
    socket.on('close', () => settle(reject, new Error(`cloud bridge at ${cfg.bridgeUrl} closed the connection without an answer`)));
  });
  const call = (op, args) => {
    if (done) return Promise.reject(new Error('cloud call after the function returned'));
    return post('/v1/call', JSON.stringify({ op, args })).then((reply) => {
      if (reply.ok) return reply.value;
      throw __callError(reply);
    });
  };

  // A function's own fetch, performed by the host (see the bridge's /v1/fetch).
  const difyFetch = __makeFetch((r) => post('/v1/fetch', JSON.stringify(r)).then((reply) => {
    if (reply.ok) return reply;
    const e = new Error(reply.error);
    e.errorCode = reply.errorCode;
    throw e;
  }), () => done);

  process.on('unhandledRejection', (reason, promise) => fault('unhandledRejection', 'Unhandled promise rejection', reason, promise));
  process.on('uncaughtException', (err, origin) => fault('uncaughtException', 'Uncaught exception', err, origin));

  process.on('exit', (code) => {
    if (!done) { done = true; emit('R', JSON.stringify({ failed: true, error: `Function called process.exit(${code})`, kind: 'EXITED' })); }
    flush();
  });

  let mod;
  try {
    mod = __compile(cfg.name, cfg.code);
  } catch (err) {
    fail({ error: err.message, stack: err.stack, kind: err.__kind || 'SYNTAX_ERROR' });
    return;
  }
  const c = context = __freshContext();
  __invoke(mod, c, cfg, {
    log: (line) => { if (!done) emit('L', JSON.stringify(line)); },
    call, timers, ownFile, fetch: difyFetch,
    isDone: () => done,
    done: (json) => finish('{"data":' + json + '}'),
    fail,
  });
}
