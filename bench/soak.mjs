// Soak: invocations at a fixed concurrency for a bounded time while
// MongoDB and S3 are killed and restarted; then every write is audited.
//
//   node bench/soak.mjs [seconds=240] [concurrency=16] [killEverySeconds=60]
//
// Needs `bash scripts/services.sh install` (SecantusDB in .tools/venv,
// s3s-fs in .tools/s3s): the soak starts its own instances, file-backed so
// a restart keeps what was written, on fixed ports it can restart them on.
//
// Each invocation runs a function that inserts one document and writes one
// file named after the invocation, then reads both back and returns them.
// Reported: invocations by outcome, wrong results (a success whose data is
// not what was written), hangs (no answer within timeout + queue limit),
// lost writes (a success whose document or file is missing afterwards),
// duplicated writes (more than one document for an invocation), failures
// while both services were up, zombie processes, and the time from each
// restart to the first success.
import { createRequire } from 'node:module';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const require = createRequire(import.meta.url);
const ROOT = path.resolve(import.meta.dirname, '..');
const seconds = Number(process.argv[2] || 240);
const concurrency = Number(process.argv[3] || 16);
const killEvery = Number(process.argv[4] || 60) * 1000;
const DOWN_MS = 3000;

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
});
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const listening = (port) => new Promise((resolve) => {
  const s = net.connect(port, '127.0.0.1');
  s.once('connect', () => { s.destroy(); resolve(true); });
  s.once('error', () => resolve(false));
});

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'soak-'));
const mongoPort = await freePort();
const s3Port = await freePort();
const ACCESS = 'soakaccess';
const SECRET = 'soaksecret0123456789';
const BUCKET = 'soak';
fs.mkdirSync(path.join(work, 's3', BUCKET), { recursive: true });
fs.mkdirSync(path.join(work, 'mongo'), { recursive: true });

const services = {
  mongo: {
    port: mongoPort,
    start: () => spawn(path.join(ROOT, '.tools/venv/bin/secantusd-py'),
      ['--host', '127.0.0.1', '--port', String(mongoPort), '--storage-path', path.join(work, 'mongo'), '--sync-on-commit'],
      { stdio: 'ignore' }),
  },
  s3: {
    port: s3Port,
    start: () => spawn(path.join(ROOT, '.tools/s3s/bin/s3s-fs'),
      ['--host', '127.0.0.1', '--port', String(s3Port), '--access-key', ACCESS, '--secret-key', SECRET, path.join(work, 's3')],
      { stdio: 'ignore' }),
  },
};
async function up(name) {
  const s = services[name];
  s.proc = s.start();
  for (let i = 0; i < 300 && !(await listening(s.port)); i++) await sleep(20);
  s.upAt = Date.now();
}
async function down(name) {
  const s = services[name];
  const exited = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGKILL');
  await exited;
}
await up('mongo');
await up('s3');

process.env.MONGODB_URL = `mongodb://127.0.0.1:${mongoPort}`;
process.env.MONGODB_DB = 'soak';
process.env.S3_ENDPOINT = `http://127.0.0.1:${s3Port}`;
process.env.S3_ACCESS_KEY = ACCESS;
process.env.S3_SECRET_KEY = SECRET;
process.env.S3_BUCKET = BUCKET;
const { executeFunction, createCloud, health } = require('../index.js');
const cloud = createCloud();

const CODE = `module.exports = async (ctx) => {
  const id = ctx.body.id;
  const col = cloud.database().collection('soak');
  await col.insertOne({ op: id, n: ctx.body.n });
  await cloud.storage.bucket().writeFile('soak/' + id, id);
  const doc = await col.findOne({ op: id });
  const file = (await cloud.storage.bucket().readFile('soak/' + id)).toString();
  return { id, n: doc.n, file };
}`;

const stats = { ok: 0, failed: 0, wrong: 0, hung: 0, byCode: {}, outsideOutage: 0 };
// [from, to] of each outage, to + 1 s of recovery allowed: a failure that
// neither started nor ended inside one happened while both services were up.
const outages = [];
let outageFrom = null;
const duringOutage = (a, b) => outageFrom !== null || outages.some(([f, t]) => a <= t && b >= f);
const succeeded = [];
const attempted = [];
const recoveries = { mongo: [], s3: [] };
let pendingRecovery = { mongo: null, s3: null };
let seq = 0;
const HANG_MS = 5000 + 30000 + 5000;

