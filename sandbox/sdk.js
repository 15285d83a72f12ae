'use strict';
// The Cloud SDK as JavaScript sees it, one definition for both sides: user
// code in a sandbox (this file heads the worker and Dify programs, before
// prelude.js) and host code (index.js requires it). `__makeCloud(call, …)`
// builds `database()`, `storage.bucket()`, `invoke()` and `env` over one
// transport `call(op, args)`: a worker's pipe, the Dify bridge, or the
// addon's `Cloud.call`. Every operation decodes into the one typed set in
// crates/core/src/cloud/call.rs, whose test checks the list below.

const __util = require('util');
const __crypto = require('crypto');
// ---------------------------------------------------------------- ObjectId

let __oidCounter = __crypto.randomInt(0xffffff);
const __oidRandom = __crypto.randomBytes(5);

class ObjectId {
  // A private field: invisible to JSON, inspect and equality checks of
  // plain objects, and set without reshaping the object (fast to make).
  #hex;
  constructor(id) {
    if (id === undefined || id === null) {
      const b = Buffer.alloc(12);
      b.writeUInt32BE(Math.floor(Date.now() / 1000), 0);
      __oidRandom.copy(b, 4);
      __oidCounter = (__oidCounter + 1) % 0xffffff;
      b.writeUIntBE(__oidCounter, 9, 3);
      this.#hex = b.toString('hex');
    } else if (typeof id === 'string' && /^[0-9a-fA-F]{24}$/.test(id)) {
      this.#hex = id.toLowerCase();
    } else if (id && typeof id.toHexString === 'function') {
      this.#hex = String(id.toHexString()).toLowerCase();
    } else if (id && typeof id.$oid === 'string') {
      return new ObjectId(id.$oid);
    } else {
      const shown = typeof id === 'string' ? JSON.stringify(id) : __util.inspect(id);
      const e = new TypeError('ObjectId must be a 24-character hex string, got ' + shown);
      e.code = e.errorCode = 'INVALID_ARGUMENT';
      throw e;
    }
  }
  static isValid(id) {
    try { new ObjectId(id); return id !== undefined && id !== null; } catch { return false; }
  }
  static createFromHexString(hex) { return new ObjectId(String(hex)); }
  get _bsontype() { return 'ObjectId'; }
  toHexString() { return this.#hex; }
  toString() { return this.#hex; }
  toJSON() { return this.#hex; }
  equals(other) {
    try { return other != null && new ObjectId(other).#hex === this.#hex; } catch { return false; }
  }
  getTimestamp() { return new Date(parseInt(this.#hex.slice(0, 8), 16) * 1000); }
  [__util.inspect.custom]() { return `new ObjectId('${this.#hex}')`; }
}

// ------------------------------------------------ Extended JSON on the wire

function __isObjectIdLike(v) {
  return v instanceof ObjectId || (v && v._bsontype === 'ObjectId' && typeof v.toHexString === 'function');
}

// Values leaving the sandbox: ObjectId → {$oid}, Date → {$date}, bytes →
// {$binary}. What JSON cannot carry is INVALID_ARGUMENT here, the same on
// both sides: a BigInt, an invalid Date, nesting deeper than MongoDB's 100
// levels (a circular value included).
function __toWire(v, depth = 0) {
  if (typeof v === 'bigint') {
    throw __invalid(`a cloud call argument holds the BigInt ${v}, which JSON cannot carry: use a number, or { $numberLong: '${v}' }`);
  }
  if (v === null || typeof v !== 'object') return v === undefined ? null : v;
  if (depth > 100) throw __invalid('a cloud call argument is nested more than 100 levels deep (or is circular)');
  if (__isObjectIdLike(v)) return { $oid: v.toHexString() };
  if (v instanceof Date || Object.prototype.toString.call(v) === '[object Date]') {
    const t = v.getTime();
    if (Number.isNaN(t)) throw __invalid('a cloud call argument holds an invalid Date');
    return { $date: new Date(t).toISOString() };
  }
  if (ArrayBuffer.isView(v)) {
    const b = Buffer.from(v.buffer, v.byteOffset, v.byteLength);
    return { $binary: { base64: b.toString('base64'), subType: '00' } };
  }
  // A RegExp (`{ name: /^al/i }`) became `{}` in JSON, so the filter
  // silently matched nothing. BSON regexes know i, m, s and u; g and y mean
  // nothing to a query.
  if (__util.types.isRegExp(v)) return { $regularExpression: { pattern: v.source, options: v.flags.replace(/[^imsu]/g, '') } };
  if (Array.isArray(v)) return v.map((x) => __toWire(x, depth + 1));
  const out = {};
  for (const k of Object.keys(v)) {
    if (v[k] === undefined) continue;
    const x = __toWire(v[k], depth + 1);
    // An own `__proto__` key is data, not the prototype.
    if (k === '__proto__') Object.defineProperty(out, k, { value: x, writable: true, enumerable: true, configurable: true });
    else out[k] = x;
  }
  return out;
}

// Values entering the sandbox: the reverse, in place (`v` is always freshly
// parsed JSON, so nothing else holds it; a copy cost a third of a 1 000-
// document read). Self-contained: prelude.js rebuilds it inside each
// invocation's context from its source.
function __fromWire(v) {
  if (v === null || typeof v !== 'object') return v;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x !== null && typeof x === 'object') v[i] = __fromWire(x);
    }
    return v;
  }
  const keys = Object.keys(v);
  if (keys.length === 1 && keys[0].charCodeAt(0) === 36 /* $ */) {
    // Only a valid id becomes an ObjectId: a function's `{ $oid: 'zz' }` stays a plain object.
    if (typeof v.$oid === 'string' && /^[0-9a-fA-F]{24}$/.test(v.$oid)) return new ObjectId(v.$oid);
    if (v.$date !== undefined) {
      const d = v.$date;
      if (typeof d === 'string' || typeof d === 'number') return new Date(d);
      if (d && typeof d.$numberLong === 'string') return new Date(Number(d.$numberLong));
    }
    if (v.$binary && typeof v.$binary.base64 === 'string') return Buffer.from(v.$binary.base64, 'base64');
    if (typeof v.$numberLong === 'string') return Number(v.$numberLong);
    if (typeof v.$numberDouble === 'string') return Number(v.$numberDouble);
    if (typeof v.$numberDecimal === 'string') return Number(v.$numberDecimal);
    const re = v.$regularExpression;
    if (re && typeof re.pattern === 'string') {
      // A pattern or flag JavaScript cannot read (PCRE's x, l) stays as it came.
      try { return new RegExp(re.pattern, String(re.options || '').replace(/[^imsu]/g, '')); } catch { return v; }
    }
  }
  for (const k of keys) {
    const x = v[k];
    if (x === null || typeof x !== 'object') continue;
    const y = __fromWire(x);
    if (y === x) continue;
    // An own `__proto__` key (JSON.parse makes one) is data, not the
    // prototype. (As in __toWire; inlined, since this function is compiled
    // again inside each context and can call nothing of this file.)
    if (k === '__proto__') Object.defineProperty(v, k, { value: y, writable: true, enumerable: true, configurable: true });
    else v[k] = y;
  }
  return v;
}

// -------------------------------------------------------------------- cloud

// Misuse is INVALID_ARGUMENT on both sides, with the same message.
function __invalid(message) {
  const e = new Error(message);
  e.code = e.errorCode = 'INVALID_ARGUMENT';
  return e;
}
function __need(ok, v, what) {
  if (!ok) throw __invalid(`invalid argument (got ${v === null ? 'null' : typeof v}): ${what}`);
}
const __isStr = (v) => typeof v === 'string';
const __isOptStr = (v) => v === undefined || v === null || typeof v === 'string';
function __expires(v) {
  if (v === undefined || v === null) return undefined;
  __need(typeof v === 'number', v, 'expiresIn must be a number of seconds');
  if (!(Number.isInteger(v) && v >= 1 && v <= 604800)) throw __invalid(`expiresIn must be an integer from 1 to 604800, got ${v}`);
  return v;
}

// The sort forms the Node driver takes, as the one document MongoDB reads:
// { a: -1 }, 'a' (ascending), ('a', -1), ['a', -1], [['a', -1], ['b', 1]],
// ['a', 'b'], a Map; directions 1, -1, 'asc', 'desc', 'ascending',
// 'descending'. Anything else is passed on for the core to refuse.
const __SORT_DIRECTIONS = { 1: 1, '-1': -1, asc: 1, desc: -1, ascending: 1, descending: -1 };
function __sortDirection(d) {
  if (d === undefined) return 1;
  if (d !== null && typeof d === 'object') return d; // { $meta: 'textScore' }
  const v = __SORT_DIRECTIONS[String(d).toLowerCase()];
  if (v === undefined) throw __invalid(`sort direction must be 1, -1, 'asc' or 'desc', got ${__util.inspect(d)}`);
  return v;
}
function __sortSpec(s, direction) {
  if (typeof s === 'string') return { [s]: __sortDirection(direction) };
  if (__util.types.isMap(s)) s = [...s];
  if (!Array.isArray(s)) return s;
  if (s.length === 2 && typeof s[0] === 'string' && !Array.isArray(s[1]) && (typeof s[1] !== 'string' || s[1].toLowerCase() in __SORT_DIRECTIONS)) {
    return { [s[0]]: __sortDirection(s[1]) };
  }
  const out = {};
  for (const item of s) {
    if (typeof item === 'string') out[item] = 1;
    else if (Array.isArray(item) && typeof item[0] === 'string') out[item[0]] = __sortDirection(item[1]);
    else throw __invalid(`sort must be a field name, [field, direction] pairs or an object like { field: -1 }, got ${__util.inspect(s)}`);
  }
  return out;
}
function __withSort(options) {
  return options && typeof options === 'object' && options.sort !== undefined ? Object.assign({}, options, { sort: __sortSpec(options.sort) }) : options;
}

// cloud-ops:begin — every operation name from here to cloud-ops:end is
// checked against crates/core/src/cloud/call.rs by its test.

// Cursors of the database API, defined once (two classes made per
// invocation cost ~7 µs of every call); `rpc` is the invocation's channel.
// The whole result comes in one call (bounded by the read cap), on the first
// toArray/next/hasNext/forEach; the Node driver's ways of walking it work on
// that: next() gives null at the end, forEach stops when the callback
// returns false, map() transforms what later calls give.
class __BaseCursor {
  #load; #docs = null; #at = 0; #map = null;
  constructor(load, q) { this.#load = load; this._q = q; }
  async #fill() {
    if (this.#docs === null) this.#docs = await this.#load(this._q);
    return this.#docs;
  }
  #out(d) { return this.#map ? this.#map(d) : d; }
  map(fn) {
    __need(typeof fn === 'function', fn, 'cursor.map() needs a function');
    const prev = this.#map;
    this.#map = prev ? (d) => fn(prev(d)) : fn;
    return this;
  }
  async toArray() {
    const docs = await this.#fill();
    const rest = this.#at === 0 ? docs : docs.slice(this.#at);
    this.#at = docs.length;
    return this.#map ? rest.map(this.#map) : rest;
  }
  async next() {
    const docs = await this.#fill();
    return this.#at < docs.length ? this.#out(docs[this.#at++]) : null;
  }
  async tryNext() { return this.next(); }
  async hasNext() { return this.#at < (await this.#fill()).length; }
  async forEach(fn) {
    __need(typeof fn === 'function', fn, 'cursor.forEach() needs a function');
    for (let d = await this.next(); d !== null; d = await this.next()) if (fn(d) === false) break;
  }
  rewind() { this.#at = 0; return this; }
  batchSize() { return this; }
  async close() { this.#at = this.#docs ? this.#docs.length : 0; }
  async *[Symbol.asyncIterator]() { for (let d = await this.next(); d !== null; d = await this.next()) yield d; }
}
class __Cursor extends __BaseCursor {
  #rpc;
  constructor(rpc, collection, filter, options) {
    super((q) => rpc('db.find', q), { collection, filter: filter || {}, options: Object.assign({}, options || {}) });
    this.#rpc = rpc;
  }
  sort(s, direction) { this._q.options.sort = __sortSpec(s, direction); return this; }
  limit(n) { this._q.options.limit = n; return this; }
  skip(n) { this._q.options.skip = n; return this; }
  project(p) { this._q.options.projection = p; return this; }
  // Deprecated in the driver, still common: how many documents the filter
  // matches, within skip and limit.
  count() {
    const { collection, filter, options } = this._q;
    return this.#rpc('db.countDocuments', { collection, filter, options: { skip: options.skip, limit: options.limit } });
  }
}
class __AggregationCursor extends __BaseCursor {
  constructor(rpc, collection, pipeline) { super((q) => rpc('db.aggregate', q), { collection, pipeline: pipeline || [] }); }
}

// The Node driver's bulkWrite: its operations one after another on this
// collection (not a transaction, as in the driver), run by the host in one
// call: ordered (the default) stops at the first failure, unordered runs
// them all. Every operation is checked before any runs. A failure rejects
// with the first error, carrying `result` (what was done) and `writeErrors`
// (`{ index, code, errmsg }`).
const __BULK_KINDS = ['insertOne', 'updateOne', 'updateMany', 'replaceOne', 'deleteOne', 'deleteMany'];
function __bulkOp(op, i) {
  const kind = op && typeof op === 'object' ? Object.keys(op)[0] : undefined;
  if (!__BULK_KINDS.includes(kind) || Object.keys(op).length !== 1 || !op[kind] || typeof op[kind] !== 'object') {
    throw __invalid(`bulkWrite operation ${i} must be one of { ${__BULK_KINDS.join(' | ')}: { … } }`);
  }
  const a = op[kind];
  // The wire arguments of the operation's own call (insertOne, updateOne, …).
  if (kind === 'insertOne') {
    const doc = a.document;
    if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw __invalid(`bulkWrite operation ${i}: insertOne needs { document: { … } }`);
    if (doc._id === undefined) doc._id = new ObjectId();
    return { method: kind, args: { doc } };
  }
  if (kind === 'deleteOne' || kind === 'deleteMany') return { method: kind, args: { filter: a.filter } };
  if (kind === 'replaceOne') return { method: kind, args: { filter: a.filter, replacement: a.replacement, options: { upsert: a.upsert } } };
  return { method: kind, args: { filter: a.filter, update: a.update, options: { upsert: a.upsert, arrayFilters: a.arrayFilters } } };
}
// A function's call arguments are capped (RUNTIME_MAX_RESULT_BYTES: by the
// worker before sending, by the bridge before reading on): a bulk past the
// cap goes in halves. Both refusals name the variable.
const __tooLarge = (err) => !!err && err.errorCode === 'INVALID_ARGUMENT' && /\(RUNTIME_MAX_RESULT_BYTES/.test(err.message);
async function __bulkWrite(send, ops, options) {
  __need(Array.isArray(ops), ops, 'bulkWrite needs an array of operations');
  const ordered = !(options && options.ordered === false);
  const wire = ops.map(__bulkOp);
  const result = { acknowledged: true, insertedCount: 0, matchedCount: 0, modifiedCount: 0, deletedCount: 0, upsertedCount: 0, insertedIds: {}, upsertedIds: {} };
  const errors = [];
  // Runs wire[from, to); false once an ordered bulk must stop.
  const run = async (from, to) => {
    let r;
    try {
      r = await send({ ops: wire.slice(from, to), options: { ordered } });
    } catch (err) {
      if (to - from > 1 && __tooLarge(err)) {
        const mid = from + Math.ceil((to - from) / 2);
        return (await run(from, mid)) && run(mid, to);
      }
      // Refused as a whole (a bad operation, a wall, the database
      // unreachable): as any call, if nothing ran yet; else a failure at
      // this part's first operation, after what the earlier parts did.
      if (from === 0) throw err;
      errors.push({ index: from, err });
      return false;
    }
    for (const k of ['insertedCount', 'matchedCount', 'modifiedCount', 'deletedCount', 'upsertedCount']) result[k] += r.result[k];
    for (const [i, id] of Object.entries(r.result.insertedIds)) result.insertedIds[from + Number(i)] = id;
    for (const [i, id] of Object.entries(r.result.upsertedIds)) result.upsertedIds[from + Number(i)] = id;
    for (const w of r.writeErrors) errors.push({ index: from + w.index, err: __callError(w) });
    return !(ordered && r.writeErrors.length);
  };
  if (wire.length) await run(0, wire.length);
  if (errors.length) {
    const e = errors[0].err;
    e.result = result;
    e.writeErrors = errors.map(({ index, err }) => ({ index, code: err.code, errmsg: err.message }));
    throw e;
  }
  return result;
}

// `call(op, args)` → Promise of the wire result; the driver provides it.
// `fromWire` is the decoder made inside the invocation's context, so the
// Dates, arrays and objects user code receives are of its own realm
// (`doc.at instanceof Date` holds).
function __makeCloud(call, env, logLine, fromWire) {
  const rpc = async (op, args) => fromWire(await call(op, __toWire(args)));

  const collection = (name) => {
    __need(__isStr(name), name, 'collection name must be a non-empty string');
    if (!name) throw __invalid('collection name must be a non-empty string');
    const q = (method, rest) => rpc('db.' + method, Object.assign({ collection: name }, rest));
    const self = {
      collectionName: name,
      find: (filter, options) => new __Cursor(rpc, name, filter, __withSort(options)),
      findOne: (filter, options) => q('findOne', { filter: filter || {}, options: __withSort(options) }),
      insertOne: (doc) => {
        if (doc && typeof doc === 'object' && doc._id === undefined) doc._id = new ObjectId();
        return q('insertOne', { doc });
      },
      insertMany: (docs, options) => {
        if (Array.isArray(docs)) for (const d of docs) if (d && typeof d === 'object' && d._id === undefined) d._id = new ObjectId();
        return q('insertMany', { docs, options });
      },
      updateOne: (filter, update, options) => q('updateOne', { filter, update, options }),
      updateMany: (filter, update, options) => q('updateMany', { filter, update, options }),
      replaceOne: (filter, replacement, options) => q('replaceOne', { filter, replacement, options }),
      deleteOne: (filter, options) => q('deleteOne', { filter: filter || {}, options }),
      deleteMany: (filter, options) => q('deleteMany', { filter: filter || {}, options }),
      countDocuments: (filter, options) => q('countDocuments', { filter: filter || {}, options }),
      aggregate: (pipeline) => new __AggregationCursor(rpc, name, pipeline),
      distinct: (field, filter) => q('distinct', { field, filter: filter || {} }),
      findOneAndUpdate: (filter, update, options) => q('findOneAndUpdate', { filter, update, options: __withSort(options) }),
      findOneAndDelete: (filter, options) => q('findOneAndDelete', { filter, options: __withSort(options) }),
      findOneAndReplace: (filter, replacement, options) => q('findOneAndReplace', { filter, replacement, options: __withSort(options) }),
      createIndex: (keys, options) => q('createIndex', { keys, options }),
      estimatedDocumentCount: () => q('countDocuments', { filter: {} }),
      // The server's index documents ({ v, key, name, unique?, … }).
      indexes: () => q('indexes', {}),
      listIndexes: () => new __BaseCursor(() => self.indexes()),
      dropIndex: async (indexName) => {
        __need(__isStr(indexName), indexName, 'dropIndex needs the index name (a string)');
        return q('dropIndex', { name: indexName });
      },
      // Resolves true, whether or not the collection existed.
      drop: () => q('drop', {}),
      bulkWrite: (ops, options) => __bulkWrite((args) => q('bulkWrite', args), ops, options),
    };
    return self;
  };
  const bucket = (name) => {
    __need(__isOptStr(name), name, 'bucket name must be a string');
    const b = name === undefined || name === null ? {} : { bucket: String(name) };
    // Async, so misuse rejects as a storage failure does.
    const s = async (method, key, rest) => {
      __need(__isStr(key), key, 'the file key must be a string');
      return rpc('storage.' + method, Object.assign({ key }, b, rest));
    };
    const url = async (method, key, expiresIn) => s(method, key, { expiresIn: __expires(expiresIn) });
    return {
      writeFile: async (key, data, options) => {
        __need(__isStr(data) || ArrayBuffer.isView(data), data, 'data must be a string or a Buffer');
        __need(options === undefined || options === null || typeof options === 'object', options, 'options must be an object');
        const contentType = options ? options.contentType : undefined;
        __need(__isOptStr(contentType), contentType, 'options.contentType must be a string');
        await s('writeFile', key, { data, contentType });
      },
      readFile: (key) => s('readFile', key),
      deleteFile: async (key) => { await s('deleteFile', key); },
      listFiles: async (prefix) => {
        __need(__isOptStr(prefix), prefix, 'prefix must be a string');
        return rpc('storage.listFiles', Object.assign({ prefix }, b));
      },
      getUploadUrl: (key, expiresIn) => url('getUploadUrl', key, expiresIn),
      getDownloadUrl: (key, expiresIn) => url('getDownloadUrl', key, expiresIn),
    };
  };
  const invoke = (name, data) => {
    __need(__isStr(name), name, 'the function name must be a string');
    return rpc('invoke', { name, data: data === undefined ? null : data });
  };
  // cloud-ops:end
  return Object.freeze({
    database: () => Object.freeze({ collection }),
    storage: Object.freeze({ bucket }),
    invoke: async (name, data) => {
      const r = await invoke(name, data);
      for (const line of r.logs || []) logLine(`[${name}] ${line}`);
      if (r.error !== undefined && r.error !== null) {
        const e = new Error(r.error);
        if (r.stack) e.stack = r.stack;
        e.code = e.errorCode = 'INVOKE_FAILED';
        e.logs = r.logs || [];
        throw e;
      }
      return r.data;
    },
    env: Object.freeze(Object.assign({}, env || {})),
  });
}

// The rejection a failed `call` produces inside the sandbox: the same fields
// as on the host (src/error.rs): `errorCode` is the runtime's stable code;
// `code` is it too, except for MongoDB server errors, where `code` is the
// server's number (11000) and `codeName` its name, as the Node driver has it.
function __callError(reply) {
  const e = new Error(reply.error);
  if (reply.errorCode !== undefined) { e.errorCode = reply.errorCode; e.code = reply.errorCode; }
  if (reply.code !== undefined) e.code = reply.code;
  if (reply.serverCode !== undefined) { e.code = reply.serverCode; e.serverCode = reply.serverCode; }
  if (reply.codeName !== undefined) e.codeName = reply.codeName;
  return e;
}

if (typeof module === 'object' && module !== null) {
  module.exports = { ObjectId, makeCloud: __makeCloud, fromWire: __fromWire, invalid: __invalid };
}
