// executeFunction as Node sees it: results, console capture, isolation, the
// module cache, every fault with its message, and hardening. One behaviour
// suite for both backends: this file runs on the local pool, and
// execute.dify.test.mjs runs it again on the dify backend (against the
// stand-in). Where a behaviour differs by design, the test says so.
import http from 'node:http';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';

const require = createRequire(import.meta.url);
process.env.SECRET_FOR_TEST = 's3cr3t'; // before the first call: workers must not see it
// Functions run in RUNTIME_FUNCTION_TZ whatever the host's zone; a host in
// another zone (TZ) shows that the worker's comes from the setting alone.
process.env.RUNTIME_FUNCTION_TZ = 'Asia/Shanghai';
process.env.TZ = 'America/New_York';
// A loopback HTTP server for a function's fetch, allowed by exception
// (loopback is refused by default): it echoes what it got.
const web = http.createServer((req, res) => {
  if (req.url === '/redirect') { res.writeHead(302, { location: '/echo?hopped=1' }); return res.end('moved'); }
  if (req.url === '/gzip') { res.writeHead(200, { 'content-encoding': 'gzip' }); return res.end(zlib.gzipSync('unzipped')); }
  if (req.url === '/deflate') { res.writeHead(200, { 'content-encoding': 'deflate' }); return res.end(zlib.deflateSync('inflated')); }
  if (req.url === '/br') { res.writeHead(200, { 'content-encoding': 'br' }); return res.end(zlib.brotliCompressSync(`unbrotlied, asked for ${req.headers['accept-encoding']}`)); }
  // zstd of 'unzstd' (node 20's zlib has no zstd).
  if (req.url === '/zstd') { res.writeHead(200, { 'content-encoding': 'zstd' }); return res.end(Buffer.from('KLUv/SAGMQAAdW56c3Rk', 'base64')); }
  // 17 MiB of zeros in 17 KB: past the 16 MiB cap once decoded.
  if (req.url === '/bomb') { res.writeHead(200, { 'content-encoding': 'gzip' }); return res.end(zlib.gzipSync(Buffer.alloc(17 << 20))); }
  res.writeHead(200, { 'content-type': 'application/json' });
  const h = req.headers;
  res.end(JSON.stringify({ url: req.url, headers: [h.accept, h['accept-language'], h['sec-fetch-mode'], h['user-agent'], h['accept-encoding']] }));
});
await new Promise((r) => web.listen(0, '127.0.0.1', r));
const webUrl = `http://127.0.0.1:${web.address().port}`;
process.env.RUNTIME_EGRESS_ALLOW = `127.0.0.1:${web.address().port}`;
afterAll(() => new Promise((r) => { web.close(r); web.closeAllConnections(); }));
const { executeFunction, metrics, runCode, validateCode, createCloud, compressLogs, logsHeader, setFunctionLoader } = require('../index.js');

const backend = process.env.RUNTIME_BACKEND || 'local';
// The dify client stops a function that blocks its event loop at the
// timeout plus a 1 s margin (the sandbox process cannot stop itself).
const slack = backend === 'dify' ? 1500 : 250;
const localOnly = backend === 'local' ? it : it.skip;

const run = (name, code, ctx = {}, options) => executeFunction(name, code, '', ctx, options);
const ok = async () => expect((await run('ok', 'module.exports = () => "fine"')).data).toBe('fine');

describe('results', () => {
  beforeAll(ok);

  it('runs sync and async functions under every CommonJS export form', async () => {
    expect((await run('a', 'module.exports = (ctx) => ctx.body.x + 1', { body: { x: 1 } })).data).toBe(2);
    expect((await run('b', 'exports.default = async () => ({ ok: true })')).data).toEqual({ ok: true });
    expect((await run('c', 'exports.main = function () { return [1, "two"] }')).data).toEqual([1, 'two']);
  });

  it('passes every ctx field and gives cloud both as ctx.cloud and a global', async () => {
    const ctx = { body: { a: 1 }, query: { q: 'x' }, headers: { h: 'v' }, method: 'POST', path: '/invoke/f', requestId: 'r1', user: { id: 7 } };
    const r = await run('ctx', 'module.exports = (ctx) => ({ ...ctx, cloud: undefined, same: ctx.cloud === cloud, hasDb: typeof cloud.database })', ctx);
    expect(r.data).toEqual({ ...ctx, same: true, hasDb: 'function' });
  });

  it('turns undefined into null and reports a positive time', async () => {
    const r = await run('undef', 'module.exports = () => {}');
    expect(r.data).toBeNull();
    expect(r.error).toBeUndefined();
    expect(r.time).toBeGreaterThan(0);
  });
});

describe('console capture', () => {
  it('formats like util.format with level prefixes, in order', async () => {
    const r = await run('log', `module.exports = () => {
      console.log('a %s %d', 'b', 42); console.info({ x: [1, 2] }); console.warn('w'); console.error(new Error('e').message); console.debug('d', null);
    }`);
    expect(r.logs).toEqual(['a b 42', '{ x: [ 1, 2 ] }', '[WARN] w', '[ERROR] e', '[DEBUG] d null']);
  });

  it('caps output at 1 MiB with a marker line', async () => {
    const r = await run('flood', 'module.exports = () => { for (let i = 0; i < 5000; i++) console.log("x".repeat(1000)) }');
    expect(r.logs.at(-1), `${r.logs.length} lines, error ${r.error}`).toBe('[TRUNCATED] log output exceeded 1048576 bytes; further lines were dropped');
    const bytes = r.logs.reduce((n, l) => n + Buffer.byteLength(l) + 1, 0);
    expect(bytes).toBeLessThanOrEqual(1048576 + 200);
  });

  it('keeps the lines of 200 concurrent invocations apart', async () => {
    const code = `module.exports = async (ctx) => {
      for (let i = 0; i < 3; i++) { console.log('id', ctx.body.id, i); await new Promise((r) => setTimeout(r, ctx.body.id % 3)); }
      return ctx.body.id;
    }`;
    // A generous timeout: on the dify backend each run is a new process, and
    // 200 of them queue for the sandbox's workers on a 2-core machine.
    const results = await Promise.all(Array.from({ length: 200 }, (_, id) => run('conc', code, { body: { id } }, { timeoutMs: 60_000 })));
    results.forEach((r, id) => {
      expect(r.data).toBe(id);
      expect(r.logs).toEqual([0, 1, 2].map((i) => `id ${id} ${i}`));
    });
  });
});

