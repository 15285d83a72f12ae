// The Cloud SDK over real servers (MONGODB_URL, S3_*: `bash scripts/services.sh
// start && source .services/env`): host code through createCloud, and
// sandboxed functions through ctx.cloud on the local pool.
import { createRequire } from 'node:module';
import { describe, it, expect, beforeAll } from 'vitest';

const require = createRequire(import.meta.url);
const { createCloud, executeFunction, ObjectId, setFunctionLoader } = require('../index.js');

if (!process.env.MONGODB_URL || !process.env.S3_ENDPOINT) {
  throw new Error('start the test services first: bash scripts/services.sh start && source .services/env');
}
const dbName = `cloud_test_${Date.now()}`;
const cloud = createCloud({ database: dbName, env: { GREETING: 'hi' } });
const col = (n) => cloud.database().collection(`${n}_${Math.random().toString(36).slice(2, 8)}`);
const errorOf = (p) => p.then(() => null, (e) => e);

describe('database from host code', () => {
  it('every collection method with the Node driver shapes', async () => {
    const c = col('crud');
    const at = new Date('2024-05-06T07:08:09.123Z');
    const ins = await c.insertOne({ name: 'ada', at, n: 1 });
    expect(ins.acknowledged).toBe(true);
    expect(ins.insertedId).toBeInstanceOf(ObjectId);
    const many = await c.insertMany([{ name: 'bob', n: 2 }, { name: 'cy', n: 3 }]);
    expect(many.insertedCount).toBe(2);
    expect(many.insertedIds[1]).toBeInstanceOf(ObjectId);

    const one = await c.findOne({ _id: ins.insertedId });
    expect(one.name).toBe('ada');
    expect(one.at).toBeInstanceOf(Date);
    expect(one.at.getTime()).toBe(at.getTime());
    expect(one._id.equals(ins.insertedId)).toBe(true);
    // A { $oid } and a hex-string ObjectId find the same document.
    expect((await c.findOne({ _id: { $oid: ins.insertedId.toHexString() } })).name).toBe('ada');
    expect((await c.findOne({ _id: new ObjectId(ins.insertedId.toHexString()) })).name).toBe('ada');

    expect(await c.find({ n: { $gte: 2 } }).sort({ n: -1 }).limit(1).project({ _id: 0, name: 1 }).toArray()).toEqual([{ name: 'cy' }]);
    expect((await c.find().sort({ n: 1 }).skip(1).toArray()).map((d) => d.n)).toEqual([2, 3]);
    expect(await c.updateOne({ name: 'bob' }, { $inc: { n: 10 } })).toEqual({ acknowledged: true, matchedCount: 1, modifiedCount: 1, upsertedCount: 0, upsertedId: null });
    expect((await c.updateMany({}, { $set: { tag: 't' } })).modifiedCount).toBe(3);
    const up = await c.replaceOne({ name: 'dee' }, { name: 'dee', n: 4 }, { upsert: true });
    expect(up.upsertedId).toBeInstanceOf(ObjectId);
    expect(await c.countDocuments({})).toBe(4);
    expect(await c.aggregate([{ $group: { _id: null, total: { $sum: '$n' } } }]).toArray()).toEqual([{ _id: null, total: 20 }]);
    expect((await c.distinct('name')).sort()).toEqual(['ada', 'bob', 'cy', 'dee']);
    expect((await c.findOneAndUpdate({ name: 'cy' }, { $set: { n: 30 } })).n).toBe(3);
    expect((await c.findOneAndUpdate({ name: 'cy' }, { $set: { n: 31 } }, { returnDocument: 'after' })).n).toBe(31);
    expect((await c.findOneAndDelete({ name: 'cy' })).n).toBe(31);
    expect((await c.findOneAndReplace({ name: 'bob' }, { name: 'bob', n: 7 })).n).toBe(12);
    expect(await c.findOneAndReplace({ name: 'eve' }, { name: 'eve', n: 5 }, { upsert: true, returnDocument: 'after', projection: { _id: 0 } })).toEqual({ name: 'eve', n: 5 });
    expect(await errorOf(c.findOneAndReplace({ name: 'bob' }, { $set: { n: 1 } }))).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'findOneAndReplace: the replacement document must not contain update operators like $set' });
    expect(await errorOf(c.findOneAndReplace({ name: 'bob' }, { name: 'bob' }, { returnDocument: 'later' }))).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'findOneAndReplace: returnDocument must be \'before\' or \'after\', got "later"' });
    expect(await c.deleteOne({ name: 'eve' })).toEqual({ acknowledged: true, deletedCount: 1 });
    expect(await c.deleteOne({ name: 'dee' })).toEqual({ acknowledged: true, deletedCount: 1 });
    expect((await c.deleteMany({})).deletedCount).toBe(2);
  });

  it("the Node driver's cursor walks (next, hasNext, forEach, map, count, for await), estimatedDocumentCount and bulkWrite", async () => {
    // Each was "is not a function".
    const c = col('walk');
    await c.insertMany([{ n: 3 }, { n: 1 }, { n: 2 }]);
    const cur = c.find({}, { projection: { _id: 0 } }).sort({ n: 1 });
    expect([await cur.hasNext(), await cur.next(), await cur.next()]).toEqual([true, { n: 1 }, { n: 2 }]);
    expect([await cur.toArray(), await cur.next(), await cur.hasNext()]).toEqual([[{ n: 3 }], null, false]);
    const seen = [];
    await c.find().sort({ n: 1 }).forEach((d) => { seen.push(d.n); return d.n < 2; });
    expect(seen).toEqual([1, 2]);
    expect(await c.find().sort({ n: -1 }).map((d) => d.n).map((n) => n * 10).toArray()).toEqual([30, 20, 10]);
    const walked = [];
    for await (const d of c.aggregate([{ $sort: { n: 1 } }]).map((d) => d.n)) walked.push(d);
    expect(walked).toEqual([1, 2, 3]);
    expect([await c.find({ n: { $gt: 1 } }).count(), await c.find().skip(1).limit(1).count(), await c.estimatedDocumentCount()]).toEqual([2, 1, 3]);
    expect(await errorOf(c.find().forEach('no'))).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'invalid argument (got string): cursor.forEach() needs a function' });

    const bulk = await c.bulkWrite([
      { insertOne: { document: { n: 4 } } },
      { updateOne: { filter: { n: 1 }, update: { $set: { one: true } } } },
      { updateMany: { filter: { n: { $gt: 2 } }, update: { $inc: { n: 100 } } } },
      { replaceOne: { filter: { n: 9 }, replacement: { n: 9 }, upsert: true } },
      { deleteOne: { filter: { n: 2 } } },
    ]);
    expect(bulk).toMatchObject({ insertedCount: 1, matchedCount: 3, modifiedCount: 3, deletedCount: 1, upsertedCount: 1 });
    expect([bulk.insertedIds[0], bulk.upsertedIds[3]].every((id) => id instanceof ObjectId)).toBe(true);
    expect((await c.find().sort({ n: 1 }).toArray()).map((d) => d.n)).toEqual([1, 9, 103, 104]);
    // Ordered (the default) stops at the first failure; unordered goes on.
    await c.createIndex({ n: 1 }, { unique: true });
    const stopped = await errorOf(c.bulkWrite([{ insertOne: { document: { n: 1 } } }, { insertOne: { document: { n: 50 } } }]));
    expect([stopped.code, stopped.result.insertedCount, stopped.writeErrors.map((w) => [w.index, w.code])]).toEqual([11000, 0, [[0, 11000]]]);
    const went = await errorOf(c.bulkWrite([{ insertOne: { document: { n: 1 } } }, { insertOne: { document: { n: 51 } } }], { ordered: false }));
    expect([went.result.insertedCount, went.writeErrors.length]).toEqual([1, 1]);
    expect(await errorOf(c.bulkWrite([{ upsertOne: {} }]))).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'bulkWrite operation 0 must be one of { insertOne | updateOne | updateMany | replaceOne | deleteOne | deleteMany: { … } }' });
    // Every operation is checked before any runs: the insert before a bad one did not happen.
    const before = await c.countDocuments();
    expect(await errorOf(c.bulkWrite([{ insertOne: { document: { n: 60 } } }, { updateOne: { update: { $set: { a: 1 } } } }]))).toMatchObject({ code: 'INVALID_ARGUMENT', message: "bulkWrite operation 1: updateOne: 'filter' is required" });
    expect(await errorOf(c.bulkWrite([{ deleteOne: { filter: {} } }, 'x']))).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'bulkWrite operation 1 must be one of { insertOne | updateOne | updateMany | replaceOne | deleteOne | deleteMany: { … } }' });
    expect(await errorOf(c.bulkWrite('x'))).toMatchObject({ code: 'INVALID_ARGUMENT' });
    const noDoc = await errorOf(c.bulkWrite([{ insertOne: { doc: { n: 61 } } }]));
    expect([noDoc.code, noDoc.message, noDoc.writeErrors]).toEqual(['INVALID_ARGUMENT', 'bulkWrite operation 0: insertOne needs { document: { … } }', undefined]);
    expect(await c.countDocuments()).toBe(before);
    expect(await c.bulkWrite([])).toEqual({ acknowledged: true, insertedCount: 0, matchedCount: 0, modifiedCount: 0, deletedCount: 0, upsertedCount: 0, insertedIds: {}, upsertedIds: {} });
  });

  it("sort takes the driver's forms; insertMany takes { ordered: false }", async () => {
    // Only { a: -1 } worked: sort('a', -1) and [['a', -1]] were "options.sort
    // must be an object", and insertMany ignored ordered: false.
    const c = col('sort');
    await c.insertMany([{ a: 2, b: 1 }, { a: 1, b: 2 }, { a: 2, b: 3 }]);
    const order = async (cursor) => (await cursor.project({ _id: 0 }).toArray()).map((d) => `${d.a}${d.b}`).join(' ');
    expect(await order(c.find().sort('a'))).toBe('12 21 23');
    expect(await order(c.find().sort('b', 'desc'))).toBe('23 12 21');
    expect(await order(c.find().sort(['a', -1]).sort([['a', -1], ['b', -1]]))).toBe('23 21 12');
    expect(await order(c.find().sort(['a', 'b']))).toBe('12 21 23');
    expect(await order(c.find().sort(new Map([['b', -1]])))).toBe('23 12 21');
    expect(await order(c.find({}, { sort: [['b', 'ascending']] }))).toBe('21 12 23');
    expect((await c.findOne({}, { sort: ['b', -1] })).b).toBe(3);
    expect((await c.findOneAndDelete({ a: 2 }, { sort: 'b' })).b).toBe(1);
    expect(() => c.find().sort('a', 'sideways')).toThrow("sort direction must be 1, -1, 'asc' or 'desc', got 'sideways'");
    expect(() => c.find().sort([1, 2, 3])).toThrow('sort must be a field name, [field, direction] pairs or an object like { field: -1 }, got [ 1, 2, 3 ]');

    const u = col('unordered');
    await u.insertOne({ _id: 1 });
    const stopped = await errorOf(u.insertMany([{ _id: 1 }, { _id: 2 }]));
    const went = await errorOf(u.insertMany([{ _id: 1 }, { _id: 3 }, { _id: 4 }], { ordered: false }));
    expect([stopped.code, went.code, await u.countDocuments({})]).toEqual([11000, 11000, 3]);
    expect(await errorOf(u.insertMany([{ _id: 9 }], { ordered: 'no' }))).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'insertMany: options.ordered must be a boolean' });
  });

  it('indexes, listIndexes, dropIndex and drop, with the driver shapes', async () => {
    const c = col('idx');
    await c.insertOne({ a: 1 });
    expect(await c.createIndex({ a: 1 }, { unique: true, name: 'a_u' })).toBe('a_u');
    const listed = await c.indexes();
    expect(listed.map((i) => [i.name, i.key, i.unique === true])).toEqual([['_id_', { _id: 1 }, false], ['a_u', { a: 1 }, true]]);
    expect((await c.listIndexes().toArray()).map((i) => i.name)).toEqual(['_id_', 'a_u']);
    expect(await c.dropIndex('a_u')).toEqual({ ok: 1 });
    expect((await c.indexes()).map((i) => i.name)).toEqual(['_id_']);
    expect(await errorOf(c.dropIndex(5))).toMatchObject({ code: 'INVALID_ARGUMENT', message: 'invalid argument (got number): dropIndex needs the index name (a string)' });
    expect(await c.drop()).toBe(true);
    expect(await c.countDocuments({})).toBe(0);
    expect(await col('never').drop()).toBe(true);
    expect(await errorOf(cloud.database().collection('system.views').drop())).toMatchObject({ errorCode: 'DATABASE_FORBIDDEN' });
  });

  it('a RegExp in a filter matches as MongoDB regexes do, and one stored comes back a RegExp', async () => {
    // JSON made /^al/i an empty object: the filter silently matched nothing.
    const c = col('re');
    await c.insertMany([{ name: 'Alice' }, { name: 'albert' }, { name: 'Bob' }, { pattern: /b+c/gim }]);
    expect((await c.find({ name: /^al/i }).sort({ name: 1 }).toArray()).map((d) => d.name)).toEqual(['Alice', 'albert']);
    expect(await c.countDocuments({ name: { $in: [/^B/, /^x/] } })).toBe(1);
    expect(await c.countDocuments({ name: { $not: /^a/i, $exists: true } })).toBe(1);
    const stored = (await c.findOne({ pattern: { $exists: true } })).pattern;
    expect(stored).toBeInstanceOf(RegExp);
    expect(String(stored)).toBe('/b+c/im');
  });

  it('a duplicate key rejects with code 11000, codeName DuplicateKey and errorCode DATABASE_ERROR', async () => {
    const c = col('dup');
    expect(await c.createIndex({ email: 1 }, { unique: true })).toMatch(/email/);
    await c.insertOne({ email: 'a@x' });
    const e = await errorOf(c.insertOne({ email: 'a@x' }));
    expect([e.code, e.codeName, e.errorCode, e.serverCode]).toEqual([11000, 'DuplicateKey', 'DATABASE_ERROR', 11000]);
    expect(e.message).toMatch(/E11000 duplicate key error/);
  });

  it('an invalid update document is refused with a clear message', async () => {
    const e = await errorOf(col('upd').updateOne({}, { name: 'x' }));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toBe('updateOne: invalid update document: it must use update operators like $set (got key "name")');
  });

  it('an unreachable database fails within its timeout and says so', async () => {
    const down = createCloud({ mongoUrl: 'mongodb://127.0.0.1:1' });
    const t = Date.now();
    const e = await errorOf(down.database().collection('x').findOne({}));
    expect(Date.now() - t).toBeLessThan(7000);
    expect(e.code).toBe('DATABASE_UNREACHABLE');
    expect(e.message).toMatch(/^database unreachable: no MongoDB server reachable at 127\.0\.0\.1:1: connection refused/);
    expect(await col('after').countDocuments()).toBe(0);
  });
});

