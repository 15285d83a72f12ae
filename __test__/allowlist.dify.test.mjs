// What the real Dify node runner's seccomp allow-list breaks, on the dify
// backend: many log lines (node flushes a full pipe with `writev`), bridge
// requests with a body, and a function's own fetch (POST bodies go out with
// `writev`), which goes through the bridge and the host's egress policy.
// Runs against the stand-in (which applies the same allow-list) and, with
// REAL_DIFY_URL, against the real server.
import http from 'node:http';
import net from 'node:net';
import { createRequire } from 'node:module';
import { describe, it, expect, afterAll } from 'vitest';
import { useDifyBackend } from './fixtures/use-dify.mjs';

// A local HTTP server for fetch, allowed by exception (loopback is refused by
// default), and the bridge on a known port, allowed too: it must stay refused.
const target = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (d) => chunks.push(d));
  req.on('end', () => {
    if (req.url === '/to-metadata') { res.writeHead(302, { location: 'http://169.254.169.254/latest/meta-data/' }); return res.end(); }
    if (req.url === '/hop') { res.writeHead(307, { location: '/echo?hopped=1' }); return res.end(); }
    const body = Buffer.concat(chunks);
    const out = JSON.stringify({ method: req.method, url: req.url, type: req.headers['content-type'] ?? null, length: body.length, sum: body.reduce((a, b) => (a + b) % 65521, 0) });
    res.writeHead(201, { 'content-type': 'application/json', 'x-seen': 'yes' });
    res.end(out);
  });
});
await new Promise((r) => target.listen(0, '127.0.0.1', r));
const port = target.address().port;
const free = () => new Promise((r) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
const bridgePort = await free();
const closedPort = await free();
process.env.RUNTIME_BRIDGE_BIND = `127.0.0.1:${bridgePort}`;
process.env.RUNTIME_EGRESS_ALLOW = `127.0.0.1:${port},127.0.0.1:${bridgePort}`;
afterAll(() => new Promise((r) => target.close(r)));

await useDifyBackend({ maxRequests: 50, maxWorkers: 4, workerTimeoutSec: 5 });
const require = createRequire(import.meta.url);
const { executeFunction, createCloud } = require('../index.js');
const run = (code, ctx = {}) => executeFunction('f', code, '', ctx);

describe('logs under the allow-list', () => {
  it('15 000 console.log calls (1 MiB of logs) come back whole, in order, with levels', async () => {
    const r = await run(`module.exports = () => {
      for (let i = 0; i < 15000; i++) {
        const line = 'line ' + i + ' ' + 'x'.repeat(50);
        if (i % 1000 === 1) console.warn(line); else if (i % 1000 === 2) console.error(line); else console.log(line);
      }
      return 'done';
    }`);
    expect(r.error).toBeUndefined();
    expect(r.data).toBe('done');
    expect(r.logs).toHaveLength(15000);
    r.logs.forEach((l, i) => {
      const line = 'line ' + i + ' ' + 'x'.repeat(50);
      expect(l).toBe(i % 1000 === 1 ? '[WARN] ' + line : i % 1000 === 2 ? '[ERROR] ' + line : line);
    });
  });

  // A function that blocks its event loop cannot stop itself: the server's
  // worker_timeout (5 s, counted from its process start) kills it, and the
  // stdout written before comes back if the client still waits (it gives up
  // 1 s after the function's timeout: 8 s here).
  it("a function killed by the server's timeout keeps the logs it wrote before blocking", async () => {
    const r = await executeFunction('spin', `module.exports = async () => {
      console.log('before');
      await new Promise((r) => setTimeout(r, 200));
      while (true) {}
    }`, '', {}, { timeoutMs: 8000 });
    expect(r.error).toBe('Function timed out after 8000 ms');
    expect(r.logs).toEqual(['before']);
  }, 20_000);
});

describe('cloud calls under the allow-list', () => {
  it('a cloud.database() round trip and a 1 MiB storage write inside a function', async () => {
    if (!process.env.MONGODB_URL) throw new Error('start the test services first: bash scripts/services.sh start && source .services/env');
    const cloud = createCloud({ database: `allowlist_${Date.now()}` });
    const r = await executeFunction('db', `module.exports = async () => {
      const c = cloud.database().collection('t');
      await c.insertOne({ _id: 'a', n: 1 });
      const doc = await c.findOne({ _id: 'a' });
      const big = 'y'.repeat(1 << 20);
      await cloud.storage.bucket().writeFile('allowlist/big.txt', big);
      const back = await cloud.storage.bucket().readFile('allowlist/big.txt');
      return [doc.n, back.length];
    }`, '', { cloud });
    expect(r.error).toBeUndefined();
    expect(r.data).toEqual([1, 1 << 20]);
  });
});

describe("a function's own fetch goes through the bridge", () => {
  it('GET, and POST with a string and a 1 MiB binary body', async () => {
    const r = await run(`module.exports = async () => {
      const a = await fetch('http://127.0.0.1:${port}/echo?q=1');
      const b = await fetch('http://127.0.0.1:${port}/echo', { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'hello' });
      const bytes = new Uint8Array(1 << 20).map((_, i) => i % 251);
      const c = await fetch('http://127.0.0.1:${port}/echo', { method: 'PUT', body: bytes });
      const sum = bytes.reduce((a, b) => (a + b) % 65521, 0);
      return { a: [a.status, a.ok, a.headers.get('x-seen'), await a.json()], b: await b.json(), c: (await c.json()).sum === sum };
    }`);
    expect(r.error).toBeUndefined();
    expect(r.data.a).toEqual([201, true, 'yes', { method: 'GET', url: '/echo?q=1', type: null, length: 0, sum: 0 }]);
    expect(r.data.b).toEqual({ method: 'POST', url: '/echo', type: 'text/plain', length: 5, sum: 532 });
    expect(r.data.c).toBe(true);
  });

  it('follows a redirect and says so', async () => {
    const r = await run(`module.exports = async () => { const res = await fetch('http://127.0.0.1:${port}/hop', { method: 'POST', body: 'x' }); return [res.redirected, res.url, await res.json()] }`);
    expect(r.data).toEqual([true, `http://127.0.0.1:${port}/echo?hopped=1`, { method: 'POST', url: '/echo?hopped=1', type: 'text/plain;charset=UTF-8', length: 1, sum: 120 }]);
  });

  const refused = async (url) => {
    const r = await run(`module.exports = async () => { try { await fetch(${JSON.stringify(url)}); return 'reached' } catch (e) { return [e.name, e.errorCode, e.message] } }`);
    expect(r.error).toBeUndefined();
    return r.data;
  };

  it('refuses loopback, private, link-local and metadata addresses, naming the address and the variable', async () => {
    expect(await refused(`http://127.0.0.1:${closedPort}/`)).toEqual(['TypeError', 'EGRESS_REFUSED',
      `egress refused: fetch http://127.0.0.1:${closedPort}/ refused: 127.0.0.1, a loopback address; functions may reach only public addresses unless RUNTIME_EGRESS_ALLOW lists it (e.g. RUNTIME_EGRESS_ALLOW=127.0.0.1:${closedPort})`]);
    expect(await refused('http://10.1.2.3/x')).toEqual(['TypeError', 'EGRESS_REFUSED',
      'egress refused: fetch http://10.1.2.3/x refused: 10.1.2.3, a private (RFC 1918) address; functions may reach only public addresses unless RUNTIME_EGRESS_ALLOW lists it (e.g. RUNTIME_EGRESS_ALLOW=10.1.2.3:80)']);
    expect((await refused('http://169.254.169.254/latest/meta-data/'))[2]).toContain('169.254.169.254, a cloud-metadata address');
    expect((await refused('http://[fd00:ec2::254]/'))[2]).toContain('fd00:ec2::254, a cloud-metadata address');
    expect((await refused('http://100.64.0.1/'))[2]).toContain('100.64.0.1, a carrier-grade NAT (100.64.0.0/10) address');
    expect((await refused('http://localhost:9/'))[2]).toMatch(/^egress refused: fetch http:\/\/localhost:9\/ refused: localhost resolves to (127\.0\.0\.1|::1), a loopback address/);
  });

  it('re-checks every redirect hop', async () => {
    expect((await refused(`http://127.0.0.1:${port}/to-metadata`))[2]).toBe(
      'egress refused: fetch http://169.254.169.254/latest/meta-data/ refused: 169.254.169.254, a cloud-metadata address; functions may reach only public addresses unless RUNTIME_EGRESS_ALLOW lists it (e.g. RUNTIME_EGRESS_ALLOW=169.254.169.254:80)');
  });

  it("never reaches the bridge's own address, even when RUNTIME_EGRESS_ALLOW lists it", async () => {
    expect(await refused(`http://127.0.0.1:${bridgePort}/v1/call`)).toEqual(['TypeError', 'EGRESS_REFUSED',
      `egress refused: fetch http://127.0.0.1:${bridgePort}/v1/call refused: 127.0.0.1:${bridgePort} is the runtime's own bridge, which functions may not call with fetch`]);
  });

  it('a URL fetch cannot use is a clear error', async () => {
    expect(await refused('ftp://127.0.0.1/x')).toEqual(['TypeError', 'INVALID_ARGUMENT', 'fetch ftp://127.0.0.1/x: only http and https URLs can be fetched']);
  });
});