describe('isolation and the module cache', () => {
  it('gives every invocation a fresh context', async () => {
    for (let i = 0; i < 12; i++) {
      const r = await run('leak', `module.exports = () => {
        const seen = [typeof globalThis.x, typeof y, typeof [].evil];
        globalThis.x = 1; y = 2; Array.prototype.evil = 1;
        return seen;
      }`);
      expect(r.data).toEqual(['undefined', 'undefined', 'undefined']);
    }
  });

  it('options.reuseContext keeps a module\'s state between a tenant\'s calls (local pool); what belongs to a call stays with it', async () => {
    // Module-level captures of console, fetch and cloud reach the call that
    // uses them; a timer still ends with its call; cloud.env is the current
    // Cloud's. The Dify Sandbox starts a process per run: nothing is kept.
    const code = `let n = 0; const { log } = console; const get = fetch; const c = cloud;
      module.exports = async (ctx) => {
        n += 1; globalThis.seen = (globalThis.seen || 0) + 1;
        log('call ' + n);
        const echoed = await (await get(ctx.body.url + '/echo?n=' + n)).json();
        // Set last, so it cannot fire before the call ends however slow the
        // fetch was (a loaded CI machine once took over 200 ms for it); if
        // it were not cleared with its call, the next call's n would be off.
        setTimeout(() => { n += 100; log('late ' + n); }, 100);
        return [n, seen, echoed.url, c.env.K];
      }`;
    const a = createCloud({ tenant: 'reuse-a', env: { K: 'first' } });
    const b = createCloud({ tenant: 'reuse-a', env: { K: 'second' } });
    const kept = backend === 'local';
    for (let i = 1; i <= 3; i++) {
      const r = await run('reuse', code, { body: { url: webUrl }, cloud: i === 3 ? b : a }, { reuseContext: true });
      expect(r.error).toBeUndefined();
      const n = kept ? i : 1;
      expect(r.data).toEqual([n, n, `/echo?n=${n}`, i === 3 ? 'second' : 'first']);
      expect(r.logs).toEqual([`call ${n}`]);
      await new Promise((res) => setTimeout(res, 150)); // the cleared timer would have fired by now
    }
    // Without the option, the same code gets a fresh context; another
    // tenant never sees this one's.
    expect((await run('reuse', code, { body: { url: webUrl }, cloud: a })).data[0]).toBe(1);
    expect((await run('reuse', code, { body: { url: webUrl } }, { reuseContext: true, tenant: 'reuse-b' })).data[0]).toBe(1);
    expect((await run('reuse', code, { body: { url: webUrl }, cloud: a }, { reuseContext: true })).data[0]).toBe(kept ? 4 : 1);
  });

  it('caches the compiled program by its code: the caller\'s hash is only a hint', async () => {
    const first = await executeFunction('cached', 'module.exports = () => "v1"', 'h1', {});
    expect(first.data).toBe('v1');
    for (let i = 0; i < 4; i++) expect((await executeFunction('cached', 'module.exports = () => "v1"', 'h1', {})).data).toBe('v1');
    // Same hash, different text: the new text runs (a stale or forged hash
    // cannot make a worker run other code).
    for (let i = 0; i < 8; i++) expect((await executeFunction('cached', 'module.exports = () => "changed"', 'h1', {})).data).toBe('changed');
    expect((await executeFunction('cached', 'module.exports = () => "v2"', 'h2', {})).data).toBe('v2');
    expect((await executeFunction('cached', 'module.exports = () => "v3"', '', {})).data).toBe('v3');
    expect((await executeFunction('cached', 'module.exports = () => "v4"', '', {})).data).toBe('v4');
  });
});

describe('console', () => {
  it('options.onLog gets each line as it is written (locally before the function returns), the same lines as logs', async () => {
    const seen = [];
    const code = `module.exports = async () => {
      console.log('first');
      await new Promise((r) => setTimeout(r, 400));
      console.error('second');
      await cloud.invoke('nope-' + Math.random()).catch(() => console.warn('third'));
      return 'ok';
    }`;
    const r = await run('live', code, {}, { timeoutMs: 5000, onLog: (line) => seen.push([line, Date.now()]) });
    const ended = Date.now();
    expect(r.data).toBe('ok');
    expect(seen.map(([line]) => line)).toEqual(['first', '[ERROR] second', '[WARN] third']);
    expect(r.logs).toEqual(seen.map(([line]) => line));
    // Live on the local pool: 'first' came while the function still slept.
    if (backend !== 'dify') expect(ended - seen[0][1]).toBeGreaterThanOrEqual(300);
    // A callback that throws changes nothing; one that is not a function is refused.
    const thrown = await run('live2', 'module.exports = () => { console.log("x"); return 1 }', {}, { onLog: () => { throw new Error('observer bug'); } });
    expect([thrown.data, thrown.logs]).toEqual([1, ['x']]);
    await expect(run('live3', 'module.exports = () => 1', {}, { onLog: 'console' })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: 'options.onLog must be a function, got string' });
    await ok();
  });

  it('groups indent, tables are tables, and the methods a process has without a terminal exist', async () => {
    const code = `module.exports = () => {
      console.group('outer');
      console.log('one\\ntwo');
      console.groupCollapsed();
      console.warn('deep');
      console.groupEnd();
      console.groupEnd();
      console.table([{ a: 1 }]);
      console.dirxml('x');
      console.clear(); console.profile(); console.profileEnd(); console.timeStamp();
      console.log('back');
      (function inner() { console.trace('here'); })();
      console.trace();
    }`;
    const r = await run('con', code);
    expect(r.error).toBeUndefined();
    expect(r.logs).toEqual([
      'outer',
      '  one\n  two',
      '[WARN]     deep',
      '┌─────────┬───┐\n│ (index) │ a │\n├─────────┼───┤\n│ 0       │ 1 │\n└─────────┴───┘',
      'x',
      'back',
      '[DEBUG] Trace: here\n    at inner (con.js:12:35)\n    at module.exports (con.js:12:52)',
      '[DEBUG] Trace\n    at module.exports (con.js:13:15)',
    ]);
  });
});

