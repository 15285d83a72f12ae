// executeFunction on the warm local pool vs its two peers, side by side in
// one run (interleaved rounds, medians), plus throughput and memory.
//
//   node bench/execute.mjs            # all three parts
//   node bench/execute.mjs latency    # just one: latency | throughput | memory | delivery
//
// Peers: an in-process node:vm call with a new context per call (the laf
// model: no isolation) and spawning `node` per call (the Dify / coze-loop
// model). Goals (issue #2): p50 ≤ 2.0× the vm call, ≥ 50× faster than spawn,
// ≥ 1500 invocations/s at concurrency 8, RSS growth < 20 MB over 100 000
// invocations after warm-up.
import { createRequire } from 'node:module';
import { spawn, execFileSync } from 'node:child_process';
import vm from 'node:vm';

const require = createRequire(import.meta.url);
const { executeFunction } = require('../index.js');

const CODE = 'module.exports = async function (ctx) { return { ok: true } }';
const part = process.argv[2] || 'all';
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const ms = (ns) => Number(ns) / 1e6;

async function ours() {
  const t = process.hrtime.bigint();
  const r = await executeFunction('trivial', CODE, 'v1', { body: null });
  const dt = process.hrtime.bigint() - t;
  if (!r.data || r.data.ok !== true) throw new Error('bad result ' + JSON.stringify(r));
  return ms(dt);
}

// The laf model: compiled once, a new context per call, no isolation.
const vmScript = new vm.Script('(function (exports, require, module) {' + CODE + '\n})', { filename: 'trivial.js' });
async function inProcessVm() {
  const t = process.hrtime.bigint();
  const context = vm.createContext({ console });
  const module = { exports: {} };
  vmScript.runInContext(context)(module.exports, require, module);
  const r = await module.exports({ body: null });
  const dt = process.hrtime.bigint() - t;
  if (!r.ok) throw new Error('bad');
  return ms(dt);
}

// The Dify / coze-loop model: a fresh node process per call.
function spawnPerCall() {
  return new Promise((resolve, reject) => {
    const t = process.hrtime.bigint();
    const child = spawn(process.execPath, ['-e', CODE + ';Promise.resolve(module.exports({body:null})).then(r => process.stdout.write(JSON.stringify(r)))'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('exit', () => {
      const dt = process.hrtime.bigint() - t;
      try { if (!JSON.parse(out).ok) throw new Error('bad'); } catch (e) { reject(e); return; }
      resolve(ms(dt));
    });
  });
}

async function latency() {
  for (let i = 0; i < 500; i++) { await ours(); await inProcessVm(); }
  const a = [], b = [], c = [];
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 100; i++) a.push(await ours());
    for (let i = 0; i < 100; i++) b.push(await inProcessVm());
    for (let i = 0; i < 2; i++) c.push(await spawnPerCall());
  }
  const pa = median(a), pb = median(b), pc = median(c);
  console.log(`latency p50 (concurrency 1, ${a.length}/${b.length}/${c.length} samples):`);
  console.log(`  executeFunction (warm local pool): ${pa.toFixed(3)} ms`);
  console.log(`  in-process node:vm, new context:   ${pb.toFixed(3)} ms  -> ratio ours/vm = ${(pa / pb).toFixed(2)} (goal <= 2.0)`);
  console.log(`  spawn node per call:               ${pc.toFixed(3)} ms  -> spawn/ours = ${(pc / pa).toFixed(1)}x faster (goal >= 50)`);
  console.log(`  absolute p50 goal < 1 ms: ${pa < 1 ? 'met' : 'NOT met'}`);
}

async function throughput() {
  const concurrency = 8;
  const runFor = async (seconds) => {
    let done = 0;
    const end = Date.now() + seconds * 1000;
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (Date.now() < end) {
        const r = await executeFunction('trivial', CODE, 'v1', {});
        if (r.error) throw new Error(r.error);
        done++;
      }
    }));
    return done / seconds;
  };
  await runFor(3); // warm-up: start the pool, let V8 optimise both sides
  const samples = [];
  for (let i = 0; i < 7; i++) samples.push(await runFor(2));
  console.log(`throughput at concurrency ${concurrency}: median ${median(samples).toFixed(0)} invocations/s over ${samples.length} x 2 s (goal >= 1500); samples ${samples.map((s) => s.toFixed(0)).join(', ')}`);
}

function rssKb(pid) {
  // Host plus its direct children (the pool's workers).
  const out = execFileSync('ps', ['-o', 'rss=', '-p', String(pid)]).toString();
  let kids = '';
  try { kids = execFileSync('ps', ['-o', 'rss=', '--ppid', String(pid)]).toString(); } catch { /* no children */ }
  return [out, kids].join('\n').split('\n').map((s) => Number(s.trim()) || 0).reduce((a, b) => a + b, 0);
}

async function memory() {
  const total = Number(process.env.BENCH_MEMORY_INVOCATIONS || 100000);
  const batch = 8;
  const runN = async (n) => {
    for (let i = 0; i < n; i += batch) {
      await Promise.all(Array.from({ length: batch }, (_, k) => executeFunction('mem', 'module.exports = (ctx) => { console.log("call", ctx.body.i); return { i: ctx.body.i, s: "x".repeat(100) } }', 'v1', { body: { i: i + k } })));
    }
  };
  await runN(5000);
  global.gc?.();
  const before = rssKb(process.pid);
  const t = Date.now();
  await runN(total);
  global.gc?.();
  await new Promise((r) => setTimeout(r, 500));
  const after = rssKb(process.pid);
  console.log(`memory: host + pool RSS ${(before / 1024).toFixed(1)} MB after warm-up -> ${(after / 1024).toFixed(1)} MB after ${total} more invocations (${((Date.now() - t) / 1000).toFixed(1)} s): growth ${((after - before) / 1024).toFixed(1)} MB (goal < 20)`);
}

// Delivery of a large ctx: the same 32 MiB ctx into a worker and, as the
// peer, into an in-process vm context (JSON.parse there too). Goal: ours
// <= 0.5 s.
async function delivery() {
  const code = 'module.exports = (ctx) => ctx.body.s.length';
  for (const mb of [8, 16, 32]) {
    const ctx = { body: { s: 'x'.repeat(mb * 1024 * 1024) } };
    const a = [], b = [];
    for (let i = 0; i < 5; i++) {
      let t = process.hrtime.bigint();
      const r = await executeFunction('deliver', code, 'v1', ctx, { timeoutMs: 60000 });
      if (r.data !== mb * 1024 * 1024) throw new Error(JSON.stringify(r).slice(0, 200));
      a.push(ms(process.hrtime.bigint() - t));
      t = process.hrtime.bigint();
      const context = vm.createContext({});
      const parsed = vm.runInContext('JSON.parse', context)(JSON.stringify(ctx));
      if (parsed.body.s.length !== mb * 1024 * 1024) throw new Error('bad');
      b.push(ms(process.hrtime.bigint() - t));
    }
    console.log(`delivery of ${mb} MiB of ctx (median of 5): executeFunction ${median(a).toFixed(0)} ms, in-process vm ${median(b).toFixed(0)} ms -> ratio ${(median(a) / median(b)).toFixed(1)}${mb === 32 ? ` (goal: ours <= 500 ms: ${median(a) <= 500 ? 'met' : 'NOT met'})` : ''}`);
  }
}

if (part === 'all' || part === 'latency') await latency();
if (part === 'all' || part === 'throughput') await throughput();
if (part === 'all' || part === 'memory') await memory();
if (part === 'all' || part === 'delivery') await delivery();
process.exit(0);
