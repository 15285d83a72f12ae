// The Cloud SDK vs the official Node clients, side by side in one run
// (interleaved rounds, medians). Needs the test services:
//   bash scripts/services.sh start && source .services/env && node bench/cloud.mjs
// Goals (issue #3): host findOne ≤ 1.0× the mongodb driver; a sandboxed
// function's findOne, bridge included, ≤ 2.0× the driver from host code;
// getDownloadUrl ≥ 20× faster than @aws-sdk/s3-request-presigner.
// Issue #11: find().toArray() of 1 000 documents from host code ≤ 1.0× the
// driver; the same inside a function ≤ 1.5× the driver from host code.
// Also reported (no goal): bulkWrite inside a function vs the same
// operations as single calls, and vs the driver's bulkWrite.
import { createRequire } from 'node:module';
import { MongoClient } from 'mongodb';
import { S3Client, GetObjectCommand } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

const require = createRequire(import.meta.url);
const { createCloud, executeFunction } = require('../index.js');
if (!process.env.MONGODB_URL) throw new Error('start the services: bash scripts/services.sh start && source .services/env');
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const time = async (f) => { const t = process.hrtime.bigint(); await f(); return Number(process.hrtime.bigint() - t) / 1e6; };

const dbName = `bench_${Date.now()}`;
const cloud = createCloud({ database: dbName });
const ours = cloud.database().collection('items');
const client = new MongoClient(process.env.MONGODB_URL);
await client.connect();
const theirs = client.db(dbName).collection('items');
const { insertedId } = await ours.insertOne({ name: 'bench', n: 1, tags: ['a', 'b'], at: new Date() });
const id = insertedId.toHexString();
const { ObjectId: DriverObjectId } = await import('mongodb');
const driverId = new DriverObjectId(id);
const fnCode = 'module.exports = async (ctx) => { const d = await cloud.database().collection("items").findOne({ _id: new ObjectId(ctx.body.id) }); return d.name }';

const a = [], b = [], c = [];
for (let i = 0; i < 50; i++) { await ours.findOne({ _id: insertedId }); await theirs.findOne({ _id: driverId }); await executeFunction('findOne', fnCode, 'b1', { body: { id }, cloud }); }
for (let round = 0; round < 10; round++) {
  for (let i = 0; i < 30; i++) a.push(await time(() => ours.findOne({ _id: insertedId })));
  for (let i = 0; i < 30; i++) b.push(await time(() => theirs.findOne({ _id: driverId })));
  for (let i = 0; i < 30; i++) c.push(await time(async () => { const r = await executeFunction('findOne', fnCode, 'b1', { body: { id }, cloud }); if (r.data !== 'bench') throw new Error(JSON.stringify(r)); }));
}
const [ma, mb, mc] = [median(a), median(b), median(c)];
console.log(`findOne p50 over ${a.length} calls each (server: ${process.env.MONGODB_URL}):`);
console.log(`  createCloud().database().collection().findOne: ${ma.toFixed(3)} ms`);
console.log(`  official mongodb driver findOne:               ${mb.toFixed(3)} ms  -> ratio ours/driver = ${(ma / mb).toFixed(2)} (goal <= 1.0)`);
console.log(`  sandboxed function doing findOne (bridge incl): ${mc.toFixed(3)} ms  -> ratio sandboxed/driver = ${(mc / mb).toFixed(2)} (goal <= 2.0)`);

// find().toArray() of 1 000 documents (a few fields each, ObjectId and Date included).
const many = cloud.database().collection('many');
await many.insertMany(Array.from({ length: 1000 }, (_, i) => ({ i, name: `item ${i}`, tags: ['x', 'y'], at: new Date(1700000000000 + i) })));
const theirsMany = client.db(dbName).collection('many');
const findCode = 'module.exports = async () => (await cloud.database().collection("many").find({}).toArray()).length';
const f = [], g = [], h = [];
for (let i = 0; i < 5; i++) { await many.find({}).toArray(); await theirsMany.find({}).toArray(); await executeFunction('findMany', findCode, 'f1', { cloud }); }
// 15 rounds of 4 each: the Python MongoDB-wire server's time (~20 ms a
// call) drifts, and fine interleaving keeps the drift out of the ratio.
for (let round = 0; round < 15; round++) {
  for (let i = 0; i < 4; i++) f.push(await time(async () => { if ((await many.find({}).toArray()).length !== 1000) throw new Error('short'); }));
  for (let i = 0; i < 4; i++) g.push(await time(async () => { if ((await theirsMany.find({}).toArray()).length !== 1000) throw new Error('short'); }));
  for (let i = 0; i < 4; i++) h.push(await time(async () => { const r = await executeFunction('findMany', findCode, 'f1', { cloud }); if (r.data !== 1000) throw new Error(JSON.stringify(r)); }));
}
const [mf, mg, mh] = [median(f), median(g), median(h)];
console.log(`find().toArray() of 1000 documents p50 over ${f.length} calls each:`);
console.log(`  createCloud() ... find().toArray():        ${mf.toFixed(2)} ms`);
console.log(`  official mongodb driver find().toArray():  ${mg.toFixed(2)} ms  -> ratio ours/driver = ${(mf / mg).toFixed(2)} (goal <= 1.0)`);
console.log(`  sandboxed function doing find().toArray(): ${mh.toFixed(2)} ms  -> ratio sandboxed/driver = ${(mh / mg).toFixed(2)} (goal <= 1.5)`);

