// The Express example over real HTTP, against the real services: the seed's
// acceptance list as named tests, plus status codes and headers.
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { createApp } from '../examples/express/server.mjs';
import { seedFunctions } from '../examples/seed.mjs';

const require = createRequire(import.meta.url);
const { decompressLogs } = require('../index.js');

if (!process.env.MONGODB_URL || !process.env.S3_ENDPOINT) {
  throw new Error('start the test services first: bash scripts/services.sh start && source .services/env');
}
const token = 'test-token';
let base, server, close, db;

beforeAll(async () => {
  // The default Cloud (what functions see) uses MONGODB_DB: seed that database.
  ({ app: server, db, close } = await createApp({ developToken: token, mongoUrl: process.env.MONGODB_URL, dbName: process.env.MONGODB_DB }));
  await seedFunctions(db);
  server = server.listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  base = `http://127.0.0.1:${server.address().port}`;
});
afterAll(async () => { server?.close(); await close?.(); });

const invoke = (name, { method = 'POST', body, query = '', headers = { 'x-develop-token': token } } = {}) =>
  fetch(`${base}/invoke/${name}${query}`, {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

describe('the seed acceptance list', () => {
  it('function reads ctx.body/ctx.query', async () => {
    const res = await invoke('echo', { body: { a: 1 }, query: '?q=x&n=2' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ body: { a: 1 }, query: { q: 'x', n: '2' }, method: 'POST' });
  });

  it('function uses cloud.database()', async () => {
    const res = await invoke('exportUsers');
    const data = await res.json();
    expect(res.status).toBe(200);
    expect(data.users.map((u) => u.name)).toEqual(['Ada Lovelace', 'Linus Torvalds']);
  });

  it('function uses cloud.storage.bucket()', async () => {
    const data = await (await invoke('exportUsers')).json();
    const file = await fetch(data.downloadUrl);
    expect(file.status).toBe(200);
    expect(JSON.parse(await file.text()).map((u) => u.email)).toEqual(['ada@example.com', 'linus@example.com']);
  });

  it('function uses cloud.invoke()', async () => {
    const res = await invoke('greetAll', { body: { names: ['Ada'] } });
    expect(await res.json()).toEqual({ greetings: ['Hello, Ada'] });
    expect(decompressLogs(res.headers.get('x-function-logs'))).toEqual(['[hello] Hello from function', 'greeted 1']);
  });

  it('logs arrive in the response header', async () => {
    const res = await invoke('hello', { body: { x: 1 } });
    const header = res.headers.get('x-function-logs');
    expect(decompressLogs(header)).toEqual(['Hello from function']);
    expect(JSON.parse(zlib.gunzipSync(Buffer.from(header, 'base64')).toString())).toEqual(['Hello from function']);
  });

  it('execution time arrives in the response header', async () => {
    const res = await invoke('hello');
    const t = Number(res.headers.get('x-execution-time'));
    expect(Number.isFinite(t)).toBe(true);
    expect(t).toBeGreaterThan(0);
  });
});

describe('HTTP behaviour', () => {
  it('401 for a wrong or missing token', async () => {
    for (const headers of [{ 'x-develop-token': 'wrong' }, {}]) {
      const res = await invoke('hello', { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: 'Invalid token' });
    }
  });

  it('a malformed or oversized JSON body is a 400 or 413 in JSON, and the server keeps serving', async () => {
    const send = (body) => fetch(`${base}/invoke/hello`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-develop-token': token }, body });
    const bad = await send('{bad');
    expect(bad.status).toBe(400);
    expect(bad.headers.get('content-type')).toMatch(/^application\/json/);
    expect((await bad.json()).error).toMatch(/^Invalid JSON body: /);
    const big = await send(JSON.stringify({ a: 'x'.repeat(200_000) }));
    expect(big.status).toBe(413);
    expect(await big.json()).toEqual({ error: 'Request body larger than 102400 bytes' });
    expect((await invoke('hello')).status).toBe(200);
  });

  it('404 for an unknown function', async () => {
    const res = await invoke('nope');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: 'Function nope not found' });
  });

  it('200 with the result for GET and POST alike', async () => {
    const res = await invoke('hello', { method: 'GET' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ message: 'Hello', body: null });
  });

  it('500 with { error } when the function fails, logs still in the header', async () => {
    const res = await invoke('fail');
    expect(res.status).toBe(500);
    const body = await res.json();
    expect(body.error).toBe('something went wrong');
    expect(body.errorCode).toBe('FUNCTION_THREW');
    expect(body.stack).toContain('fail.js:3');
    expect(decompressLogs(res.headers.get('x-function-logs'))).toEqual(['[WARN] about to fail']);
  });

  it('Accept: text/event-stream streams each log line as a `log` event while the function runs, then the `result`', async () => {
    await db.collection('functions').updateOne({ name: 'ticker' }, { $set: { name: 'ticker', hash: '', compiled:
      'module.exports = async () => { console.log("tick 1"); await new Promise((r) => setTimeout(r, 400)); console.warn("tick 2"); return { done: true } }' } }, { upsert: true });
    const events = [];
    const read = async (name) => {
      const res = await invoke(name, { headers: { 'x-develop-token': token, accept: 'text/event-stream' } });
      expect([res.status, res.headers.get('content-type')]).toEqual([200, 'text/event-stream; charset=utf-8']);
      const out = [];
      let text = '';
      for await (const chunk of res.body) {
        text += Buffer.from(chunk).toString();
        let end;
        while ((end = text.indexOf('\n\n')) >= 0) {
          const [event, data] = text.slice(0, end).split('\n').map((l) => l.slice(l.indexOf(': ') + 2));
          text = text.slice(end + 2);
          out.push({ event, data: JSON.parse(data), at: Date.now() });
        }
      }
      return out;
    };
    events.push(...await read('ticker'));
    expect(events.map((e) => [e.event, e.event === 'result' ? e.data.data : e.data])).toEqual([['log', 'tick 1'], ['log', '[WARN] tick 2'], ['result', { done: true }]]);
    // The first line reached the client while the function still slept.
    expect(events[2].at - events[0].at).toBeGreaterThanOrEqual(300);
    const failed = await read('fail');
    expect(failed.map((e) => e.event)).toEqual(['log', 'result']);
    expect(failed[1].data).toMatchObject({ error: 'something went wrong', errorCode: 'FUNCTION_THREW' });
  });

  it('GET /health reports the runtime (status, backend, pool, services)', async () => {
    const res = await fetch(`${base}/health`);
    expect(res.status).toBe(200);
    const h = await res.json();
    expect(h.ok).toBe(true);
    expect(h.backend).toBe('local');
    expect(Object.keys(h.pool).sort()).toEqual(['blank', 'busy', 'idle', 'maxWorkers', 'queued', 'replaced', 'tenants', 'workers']);
    expect(h.isolation.level).toBe('auto');
    expect(h.services.database).toMatch(/^(up|unknown)$/);
  });

  it('a timeout is a 500 and the server keeps serving', async () => {
    await db.collection('functions').updateOne({ name: 'quick-timeout' }, { $set: { name: 'quick-timeout', compiled: 'module.exports = () => { while (true) {} }', hash: 't1' } }, { upsert: true });
    // RUNTIME_TIMEOUT_MS is 10 s by default; this function loops until then.
    const res = await invoke('quick-timeout');
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'Function timed out after 10000 ms', errorCode: 'TIMEOUT' });
    expect((await invoke('hello')).status).toBe(200);
  }, 20_000);
});

