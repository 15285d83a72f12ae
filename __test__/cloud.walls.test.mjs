// The Cloud SDK attacked as a tenant would, and the same SDK on both sides:
// the walls of a Cloud (buckets, keys, other databases, system.*, the
// function store), inputs that used to crash the host, and a parity script
// run as host code and inside a function whose results must match field by
// field. Real servers: `bash scripts/services.sh start && source .services/env`.
import { createRequire } from 'node:module';
import { describe, it, expect, beforeAll } from 'vitest';

// Small enough to pass in a test (the default is 16 MiB); read when the
// runtime starts, at this file's first call.
process.env.RUNTIME_MAX_READ_BYTES = String(1 << 20);
const require = createRequire(import.meta.url);
const { createCloud, executeFunction, ObjectId } = require('../index.js');

if (!process.env.MONGODB_URL || !process.env.S3_ENDPOINT) {
  throw new Error('start the test services first: bash scripts/services.sh start && source .services/env');
}
const dbName = `walls_${Date.now()}`;
const cloud = createCloud({ database: dbName });
const errorOf = (p) => p.then(() => null, (e) => e);
const fields = (e) => e && [e.errorCode, e.message];
// Runs `body` inside a function backed by `cloud`; it returns a value or throws.
const inFunction = async (body, data) => {
  const r = await executeFunction('walls', `module.exports = async (ctx) => { ${body} }`, '', { body: data, cloud });
  if (r.error !== undefined) throw new Error(`the function failed: ${r.error}`);
  return r.data;
};
// An error inside a function, as [errorCode, message].
const inFunctionError = (expr) => inFunction(`try { await (${expr}); return null } catch (e) { return [e.errorCode, e.message] }`);

describe('inputs that crashed the host', () => {
  beforeAll(async () => {
    const fns = cloud.database().collection('functions');
    await fns.insertMany([
      { name: 'badoid', compiled: 'module.exports = () => ({ a: { $oid: "zz" }, b: { $oid: "" }, c: { $oid: "zzzzzzzzzzzzzzzzzzzzzzzz" } })' },
      { name: 'goodoid', compiled: 'module.exports = () => ({ $oid: "65f0000000000000000000aa" })' },
    ]);
  });

  it('a function returning { $oid: "zz" } gives the host a plain object; the host survives', async () => {
    const v = await cloud.invoke('badoid');
    expect(v).toEqual({ a: { $oid: 'zz' }, b: { $oid: '' }, c: { $oid: 'zzzzzzzzzzzzzzzzzzzzzzzz' } });
    expect(v.a).not.toBeInstanceOf(ObjectId);
    const good = await cloud.invoke('goodoid');
    expect(good).toBeInstanceOf(ObjectId);
    expect(good.getTimestamp().toISOString()).toBe('2024-03-12T07:10:56.000Z');
  });

  it('ObjectId refuses what is not 24 hex characters', () => {
    for (const bad of ['zz', '', 'zzzzzzzzzzzzzzzzzzzzzzzz', '65f0000000000000000000aa0']) {
      expect(() => new ObjectId(bad)).toThrow(`ObjectId must be a 24-character hex string, got ${JSON.stringify(bad)}`);
      expect(ObjectId.isValid(bad)).toBe(false);
    }
    expect(new ObjectId('65F0000000000000000000AA').toHexString()).toBe('65f0000000000000000000aa');
  });

  it('a 100 KB key is INVALID_ARGUMENT on the host and in a function, at once', async () => {
    const msg = 'it is 102400 bytes long; keys are at most 1024 bytes';
    for (const op of [(b, k) => b.writeFile(k, 'x'), (b, k) => b.readFile(k), (b, k) => b.getDownloadUrl(k)]) {
      const e = await errorOf(op(cloud.storage.bucket(), 'k'.repeat(100 * 1024)));
      expect(e.errorCode).toBe('INVALID_ARGUMENT');
      expect(e.message).toMatch(new RegExp(`^invalid file key "k{64}…": ${msg}$`));
    }
    expect(fields(await errorOf(cloud.storage.bucket().listFiles('p'.repeat(100 * 1024))))).toEqual(['INVALID_ARGUMENT', 'listFiles: the prefix is 102400 bytes long; keys are at most 1024 bytes']);
    const t = Date.now();
    const [code, message] = await inFunctionError('cloud.storage.bucket().writeFile("k".repeat(100 * 1024), "x")');
    expect(Date.now() - t).toBeLessThan(5000);
    expect(code).toBe('INVALID_ARGUMENT');
    expect(message).toMatch(msg);
  });
});

