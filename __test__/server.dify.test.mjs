// The Dify Sandbox server's own awkward behaviour, spoken to over raw HTTP:
// the stand-in must behave like the real server (run with REAL_DIFY_URL by
// scripts/test.sh), so that the dify backend's tests against it mean
// something. Settings as start.sh's: max_workers 4, max_requests 50,
// worker_timeout 5.
import { describe, it, expect } from 'vitest';
import { startSandbox } from './fixtures/use-dify.mjs';

const sandbox = await startSandbox({ maxRequests: 50, maxWorkers: 4, workerTimeoutSec: 5 });
const post = async (body, { contentType = 'application/json', raw = false } = {}) => {
  const headers = { 'x-api-key': sandbox.apiKey };
  if (contentType) headers['content-type'] = contentType;
  const res = await fetch(`${sandbox.url}/v1/sandbox/run`, { method: 'POST', headers, body: raw ? body : JSON.stringify(body) });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
};
const node = (code) => ({ language: 'nodejs', code, preload: '', enable_network: true });
const killed = 'process exited with code -1\nerror: operation not permitted\n';

describe('the API', () => {
  it('empty code → 400 with application/json exactly; 200 with a -400 body otherwise', async () => {
    const required = "Key: 'Code' Error:Field validation for 'Code' failed on the 'required' tag";
    expect(await post(node(''))).toEqual({ status: 400, body: { code: -400, message: required, data: null } });
    expect(await post(node(''), { contentType: 'application/json; charset=utf-8' })).toEqual({ status: 200, body: { code: -400, message: required, data: null } });
    const both = "Key: 'Language' Error:Field validation for 'Language' failed on the 'required' tag\n" + required;
    for (const contentType of ['text/plain', 'application/x-www-form-urlencoded', null]) {
      expect(await post(node('console.log(1)'), { contentType }), String(contentType)).toEqual({ status: 200, body: { code: -400, message: both, data: null } });
    }
    const ok = await post(node('console.log(1)'), { contentType: 'application/json; charset=utf-8' });
    expect([ok.status, ok.body.code, ok.body.data.stdout, ok.body.data.exit_code]).toEqual([200, 0, '1\n', 0]);
    expect(await post({ language: 'javascript', code: '1' })).toEqual({ status: 400, body: { code: -400, message: 'unsupported language', data: null } });
  });

  it('a wrong key → 401 with an empty body', async () => {
    const res = await fetch(`${sandbox.url}/v1/sandbox/run`, { method: 'POST', headers: { 'x-api-key': 'wrong', 'content-type': 'application/json' }, body: JSON.stringify(node('1')) });
    expect([res.status, await res.text()]).toEqual([401, '']);
  });
});

