// Recovery after a storm of faulty functions: trivial throughput is
// measured before, then 500 throws, 500 timeouts and 200 out-of-memory
// kills run at concurrency 8, then trivial throughput is measured again in
// the first second after the storm (goal: >= 90% of before).
//
//   node bench/storm.mjs
//
// RUNTIME_MEMORY_MB=64 (set here) so an out-of-memory kill is quick and
// happens on pooled workers, which the pool must then replace.
import { createRequire } from 'node:module';

process.env.RUNTIME_MEMORY_MB = process.env.RUNTIME_MEMORY_MB || '64';
const require = createRequire(import.meta.url);
const { executeFunction, health } = require('../index.js');

const TRIVIAL = 'module.exports = () => ({ ok: true })';
const run = (name, code, opts) => executeFunction(name, code, '', {}, opts);

async function throughput(ms) {
  let n = 0;
  const end = Date.now() + ms;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (Date.now() < end) {
      const r = await run('trivial', TRIVIAL);
      if (!r.data?.ok) throw new Error(JSON.stringify(r));
      n++;
    }
  }));
  return (n * 1000) / ms;
}

async function storm() {
  const jobs = [
    ...Array.from({ length: 500 }, () => ['throw', 'module.exports = () => { throw new Error("x") }', {}, 'FUNCTION_THREW']),
    ...Array.from({ length: 500 }, () => ['hang', 'module.exports = () => { for (;;) {} }', { timeoutMs: 20 }, 'TIMEOUT']),
    ...Array.from({ length: 200 }, () => ['oom', 'module.exports = () => { const a = []; for (;;) a.push(new Array(1e5).fill(1.5)) }', { timeoutMs: 10000 }, 'OUT_OF_MEMORY']),
  ].sort(() => Math.random() - 0.5);
  const seen = {};
  let i = 0;
  await Promise.all(Array.from({ length: 8 }, async () => {
    while (i < jobs.length) {
      const [name, code, opts, want] = jobs[i++];
      const r = await run(name, code, opts);
      const k = r.errorCode === want ? want : `${want} expected, got ${r.errorCode}: ${r.error}`;
      seen[k] = (seen[k] || 0) + 1;
    }
  }));
  return seen;
}

await throughput(3000); // warm-up
const before = [];
for (let k = 0; k < 3; k++) before.push(await throughput(1000));
const t = Date.now();
const seen = await storm();
const stormMs = Date.now() - t;
const after = await throughput(1000);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const b = median(before);
console.log(`storm of ${Object.values(seen).reduce((a, c) => a + c, 0)} faults in ${stormMs} ms: ${JSON.stringify(seen)}`);
console.log(`trivial throughput at concurrency 8: before ${b.toFixed(0)}/s (median of 3 × 1 s), first second after ${after.toFixed(0)}/s -> ${(100 * after / b).toFixed(0)}% (goal >= 90%)`);
console.log(`pool after: ${JSON.stringify(health().pool)}`);