describe('values JSON cannot carry', () => {
  it('a circular document, a BigInt, an invalid Date: INVALID_ARGUMENT with the same message on both sides', async () => {
    const cases = [
      ['(() => { const a = {}; a.self = a; return a })()', 'a cloud call argument is nested more than 100 levels deep (or is circular)'],
      ['{ n: 10n }', "a cloud call argument holds the BigInt 10, which JSON cannot carry: use a number, or { $numberLong: '10' }"],
      ['{ at: new Date("not a date") }', 'a cloud call argument holds an invalid Date'],
    ];
    const c = cloud.database().collection('json_limits');
    for (const [expr, message] of cases) {
      const doc = new Function(`return ${expr}`)();
      expect(fields(await errorOf(c.insertOne(doc)))).toEqual(['INVALID_ARGUMENT', message]);
      expect(await inFunctionError(`cloud.database().collection('json_limits').insertOne(${expr})`)).toEqual(['INVALID_ARGUMENT', message]);
    }
    expect(await c.countDocuments({})).toBe(0);
  });
});

describe('reads a function cannot make the host hold (RUNTIME_MAX_READ_BYTES)', () => {
  const coll = `big_${Date.now()}`;
  const key = `big/${Date.now()}.bin`;
  beforeAll(async () => {
    // 48 documents of 32 KiB: 1.5 MiB, over the 1 MiB limit of this file.
    const pad = 'x'.repeat(32 * 1024);
    await cloud.database().collection(coll).insertMany(Array.from({ length: 48 }, (_, i) => ({ i, pad })));
    await cloud.storage.bucket().writeFile(key, Buffer.alloc(1536 * 1024, 7));
  });

  it('a find or aggregate over the limit is READ_TOO_LARGE; a narrower one and host code read it all', async () => {
    expect(await inFunctionError(`cloud.database().collection(${JSON.stringify(coll)}).find().toArray()`)).toEqual([
      'READ_TOO_LARGE',
      `the result of find on "${coll}" is larger than 1048576 bytes (RUNTIME_MAX_READ_BYTES): narrow it with a filter, a projection or a limit, and page through the rest with skip`,
    ]);
    const [code, message] = await inFunctionError(`cloud.database().collection(${JSON.stringify(coll)}).aggregate([]).toArray()`);
    expect(code).toBe('READ_TOO_LARGE');
    expect(message).toMatch(/^the result of aggregate on "big_\d+" is larger than 1048576 bytes/);
    expect(await inFunction(`return (await cloud.database().collection(${JSON.stringify(coll)}).find({}, { limit: 16 }).toArray()).length`)).toBe(16);
    expect(await inFunction(`return (await cloud.database().collection(${JSON.stringify(coll)}).find({}, { projection: { pad: 0 } }).toArray()).length`)).toBe(48);
    expect((await cloud.database().collection(coll).find().toArray()).length).toBe(48);
  });

  it('a query that would outlive the invocation is stopped by the database server at its deadline (maxTimeMS)', async () => {
    const c = cloud.database().collection('slow');
    await c.insertMany(Array.from({ length: 10000 }, (_, i) => ({ i })));
    // Each document costs the server a 20 000-element array: ~4 s in all.
    const code = `module.exports = async () => {
      const t = Date.now();
      try {
        await cloud.database().collection('slow').find({ $expr: { $gt: [{ $size: { $range: [0, 20000] } }, 5] } }).toArray();
        return 'finished';
      } catch (e) { return [e.errorCode, e.code, e.codeName, Date.now() - t]; }
    }`;
    const r = await executeFunction('slowquery', code, '', { cloud }, { timeoutMs: 1000 });
    expect(r.error).toBeUndefined();
    const [errorCode, serverCode, codeName, ms] = r.data;
    expect([errorCode, serverCode, codeName]).toEqual(['DATABASE_ERROR', 50, 'MaxTimeMSExpired']);
    expect(ms).toBeLessThan(1000);
  });

  it('a readFile over the limit is READ_TOO_LARGE; host code reads it', async () => {
    const bucket = process.env.S3_BUCKET;
    expect(await inFunctionError(`cloud.storage.bucket().readFile(${JSON.stringify(key)})`)).toEqual([
      'READ_TOO_LARGE',
      `file ${key} in bucket ${bucket} is larger than 1048576 bytes (RUNTIME_MAX_READ_BYTES): read it with a download URL (getDownloadUrl) instead`,
    ]);
    expect((await cloud.storage.bucket().readFile(key)).length).toBe(1536 * 1024);
  });
});