// bulkWrite of 100 mixed operations inside a function (one call to the
// host), against the same operations as 100 calls (what the SDK did before,
// and what a loop of awaits does), and the driver's bulkWrite from host code.
const bulkOps = (round) => Array.from({ length: 100 }, (_, i) => (i % 4 === 3
  ? { deleteOne: { filter: { round, i: i - 1 } } }
  : i % 2 ? { updateOne: { filter: { round, i: i - 1 }, update: { $set: { seen: true } } } } : { insertOne: { document: { round, i } } }));
const bulkCode = 'module.exports = async (ctx) => (await cloud.database().collection("bulk").bulkWrite(ctx.body.ops)).insertedCount';
const loopCode = `module.exports = async (ctx) => {
  const c = cloud.database().collection("bulk");
  let n = 0;
  for (const op of ctx.body.ops) {
    const [kind, a] = Object.entries(op)[0];
    if (kind === 'insertOne') { await c.insertOne(a.document); n++; } else if (kind === 'updateOne') await c.updateOne(a.filter, a.update); else await c.deleteOne(a.filter);
  }
  return n;
}`;
const theirsBulk = client.db(dbName).collection('bulk');
// Indexed, so the server's time per operation stays small and the same for all three.
await cloud.database().collection('bulk').createIndex({ round: 1, i: 1 });
const p = [], q = [], r2 = [];
let bulkRound = 0;
const expect50 = (r) => { if (r.data !== 50) throw new Error(JSON.stringify(r)); };
for (let i = 0; i < 3; i++) { expect50(await executeFunction('bulk', bulkCode, 'k1', { body: { ops: bulkOps(bulkRound++) }, cloud })); expect50(await executeFunction('loop', loopCode, 'l1', { body: { ops: bulkOps(bulkRound++) }, cloud })); }
for (let round = 0; round < 10; round++) {
  for (let i = 0; i < 3; i++) p.push(await time(async () => expect50(await executeFunction('bulk', bulkCode, 'k1', { body: { ops: bulkOps(bulkRound++) }, cloud }))));
  for (let i = 0; i < 3; i++) q.push(await time(async () => expect50(await executeFunction('loop', loopCode, 'l1', { body: { ops: bulkOps(bulkRound++) }, cloud }))));
  for (let i = 0; i < 3; i++) r2.push(await time(async () => { if ((await theirsBulk.bulkWrite(bulkOps(bulkRound++))).insertedCount !== 50) throw new Error('short'); }));
}
const [mp, mq, mr] = [median(p), median(q), median(r2)];
console.log(`bulkWrite of 100 mixed operations p50 over ${p.length} runs each:`);
console.log(`  sandboxed function, bulkWrite:              ${mp.toFixed(2)} ms`);
console.log(`  sandboxed function, 100 single calls:       ${mq.toFixed(2)} ms  -> ${(mq / mp).toFixed(2)}x the time of bulkWrite`);
console.log(`  official mongodb driver bulkWrite (host):   ${mr.toFixed(2)} ms  -> ratio sandboxed bulkWrite/driver = ${(mp / mr).toFixed(2)} (no goal)`);
// 200 insertOne: a bulk's run of inserts goes to the server as one insertMany.
const insertOps = (round) => Array.from({ length: 200 }, (_, i) => ({ insertOne: { document: { round, i } } }));
const expect200 = (r) => { if (r.data !== 200) throw new Error(JSON.stringify(r)); };
const ib = [], il = [], id2 = [];
for (let round = 0; round < 5; round++) {
  ib.push(await time(async () => expect200(await executeFunction('bulk', bulkCode, 'k1', { body: { ops: insertOps(bulkRound++) }, cloud }))));
  il.push(await time(async () => expect200(await executeFunction('loop', loopCode, 'l1', { body: { ops: insertOps(bulkRound++) }, cloud }))));
  id2.push(await time(async () => { if ((await theirsBulk.bulkWrite(insertOps(bulkRound++))).insertedCount !== 200) throw new Error('short'); }));
}
const [mib, mil, mid] = [median(ib), median(il), median(id2)];
console.log(`bulkWrite of 200 insertOne p50 over ${ib.length} runs each: sandboxed function bulkWrite ${mib.toFixed(2)} ms, 200 single calls ${mil.toFixed(2)} ms (${(mil / mib).toFixed(1)}x), driver bulkWrite (host) ${mid.toFixed(2)} ms (ratio ${(mib / mid).toFixed(2)}, no goal)`);

const bucket = cloud.storage.bucket();
const s3 = new S3Client({ endpoint: process.env.S3_ENDPOINT, region: process.env.S3_REGION || 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: process.env.S3_ACCESS_KEY, secretAccessKey: process.env.S3_SECRET_KEY } });
const d = [], e = [];
for (let i = 0; i < 200; i++) { await bucket.getDownloadUrl('bench/file.json', 3600); await getSignedUrl(s3, new GetObjectCommand({ Bucket: process.env.S3_BUCKET, Key: 'bench/file.json' }), { expiresIn: 3600 }); }
for (let round = 0; round < 10; round++) {
  for (let i = 0; i < 200; i++) d.push(await time(() => bucket.getDownloadUrl('bench/file.json', 3600)));
  for (let i = 0; i < 200; i++) e.push(await time(() => getSignedUrl(s3, new GetObjectCommand({ Bucket: process.env.S3_BUCKET, Key: 'bench/file.json' }), { expiresIn: 3600 })));
}
const [md, me] = [median(d), median(e)];
console.log(`presigned download URL p50 over ${d.length} calls each: getDownloadUrl ${(md * 1000).toFixed(1)} µs, @aws-sdk getSignedUrl ${(me * 1000).toFixed(1)} µs -> ${(me / md).toFixed(1)}x faster (goal >= 20)`);
await client.close();
process.exit(0);
