// The dify client's overhead: executeFunction on the dify backend vs a raw
// HTTP POST of the very same program to the same stand-in, interleaved in
// one run; medians. Goal (issue #4): ≤ 0.5 ms added at p50.
//
//   node bench/dify.mjs
import { createRequire } from 'node:module';
import { startDifySandbox } from '../__test__/fixtures/dify-sandbox.mjs';

const sandbox = await startDifySandbox({ apiKey: 'bench', recordBodies: true, maxWorkers: 4 });
process.env.RUNTIME_BACKEND = 'dify';
process.env.SANDBOX_URL = sandbox.url;
process.env.SANDBOX_API_KEY = 'bench';
const require = createRequire(import.meta.url);
const { executeFunction } = require('../index.js');
const CODE = 'module.exports = async () => ({ ok: true })';
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };

async function ours() {
  const t = performance.now();
  const r = await executeFunction('trivial', CODE, 'v1', {});
  if (!r.data?.ok) throw new Error(JSON.stringify(r));
  return performance.now() - t;
}
await ours();
const body = JSON.stringify(sandbox.lastBody());
async function raw() {
  const t = performance.now();
  const res = await fetch(`${sandbox.url}/v1/sandbox/run`, { method: 'POST', headers: { 'x-api-key': 'bench', 'content-type': 'application/json' }, body });
  const j = await res.json();
  if (j.code !== 0) throw new Error(JSON.stringify(j));
  return performance.now() - t;
}
for (let i = 0; i < 5; i++) { await ours(); await raw(); }
const a = [], b = [];
for (let i = 0; i < 60; i++) { a.push(await ours()); b.push(await raw()); }
const ma = median(a), mb = median(b);
console.log(`dify backend p50 over ${a.length} interleaved runs: executeFunction ${ma.toFixed(2)} ms, raw POST of the same program ${mb.toFixed(2)} ms`);
console.log(`client overhead at p50: ${(ma - mb).toFixed(2)} ms (goal <= 0.5 ms)`);
await sandbox.close();
process.exit(0);