describe('storage from host code', () => {
  const bucket = () => cloud.storage.bucket();
  const p = `host-${Date.now()}/`;
  it('all 256 byte values round-trip; strings too; listFiles; deleteFile', async () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    await bucket().writeFile(`${p}bytes.bin`, all);
    expect(Buffer.compare(await bucket().readFile(`${p}bytes.bin`), all)).toBe(0);
    await bucket().writeFile(`${p}t.txt`, 'héllo', { contentType: 'text/plain' });
    expect((await bucket().readFile(`${p}t.txt`)).toString()).toBe('héllo');
    const files = await bucket().listFiles(p);
    expect(files.map((f) => [f.key, f.size])).toEqual([[`${p}bytes.bin`, 256], [`${p}t.txt`, 6]]);
    expect(files[0].lastModified).toBeInstanceOf(Date);
    await bucket().deleteFile(`${p}t.txt`);
    const e = await errorOf(bucket().readFile(`${p}t.txt`));
    expect(e.code).toBe('STORAGE_NOT_FOUND');
    expect(e.message).toBe(`file not found: ${p}t.txt in bucket ${process.env.S3_BUCKET}`);
  });

  it('presigned download works over plain HTTP, a tampered one gets 403, a presigned upload lands', async () => {
    await bucket().writeFile(`${p}dl.txt`, 'download me');
    const url = await bucket().getDownloadUrl(`${p}dl.txt`, 60);
    const res = await fetch(url);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('download me');
    const bad = url.slice(0, -1) + (url.endsWith('0') ? '1' : '0');
    expect((await fetch(bad)).status).toBe(403);
    const put = await bucket().getUploadUrl(`${p}up.txt`, 60);
    expect((await fetch(put, { method: 'PUT', body: 'uploaded' })).ok).toBe(true);
    expect((await bucket().readFile(`${p}up.txt`)).toString()).toBe('uploaded');
    const e = await errorOf(bucket().getDownloadUrl('x', 604801));
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.message).toBe('expiresIn must be an integer from 1 to 604800, got 604801');
  });

  it('presigning gives the same URL shape before and after the storage client exists', async () => {
    const fresh = createCloud();
    const first = new URL(await fresh.storage.bucket().getDownloadUrl('same.txt')); // async path
    const second = new URL(await fresh.storage.bucket().getDownloadUrl('same.txt')); // synchronous path
    for (const u of [first, second]) {
      expect(u.searchParams.get('X-Amz-Expires')).toBe('3600');
      expect(u.pathname).toBe(`/${process.env.S3_BUCKET}/same.txt`);
    }
    const e = await errorOf(fresh.storage.bucket().getUploadUrl('', 60));
    expect([e.code, e.message]).toEqual(['INVALID_ARGUMENT', 'the file key must be a non-empty string']);
  });

  it('a missing bucket and wrong credentials each have their own error', async () => {
    const listed = createCloud({ database: dbName, buckets: ['no-such-bucket'] });
    let e = await errorOf(listed.storage.bucket('no-such-bucket').readFile('x'));
    expect([e.code, e.message]).toEqual(['STORAGE_BUCKET_NOT_FOUND', 'bucket not found: no-such-bucket']);
    const wrong = createCloud({ s3: { secretAccessKey: 'wrong' } });
    e = await errorOf(wrong.storage.bucket().writeFile('x', 'y'));
    expect(e.code).toBe('STORAGE_AUTH');
    expect(e.message).toMatch(/^storage rejected the credentials: .* \(check S3_ACCESS_KEY and S3_SECRET_KEY\)$/);
  });
});