describe('the walls of a Cloud', () => {
  it('only the configured bucket, and those listed in buckets, open', async () => {
    const other = 'STORAGE_BUCKET_NOT_ALLOWED';
    const msg = 'bucket not allowed: "other-bucket" is not one of this Cloud\'s buckets (createCloud({ buckets }))';
    const b = cloud.storage.bucket('other-bucket');
    // One at a time: a rejection nobody awaits yet would be reported as unhandled.
    for (const f of [() => b.readFile('x'), () => b.listFiles(), () => b.getDownloadUrl('x'), () => b.getUploadUrl('x'), () => b.writeFile('x', 'y'), () => b.deleteFile('x')]) {
      expect(fields(await errorOf(f()))).toEqual([other, msg]);
    }
    expect(await inFunctionError('cloud.storage.bucket("other-bucket").listFiles()')).toEqual([other, msg]);
    // Named explicitly, the own bucket is fine; listed buckets pass the wall.
    expect(Array.isArray(await cloud.storage.bucket(process.env.S3_BUCKET).listFiles('none/'))).toBe(true);
    const listed = createCloud({ database: dbName, buckets: ['other-bucket'] });
    expect((await errorOf(listed.storage.bucket('other-bucket').readFile('x'))).errorCode).toBe('STORAGE_BUCKET_NOT_FOUND');
  });

  it('keys that could leave the bucket are INVALID_ARGUMENT on both sides', async () => {
    const b = cloud.storage.bucket();
    await b.writeFile('walls/inside.txt', 'ok');
    for (const [key, shown, why] of [
      ['../other-bucket/secret.txt', '"../other-bucket/secret.txt"', "keys must not contain '.' or '..' path segments"],
      ['walls/../../x', '"walls/../../x"', "keys must not contain '.' or '..' path segments"],
      ['/abs', '"/abs"', "keys are relative to the bucket and must not start with '/'"],
      ['a\u0000b', '"a\\0b"', 'keys must not contain NUL or other control characters'],
      ['a\u001fb', '"a\\u{1f}b"', 'keys must not contain NUL or other control characters'],
    ]) {
      const e = await errorOf(b.readFile(key));
      expect(fields(e)).toEqual(['INVALID_ARGUMENT', `invalid file key ${shown}: ${why}`]);
      expect(await inFunctionError(`cloud.storage.bucket().readFile(${JSON.stringify(key)})`)).toEqual(fields(e));
    }
    expect(fields(await errorOf(b.readFile('')))).toEqual(['INVALID_ARGUMENT', 'the file key must be a non-empty string']);
  });

  it('keys with spaces, unicode and URL characters are encoded, not interpreted', async () => {
    const b = cloud.storage.bucket();
    const key = 'walls/a b/é ?#%&+=.txt';
    await b.writeFile(key, 'odd');
    expect((await b.readFile(key)).toString()).toBe('odd');
    expect((await b.listFiles('walls/a b/')).map((f) => f.key)).toEqual([key]);
    const res = await fetch(await b.getDownloadUrl(key, 60));
    expect([res.status, await res.text()]).toEqual([200, 'odd']);
  });

  it('aggregation stages that name another database or system.* are DATABASE_FORBIDDEN', async () => {
    const c = cloud.database().collection('agg');
    await c.insertOne({ a: 1 });
    const cases = [
      [{ $out: { db: 'victim', coll: 'x' } }, '$out: it names database "victim"; this Cloud reaches only its own database ' + JSON.stringify(dbName)],
      [{ $merge: { into: { db: 'victim', coll: 'x' } } }, '$merge: it names database "victim"; this Cloud reaches only its own database ' + JSON.stringify(dbName)],
      [{ $lookup: { from: { db: 'victim', coll: 'x' }, as: 'y', pipeline: [] } }, '$lookup: it names database "victim"; this Cloud reaches only its own database ' + JSON.stringify(dbName)],
      [{ $unionWith: { coll: 'system.users' } }, '$unionWith: collection "system.users": system.* collections are not reachable'],
      [{ $facet: { x: [{ $graphLookup: { from: 'system.views', startWith: '$a', connectFromField: 'a', connectToField: 'a', as: 'g' } }] } }, '$graphLookup: collection "system.views": system.* collections are not reachable'],
    ];
    for (const [stage, why] of cases) {
      const e = await errorOf(c.aggregate([stage]).toArray());
      expect(fields(e)).toEqual(['DATABASE_FORBIDDEN', `database access forbidden: ${why}`]);
      expect(await inFunctionError(`cloud.database().collection("agg").aggregate(${JSON.stringify([stage])}).toArray()`)).toEqual(fields(e));
    }
    const sys = await errorOf(cloud.database().collection('system.profile').findOne({}));
    expect(fields(sys)).toEqual(['DATABASE_FORBIDDEN', 'database access forbidden: collection "system.profile": system.* collections are not reachable']);
    expect(await inFunctionError('cloud.database().collection("system.js").insertOne({})')).toEqual(['DATABASE_FORBIDDEN', 'database access forbidden: collection "system.js": system.* collections are not reachable']);
    // The own database by name is fine.
    await c.aggregate([{ $out: { db: dbName, coll: 'agg_copy' } }]).toArray();
    expect(await cloud.database().collection('agg_copy').countDocuments()).toBe(1);
  });

  it('a function may not run JavaScript on the shared database server ($where, $function, $accumulator)', async () => {
    const c = 'cloud.database().collection("agg")';
    const fn = '{ $function: { body: "function () { return true }", args: [], lang: "js" } }';
    const cases = [
      [`${c}.find({ $where: "while (true) {}" }).toArray()`, 'find: $where'],
      [`${c}.findOne({ $expr: ${fn} })`, 'findOne: $function'],
      [`${c}.find({ a: 1 }).project({ x: ${fn} }).toArray()`, 'find: $function'],
      [`${c}.updateMany({ $where: "true" }, { $set: { a: 2 } })`, 'updateMany: $where'],
      [`${c}.updateOne({}, [{ $set: { a: ${fn} } }])`, 'updateOne: $function'],
      [`${c}.deleteMany({ $and: [{ a: 1 }, { $where: "true" }] })`, 'deleteMany: $where'],
      [`${c}.countDocuments({ $where: "true" })`, 'countDocuments: $where'],
      [`${c}.aggregate([{ $group: { _id: null, n: { $accumulator: { init: "function () { return 0 }", accumulate: "function (s) { return s }", accumulateArgs: [], merge: "function (a) { return a }", lang: "js" } } } }]).toArray()`, 'aggregate: $accumulator'],
      [`${c}.aggregate([{ $facet: { x: [{ $match: { $where: "true" } }] } }]).toArray()`, 'aggregate: $where'],
      // The whole bulk is refused before its first operation runs.
      [`${c}.bulkWrite([{ insertOne: { document: { a: 1 } } }, { updateOne: { filter: { $where: "true" }, update: { $set: { a: 2 } } } }])`, 'bulkWrite: $where'],
    ];
    for (const [expr, what] of cases) {
      expect(await inFunctionError(expr)).toEqual(['DATABASE_FORBIDDEN', `database access forbidden: ${what} runs JavaScript on the database server, which functions may not do; use query operators or $expr instead`]);
    }
    // Nothing changed, and the same collection still answers the function.
    expect(await inFunction('return (await cloud.database().collection("agg").find({ a: 1 }).toArray()).length')).toBe(1);
    // Data that merely looks like an operator is data.
    expect(await inFunction('await cloud.database().collection("agg_notes").insertOne({ note: "$where" }); return (await cloud.database().collection("agg_notes").findOne({ note: "$where" })).note')).toBe('$where');
  });

  it('invalid database names are refused when the Cloud is made', () => {
    for (const name of ['', 'a/b', 'a.b$', 'a b', 'x'.repeat(64)]) {
      let e;
      try { createCloud({ database: name }); } catch (err) { e = err; }
      expect(fields(e)).toEqual(['INVALID_ARGUMENT', `invalid database name ${JSON.stringify(name)}: 1 to 63 bytes, without any of / \\ . space " $ * < > : | ? or NUL`]);
    }
  });

  it('a function cannot rewrite the function store, so invoke keeps running the stored code', async () => {
    const fns = cloud.database().collection('functions');
    await fns.insertOne({ name: 'payments', compiled: 'module.exports = () => "genuine"' });
    const attack = [
      'cloud.database().collection("functions").updateOne({ name: "payments" }, { $set: { compiled: "module.exports = () => \\"attacker\\"" } })',
      'cloud.database().collection("functions").insertOne({ name: "payments", compiled: "module.exports = () => 1" })',
      'cloud.database().collection("functions").deleteMany({})',
      'cloud.database().collection("functions").findOneAndUpdate({ name: "payments" }, { $set: { compiled: "x" } })',
      'cloud.database().collection("functions").replaceOne({ name: "payments" }, { name: "payments", compiled: "x" })',
      'cloud.database().collection("functions").findOneAndReplace({ name: "payments" }, { name: "payments", compiled: "x" })',
      'cloud.database().collection("functions").drop()',
      'cloud.database().collection("functions").bulkWrite([{ deleteMany: { filter: {} } }])',
      'cloud.database().collection("functions").dropIndex("_id_")',
      'cloud.database().collection("x").aggregate([{ $merge: { into: "functions" } }]).toArray()',
      'cloud.database().collection("x").aggregate([{ $out: "functions" }]).toArray()',
    ];
    for (const expr of attack) {
      const [code, message] = await inFunctionError(expr);
      expect(code).toBe('DATABASE_FORBIDDEN');
      expect(message).toMatch(/functions may not write the function store 'functions'$/);
    }
    // Reading it is allowed; host code may still write it.
    expect(await inFunction('return (await cloud.database().collection("functions").findOne({ name: "payments" })).name')).toBe('payments');
    expect(await cloud.invoke('payments')).toBe('genuine');
    await fns.updateOne({ name: 'payments' }, { $set: { compiled: 'module.exports = () => "v2"', hash: 'v2' } });
    expect(await cloud.invoke('payments')).toBe('v2');
  });
});

