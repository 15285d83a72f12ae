// The isolated, tenant-bound local pool against its peers, side by side in
// one run (interleaved rounds, medians):
//
//   node bench/isolation.mjs              # all parts
//   node bench/isolation.mjs warm         # one of: warm | newtenant | throughput | fetch | noisy | hostload
//
// Goals (issue 10):
// - warm: a trivial function of a warm tenant, p50 <= 1.0x an in-process
//   node:vm new-context call, and < 0.5 ms;
// - newtenant: the first invocation of a new tenant, p50 <= 5 ms (spawning
//   node per call, measured here too: ~110-140 ms);
// - throughput at concurrency 8: >= 2500/s for one tenant, >= 1500/s with 8
//   tenants round-robin;
// - fetch of a small response through the host <= 1.5x the host's own fetch
//   of the same loopback server.
// Every worker runs under the kernel layers `health().isolation` prints.
import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import http from 'node:http';
import vm from 'node:vm';

const port = 20000 + Math.floor(Math.random() * 20000);
process.env.RUNTIME_EGRESS_ALLOW = `127.0.0.1:${port}`;
const require = createRequire(import.meta.url);
const { executeFunction, health } = require('../index.js');

const CODE = 'module.exports = async function (ctx) { return { ok: true } }';
const part = process.argv[2] || 'all';
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const now = () => process.hrtime.bigint();
const ms = (t) => Number(process.hrtime.bigint() - t) / 1e6;
const sleep = (n) => new Promise((r) => setTimeout(r, n));

async function ours(tenant = 'bench', reuseContext = false) {
  const t = now();
  const r = await executeFunction('trivial', CODE, 'v1', { body: null }, { tenant, reuseContext });
  const d = ms(t);
  if (!r.data || r.data.ok !== true) throw new Error('bad result ' + JSON.stringify(r));
  return d;
}

// The laf model: compiled once, a new context per call, no isolation.
const vmScript = new vm.Script('(function (exports, require, module) {' + CODE + '\n})', { filename: 'trivial.js' });
async function inProcessVm() {
  const t = now();
  const context = vm.createContext({ console });
  const module = { exports: {} };
  vmScript.runInContext(context)(module.exports, require, module);
  const r = await module.exports({ body: null });
  const d = ms(t);
  if (!r.ok) throw new Error('bad');
  return d;
}

function spawnPerCall() {
  return new Promise((resolve, reject) => {
    const t = now();
    const child = spawn(process.execPath, ['-e', CODE + ';Promise.resolve(module.exports({body:null})).then(r => process.stdout.write(JSON.stringify(r)))'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('exit', () => {
      const d = ms(t);
      try { if (!JSON.parse(out).ok) throw new Error('bad'); } catch (e) { reject(e); return; }
      resolve(d);
    });
  });
}

async function warm() {
  // Three paths, interleaved: a fresh context per call (the default, as the
  // peer), the same with options.reuseContext (the module kept between
  // calls, as in Lambda: no context to build), and the peer.
  const kept = () => ours('bench-kept', true);
  for (let i = 0; i < 1000; i++) { await ours(); await kept(); await inProcessVm(); }
  const a = [], k = [], b = [];
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 200; i++) a.push(await ours());
    for (let i = 0; i < 200; i++) k.push(await kept());
    for (let i = 0; i < 200; i++) b.push(await inProcessVm());
  }
  const pa = median(a), pk = median(k), pb = median(b);
  console.log(`warm tenant, trivial function, p50 of ${a.length}: executeFunction ${pa.toFixed(3)} ms, in-process vm new context ${pb.toFixed(3)} ms -> ratio ${(pa / pb).toFixed(2)} (goal <= 1.0; absolute goal < 0.5 ms: ${pa < 0.5 ? 'met' : 'NOT met'})`);
  console.log(`  with options.reuseContext, p50 of ${k.length}: executeFunction ${pk.toFixed(3)} ms -> ratio ${(pk / pb).toFixed(2)} (goal <= 1.0: ${pk / pb <= 1 ? 'met' : 'NOT met'}; < 0.5 ms: ${pk < 0.5 ? 'met' : 'NOT met'})`);
  // Not a goal, but the common case (HTTP requests arrive with gaps): the
  // worker's next context is ready, so only the round trip counts. The
  // worker builds that context right after it replies; at the host's
  // priority it held a shared core while the host waited to read the
  // reply (0.57 ms here), at RUNTIME_WORKER_NICE=10 the host wins (0.3 ms).
  const ga = [], gb = [];
  for (let i = 0; i < 300; i++) {
    await sleep(2); ga.push(await ours());
    await sleep(2); gb.push(await inProcessVm());
  }
  const qa = median(ga), qb = median(gb);
  console.log(`  with a 2 ms idle gap before each call, p50 of ${ga.length}: executeFunction ${qa.toFixed(3)} ms, in-process vm new context ${qb.toFixed(3)} ms -> ratio ${(qa / qb).toFixed(2)} (no goal)`);
}

