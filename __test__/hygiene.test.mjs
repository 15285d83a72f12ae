// The pool and its protocol under faults and bad input, as Node sees them:
// no worker outlives its host, a host-supplied loader cannot crash the host,
// every argument is checked (never wrapped), an outage of the database does
// not stall the pool, and results of any depth or size are handled.
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it, expect } from 'vitest';

const require = createRequire(import.meta.url);
const rt = require('../index.js');
const { executeFunction, setFunctionLoader, createCloud, compressLogs, decompressLogs, logsHeader, health } = rt;

const run = (code, ctx = {}, options) => executeFunction('h', code, '', ctx, options);
const errorOf = async (f) => {
  try { await f(); } catch (e) { return e; }
  throw new Error('expected an error');
};

// Live (non-zombie) processes whose command line names the host's pool folder.
function workersOf(hostPid) {
  const marker = `simple-ide-runtime-${hostPid}-`;
  const found = [];
  for (const pid of fs.readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      const state = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
      if (cmd.includes(marker) && state !== 'Z') found.push(Number(pid));
    } catch { /* gone meanwhile */ }
  }
  return found;
}
const poolDirsOf = (hostPid) => fs.readdirSync(os.tmpdir()).filter((d) => d.startsWith(`simple-ide-runtime-${hostPid}-`));