// One script of database, storage and invoke operations, every error
// included, run as host code and inside a function: the results must be the
// same field by field. Values are normalised the same way on both sides.
const PARITY = `
const norm = (v) => {
  // undefined (writeFile, deleteFile) arrives from a function as null: its result crosses JSON.
  if (v === undefined) return null;
  if (v === null || typeof v !== 'object') return v;
  if (v._bsontype === 'ObjectId') return { oid: v.toHexString() };
  if (Object.prototype.toString.call(v) === '[object Date]') return { date: v.toISOString() };
  if (ArrayBuffer.isView(v)) return { bytes: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  if (Array.isArray(v)) return v.map(norm);
  const o = {};
  for (const k of Object.keys(v).sort()) o[k] = norm(v[k]);
  return o;
};
const out = [];
const step = async (name, f) => {
  try { out.push([name, 'ok', norm(await f())]); }
  catch (e) { out.push([name, 'error', { message: e.message.split(prefix).join('<p>'), code: e.code, errorCode: e.errorCode, codeName: e.codeName, logs: e.logs }]); }
};
const id = (n) => new ObjectId('65f00000000000000000000' + n);
const c = cloud.database().collection(prefix + '_c');
const at = new Date('2024-05-06T07:08:09.123Z');
await step('insertOne', () => c.insertOne({ _id: id(1), name: 'ada', at, n: 1, bytes: Buffer.from([0, 1, 255]) }));
const doc = { name: 'noid' };
await step('insertOne sets _id', async () => { const r = await c.insertOne(doc); return [doc._id instanceof ObjectId, r.insertedId.equals(doc._id)]; });
await step('insertMany', () => c.insertMany([{ _id: id(2), name: 'bob', n: 2 }, { _id: id(3), name: 'cy', n: 3 }]));
await step('findOne', () => c.findOne({ _id: id(1) }));
await step('findOne none', () => c.findOne({ name: 'nobody' }));
await step('find', () => c.find({ n: { $gte: 1 } }).sort({ n: -1 }).skip(1).limit(5).project({ name: 1 }).toArray());
await step('for await', async () => { const names = []; for await (const d of c.find({ n: { $gte: 2 } }).sort({ n: 1 })) names.push(d.name); return names; });
await step('for await aggregate', async () => { const ns = []; for await (const d of c.aggregate([{ $match: { n: { $gte: 2 } } }, { $sort: { n: 1 } }])) ns.push(d.n); return ns; });
await step('updateOne', () => c.updateOne({ _id: id(2) }, { $inc: { n: 10 } }));
await step('updateMany upsert', () => c.updateMany({ name: 'zed' }, { $set: { n: 9 } }, { upsert: true }).then((r) => ({ ...r, upsertedId: r.upsertedId instanceof ObjectId })));
await step('replaceOne', () => c.replaceOne({ _id: id(3) }, { name: 'cy', n: 30 }));
await step('countDocuments', () => c.countDocuments({ n: { $gte: 2 } }));
await step('aggregate', () => c.aggregate([{ $match: { n: { $type: 'number' } } }, { $group: { _id: null, total: { $sum: '$n' } } }]).toArray());
await step('distinct', () => c.distinct('name', { n: { $gte: 1 } }).then((v) => v.sort()));
await step('findOneAndUpdate', () => c.findOneAndUpdate({ _id: id(1) }, { $set: { n: 100 } }, { returnDocument: 'after', projection: { n: 1 } }));
await step('findOneAndDelete', () => c.findOneAndDelete({ _id: id(3) }));
await step('createIndex', () => c.createIndex({ name: 1 }, { unique: true, name: 'by_name' }));
await step('duplicate key', () => c.insertOne({ name: 'ada' }));
await step('bad update', () => c.updateOne({}, { name: 'x' }));
await step('bad returnDocument', () => c.findOneAndUpdate({}, { $set: { a: 1 } }, { returnDocument: 'later' }));
await step('system.*', () => cloud.database().collection('system.users').findOne({}));
await step('$out elsewhere', () => c.aggregate([{ $out: { db: 'elsewhere', coll: 'x' } }]).toArray());
await step('deleteOne', () => c.deleteOne({ _id: id(2) }));
await step('deleteMany', () => c.deleteMany({}));
const b = cloud.storage.bucket();
await step('writeFile', () => b.writeFile(prefix + '/bytes.bin', Buffer.from([0, 1, 2, 255])));
await step('writeFile string', () => b.writeFile(prefix + '/t.txt', 'héllo', { contentType: 'text/plain' }));
await step('readFile', () => b.readFile(prefix + '/bytes.bin'));
await step('listFiles', () => b.listFiles(prefix + '/').then((fs) => fs.map((f) => [f.key.slice(prefix.length), f.size, f.lastModified instanceof Date])));
await step('url', () => b.getDownloadUrl(prefix + '/t.txt', 60).then((u) => new URL(u).searchParams.get('X-Amz-Expires')));
await step('bad expiresIn', () => b.getUploadUrl(prefix + '/t.txt', 0));
await step('deleteFile', () => b.deleteFile(prefix + '/t.txt'));
await step('readFile missing', () => b.readFile(prefix + '/t.txt'));
await step('bucket elsewhere', () => cloud.storage.bucket('elsewhere').readFile('x'));
await step('key ..', () => b.readFile('../elsewhere/x'));
await step('invoke', () => cloud.invoke('parity_double', { x: 21 }));
await step('invoke failure', () => cloud.invoke('parity_explode').catch((e) => { throw Object.assign(e, { message: e.message + ' / stack names the callee: ' + /parity_explode\\.js:1/.test(e.stack) }); }));
await step('invoke missing', () => cloud.invoke('parity_nope'));
return out;
`;