async function newtenant() {
  await ours();
  const a = [], c = [];
  for (let i = 0; i < 30; i++) {
    // A new tenant arrives every 200 ms: time for the pool to start the
    // next blank worker, as between real sign-ups.
    await sleep(200);
    a.push(await ours(`tenant-${process.pid}-${i}`));
    if (i % 3 === 0) c.push(await spawnPerCall());
  }
  const pa = median(a), pc = median(c);
  console.log(`first invocation of a new tenant, p50 of ${a.length}: ${pa.toFixed(2)} ms (goal <= 5 ms: ${pa <= 5 ? 'met' : 'NOT met'}); spawning node per call p50 of ${c.length}: ${pc.toFixed(1)} ms -> ${(pc / pa).toFixed(0)}x`);
}

async function throughput() {
  const concurrency = 8;
  const runFor = async (seconds, tenants) => {
    let done = 0;
    let next = 0;
    const end = Date.now() + seconds * 1000;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const tenant = `rr-${next++ % tenants}`;
        const r = await executeFunction('trivial', CODE, 'v1', {}, { tenant });
        if (r.error) throw new Error(r.error);
        done++;
      }
    }));
    return done / seconds;
  };
  await runFor(3, 1);
  await runFor(3, 8);
  const one = [], eight = [];
  for (let i = 0; i < 5; i++) { one.push(await runFor(2, 1)); eight.push(await runFor(2, 8)); }
  console.log(`throughput at concurrency ${concurrency} (median of ${one.length} x 2 s, interleaved): one tenant ${median(one).toFixed(0)}/s (goal >= 2500), 8 tenants round-robin ${median(eight).toFixed(0)}/s (goal >= 1500)`);
}

async function fetchBench() {
  const server = http.createServer((req, res) => res.end('{"small":"response"}'));
  await new Promise((r) => server.listen(port, '127.0.0.1', r));
  const url = `http://127.0.0.1:${port}/x`;
  // Timed inside the function: from its fetch call to the body read.
  const code = `module.exports = async () => { const t = performance.now(); const text = await (await fetch(${JSON.stringify(url)})).text(); return { text, ms: performance.now() - t }; }`;
  const viaOurs = async () => {
    const r = await executeFunction('fetcher', code, 'v1', {}, { tenant: 'fetch' });
    if (!r.data || r.data.text !== '{"small":"response"}') throw new Error(JSON.stringify(r));
    return r.data.ms;
  };
  const viaHost = async () => {
    const t = now();
    const text = await (await fetch(url)).text();
    const d = ms(t);
    if (text !== '{"small":"response"}') throw new Error(text);
    return d;
  };
  for (let i = 0; i < 300; i++) { await viaOurs(); await viaHost(); }
  const a = [], b = [];
  for (let round = 0; round < 10; round++) {
    for (let i = 0; i < 100; i++) a.push(await viaOurs());
    for (let i = 0; i < 100; i++) b.push(await viaHost());
  }
  const pa = median(a), pb = median(b);
  console.log(`fetch of a small loopback response, p50 of ${a.length}: a function's fetch (through the host) ${pa.toFixed(3)} ms, the host's own fetch ${pb.toFixed(3)} ms -> ratio ${(pa / pb).toFixed(2)} (goal <= 1.5)`);
  server.close();
}