describe('cloud inside sandboxed functions', () => {
  const exec = (name, code, body, options) => executeFunction(name, code, '', { body, cloud }, options);

  it('cloud.env holds only what the Cloud was given', async () => {
    expect((await exec('env', 'module.exports = () => cloud.env')).data).toEqual({ GREETING: 'hi' });
  });

  it('database calls keep ObjectId and Date across every hop', async () => {
    const code = `module.exports = async (ctx) => {
      const c = cloud.database().collection(ctx.body.c);
      const at = new Date('2024-01-01T00:00:00.000Z');
      const { insertedId } = await c.insertOne({ name: 'in-sandbox', at });
      const doc = await c.findOne({ _id: insertedId });
      return { isOid: doc._id instanceof ObjectId, same: doc._id.equals(insertedId), isDate: doc.at instanceof Date, iso: doc.at.toISOString(), id: insertedId.toHexString() };
    }`;
    const name = `sbx_${Date.now()}`;
    const r = await exec('dbfn', code, { c: name });
    expect(r.error).toBeUndefined();
    expect(r.data).toMatchObject({ isOid: true, same: true, isDate: true, iso: '2024-01-01T00:00:00.000Z' });
    const host = await cloud.database().collection(name).findOne({ _id: new ObjectId(r.data.id) });
    expect(host.at.getTime()).toBe(Date.parse('2024-01-01T00:00:00.000Z'));
  });

  it("a function walks cursors the driver's ways, bulk-writes, and filters with a RegExp", async () => {
    const code = `module.exports = async (ctx) => {
      const c = cloud.database().collection(ctx.body.c);
      await c.bulkWrite([{ insertOne: { document: { name: 'Alice' } } }, { insertOne: { document: { name: 'bob' } } }, { deleteMany: { filter: { none: 1 } } }]);
      const cur = c.find({ name: /^a/i });
      const first = await cur.next();
      const names = [];
      await c.find().sort({ name: 1 }).forEach((d) => { names.push(d.name); });
      return [first.name, await cur.next(), names, await c.find().map((d) => d.name.length).toArray(), await c.estimatedDocumentCount(), first.name instanceof Object || typeof first.name];
    }`;
    const r = await exec('walkfn', code, { c: `walk_${Date.now()}` });
    expect(r.error).toBeUndefined();
    expect(r.data).toEqual(['Alice', null, ['Alice', 'bob'], [5, 3], 2, 'string']);
  });

  it("a function's bulkWrite is one call; past the call size cap (6 MiB) it goes in parts, its indexes counted across them", async () => {
    const code = `module.exports = async (ctx) => {
      const c = cloud.database().collection(ctx.body.c);
      const many = await c.bulkWrite(Array.from({ length: 2000 }, (_, i) => ({ insertOne: { document: { i } } })));
      await c.createIndex({ k: 1 }, { unique: true, sparse: true });
      const big = 'x'.repeat(1 << 20);
      const ops = Array.from({ length: 7 }, (_, k) => ({ insertOne: { document: { k, big } } }));
      ops.push({ insertOne: { document: { k: 3 } } }, { updateOne: { filter: { k: 99 }, update: { $set: { up: 1 } }, upsert: true } });
      let e; try { await c.bulkWrite(ops, { ordered: false }); } catch (err) { e = err; }
      return [many.insertedCount, Object.keys(many.insertedIds).length, e.code, e.result.insertedCount, e.result.upsertedCount,
        Object.keys(e.result.upsertedIds), e.writeErrors.map((w) => [w.index, w.code]), await c.countDocuments({ k: { $exists: true } })];
    }`;
    const r = await exec('bulkfn', code, { c: `bulk_${Date.now()}` });
    expect(r.error).toBeUndefined();
    expect(r.data).toEqual([2000, 2000, 11000, 7, 1, ['8'], [[7, 11000]], 8]);
  });

  it('a duplicate key rejects inside the function with code 11000', async () => {
    const code = `module.exports = async (ctx) => {
      const c = cloud.database().collection(ctx.body.c);
      await c.createIndex({ k: 1 }, { unique: true });
      await c.insertOne({ k: 1 });
      try { await c.insertOne({ k: 1 }); } catch (e) { return [e.code, e.errorCode, /duplicate key/.test(e.message)]; }
    }`;
    expect((await exec('dupfn', code, { c: `dup_${Date.now()}` })).data).toEqual([11000, 'DATABASE_ERROR', true]);
  });

  it('storage from a function, bytes intact, and a presigned URL that works', async () => {
    const code = `module.exports = async () => {
      const b = cloud.storage.bucket();
      const bytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
      await b.writeFile('sandbox/all.bin', bytes);
      const back = await b.readFile('sandbox/all.bin');
      return { same: Buffer.compare(back, bytes) === 0, url: await b.getDownloadUrl('sandbox/all.bin', 60) };
    }`;
    const r = await exec('storagefn', code);
    expect(r.data.same).toBe(true);
    expect(Buffer.from(await (await fetch(r.data.url)).arrayBuffer()).length).toBe(256);
  });

  it('a Cloud passed as ctx.cloud backs that invocation alone', async () => {
    const other = createCloud({ database: `${dbName}_other`, env: { WHO: 'other' } });
    await other.database().collection('secrets').insertOne({ s: 'other-tenant' });
    const code = 'module.exports = async () => [cloud.env, await cloud.database().collection("secrets").countDocuments({})]';
    expect((await executeFunction('tenant', code, '', { cloud: other })).data).toEqual([{ WHO: 'other' }, 1]);
    expect((await executeFunction('tenant', code, '', { cloud })).data).toEqual([{ GREETING: 'hi' }, 0]);
  });
});