describe('parity: host code and a function see the same results and errors', () => {
  beforeAll(async () => {
    await cloud.database().collection('functions').insertMany([
      { name: 'parity_double', compiled: 'module.exports = (ctx) => { console.log("doubling"); return ctx.body.x * 2 }' },
      { name: 'parity_explode', compiled: 'module.exports = () => { console.log("about to fail"); throw new Error("callee failed") }' },
    ]);
  });

  it('one script, field by field', async () => {
    const AsyncFunction = (async () => {}).constructor;
    const host = await new AsyncFunction('cloud', 'ObjectId', 'prefix', PARITY)(cloud, ObjectId, `parity_host_${Date.now()}`);
    const fn = await inFunction(`return (async (prefix) => { ${PARITY} })(ctx.body.prefix)`, { prefix: `parity_fn_${Date.now()}` });
    expect(fn.map((s) => s[0])).toEqual(host.map((s) => s[0]));
    for (let i = 0; i < host.length; i++) expect([i, ...fn[i]]).toEqual([i, ...host[i]]);
    // Spot checks that the script tests what it says.
    const by = Object.fromEntries(host.map(([name, ...r]) => [name, r]));
    expect(by['duplicate key'][1]).toMatchObject({ code: 11000, codeName: 'DuplicateKey', errorCode: 'DATABASE_ERROR' });
    expect(by['insertOne sets _id']).toEqual(['ok', [true, true]]);
    expect(by['for await']).toEqual(['ok', ['bob', 'cy']]);
    expect(by['invoke failure'][1]).toMatchObject({ code: 'INVOKE_FAILED', errorCode: 'INVOKE_FAILED', logs: ['about to fail'], message: 'callee failed / stack names the callee: true' });
    expect(by['findOne'][1].at).toEqual({ date: '2024-05-06T07:08:09.123Z' });
    expect(by['readFile'][1]).toEqual({ bytes: 'AAEC/w==' });
  });
});