// Not a goal of issue 10, reported: a quiet tenant's trivial calls, alone
// and while another tenant runs new 420 KiB TypeScript programs four at a
// time (each compiled in the host, then by V8 in its worker). The host
// compiles large programs on its blocking pool, outside the module cache's
// lock; what remains is sharing two cores.
async function noisy() {
  const pct = (xs, p) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length * p)]; };
  const large = (seed) => 'export default async (): Promise<number> => 1;\n' +
    Array.from({ length: 6000 }, (_, i) => `export const v${i}: number = ${i} * ${seed} + 1; // a bundle's worth of lines`).join('\n');
  let stop = false, sent = 0;
  const noisyTenant = async () => {
    while (!stop) {
      const r = await executeFunction('bundle', large(sent++), '', {}, { tenant: 'noisy', language: 'typescript' });
      if (r.error) throw new Error(r.error);
    }
  };
  for (let i = 0; i < 300; i++) await ours('quiet');
  const alone = [];
  for (let i = 0; i < 1000; i++) alone.push(await ours('quiet'));
  const load = Array.from({ length: 4 }, noisyTenant);
  await sleep(200);
  const loud = [];
  for (let i = 0; i < 1000; i++) loud.push(await ours('quiet'));
  stop = true;
  await Promise.all(load);
  const f = (xs) => `p50 ${pct(xs, 0.5).toFixed(3)} ms, p99 ${pct(xs, 0.99).toFixed(2)} ms, max ${Math.max(...xs).toFixed(1)} ms`;
  console.log(`a quiet tenant's trivial call, 1000 each: alone ${f(alone)}; while another tenant ran ${sent} new ${(large(0).length / 1024).toFixed(0)} KiB TypeScript programs: ${f(loud)} (no goal)`);
}

// The host's own HTTP serving while three functions spin on every core:
// workers at RUNTIME_WORKER_NICE=10 (the default) against the same runtime
// with workers at the host's priority (0), each in a child process, two
// rounds interleaved. No goal; it shows what the niceness buys the host.
async function hostload() {
  if (process.env.HOSTLOAD_CHILD) {
    const server = http.createServer((q, s) => s.end('ok'));
    await new Promise((r) => server.listen(0, '127.0.0.1', r));
    const agent = new http.Agent({ keepAlive: true });
    const get = () => new Promise((res, rej) => {
      const t = now();
      http.get(`http://127.0.0.1:${server.address().port}/`, { agent }, (r) => { r.resume(); r.on('end', () => res(ms(t))); }).on('error', rej);
    });
    for (let i = 0; i < 300; i++) await get();
    const spin = 'module.exports = async () => { const e = Date.now() + 2500; let x = 0; while (Date.now() < e) x++; return x; }';
    const hogs = Promise.all([1, 2, 3].map((i) => executeFunction('spin', spin, '', {}, { tenant: `spin${i}`, timeoutMs: 10000 })));
    await sleep(300);
    const xs = [];
    const end = Date.now() + 2000;
    while (Date.now() < end) xs.push(await get());
    await hogs;
    const s = [...xs].sort((a, b) => a - b);
    process.stdout.write(JSON.stringify({ n: xs.length / 2, p99: s[Math.floor(s.length * 0.99)] }) + '\n');
    return;
  }
  const child = (nice) => new Promise((resolve, reject) => {
    const c = spawn(process.execPath, [new URL(import.meta.url).pathname, 'hostload'], {
      env: { ...process.env, HOSTLOAD_CHILD: '1', RUNTIME_WORKER_NICE: String(nice) }, stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    c.stdout.on('data', (d) => { out += d; });
    c.on('exit', () => { try { resolve(JSON.parse(out.trim().split('\n')[0])); } catch (e) { reject(new Error(out)); } });
  });
  const a = [], b = [];
  for (let round = 0; round < 2; round++) { a.push(await child(10)); b.push(await child(0)); }
  const rate = (xs) => median(xs.map((x) => x.n)), p99 = (xs) => median(xs.map((x) => x.p99));
  console.log(`host HTTP requests served while 3 functions spin: workers at nice 10 ${rate(a).toFixed(0)}/s (p99 ${p99(a).toFixed(2)} ms), at the host's priority ${rate(b).toFixed(0)}/s (p99 ${p99(b).toFixed(2)} ms) -> ${(rate(a) / rate(b)).toFixed(2)}x the requests (no goal)`);
}

if (part === 'hostload') { await hostload(); process.exit(0); }
if (part === 'all' || part === 'warm') await warm();
if (part === 'all' || part === 'newtenant') await newtenant();
if (part === 'all' || part === 'throughput') await throughput();
if (part === 'all' || part === 'fetch') await fetchBench();
if (part === 'all' || part === 'noisy') await noisy();
if (part === 'all') await hostload();
console.log(`isolation layers: ${JSON.stringify(health().isolation)}`);
process.exit(0);
