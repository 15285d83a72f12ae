// compressLogs vs Node's zlib.gzipSync + base64 on 1000 realistic log lines,
// side by side in one run (interleaved rounds, medians).
// Goal (issue #2): ≥ 1.2× the speed of the Node peer.
//
//   node bench/compress-logs.mjs
import { createRequire } from 'node:module';
import util from 'node:util';
import zlib from 'node:zlib';

const require = createRequire(import.meta.url);
const { compressLogs, decompressLogs } = require('../index.js');

const lines = [];
for (let i = 0; i < 1000; i++) {
  const user = { id: i, name: `user-${i}`, email: `user${i}@example.com`, roles: ['reader', i % 7 === 0 ? 'admin' : 'writer'] };
  switch (i % 6) {
    case 0: lines.push(util.format('GET /api/items/%d 200 %dms', i, (i * 37) % 250)); break;
    case 1: lines.push(util.format('loaded user %o', user)); break;
    case 2: lines.push(`[WARN] ${util.format('slow query on %s: %dms', 'orders', 100 + (i % 900))}`); break;
    case 3: lines.push(`[ERROR] ${new Error(`payment ${i} declined`).stack.split('\n').slice(0, 4).join('\n')}`); break;
    case 4: lines.push(util.format('%s', JSON.stringify({ event: 'checkout', cart: Array.from({ length: i % 5 }, (_, k) => ({ sku: `SKU-${k}`, qty: k + 1 })) }))); break;
    default: lines.push(`[DEBUG] cache ${i % 3 ? 'hit' : 'miss'} key=session:${(i * 2654435761) % 4294967296}`);
  }
}
const node = (l) => zlib.gzipSync(JSON.stringify(l)).toString('base64');
if (JSON.stringify(decompressLogs(node(lines))) !== JSON.stringify(lines)) throw new Error('peer output unreadable');
if (JSON.stringify(JSON.parse(zlib.gunzipSync(Buffer.from(compressLogs(lines), 'base64')))) !== JSON.stringify(lines)) throw new Error('our output unreadable by Node');

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const time = (f) => { const t = process.hrtime.bigint(); f(); return Number(process.hrtime.bigint() - t) / 1e6; };
for (let i = 0; i < 100; i++) { compressLogs(lines); node(lines); }
const a = [], b = [];
for (let round = 0; round < 20; round++) {
  for (let i = 0; i < 20; i++) a.push(time(() => compressLogs(lines)));
  for (let i = 0; i < 20; i++) b.push(time(() => node(lines)));
}
const ma = median(a), mb = median(b);
const raw = Buffer.byteLength(JSON.stringify(lines));
console.log(`compressLogs: ${(mb / ma).toFixed(2)}x the speed of zlib.gzipSync+base64 (median ${ma.toFixed(3)} ms vs ${mb.toFixed(3)} ms over ${a.length} runs each; goal >= 1.2), `
  + `size ${compressLogs(lines).length} vs ${node(lines).length} base64 bytes for ${raw} bytes of JSON`);