async function one() {
  const startedAt = Date.now();
  const id = `i${process.pid}-${++seq}`;
  const n = seq;
  attempted.push(id);
  const result = executeFunction('soak', CODE, 'v1', { body: { id, n } }, { timeoutMs: 5000 });
  const hang = sleep(HANG_MS).then(() => 'hang');
  const r = await Promise.race([result, hang]);
  if (r === 'hang') { stats.hung++; return; }
  if (r.error) {
    stats.failed++;
    if (!duringOutage(startedAt, Date.now())) {
      stats.outsideOutage++;
      if (stats.outsideOutage <= 3) console.log(`  failure while both services were up: ${r.errorCode}: ${r.error.slice(0, 160)}`);
    }
    const key = r.errorCode + ': ' + r.error.replace(/[0-9a-f]{24}|\d+/g, 'N').slice(0, 90);
    stats.byCode[key] = (stats.byCode[key] || 0) + 1;
    return;
  }
  if (r.data.id !== id || r.data.n !== n || r.data.file !== id) { stats.wrong++; return; }
  stats.ok++;
  succeeded.push(id);
  for (const s of ['mongo', 's3']) {
    if (pendingRecovery[s] !== null) { recoveries[s].push(Date.now() - pendingRecovery[s]); pendingRecovery[s] = null; }
  }
}

const zombies = () => {
  let z = 0;
  for (const p of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const st = fs.readFileSync(`/proc/${p}/stat`, 'utf8').split(') ')[1].split(' ');
      if (st[0] === 'Z' && Number(st[1]) === process.pid) z++;
    } catch { /* gone */ }
  }
  return z;
};

const t0 = Date.now();
const end = t0 + seconds * 1000;
let kills = 0;
const killer = (async () => {
  while (Date.now() + killEvery < end) {
    await sleep(killEvery);
    kills++;
    outageFrom = Date.now();
    await Promise.all([down('mongo'), down('s3')]);
    await sleep(DOWN_MS);
    await Promise.all([up('mongo'), up('s3')]);
    outages.push([outageFrom, Date.now() + 1000]);
    setTimeout(() => { outageFrom = null; }, 1000);
    pendingRecovery = { mongo: services.mongo.upAt, s3: services.s3.upAt };
    console.log(`[${((Date.now() - t0) / 1000).toFixed(0)} s] restart ${kills}: ${JSON.stringify(health().services)}`);
  }
})();
const loops = Array.from({ length: concurrency }, async () => { while (Date.now() < end) await one(); });
await Promise.all(loops);
await killer;

// Audit every write against the services themselves.
const col = cloud.database().collection('soak');
const docs = await col.find({}).toArray();
const count = new Map();
for (const d of docs) count.set(d.op, (count.get(d.op) || 0) + 1);
let lost = 0;
let duplicated = 0;
for (const id of succeeded) {
  if (!count.has(id)) lost++;
  try {
    if ((await cloud.storage.bucket().readFile('soak/' + id)).toString() !== id) lost++;
  } catch { lost++; }
}
for (const [, c] of count) if (c > 1) duplicated++;
const z = zombies();
const median = (xs) => (xs.length ? [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] : null);

console.log(`soak: ${seconds} s at concurrency ${concurrency}, MongoDB and S3 killed ${kills} times (down ${DOWN_MS} ms each)`);
console.log(`  invocations ${attempted.length}: ${stats.ok} ok, ${stats.failed} failed (${stats.failed - stats.outsideOutage} during an outage or the second after it, ${stats.outsideOutage} while both services were up), ${stats.wrong} wrong, ${stats.hung} hung`);
for (const [k, v] of Object.entries(stats.byCode).sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`    ${v} × ${k}`);
console.log(`  audit: ${lost} lost writes, ${duplicated} duplicated writes (${docs.length} documents for ${succeeded.length} successes)`);
console.log(`  zombies: ${z}`);
console.log(`  recovery to first success after a restart (ms): MongoDB+S3 ${JSON.stringify(recoveries.mongo)}; median ${median(recoveries.mongo)} (goal <= 1000)`);
for (const s of Object.keys(services)) services[s].proc.kill('SIGKILL');
fs.rmSync(work, { recursive: true, force: true });
const pass = stats.wrong === 0 && stats.hung === 0 && lost === 0 && duplicated === 0 && z === 0 && stats.outsideOutage === 0;
console.log(pass ? 'PASS' : 'FAIL');
process.exit(pass ? 0 : 1);