describe('cloud.invoke', () => {
  beforeAll(async () => {
    const fns = cloud.database().collection('functions');
    await fns.insertOne({ name: 'double', compiled: 'module.exports = (ctx) => { console.log("doubling", ctx.body.x); return ctx.body.x * 2 }', hash: 'd1' });
    await fns.insertOne({ name: 'explode', compiled: 'module.exports = () => { throw new Error("callee failed") }', hash: 'e1' });
    await fns.insertOne({ name: 'loop', compiled: 'module.exports = () => cloud.invoke("loop", {})', hash: 'l1' });
  });

  it('runs the stored function, appends its logs with a [name] prefix, and returns its data', async () => {
    const r = await executeFunction('caller', 'module.exports = async () => { console.log("before"); const v = await cloud.invoke("double", { x: 21 }); console.log("after"); return v }', '', { cloud });
    expect(r.data).toBe(42);
    expect(r.logs).toEqual(['before', '[double] doubling 21', 'after']);
  });

  it("a callee's error is a rejected promise with its message", async () => {
    const r = await executeFunction('caller2', 'module.exports = async () => { try { await cloud.invoke("explode") } catch (e) { return [e.message, e.code, e.errorCode, e.logs, /explode\\.js:1/.test(e.stack)] } }', '', { cloud });
    expect(r.data).toEqual(['callee failed', 'INVOKE_FAILED', 'INVOKE_FAILED', [], true]);
  });

  it('a → a recursion stops at the depth limit with a clear error', async () => {
    const r = await executeFunction('loop', 'module.exports = () => cloud.invoke("loop", {})', '', { cloud });
    const max = process.env.RUNTIME_MAX_INVOKE_DEPTH || 8;
    expect(r.error).toBe(`cloud.invoke depth limit of ${max} exceeded (RUNTIME_MAX_INVOKE_DEPTH); is a function invoking itself?`);
  });

  it('an unknown function, and host-side invoke', async () => {
    const r = await executeFunction('caller3', 'module.exports = async () => { try { await cloud.invoke("nope") } catch (e) { return [e.message, e.errorCode] } }', '', { cloud });
    expect(r.data).toEqual(['function not found: nope', 'FUNCTION_NOT_FOUND']);
    expect(await cloud.invoke('double', { x: 5 })).toBe(10);
    const e = await errorOf(cloud.invoke('explode'));
    expect([e.code, e.errorCode, e.message]).toEqual(['INVOKE_FAILED', 'INVOKE_FAILED', 'callee failed']);
    expect(e.logs).toEqual([]);
    expect(e.stack).toMatch(/callee failed[\s\S]*explode\.js:1/);
  });

  it('a host-supplied loader replaces the function store', async () => {
    setFunctionLoader(async (name) => (name === 'fromHost' ? { compiled: 'module.exports = (ctx) => "host:" + ctx.body' } : null));
    try {
      expect((await executeFunction('c4', 'module.exports = () => cloud.invoke("fromHost", "x")', '', { cloud })).data).toBe('host:x');
    } finally {
      setFunctionLoader(null);
    }
    expect((await executeFunction('c5', 'module.exports = () => cloud.invoke("double", { x: 1 })', '', { cloud })).data).toBe(2);
  });
});