describe('faults stay with their invocation', () => {
  const cases = [
    ['an infinite loop', 'module.exports = () => { while (true) {} }', { timeoutMs: 500 }, 'Function timed out after 500 ms'],
    ['a promise that never settles', 'module.exports = () => new Promise(() => {})', { timeoutMs: 500 }, 'Function timed out after 500 ms'],
    ['process.exit()', 'module.exports = () => process.exit()', {}, 'process.exit() is not allowed in a function: return a value or throw an error instead'],
    ['the real process.exit', 'module.exports = () => require("process").exit(3)', {}, 'Function called process.exit(3)'],
    ['an exception thrown from a timer', 'module.exports = () => new Promise(() => setTimeout(() => { throw new Error("late") }, 5))', {}, 'Uncaught exception in a timer callback: late'],
    ['an unhandled rejection', 'module.exports = async () => { Promise.reject(new Error("nobody")); await new Promise((r) => setTimeout(r, 20)); return 1 }', {}, 'Unhandled promise rejection: nobody'],
    ['no callable export', 'module.exports = { a: 1 }', {}, 'No callable export: set module.exports = fn, exports.default = fn or exports.main = fn (found an object with keys a)'],
    ['a class as the export', 'exports.default = class Handler { run() {} }', {}, 'No callable export: the export is a class, which cannot be called as a function: export a function (export default async function (ctx) { … }) that uses it'],
    ['a thrown string', 'module.exports = () => { throw "boom" }', {}, "Function threw a non-Error value: 'boom'"],
    ['a thrown object', 'module.exports = () => { throw { code: 1 } }', {}, 'Function threw a non-Error value: { code: 1 }'],
    ['a BigInt result', 'module.exports = () => 10n', {}, 'Function returned a value that cannot be converted to JSON: Do not know how to serialize a BigInt'],
    ['ES module syntax that cannot run as CommonJS', 'export default () => import.meta.url', {}, 'import.meta is not supported: functions run as CommonJS (use __filename) (fault.js:1)'],
  ];
  for (const [what, code, options, error] of cases) {
    it(`${what} → a clear error, and the next invocation works`, async () => {
      const started = performance.now();
      const r = await run('fault', code, {}, options);
      expect(r.error).toBe(error);
      expect(r.data).toBeNull();
      if (options.timeoutMs) expect(performance.now() - started).toBeLessThan(options.timeoutMs + slack);
      await ok();
    });
  }

  localOnly('unbounded allocation → out of memory (local only: the Dify Sandbox has no memory limit)', async () => {
    const r = await run('oom', 'module.exports = () => { const a = []; while (true) a.push(new Array(1e6).fill(1)) }', {}, { memoryMb: 64 });
    expect(r.error).toBe("Function ran out of memory: the worker's heap limit is 64 MB (RUNTIME_MEMORY_MB / options.memoryMb)");
    await ok();
  });

  it('a circular result is an error', async () => {
    const r = await run('circ', 'module.exports = () => { const a = {}; a.a = a; return a }');
    expect(r.error).toMatch(/^Function returned a value that cannot be converted to JSON: Converting circular structure to JSON/);
    await ok();
  });

  it('a syntax error names the user file and line', async () => {
    const r = await run('broken', 'module.exports = () => {\n  const a = 1\n  let = = 2\n}');
    expect(r.error).toBe("SyntaxError: Unexpected token '=' (broken.js:3)");
    expect(r.stack).toContain('broken.js:3');
    await ok();
  });

  it('a thrown Error keeps its message and the user line numbers', async () => {
    const r = await run('thrower', 'module.exports = () => {\n\n  throw new TypeError("bad input")\n}');
    expect(r.error).toBe('bad input');
    expect(r.stack).toMatch(/^TypeError: bad input\n\s+at module\.exports \(thrower\.js:3:9\)/);
    expect(r.stack).not.toContain('worker.js');
  });
});