describe('the node runner', () => {
  it('many small writes to stdout are killed (writev); one large write comes back whole', async () => {
    // writev happens only once writes queue behind a full pipe: enough
    // lines (7.5 MB) that the server's reader cannot keep up (15 000 lines
    // once came through whole, read as fast as they were written).
    const many = (await post(node("for (let i = 0; i < 100000; i++) console.log('line ' + i + ' ' + 'x'.repeat(64))"))).body.data;
    expect(many.exit_code).toBe(-1);
    expect(many.error).toBe(killed);
    expect(many.stdout.length).toBeLessThan(100000 * 75);
    const once = (await post(node("const p = []; for (let i = 0; i < 15000; i++) p.push('line ' + i + ' ' + 'x'.repeat(64)); process.stdout.write(p.join('\\n') + '\\n')"))).body.data;
    expect([once.exit_code, once.stdout.split('\n').length]).toEqual([0, 15001]);
  });

  it('an http.request with a body is killed; one raw socket write of head + body is not', async () => {
    const server = (await import('node:http')).createServer((req, res) => { req.resume(); req.on('end', () => res.end('pong')); });
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const port = server.address().port;
    try {
      const viaHttp = (await post(node(`const r = require('http').request({ host: '127.0.0.1', port: ${port}, method: 'POST' }, (res) => res.resume()); r.end('body')`))).body.data;
      expect([viaHttp.exit_code, viaHttp.error]).toEqual([-1, killed]);
      const raw = (await post(node(`const s = require('net').connect({ host: '127.0.0.1', port: ${port}, allowHalfOpen: true });
        let t = ''; s.on('connect', () => s.write('POST / HTTP/1.1\\r\\nHost: x\\r\\nContent-Length: 4\\r\\nConnection: close\\r\\n\\r\\nbody'));
        s.on('data', (d) => { t += d }); s.on('end', () => { s.destroy(); process.stdout.write(t.split('\\r\\n\\r\\n')[1]) })`))).body.data;
      expect([raw.exit_code, raw.stdout]).toEqual([0, 'pong']);
    } finally {
      server.close();
    }
  });

  it('process.cwd(), child_process and an npm package are killed, not errors', async () => {
    for (const code of ['process.cwd()', "require('child_process').execSync('id')", "require('lodash')"]) {
      const d = (await post(node(code))).body.data;
      expect([d.exit_code, d.error], code).toEqual([-1, killed]);
    }
  });

  it('a thrown error exits 1 with the stack on stderr', async () => {
    const d = (await post(node("throw new Error('boom')"))).body.data;
    expect(d.exit_code).toBe(1);
    expect(d.stderr).toContain('Error: boom');
    expect(d.error).toBe('process exited with code 1\n' + d.stderr);
  });

  it('the first call that needs the thread pool (fs, zlib, crypto jobs, subtle) freezes the run, timers too, until the timeout', async () => {
    const calls = [
      "require('zlib').gzip('x', () => w('cb'))",
      "require('crypto').pbkdf2('a', 'b', 1, 8, 'sha1', () => w('cb'))",
      "crypto.subtle.digest('SHA-256', new Uint8Array(1)).then(() => w('cb'))",
      "require('fs').promises.stat('/').then(() => w('cb'))",
    ];
    const runs = await Promise.all(calls.map((c) => post(node(`const w = (s) => require('fs').writeSync(1, s + '\\n');
      w('before'); ${c}; w('after'); setTimeout(() => w('timer'), 100);`))));
    expect(runs.map((r) => [r.body.data.exit_code, r.body.data.stdout, r.body.data.error]))
      .toEqual(Array(calls.length).fill([-1, 'before\n', 'process exited with code -1\nerror: timeout\n']));
  }, 20_000);

  it('the timeout kill (worker_timeout 5 s) keeps the stdout written before it', async () => {
    const d = (await post(node("require('fs').writeSync(1, 'early\\n'); while (true) {}"))).body.data;
    expect([d.exit_code, d.stdout, d.error]).toEqual([-1, 'early\n', 'process exited with code -1\nerror: timeout\n']);
  }, 20_000);
});

describe('concurrency', () => {
  it('more than max_workers running: the rest wait, none is refused', async () => {
    const started = performance.now();
    const runs = await Promise.all(Array.from({ length: 5 }, () => post(node('setTimeout(() => console.log(1), 1000)'))));
    expect(runs.map((r) => [r.status, r.body.data.stdout])).toEqual(Array(5).fill([200, '1\n']));
    // The fifth waited for one of the first four.
    expect(performance.now() - started).toBeGreaterThan(2000);
  });

  it('more than max_requests in flight → 503 "Too many requests", the code not run', async () => {
    const runs = await Promise.all(Array.from({ length: 60 }, (_, i) => post(node(`setTimeout(() => console.log(${i}), 300)`))));
    const busy = runs.filter((r) => r.status === 503);
    expect(busy.length).toBeGreaterThanOrEqual(10);
    for (const r of busy) expect(r.body).toEqual({ code: -503, message: 'Too many requests', data: null });
    runs.forEach((r, i) => { if (r.status === 200) expect(r.body.data.stdout).toBe(`${i}\n`); });
    expect(runs.filter((r) => r.status === 200).length + busy.length).toBe(60);
  }, 60_000);
});