describe('POST /run_code (the coze-loop FaaS contract)', () => {
  const runCode = (body, headers = { 'x-develop-token': token }) => fetch(`${base}/run_code`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });

  it("runs coze-loop's example and answers in its shape", async () => {
    const res = await runCode({ language: 'javascript', code: "console.log('Hello World'); return 42;", timeout: 5000, priority: 'normal' });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.output).toEqual({ stdout: 'Hello World\n', stderr: '', ret_val: '42' });
    expect(body.metadata).toMatchObject({ language: 'javascript', status: 'success', exit_code: 0, timed_out: false });
    expect(typeof body.metadata.duration).toBe('number');
  });

  it('runs TypeScript; a throw is status error with the stack on stderr', async () => {
    const body = await (await runCode({ language: 'ts', code: "const n: number = 1;\nthrow new Error('boom ' + n);" })).json();
    expect(body.output.stderr).toMatch(/^Error: boom 1\n\s+at snippet\.ts:2:7/);
    expect(body.output.ret_val).toBe('');
    expect(body.metadata).toMatchObject({ language: 'typescript', status: 'error', exit_code: 1, error_code: 'FUNCTION_THREW' });
  });

  it('missing code, another language, a bad timeout are 400s; a timeout is a 408', async () => {
    let res = await runCode({ language: 'js' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'Missing required parameter: code' });
    res = await runCode({ language: 'python', code: 'print(1)' });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'This service only supports javascript and typescript, not "python"' });
    res = await runCode({ language: 'js', code: 'return 1', timeout: -5 });
    expect(res.status).toBe(400);
    expect((await res.json()).error).toMatch(/^options\.timeoutMs \(RUNTIME_MAX_TIMEOUT_MS\) must be an integer from 1 to/);
    res = await runCode({ language: 'js', code: 'while (true) {}', timeout: 300 });
    expect(res.status).toBe(408);
    expect(await res.json()).toEqual({ error: 'Execution timeout', details: 'Function timed out after 300 ms' });
  });

  it('runs nothing without the develop token (it runs any code it is sent)', async () => {
    const res = await runCode({ language: 'js', code: "globalThis.__ran = 1; return 'ran'" }, {});
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'Invalid token' });
    const wrong = await runCode({ language: 'js', code: 'return 1' }, { 'x-develop-token': 'not-it' });
    expect(wrong.status).toBe(401);
  });
});