describe('hardening', () => {
  // A blank worker runs one invocation of its own before it is ready
  // (worker.js: __warmUp); nothing of it may reach a tenant.
  localOnly("a new tenant's first call on a pre-started worker sees its own logs and nothing of the worker's warm-up", async () => {
    const r = await executeFunction('warm-up', `module.exports = (ctx) => { console.log('mine', ctx.body); return [typeof x, Object.keys(globalThis).filter((k) => /warm|__/.test(k))]; }`, '', { body: 1 }, { tenant: `first-call-${process.pid}` });
    expect([r.error, r.logs, r.data]).toEqual([undefined, ['mine 1'], ['undefined', []]]);
  });

  it('no host environment variable reaches user code', async () => {
    const r = await run('env', 'module.exports = () => [Object.keys(process.env), Object.keys(require("process").env).filter((k) => /SECRET|MONGODB|S3_|SANDBOX/.test(k))]');
    expect(r.data).toEqual([[], []]);
  });

  localOnly('writes outside the temp folder, child processes and threads are refused (local: Node permission model)', async () => {
    const hint = " (refused by the runtime's sandbox: functions may write files only under os.tmpdir(), and may not start processes or worker threads)";
    const tries = {
      write: 'require("fs").writeFileSync("/tmp/simple-ide-escape.txt", "x")',
      spawn: 'require("child_process").execSync("id")',
      thread: 'new (require("worker_threads").Worker)("1", { eval: true })',
    };
    for (const [what, stmt] of Object.entries(tries)) {
      const r = await run(what, `module.exports = () => { ${stmt} }`);
      expect(r.error, what).toBe('Access to this API has been restricted' + hint);
    }
    const own = await run('tmp', 'module.exports = () => { const p = require("path").join(require("os").tmpdir(), "f.txt"); require("fs").writeFileSync(p, "ok"); return require("fs").readFileSync(p, "utf8") }');
    expect(own.data).toBe('ok');
  });

  // Starting one killed the run there (uncatchable); now an error the
  // function can catch, BLOCKED as on the local pool when it does not.
  (backend === 'dify' ? it : it.skip)('child processes and threads are refused with an error a function can catch (dify)', async () => {
    const tries = {
      'child_process.execSync()': 'require("child_process").execSync("id")',
      'child_process.spawn()': 'require("node:child_process").spawn("id")',
      'child_process.fork()': 'require("child_process").fork("x.js")',
      'cluster.fork()': 'require("cluster").fork()',
      'new Worker()': 'new (require("worker_threads").Worker)("1", { eval: true })',
    };
    for (const [what, stmt] of Object.entries(tries)) {
      const message = `${what} cannot run on the Dify Sandbox: functions may not start processes or worker threads, and its system-call allow-list ends a run that tries`;
      const r = await executeFunction('blocked', `module.exports = () => { ${stmt} }`, '', {});
      expect([r.errorCode, r.error], what).toEqual(['BLOCKED', message]);
      const caught = await executeFunction('caught', `module.exports = () => { try { ${stmt} } catch (e) { return [e.code, e.message] } }`, '', {});
      expect(caught.data, what).toEqual(['DIFY_UNSUPPORTED', message]);
    }
    await ok();
  });

  (backend === 'dify' ? it : it.skip)('a blocked system call names its likely cause (dify: seccomp)', async () => {
    for (const stmt of ["require('inspector').open(0)", "require('v8').writeHeapSnapshot()"]) {
      const r = await executeFunction('blocked', `module.exports = () => { ${stmt} }`, '', {});
      expect(r.errorCode, stmt).toBe('BLOCKED');
      expect(r.error, stmt).toBe("The Dify Sandbox killed the function for a blocked system call (operation not permitted). Likely cause: a Node API whose system call the runner's allow-list lacks, such as require('inspector').open() or v8.writeHeapSnapshot()");
    }
    await ok();
  });

  it('Node APIs a sandbox cannot serve answer as a sandboxed process would, not with errors a function cannot act on', async () => {
    // os: no network interfaces (was "uv_interface_addresses returned Unknown
    // system error 1"), the temp folder as home (was EACCES), an identity.
    const os = await run('os', `module.exports = () => {
      const os = require('node:os');
      const u = os.userInfo();
      return [os.networkInterfaces(), os.homedir() === os.tmpdir(), u.username, u.homedir === os.tmpdir(), typeof u.uid, u.shell,
        Buffer.isBuffer(os.userInfo({ encoding: 'buffer' }).username), require('os') === require('node:os')];
    }`);
    expect(os.error).toBeUndefined();
    expect(os.data).toEqual([{}, true, 'sandbox', true, 'number', null, true, true]);
    // A module that patches fs (as graceful-fs does) patches its own invocation's.
    for (let i = 0; i < 3; i++) {
      const p = await run('patch', 'module.exports = () => { const fs = require("fs"); const seen = typeof fs.patched; fs.patched = 1; return [seen, require("fs").patched] }');
      expect(p.data).toEqual(['undefined', 1]);
    }
    // DNS: the host resolves names when it performs fetch; a function has no resolver.
    const hint = ' is not available in a function: it has no network sockets. Use fetch(url, init), which the runtime performs for the function under its egress policy (RUNTIME_EGRESS_ALLOW)';
    const dns = {
      'dns.lookup()': 'require("dns").lookup("example.com", () => {})',
      'dns.resolve4()': 'require("node:dns").resolve4("example.com", () => {})',
      'dns.Resolver()': 'new (require("dns").Resolver)()',
      'dns.promises.lookup()': 'require("dns").promises.lookup("localhost")',
      'dns/promises.lookup()': 'require("dns/promises").lookup("localhost")',
      'dns/promises.reverse()': 'require("dns/promises").reverse("127.0.0.1")',
    };
    for (const [what, stmt] of Object.entries(dns)) {
      const r = await run('dns', `module.exports = async () => { await ${stmt} }`);
      expect(r.error, stmt).toBe(what + hint);
    }
    // What opens nothing still works.
    expect((await run('net-ok', 'module.exports = () => require("net").isIP("1.2.3.4")')).data).toBe(4);
    await ok();
  });

  it('asynchronous fs, zlib and crypto work on the local pool; on Dify (no thread pool) they fail at once and name the synchronous call', async () => {
    const file = 'require("path").join(require("os").tmpdir(), "async.txt")';
    const subtleHint = "the synchronous node:crypto API (require('crypto'): createHash, createHmac, createCipheriv, sign, verify)";
    const zlibHint = 'the synchronous zlib API (zlib.gzipSync(), zlib.gunzipSync(), zlib.deflateSync(), …)';
    const calls = [
      ['fs/promises.writeFile()', 'fs.writeFileSync()', `await require("fs").promises.writeFile(${file}, "x")`],
      ['fs/promises.readFile()', 'fs.readFileSync()', `await require("fs/promises").readFile(${file}).catch((e) => { if (e.code !== "ENOENT") throw e })`],
      ['fs.stat()', 'fs.statSync()', `await new Promise((resolve) => require("fs").stat(${file}, () => resolve()))`],
      ['fs.createWriteStream()', 'the synchronous fs API (fs.readFileSync(), fs.writeFileSync())', `require("fs").createWriteStream(${file}).end("x")`],
      ['zlib.gzip()', 'zlib.gzipSync()', 'await new Promise((resolve, reject) => require("zlib").gzip("x", (e) => (e ? reject(e) : resolve())))'],
      ['crypto.pbkdf2()', 'crypto.pbkdf2Sync()', 'await new Promise((resolve, reject) => require("crypto").pbkdf2("a", "b", 1, 8, "sha1", (e) => (e ? reject(e) : resolve())))'],
      ['crypto.randomBytes() with a callback', 'crypto.randomBytes() without one', 'await new Promise((resolve, reject) => require("node:crypto").randomBytes(4, (e) => (e ? reject(e) : resolve())))'],
      ['crypto.subtle.digest()', subtleHint, 'await crypto.subtle.digest("SHA-256", new Uint8Array(1))'],
      ['crypto.subtle.sign()', subtleHint, 'const key = await crypto.subtle.importKey("raw", new Uint8Array(8), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]); await crypto.subtle.sign("HMAC", key, new Uint8Array(1))'],
      ['crypto.subtle.digest()', subtleHint, 'await require("crypto").subtle.digest("SHA-256", new Uint8Array(1))'],
      ['crypto.webcrypto.subtle.digest()', subtleHint, 'await require("crypto").webcrypto.subtle.digest("SHA-256", new Uint8Array(1))'],
      ['new CompressionStream()', zlibHint, 'await new Response(new Blob(["x"]).stream().pipeThrough(new CompressionStream("gzip"))).arrayBuffer()'],
      ['new DecompressionStream()', zlibHint, 'await new Response(new Blob([require("zlib").gzipSync("x")]).stream().pipeThrough(new DecompressionStream("gzip"))).text()'],
    ];
    for (const [what, instead, stmt] of calls) {
      const r = await run('threadpool', `module.exports = async () => { ${stmt}; return "done" }`, {}, { timeoutMs: 5000 });
      if (backend === 'dify') {
        expect(r.error, stmt).toBe(`${what} cannot run on the Dify Sandbox: its node runner has no thread pool, so asynchronous fs, zlib and crypto calls never finish. Use ${instead}`);
      } else {
        expect(r.error, stmt).toBeUndefined();
        expect(r.data).toBe('done');
      }
    }
    // The synchronous calls work on both.
    const sync = await run('sync', 'module.exports = () => [require("zlib").gunzipSync(require("zlib").gzipSync("x")).toString(), require("crypto").randomBytes(4).length, require("crypto").randomInt(1, 2), require("crypto").pbkdf2Sync("a", "b", 1, 8, "sha1").length]');
    expect(sync.data).toEqual(['x', 4, 1, 8]);
    const web = await run('web', 'module.exports = () => [crypto.getRandomValues(new Uint8Array(4)).length, crypto.randomUUID().length, typeof crypto.subtle.importKey, require("crypto").webcrypto.getRandomValues(new Uint8Array(2)).length]');
    expect(web.data).toEqual([4, 36, 'function', 2]);
  });

  it('relative paths, process.cwd() and fs.existsSync agree; on Dify, fs and os calls its allow-list lacks are clear errors, not a killed run', async () => {
    // Locally process.cwd() said '/' while path.resolve('a') was under the
    // temp folder; on Dify path.resolve('a'), realpathSync, existsSync,
    // statSync, readdirSync, os.totalmem() and more killed the run
    // ("blocked system call"), and readFileSync(p) as a Buffer did too.
    const where = await run('where', `module.exports = () => {
      const fs = require('fs'), path = require('path');
      return [process.cwd() === path.resolve('.'), path.resolve('a') === path.join(process.cwd(), 'a'), require('process').cwd() === process.cwd(),
        fs.existsSync('/no/such/path'), typeof require('os').uptime()];
    }`);
    expect(where.error).toBeUndefined();
    expect(where.data).toEqual([true, true, true, false, 'number']);
    if (backend !== 'dify') return;
    const certs = await run('certs', `module.exports = () => {
      const fs = require('fs'), p = '/etc/ssl/certs/ca-certificates.crt';
      const fd = fs.openSync(p, 'r'), head = Buffer.alloc(10);
      fs.readSync(fd, head, 0, 10, null);
      fs.closeSync(fd);
      return [process.cwd(), require('path').resolve('etc'), fs.realpathSync('etc') + fs.realpathSync(new URL('file:///etc')), fs.existsSync('/etc'), fs.existsSync(p), fs.accessSync(p) === undefined,
        fs.readFileSync(p).length === fs.readFileSync(p, 'utf8').length, fs.readFileSync(p, 'latin1').slice(0, 10) === head.toString('latin1')];
    }`);
    expect(certs.error).toBeUndefined();
    expect(certs.data).toEqual(['/', '/etc', '/etc/etc', true, true, true, true, true]);
    // No folder is writable on the real server (os.tmpdir() does not exist
    // there); a failed write says so.
    const write = await run('write', `module.exports = () => {
      const fs = require('fs'), out = [];
      for (const f of [() => fs.writeFileSync('/no/such/dir/a.txt', 'x'), () => fs.appendFileSync('/no/such/dir/a.txt', 'x'), () => fs.openSync('/no/such/dir/a.txt', 'w'), () => fs.openSync('/no/such/dir/a.txt', 'r')]) {
        try { f(); } catch (e) { out.push(e.code + ' ' + e.message); }
      }
      return out;
    }`);
    const hint = ' (cloud.storage to keep files: the Dify runner has no writable folder)';
    expect(write.data).toEqual([
      "ENOENT ENOENT: no such file or directory, open '/no/such/dir/a.txt'" + hint,
      "ENOENT ENOENT: no such file or directory, open '/no/such/dir/a.txt'" + hint,
      "ENOENT ENOENT: no such file or directory, open '/no/such/dir/a.txt'" + hint,
      "ENOENT ENOENT: no such file or directory, open '/no/such/dir/a.txt'",
    ]);
    const tries = {
      'fs.statSync()': ['fs.statSync("/")', 'statx', 'fs.existsSync() to test for a path, fs.readFileSync() to read a file'],
      'fs.lstatSync()': ['fs.lstatSync("/")', 'statx', 'fs.existsSync() to test for a path, fs.readlinkSync() for a link'],
      'fs.readdirSync()': ['fs.readdirSync("/")', 'getdents64', 'fs.existsSync() for a path you know'],
      'fs.mkdirSync()': ['fs.mkdirSync(os.tmpdir() + "/d")', 'mkdir', 'cloud.storage to keep files: the Dify runner has no writable folder'],
      'fs.unlinkSync()': ['fs.unlinkSync(os.tmpdir() + "/f")', 'unlink', 'cloud.storage to keep files: the Dify runner has no writable folder'],
      'fs.renameSync()': ['fs.renameSync("/a", "/b")', 'rename', 'cloud.storage to keep files: the Dify runner has no writable folder'],
      'fs.accessSync() with W_OK or X_OK': ['fs.accessSync("/", fs.constants.W_OK)', 'access', 'fs.existsSync() or fs.accessSync(path, fs.constants.R_OK); cloud.storage to keep files: the Dify runner has no writable folder'],
      'fs.readSync() at a position': ['fs.readSync(fs.openSync("/etc/ssl/certs/ca-certificates.crt", "r"), Buffer.alloc(4), 0, 4, 0)', 'pread64', 'fs.readSync() without a position (it reads on from the last read)'],
      'os.totalmem()': ['os.totalmem()', 'sysinfo', "process.memoryUsage() for the function's own memory"],
      'os.loadavg()': ['os.loadavg()', 'sysinfo', "nothing: the Dify runner cannot read the system's load"],
      'os.getPriority()': ['os.getPriority()', 'getpriority', 'nothing: the Dify runner cannot read priorities'],
    };
    const r = await run('unsupported', `module.exports = () => {
      const fs = require('fs'), os = require('node:os');
      return [${Object.values(tries).map(([stmt]) => `(() => { try { ${stmt}; return 'ran' } catch (e) { return e.code + ' ' + e.message } })()`).join(', ')}];
    }`);
    expect(r.error).toBeUndefined();
    expect(r.data).toEqual(Object.entries(tries).map(([what, [, syscall, instead]]) =>
      `DIFY_UNSUPPORTED ${what} cannot run on the Dify Sandbox: its system-call allow-list has no ${syscall}, and a blocked call ends the run. Use ${instead}`));
  });

  it('process.memoryUsage() answers in a sandbox that cannot read /proc; process.cpuUsage() works locally and is a clear error on Dify (no getrusage)', async () => {
    // memoryUsage threw "EACCES: permission denied, uv_resident_set_memory".
    const m = await run('mem', `module.exports = () => {
      const m = process.memoryUsage(), keys = ['rss', 'heapTotal', 'heapUsed', 'external', 'arrayBuffers'];
      return [Object.keys(m).sort().join(), keys.every((k) => Number.isInteger(m[k]) && m[k] >= 0), m.heapUsed > 0 && m.heapUsed <= m.heapTotal, m.rss >= m.heapUsed, process.memoryUsage.rss() > 0];
    }`);
    expect(m.error).toBeUndefined();
    expect(m.data).toEqual(['arrayBuffers,external,heapTotal,heapUsed,rss', true, true, true, true]);
    const cpu = await run('cpu', 'module.exports = () => { const a = process.cpuUsage(); const d = process.cpuUsage(a); return [typeof a.user, typeof a.system, d.user >= 0, typeof process.resourceUsage().maxRSS] }');
    if (backend === 'dify') {
      expect(cpu.error).toBe('process.cpuUsage() cannot run on the Dify Sandbox: its system-call allow-list has no getrusage, and a blocked call ends the run. Use performance.now() for elapsed time');
      const ru = await run('ru', 'module.exports = () => process.resourceUsage()');
      expect(ru.error).toBe('process.resourceUsage() cannot run on the Dify Sandbox: its system-call allow-list has no getrusage, and a blocked call ends the run. Use process.memoryUsage() and performance.now()');
    } else {
      expect(cpu.error).toBeUndefined();
      expect(cpu.data).toEqual(['number', 'number', true, 'number']);
    }
    // The shim's functions are shared by a worker's invocations: frozen.
    const frozen = await run('frozen', 'module.exports = () => { "use strict"; try { process.memoryUsage.rss = () => 0; return "replaced" } catch (e) { return e.constructor.name } }');
    expect(frozen.data).toBe('TypeError');
  });

  it('a function runs in RUNTIME_FUNCTION_TZ (Asia/Shanghai here), not in the host\'s zone (America/New_York here)', async () => {
    const r = await run('tz', "module.exports = () => [Intl.DateTimeFormat().resolvedOptions().timeZone, new Date(0).getTimezoneOffset(), new Date(0).getHours(), new Date(Date.UTC(2026, 6, 1)).toString().slice(16)]");
    expect(r.error).toBeUndefined();
    expect(r.data).toEqual(['Asia/Shanghai', -480, 8, '08:00:00 GMT+0800 (China Standard Time)']);
    expect(new Date(0).getTimezoneOffset()).toBe(300); // the host: New York, in winter
  });

  it('util.promisify(setTimeout) and timers/promises work on the invocation\'s timers, with an AbortSignal', async () => {
    // promisify(setTimeout) threw 'The "callback" argument must be of type function'.
    const r = await run('sleep', `module.exports = async () => {
      const { promisify } = require('util');
      const sleep = promisify(setTimeout), tick = promisify(setImmediate);
      const t = Date.now();
      const out = [await sleep(20, 'slept'), Date.now() - t >= 15, await tick('ticked'), await require('node:timers/promises').setTimeout(1, 'tp')];
      const ac = new AbortController();
      const pending = require('timers/promises').setTimeout(10000, 'never', { signal: ac.signal });
      ac.abort();
      try { await pending; } catch (e) { out.push(e.name, e.code); }
      try { await sleep(1, 'x', { signal: AbortSignal.abort() }); } catch (e) { out.push(e.message); }
      await require('timers/promises').scheduler.wait(1);
      return out;
    }`, {}, { timeoutMs: 5000 });
    expect(r.error).toBeUndefined();
    expect(r.data).toEqual(['slept', true, 'ticked', 'tp', 'AbortError', 'ABORT_ERR', 'The operation was aborted']);
  });

  it("a function's fetch sends what Node's sends, decodes gzip, deflate, br and zstd, and honours redirect: 'manual' and 'error'", async () => {
    // The host sent no User-Agent (some APIs refuse such a request), passed
    // gzip bodies through undecoded, and followed every redirect.
    const r = await run('fetchlike', `module.exports = async () => {
      const echo = await (await fetch('${webUrl}/echo')).json();
      const own = await (await fetch('${webUrl}/echo', { headers: { 'user-agent': 'mine/1', accept: 'application/json' } })).json();
      const manual = await fetch('${webUrl}/redirect', { redirect: 'manual' });
      const followed = await fetch('${webUrl}/redirect');
      let error;
      try { await fetch('${webUrl}/redirect', { redirect: 'error' }); } catch (e) { error = [e.name, e.code, e.message]; }
      return {
        sent: echo.headers, own: own.headers.slice(0, 4),
        decoded: [await (await fetch('${webUrl}/gzip')).text(), await (await fetch('${webUrl}/deflate')).text(),
          await (await fetch('${webUrl}/br', { headers: { 'accept-encoding': 'br' } })).text(), await (await fetch('${webUrl}/zstd')).text()],
        manual: [manual.status, manual.headers.get('location'), manual.redirected, await manual.text()],
        followed: [followed.status, followed.redirected, (await followed.json()).url],
        error,
      };
    }`, {}, { timeoutMs: 10000 });
    expect(r.error).toBeUndefined();
    expect(r.data).toEqual({
      sent: ['*/*', '*', 'cors', 'node', 'gzip, deflate'],
      own: ['application/json', '*', 'cors', 'mine/1'],
      decoded: ['unzipped', 'inflated', 'unbrotlied, asked for br', 'unzstd'],
      manual: [302, '/echo?hopped=1', false, 'moved'],
      followed: [200, true, '/echo?hopped=1'],
      error: ['TypeError', 'EGRESS_FAILED', `fetch ${webUrl}/redirect: unexpected redirect (302 Found to ${webUrl}/echo?hopped=1) with redirect: 'error'`],
    });
  });

  it('a compressed response that inflates past the 16 MiB cap fails the fetch, not the host', async () => {
    const r = await run('bomb', `module.exports = async () => {
      try { await fetch('${webUrl}/bomb'); return 'read it all'; } catch (e) { return [e.name, e.errorCode, e.message]; }
    }`, {}, { timeoutMs: 10000 });
    expect(r.error).toBeUndefined();
    expect(r.data).toEqual(['TypeError', 'EGRESS_FAILED', `fetch ${webUrl}/bomb: the response body exceeds 16777216 bytes`]);
    await ok();
  });

  it("instanceof accepts what Node's built-ins and the runtime make (they live in the worker's realm): errors, Buffers, arrays, promises", async () => {
    const r = await run('realm', `module.exports = async () => {
      const caught = async (f) => { try { await f(); } catch (e) { return e; } };
      const errors = [
        await caught(() => fetch('http://127.0.0.1:1/')),
        await caught(() => cloud.invoke('no-such-function-here', {})),
        await caught(() => require('no-such-module')),
        await caught(() => require('fs').readFileSync(require('os').tmpdir() + '/missing')),
        await caught(() => new URL('not a url')),
        await caught(() => Buffer.alloc(-1)),
      ];
      class Mine extends Error {}
      return {
        error: errors.map((e) => e instanceof Error),
        typed: [errors[0] instanceof TypeError, errors[4] instanceof TypeError, errors[5] instanceof RangeError, errors[4] instanceof RangeError],
        bytes: [Buffer.from('x') instanceof Uint8Array, new TextEncoder().encode('x') instanceof Uint8Array, Buffer.from('x').buffer instanceof ArrayBuffer],
        other: [Buffer.from('x').toJSON().data instanceof Array, require('fs').promises.readFile('/').catch(() => 0) instanceof Promise, require('path').parse('/a') instanceof Object],
        own: [new Mine() instanceof Mine, new Error() instanceof Mine, errors[0] instanceof Mine, new Mine() instanceof Error, [] instanceof Array, 5 instanceof Object],
      };
    }`, {}, { timeoutMs: 5000 });
    expect(r.error).toBeUndefined();
    expect(r.data).toEqual({
      error: [true, true, true, true, true, true],
      typed: [true, true, true, false],
      bytes: [true, true, true],
      other: [true, true, true],
      own: [true, false, false, true, true, false],
    });
  });

  it("a function has Node's web globals: events, streams, messaging, DOMException, File, performance and Web Crypto classes", async () => {
    // Each was "… is not defined" in a function, though node has them all.
    const r = await run('webglobals', `module.exports = async () => {
      const target = new EventTarget();
      let got;
      target.addEventListener('ping', (e) => { got = e.type + ':' + e.detail; });
      target.dispatchEvent(new CustomEvent('ping', { detail: 7 }));
      let text = '';
      for await (const chunk of new ReadableStream({ start(c) { c.enqueue('a'); c.enqueue('b'); c.close(); } })) text += chunk;
      const upper = new TransformStream({ transform(chunk, c) { c.enqueue(chunk.toUpperCase()); } });
      let piped = '';
      for await (const chunk of new Blob(['abc']).stream().pipeThrough(new TextDecoderStream()).pipeThrough(upper)) piped += chunk;
      const { port1, port2 } = new MessageChannel();
      const message = await new Promise((resolve) => { port2.onmessage = (m) => resolve(m.data); port1.postMessage({ n: 1 }); });
      port1.close();
      const abort = new DOMException('stopped', 'AbortError');
      const file = new File(['hi'], 'f.txt', { type: 'text/plain' });
      return [got, text, piped, message, abort.name, abort.message, file.name, file.size,
        new WritableStream() instanceof WritableStream, typeof PerformanceObserver, typeof SubtleCrypto, typeof CryptoKey, Object.keys(globalThis).includes('EventTarget')];
    }`, {}, { timeoutMs: 5000 });
    expect(r.error).toBeUndefined();
    expect(r.data).toEqual(['ping:7', 'ab', 'ABC', { n: 1 }, 'AbortError', 'stopped', 'f.txt', 2, true, 'function', 'function', 'function', true]);
    // Each invocation's are its own to replace, as any global.
    const a = await run('g1', 'module.exports = () => { EventTarget = 1; return typeof EventTarget }');
    const b = await run('g2', 'module.exports = () => typeof EventTarget');
    expect([a.data, b.data]).toEqual(['number', 'function']);
  });

  // Local only: Dify's allow-list has no `access`, so there existsSync is
  // answered with open() (dify.js), against the runner's own chroot.
  localOnly('fs.existsSync answers false outside the sandbox\'s paths, never ERR_ACCESS_DENIED (Node documents that it does not throw)', async () => {
    const fs = await run('exists', `module.exports = () => {
      const fs = require('fs'), p = require('path').join(require('os').tmpdir(), 'here.txt');
      fs.writeFileSync(p, 'x');
      return [fs.existsSync(p), fs.existsSync('/no/such/file'), fs.existsSync('/etc/passwd'), fs.existsSync('/proc/self/status'), fs.existsSync()];
    }`);
    expect(fs.error).toBeUndefined();
    expect(fs.data).toEqual([true, false, false, false, false]);
    // Reading such a path is still the sandbox's clear refusal.
    const read = await run('read', 'module.exports = () => require("fs").readFileSync("/etc/passwd", "utf8")');
    expect(read.errorCode).toBe('BLOCKED');
  });

  it("a function's process has what libraries call: stdout and stderr (to the logs), emitWarning, events, pid", async () => {
    const r = await run('proc', `module.exports = () => {
      process.stdout.write('out\\n');
      process.stdout.write(Buffer.from('bytes'));
      process.stderr.write('err');
      process.emitWarning('old api', 'DeprecationWarning', 'DEP0001');
      process.emitWarning(new RangeError('too far'));
      let seen = null;
      process.on('tick', (x) => { seen = x; }).once('other', () => {});
      const emitted = process.emit('tick', 7);
      return [seen, emitted, process.listenerCount('tick'), process.eventNames().length, typeof process.pid, process.title,
        process.execArgv, process.stdout.isTTY, process.release.name, Object.keys(process.env).length];
    }`);
    expect(r.error).toBeUndefined();
    expect(r.logs).toEqual(['out', 'bytes', '[ERROR] err', '[WARN] [DEP0001] DeprecationWarning: old api', '[WARN] RangeError: too far']);
    expect(r.data).toEqual([7, true, 1, 2, 'number', 'node', [], false, 'node', 0]);
    // An invocation's listeners are its own.
    expect((await run('proc2', 'module.exports = () => process.listenerCount("tick")')).data).toBe(0);
    // It prints as Node's does, not as a runtime class.
    expect((await run('proc3', 'module.exports = () => [String(process), require("util").inspect(process)]')).data).toEqual(['[object process]', 'process { env: {} }']);
  });

  it("a function's process.on('unhandledRejection' / 'uncaughtException') listeners get its uncaught faults, as in Node", async () => {
    const r = await run('listen', `module.exports = () => new Promise((resolve) => {
      const seen = [];
      process.on('unhandledRejection', (reason, promise) => seen.push('rejection ' + reason.message + ' ' + (promise instanceof Promise)));
      process.on('uncaughtException', (err, origin) => seen.push('exception ' + err.message + ' ' + origin));
      Promise.reject(new Error('r1'));
      setTimeout(() => { throw new Error('t1'); }, 1);
      setTimeout(() => resolve(seen), 100);
    })`);
    expect(r.error).toBeUndefined();
    expect(r.data).toEqual(['rejection r1 true', 'exception t1 uncaughtException']);
    // A listener that throws fails the invocation with its own error.
    const t = await run('listen-throws', `module.exports = () => new Promise(() => {
      process.on('unhandledRejection', () => { throw new Error('listener broke'); });
      Promise.reject(new Error('r2'));
    })`, {}, { timeoutMs: 3000 });
    expect(t.error).toBe("Uncaught exception in a process.on('unhandledRejection') listener: listener broke");
    // The listeners were that invocation's: the next one fails as before.
    const n = await run('no-listener', 'module.exports = () => new Promise(() => { Promise.reject(new Error("r3")) })', {}, { timeoutMs: 3000 });
    expect(n.error).toBe('Unhandled promise rejection: r3');
    await ok();
  });

  it('npm packages cannot be required', async () => {
    const r = await run('lodash', 'module.exports = () => require("lodash")');
    expect(r.error).toBe("Cannot find module 'lodash': functions can require only Node built-in modules (bundle other packages into the compiled code)");
  });
});