// Random values (ObjectId, Date, Buffer, Decimal128, Long, whole and
// fractional numbers, unicode strings, nested objects and arrays) travel
// host → function → host unchanged: through the database (the host writes,
// a function reads and writes a copy, the host reads the copy) and through
// cloud.invoke. Decimal128 and Long arrive in JavaScript as numbers on both
// sides (README, API: `createCloud`).
describe('random values round-trip host → function → host', () => {
  let seed = 11;
  const rand = () => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed / 2147483648; };
  const int = (n) => Math.floor(rand() * n);
  const pick = (xs) => xs[int(xs.length)];
  const leaf = () => pick([
    () => pick(['', 'a', 'héllo', '日本語', '🙂 emoji', 'quote " and \\ backslash', '$notAnOperator', 'line\nbreak']),
    () => int(2 ** 31) - 2 ** 30,
    () => (int(2 ** 20) - 2 ** 19) / 8 + 0.5,
    () => 2 ** 40 + int(1000),
    () => rand() < 0.5,
    () => null,
    () => new ObjectId(),
    () => new Date(int(4102444800000)),
    () => Buffer.from(Array.from({ length: int(17) }, () => int(256))),
    // Written by hand in Extended JSON: stored as Decimal128 and Int64.
    () => ({ $numberDecimal: String((int(2 ** 20) - 2 ** 19) / 4) }),
    () => ({ $numberLong: String(2 ** 45 + int(1000)) }),
  ])();
  const value = (depth) => {
    const r = rand();
    if (depth > 3 || r < 0.5) return leaf();
    if (r < 0.75) return Array.from({ length: int(4) }, () => value(depth + 1));
    return Object.fromEntries(Array.from({ length: int(5) }, (_, i) => [`k${i}_${int(100)}`, value(depth + 1)]));
  };
  const norm = (v) => {
    if (v === null || typeof v !== 'object') return v;
    if (v._bsontype === 'ObjectId') return { oid: v.toHexString() };
    if (typeof v.$numberDecimal === 'string') return Number(v.$numberDecimal);
    if (typeof v.$numberLong === 'string') return Number(v.$numberLong);
    if (v instanceof Date) return { date: v.toISOString() };
    if (Buffer.isBuffer(v)) return { bytes: v.toString('base64') };
    if (Array.isArray(v)) return v.map(norm);
    return Object.fromEntries(Object.keys(v).map((k) => [k, norm(v[k])]));
  };

  it('through the database, 200 documents', async () => {
    const src = `prop_src_${Date.now()}`, dst = `prop_dst_${Date.now()}`;
    const docs = Array.from({ length: 200 }, (_, i) => ({ _id: i, v: value(0), w: { nested: [value(1), value(2)] } }));
    await cloud.database().collection(src).insertMany(docs);
    expect(await inFunction('const d = await cloud.database().collection(ctx.body.src).find({}).toArray(); await cloud.database().collection(ctx.body.dst).insertMany(d); return d.length', { src, dst })).toBe(200);
    const back = await cloud.database().collection(dst).find({}).sort({ _id: 1 }).toArray();
    expect(back.map(norm)).toEqual(docs.map(norm));
  });

  it('Decimal128 and Int64 are stored as such and read as numbers on both sides', async () => {
    const name = `prop_types_${Date.now()}`;
    const col = cloud.database().collection(name);
    await col.insertOne({ _id: 1, d: { $numberDecimal: '12.25' }, l: { $numberLong: '35184372088832' } });
    const types = await col.aggregate([{ $project: { d: { $type: '$d' }, l: { $type: '$l' } } }]).toArray();
    expect(types).toEqual([{ _id: 1, d: 'decimal', l: 'long' }]);
    expect(await col.findOne({ _id: 1 })).toEqual({ _id: 1, d: 12.25, l: 35184372088832 });
    expect(await inFunction('const x = await cloud.database().collection(ctx.body.name).findOne({ _id: 1 }); return [typeof x.d, x.d, typeof x.l, x.l]', { name }))
      .toEqual(['number', 12.25, 'number', 35184372088832]);
  });

  it('through cloud.invoke, 50 values', async () => {
    await cloud.database().collection('functions').insertOne({ name: 'echo', compiled: 'module.exports = (ctx) => ctx.body' });
    for (let i = 0; i < 50; i++) {
      const v = { i, v: value(0) };
      expect(norm(await cloud.invoke('echo', v))).toEqual(norm(v));
    }
  });
});