async function startHost(how) {
  const host = spawn(process.execPath, [path.join(import.meta.dirname, 'fixtures/spinning-host.mjs'), how], { stdio: ['pipe', 'pipe', 'inherit'] });
  await new Promise((resolve, reject) => {
    let out = '';
    host.stdout.on('data', (d) => { out += d; if (out.includes('READY')) resolve(); });
    host.on('exit', (c) => reject(new Error(`host exited early (${c})`)));
  });
  return host;
}
async function waitFor(cond, ms = 5000) {
  const t = Date.now();
  while (!cond()) {
    if (Date.now() - t > ms) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

describe('no worker outlives its host', () => {
  for (const how of ['exit', 'SIGTERM', 'SIGINT', 'SIGKILL']) {
    it(`while a function spins, the host ends by ${how}`, async () => {
      const host = await startHost(how);
      const pid = host.pid;
      expect(workersOf(pid).length).toBeGreaterThan(0);
      const exited = new Promise((r) => host.on('exit', r));
      if (how === 'exit') host.stdin.write('go\n');
      else host.kill(how);
      await exited;
      expect(await waitFor(() => workersOf(pid).length === 0)).toBe(true);
      if (how === 'exit') expect(poolDirsOf(pid)).toEqual([]); // removed at exit
    }, 30_000);
  }

  it('a later host sweeps the folders of hosts that were killed', async () => {
    const killed = await startHost('wait');
    const exited = new Promise((r) => killed.on('exit', r));
    killed.kill('SIGKILL');
    await exited;
    expect(poolDirsOf(killed.pid).length).toBe(1);
    const next = await startHost('exit');
    const nextExited = new Promise((r) => next.on('exit', r));
    next.stdin.write('go\n');
    await nextExited;
    expect(poolDirsOf(killed.pid)).toEqual([]);
    expect(poolDirsOf(next.pid)).toEqual([]);
  }, 30_000);
});

describe('a host-supplied loader cannot crash the host', () => {
  const invokeFrom = async () => (await run(
    "module.exports = async () => { try { return ['ok', await cloud.invoke('target', 1)] } catch (e) { return [e.errorCode, e.message] } }",
  )).data;

  it('throws, returns a non-Promise, rejects, resolves to the wrong shape, or to null', async () => {
    try {
      setFunctionLoader(() => { throw new Error('store offline'); });
      expect(await invokeFrom()).toEqual(['LOADER_FAILED', 'the function loader failed for "target": store offline']);
      setFunctionLoader(() => ({ compiled: 'module.exports = () => 1' }));
      expect(await invokeFrom()).toEqual(['LOADER_FAILED', 'the function loader failed for "target": the function loader must return a Promise (make it an async function), got object']);
      setFunctionLoader(() => 42);
      expect((await invokeFrom())[0]).toBe('LOADER_FAILED');
      setFunctionLoader(async () => { throw new Error('nope'); });
      expect(await invokeFrom()).toEqual(['LOADER_FAILED', 'the function loader failed for "target": nope']);
      setFunctionLoader(async () => 'module.exports = () => 1');
      expect(await invokeFrom()).toEqual(['LOADER_FAILED', 'the function loader\'s result for "target" is a string: it must resolve to { name, compiled, hash } or null']);
      setFunctionLoader(async () => ({ code: 5 }));
      expect((await invokeFrom())[0]).toBe('LOADER_FAILED');
      setFunctionLoader(async () => null);
      expect(await invokeFrom()).toEqual(['FUNCTION_NOT_FOUND', 'function not found: target']);
      setFunctionLoader(async (name) => ({ name, compiled: 'module.exports = (ctx) => ctx.body + 1', hash: 'h1' }));
      expect(await invokeFrom()).toEqual(['ok', 2]);
      // The host's own cloud.invoke rejects the same way.
      setFunctionLoader(() => { throw new Error('store offline'); });
      const e = await errorOf(() => createCloud().invoke('target', 1));
      expect([e.code, e.message]).toEqual(['LOADER_FAILED', 'the function loader failed for "target": store offline']);
    } finally {
      setFunctionLoader(null);
    }
  });
});

describe('arguments are checked, never wrapped', () => {
  const bad = [-1, 0, 2 ** 32 + 100, NaN, 1.5, Infinity];

  it('executeFunction: timeoutMs and memoryMb', async () => {
    for (const v of bad) {
      const e = await errorOf(() => run('module.exports = () => 1', {}, { timeoutMs: v }));
      expect([e.code, e.message]).toEqual(['INVALID_ARGUMENT', `options.timeoutMs (RUNTIME_MAX_TIMEOUT_MS) must be an integer from 1 to 900000, got ${v}`]);
      const m = await errorOf(() => run('module.exports = () => 1', {}, { memoryMb: v }));
      expect(m.code).toBe('INVALID_ARGUMENT');
      expect(m.message).toMatch(new RegExp(`^options\\.memoryMb \\(RUNTIME_MAX_MEMORY_MB\\) must be an integer from 16 to \\d+, got ${v}$`));
    }
    expect((await run('module.exports = () => 1', {}, { timeoutMs: 2 ** 31, memoryMb: 256 }).catch((e) => e)).code).toBe('INVALID_ARGUMENT');
    expect((await run('module.exports = () => 1', {}, { timeoutMs: 1000 })).data).toBe(1);
  });

  it('getDownloadUrl / getUploadUrl: expiresIn', async () => {
    const bucket = createCloud({ s3: { endpoint: 'http://127.0.0.1:9', accessKeyId: 'a', secretAccessKey: 'b', bucket: 'x' } }).storage.bucket();
    for (const v of [...bad, 604801]) {
      for (const f of ['getDownloadUrl', 'getUploadUrl']) {
        const e = await errorOf(() => bucket[f]('k', v));
        expect([e.code, e.message]).toEqual(['INVALID_ARGUMENT', `expiresIn must be an integer from 1 to 604800, got ${v}`]);
      }
    }
    expect(await bucket.getDownloadUrl('k', 60)).toMatch(/X-Amz-Expires=60&/);
  });

  it('logsHeader: maxBytes', () => {
    for (const v of bad) {
      const e = (() => { try { logsHeader(['a'], v); } catch (err) { return err; } })();
      expect(e?.code, String(v)).toBe('INVALID_ARGUMENT');
      expect(e.message).toBe(`maxBytes must be an integer from 1 to 2147483648, got ${v}`);
    }
  });

  it('wrong types get INVALID_ARGUMENT, not napi codes', async () => {
    const cases = [
      () => executeFunction(123, 'module.exports = () => 1'),
      () => executeFunction('f', null),
      () => executeFunction('f', 'module.exports = () => 1', 5),
      () => executeFunction('f', 'module.exports = () => 1', '', {}, 5),
      () => executeFunction('f', 'module.exports = () => 1', '', {}, { timeoutMs: '100' }),
      () => executeFunction('f', 'module.exports = () => 1', '', {}, { backend: 1 }),
      () => createCloud(5),
      () => createCloud({ mongoUrl: 5 }),
      () => createCloud({ s3: { forcePathStyle: 'yes' } }),
      () => compressLogs('x'),
      () => compressLogs([1, 2]),
      () => decompressLogs(5),
      () => logsHeader('x'),
      () => setFunctionLoader(5),
      () => createCloud().database().collection(5),
      () => createCloud().storage.bucket(5),
      () => createCloud().invoke(5),
      () => createCloud({ s3: { bucket: 'b' } }).storage.bucket().readFile(5),
      () => createCloud({ s3: { bucket: 'b' } }).storage.bucket().writeFile('k', 5),
      () => createCloud({ s3: { bucket: 'b' } }).storage.bucket().getDownloadUrl('k', '60'),
    ];
    // A Cloud comes from createCloud() only.
    const e = (() => { try { new rt.Cloud({}); } catch (err) { return err; } })();
    expect([e.code, e.message]).toEqual(['INVALID_ARGUMENT', 'a Cloud is made by createCloud(), not new Cloud()']);
    for (const f of cases) {
      const e = await errorOf(async () => f());
      expect(e.code, f.toString()).toBe('INVALID_ARGUMENT');
      // The argument's own type, or the option's path (`options.s3.bucket`).
      expect(e.message, f.toString()).toMatch(/^invalid argument( \(got \w+\))?: /);
      // In JavaScript's terms: no Rust type or struct names from napi.
      expect(e.message, f.toString()).not.toMatch(/rust type|Expect value|Missing field|[A-Z]\w*Options\.|Option<|\bf64\b|\bbool\b/);
    }
  });
});

describe('services and the pool', () => {
  it('health() is cheap and reports the pool and the services', async () => {
    await run('module.exports = () => 1');
    const h = health();
    expect(h.status).toMatch(/^(ok|degraded)$/);
    expect(h.backend).toBe('local');
    expect(h.pool.workers).toBeGreaterThan(0);
    expect(h.pool.idle + h.pool.busy).toBeLessThanOrEqual(h.pool.workers);
    expect(h.pool.queued).toBe(0);
    expect(typeof h.pool.replaced).toBe('number');
    expect(h.pool.blank + h.pool.busy).toBeLessThanOrEqual(h.pool.workers);
    expect(h.pool.maxWorkers).toBe(32);
    // The kernel layers are reported once the pool runs (Linux CI: all of them).
    expect(h.isolation).toMatchObject({ level: 'auto', seccomp: true, rlimits: true });
    expect(h.isolation.landlock).toBeGreaterThan(0);
    for (const s of [h.services.database, h.services.storage]) expect(['up', 'down', 'unknown', 'not_configured']).toContain(s);
    const t = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) health();
    expect(Number(process.hrtime.bigint() - t) / 1e6 / 1000).toBeLessThan(0.2);
  });

  it('a MongoDB outage fails database calls fast and does not stall trivial functions', async () => {
    const down = createCloud({ mongoUrl: 'mongodb://127.0.0.1:1', database: 'x' });
    const dbCalls = Array.from({ length: 8 }, () => executeFunction('db', `module.exports = async () => {
      const out = [];
      for (let i = 0; i < 5; i++) {
        const t = Date.now();
        try { await cloud.database().collection('c').findOne({}); out.push('found') } catch (e) { out.push([e.errorCode, Date.now() - t]) }
      }
      return out }`, '', { cloud: down }, { timeoutMs: 8000 }));
    const trivial = [];
    for (let i = 0; i < 20; i++) {
      const t = Date.now();
      expect((await run('module.exports = () => 1')).data).toBe(1);
      trivial.push(Date.now() - t);
    }
    const results = await Promise.all(dbCalls);
    for (const r of results) {
      expect(r.error).toBeUndefined();
      for (const [code, ms] of r.data) {
        expect(code).toBe('DATABASE_UNREACHABLE');
        expect(ms).toBeLessThan(1500);
      }
      // After the first, each call fails at once.
      expect(Math.max(...r.data.slice(1).map(([, ms]) => ms))).toBeLessThan(100);
    }
    trivial.sort((a, b) => a - b);
    expect(trivial[10]).toBeLessThan(100);
    expect(trivial[19]).toBeLessThan(1500);
  }, 30_000);
});

describe('results of any depth and size', () => {
  it('carries deep values and lone surrogates, and never mislabels them', async () => {
    const deep = await run('module.exports = () => { let v = { end: true }; for (let i = 0; i < 200; i++) v = { v }; return v }');
    expect(deep.error).toBeUndefined();
    let v = deep.data; let depth = 0;
    while (v.v) { v = v.v; depth++; }
    expect([depth, v.end]).toEqual([200, true]);

    const r = await run("module.exports = (ctx) => { console.log('log \\ud800'); return { back: ctx.body.s, own: 'x\\udc00' } }", { body: { s: 'a\ud800' } });
    expect(r.error).toBeUndefined();
    expect(r.data).toEqual({ back: 'a\ud800', own: 'x\udc00' });
    expect(r.logs).toEqual(['log \ufffd']);
  });

  it('a 600 MiB result is RESULT_TOO_LARGE, and the host does not buffer it', async () => {
    const before = process.memoryUsage().rss;
    const r = await run("module.exports = () => { const s = 'x'.repeat(100 * 1024 * 1024); return [s, s, s, s, s, s] }", {}, { memoryMb: 4096, timeoutMs: 60000 });
    expect(r.errorCode).toBe('RESULT_TOO_LARGE');
    expect(r.error).toBe('Function returned a result larger than 6291456 bytes of JSON (RUNTIME_MAX_RESULT_BYTES)');
    expect(process.memoryUsage().rss - before).toBeLessThan(64 * 1024 * 1024);
  }, 90_000);

  it('every failure has its errorCode', async () => {
    const cases = [
      ['module.exports = () => { throw new Error("x") }', 'FUNCTION_THREW'],
      ['module.exports = () => new Promise(() => {})', 'TIMEOUT', { timeoutMs: 200 }],
      ['module.exports = () => {', 'SYNTAX_ERROR'],
      ['export default () => import.meta.url', 'ESM_SYNTAX'],
      ['exports.a = 1', 'NO_EXPORT'],
      ['module.exports = () => 1n', 'BAD_RESULT'],
      ['module.exports = () => process.exit(1)', 'EXITED'],
      ['module.exports = () => require("child_process").execSync("true")', 'BLOCKED'],
      ['module.exports = () => { this.constructor.constructor("return process")().stdout.write("x\\n"); return new Promise(() => {}) }', 'PROTOCOL_VIOLATION'],
    ];
    for (const [code, want, opts] of cases) {
      const r = await run(code, {}, opts);
      expect(r.errorCode, code).toBe(want);
      expect(typeof r.error).toBe('string');
    }
    const ok = await run('module.exports = () => 1');
    expect(ok.errorCode).toBeUndefined();
    expect(rt.metrics()).toMatch(/runtime_invocation_failures_total\{code="ESM_SYNTAX"\} [1-9]/);
  });
});