describe('misuse of the API', () => {
  const rejects = async (p, code, message) => {
    const err = await p.then(() => null, (e) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe(code);
    expect(err.message).toEqual(message);
  };
  it('rejects with a code and a clear message', async () => {
    await rejects(executeFunction('', 'module.exports = () => 1', '', {}), 'INVALID_ARGUMENT', 'name must be a non-empty string');
    await rejects(executeFunction('f\n    at forged (x.js:1:1)', 'module.exports = () => 1', '', {}), 'INVALID_ARGUMENT', 'name must not contain control characters or line breaks, got \'\\n\' in "f\\n    at forged (x.js:1:1)"');
    await rejects(executeFunction('n'.repeat(1025), 'module.exports = () => 1', '', {}), 'INVALID_ARGUMENT', 'name must be at most 1024 bytes, got 1025');
    await rejects((async () => executeFunction('f', 'module.exports = () => 1', '', {}, { backend: 'docker' }))(), 'INVALID_ARGUMENT', "unknown backend \"docker\": expected 'local' or 'dify'");
    await rejects(executeFunction('f', 'module.exports = () => 1', '', {}, { language: 'python3' }), 'INVALID_ARGUMENT', "language 'python3' is not supported by executeFunction: functions are JavaScript ('javascript') or TypeScript ('typescript')");
    await rejects(executeFunction('f', 'module.exports = () => 1', '', {}, { timeoutMs: 0 }), 'INVALID_ARGUMENT', 'options.timeoutMs (RUNTIME_MAX_TIMEOUT_MS) must be an integer from 1 to 900000, got 0');
    const circular = {}; circular.self = circular;
    await rejects((async () => executeFunction('f', 'module.exports = () => 1', '', circular))(), 'INVALID_ARGUMENT', expect.stringContaining('ctx must be a JSON-serializable object'));
    await ok();
  });

  it('a value of the wrong type names the option and what it must be, in JavaScript terms', async () => {
    // executeFunction and runCode reject (as documented) and never throw:
    // `executeFunction(…).catch(next)` must see a wrong type too.
    const ASYNC = new Set([executeFunction, runCode]);
    const fails = async (f) => {
      let p;
      try { p = f(); } catch (e) {
        if ([...ASYNC].some((g) => f.toString().includes(`=> ${g.name}(`))) return ['threw at once', e.message];
        return [e.code, e.message];
      }
      try { await p; } catch (e) { return [e.code, e.message]; }
      return 'no error';
    };
    const bad = (message) => ['INVALID_ARGUMENT', `invalid argument${message}`];
    const fn = 'module.exports = () => 1';
    const cases = [
      [() => executeFunction(5, fn, '', {}), ' (got number): expected a string'],
      [() => executeFunction('f', fn, 5, {}), ' (got number): expected a string or undefined'],
      [() => executeFunction('f', fn, '', {}, 'fast'), ' (got string): expected an object or undefined'],
      [() => executeFunction('f', fn, '', {}, { timeoutMs: '100' }), ': options.timeoutMs must be a number, got string'],
      [() => executeFunction('f', fn, '', {}, { memoryMb: '256' }), ': options.memoryMb must be a number, got string'],
      [() => executeFunction('f', fn, '', {}, { language: 5 }), ': options.language must be a string, got number'],
      [() => executeFunction('f', fn, '', {}, { tenant: {} }), ': options.tenant must be a string, got object'],
      [() => executeFunction('f', fn, '', {}, { reuseContext: 'yes' }), ': options.reuseContext must be a boolean, got string'],
      [() => executeFunction('f', fn, '', {}, { reuseContext: [] }), ': options.reuseContext must be a boolean, got array'],
      [() => runCode(null), ' (got null): expected an object'],
      [() => runCode({ language: 'js' }), ': options.code is required'],
      [() => runCode({ code: 'return 1' }), ': options.language is required'],
      [() => runCode({ language: 'js', code: 42 }), ': options.code must be a string, got number'],
      [() => runCode({ language: 'js', code: '1', timeoutMs: '100' }), ': options.timeoutMs must be a number, got string'],
      [() => validateCode('js'), ' (got undefined): expected a string'],
      [() => createCloud({ tenant: 5 }), ': options.tenant must be a string, got number'],
      // The value's own text does not confuse the path, nor is it echoed.
      [() => createCloud({ database: { name: 'x on Evil.path' } }), ': options.database must be a string, got object'],
      // Nested objects used to convert from anything: `s3: 'x'` was `{}`.
      [() => createCloud({ s3: 'http://127.0.0.1:9000' }), ': options.s3 must be an object, got string'],
      [() => createCloud({ s3: [] }), ': options.s3 must be an object, got array'],
      [() => createCloud({ s3: { endpoint: 9000 } }), ': options.s3.endpoint must be a string, got number'],
      [() => createCloud({ s3: { forcePathStyle: 'yes' } }), ': options.s3.forcePathStyle must be a boolean, got string'],
      [() => createCloud({ s3: { forcePathStyle: null } }), ': options.s3.forcePathStyle must be a boolean, got null'],
      [() => createCloud({ env: 'A=1' }), ': options.env must be an object, got string'],
      [() => createCloud({ env: { A: 1 } }), ': options.env must be an object of strings, got a number in it'],
      [() => createCloud({ buckets: 'b' }), ': options.buckets must be an array, got string'],
      [() => createCloud({ buckets: [1] }), ': options.buckets must be an array of strings, got a number in it'],
      [() => compressLogs('line'), ' (got string): expected an array'],
      [() => compressLogs([1]), ': expected an array of strings, got a number in it'],
      [() => logsHeader(['a'], '100'), ' (got string): expected a number or undefined'],
      [() => setFunctionLoader(5), ' (got number): expected a function or undefined'],
    ];
    for (const [f, message] of cases) expect(await fails(f)).toEqual(bad(message));
    // What converts still works, and the host keeps serving.
    expect(createCloud({ s3: { endpoint: 'http://127.0.0.1:1' }, env: { A: '1' }, buckets: ['b'] }).env).toEqual(expect.objectContaining({ A: '1' }));
    await ok();
  });
});

it('metrics() counts invocations and pool workers in Prometheus text', async () => {
  const count = () => Number(/runtime_invocations_total\{status="ok"\} (\d+)/.exec(metrics())[1]);
  const before = count();
  await ok();
  expect(count()).toBe(before + 1);
  expect(metrics()).toMatch(/runtime_pool_workers\{state="total"\} \d+/);
});

it('metrics() counts compiles: a new program once, a cached one not at all', async () => {
  const compiles = () => Number(/runtime_compiles_total (\d+)/.exec(metrics())[1]);
  const code = `module.exports = () => ${Date.now()}`;
  const before = compiles();
  await run('compiled', code);
  expect(compiles()).toBe(before + 1);
  await run('compiled', code);
  expect(compiles()).toBe(before + 1);
});
