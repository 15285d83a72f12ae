/* @simple-ide/runtime: written by hand, the user's manual of every export,
 * option, default and error. The native part is generated into binding.js by
 * napi-rs; index.js adds the Cloud SDK (sandbox/sdk.js, the same code a
 * function's `cloud` runs) and `ctx` handling. */

/**
 * Which binding artifact the generated loader actually loaded: `'native'` for
 * a native addon, otherwise the `platformArchABI` of the WASI flavor. Every
 * flavor napi-rs can build is listed, because `NAPI_RS_NATIVE_LIBRARY_PATH`
 * can point the loader at a WASI artifact this package does not build itself.
 */
export declare const __napiBindingTarget: 'native' | 'wasm32-wasi' | 'wasm32-wasip1'

/**
 * What `find()` and `aggregate()` cursors share: the MongoDB Node driver's
 * ways of walking a result.
 */
export interface Cursor {
  /** The documents not yet walked (all of them on a fresh cursor). */
  toArray(): Promise<any[]>
  /**
   * The documents one at a time (the whole result is read in one call, on
   * the first of toArray/next/hasNext/forEach): null after the last.
   */
  next(): Promise<any | null>
  /** As `next()`. */
  tryNext(): Promise<any | null>
  hasNext(): Promise<boolean>
  /** Calls `fn` for each document left; stops when it returns `false`. `INVALID_ARGUMENT` if `fn` is not a function. */
  forEach(fn: (doc: any) => unknown): Promise<void>
  /** Transforms what later calls give (chainable). `INVALID_ARGUMENT` if `fn` is not a function. */
  map(fn: (doc: any) => any): this
  /** Back to the first document (no new query). */
  rewind(): this
  /** Accepted for the driver's sake; the result comes in one call. */
  batchSize(size: number): this
  close(): Promise<void>
  /** `for await (const doc of cursor)`: the documents not yet walked, one by one. */
  [Symbol.asyncIterator](): AsyncGenerator<any, void, undefined>
}

/** The result of `aggregate()`. */
export interface AggregationCursor extends Cursor {}

/**
 * One S3 bucket. Rejections: `STORAGE_BUCKET_NOT_ALLOWED` (not this
 * Cloud's bucket nor listed in `buckets`), `INVALID_ARGUMENT` (a key that
 * is empty, absolute, has a `..` segment or a control character, or is
 * over 1 024 bytes), `STORAGE_NOT_FOUND` (no such key),
 * `STORAGE_BUCKET_NOT_FOUND`, `STORAGE_AUTH` (credentials rejected),
 * `STORAGE_ERROR` (unreachable, other), `NOT_CONFIGURED`. An argument of
 * the wrong type rejects with `INVALID_ARGUMENT` (`invalid argument (got
 * number): …`), on the host and in a function alike.
 */
export interface Bucket {
  /** Stores a string (UTF-8) or bytes under `key`. */
  writeFile(key: string, data: string | Buffer, options?: WriteFileOptions | undefined | null): Promise<void>
  /**
   * The bytes under `key`, as a Buffer. Inside a function, a file over
   * `RUNTIME_MAX_READ_BYTES` (16 MiB) rejects with `READ_TOO_LARGE`: read
   * it with a download URL instead.
   */
  readFile(key: string): Promise<Buffer>
  deleteFile(key: string): Promise<void>
  /**
   * Every object under `prefix` (all pages). Inside a function, a listing
   * over `RUNTIME_MAX_READ_BYTES` (each entry counted as its key plus 64
   * bytes) rejects with `READ_TOO_LARGE`: list a narrower prefix.
   */
  listFiles(prefix?: string | undefined | null): Promise<Array<{ key: string, size: number, lastModified: Date | null, etag: string | null }>>
  /**
   * A SigV4-presigned PUT URL. `expiresIn` seconds, 1 to 604800 (7 days).
   * @default expiresIn 3600
   * Rejects with `INVALID_ARGUMENT` when `expiresIn` is not a whole number from 1 to 604800.
   */
  getUploadUrl(key: string, expiresIn?: number | undefined | null): Promise<string>
  /**
   * A SigV4-presigned GET URL. `expiresIn` seconds, 1 to 604800 (7 days).
   * @default expiresIn 3600
   * Rejects with `INVALID_ARGUMENT` when `expiresIn` is not a whole number from 1 to 604800.
   */
  getDownloadUrl(key: string, expiresIn?: number | undefined | null): Promise<string>
}

/**
 * The Cloud SDK: `database()`, `storage.bucket()`, `invoke()`, `env`. Host
 * code and functions run the same SDK (sandbox/sdk.js) over the same typed
 * operations, so a call gives the same result and the same error on both
 * sides. Made by `createCloud()` (`new Cloud()` throws).
 */
export declare class Cloud {
  private constructor()
  /**
   * The database (MongoDB at `mongoUrl`). Its calls reject with
   * `NOT_CONFIGURED` when no URL is set, `DATABASE_UNREACHABLE` when no
   * server answers within 2 s (then at once, until a background probe
   * sees it answer), `DATABASE_ERROR` for server errors (then `code` is
   * the server's number and `codeName` its name, e.g. 11000 and
   * `DuplicateKey`), `DATABASE_FORBIDDEN` for `system.*` collections,
   * aggregation stages that name another database and, inside a function,
   * `$where`, `$function` and `$accumulator` (JavaScript the database server runs).
   */
  database(): Db
  /** S3 storage. */
  readonly storage: Storage
  /** The variables given to functions (`FUNCTION_ENV_*`, prefix stripped); frozen. */
  readonly env: Readonly<Record<string, string>>
  /**
   * Runs the stored function `name` with `ctx.body = data`, backed by this
   * Cloud, and resolves with its return value. Rejects with the function's
   * own error message (`errorCode` `INVOKE_FAILED`, with the callee's
   * `logs` and `stack` on the error), `FUNCTION_NOT_FOUND`, or the
   * database's error.
   */
  invoke(name: string, data?: any): Promise<any>
}

/**
 * A collection with the MongoDB Node driver's method names, arguments and
 * result shapes. Arguments cross to the runtime as Extended JSON (ObjectId,
 * Date and Buffer kept); a value JSON cannot carry (a BigInt, an invalid
 * Date, nesting deeper than 100 levels or a cycle) rejects with
 * `INVALID_ARGUMENT`, on the host and in a function alike. Inside a
 * function, a `find` or `aggregate` whose documents pass
 * `RUNTIME_MAX_READ_BYTES` (16 MiB of BSON) rejects with `READ_TOO_LARGE`.
 */
export interface Collection {
  readonly collectionName: string
  /** A cursor; nothing is sent until `toArray()`. */
  find(filter?: unknown | undefined | null, options?: unknown | undefined | null): FindCursor
  findOne(filter?: unknown | undefined | null, options?: unknown | undefined | null): Promise<any | null>
  insertOne(doc: unknown): Promise<{ acknowledged: boolean, insertedId: any }>
  /**
   * `{ ordered: false }` inserts every document it can (the default stops at
   * the first failure); either way a failure rejects with its error.
   * `INVALID_ARGUMENT` if `ordered` is not a boolean.
   */
  insertMany(docs: unknown, options?: { ordered?: boolean } | undefined | null): Promise<{ acknowledged: boolean, insertedCount: number, insertedIds: Record<number, any> }>
  updateOne(filter: unknown, update: unknown, options?: unknown | undefined | null): Promise<{ acknowledged: boolean, matchedCount: number, modifiedCount: number, upsertedCount: number, upsertedId: any }>
  updateMany(filter: unknown, update: unknown, options?: unknown | undefined | null): Promise<{ acknowledged: boolean, matchedCount: number, modifiedCount: number, upsertedCount: number, upsertedId: any }>
  replaceOne(filter: unknown, replacement: unknown, options?: unknown | undefined | null): Promise<{ acknowledged: boolean, matchedCount: number, modifiedCount: number, upsertedCount: number, upsertedId: any }>
  deleteOne(filter?: unknown | undefined | null): Promise<{ acknowledged: boolean, deletedCount: number }>
  deleteMany(filter?: unknown | undefined | null): Promise<{ acknowledged: boolean, deletedCount: number }>
  countDocuments(filter?: unknown | undefined | null, options?: unknown | undefined | null): Promise<number>
  aggregate(pipeline?: unknown | undefined | null): AggregationCursor
  distinct(field: string, filter?: unknown | undefined | null): Promise<any[]>
  /**
   * Resolves with the document (before the update unless
   * `returnDocument: 'after'`), or null.
   */
  findOneAndUpdate(filter: unknown, update: unknown, options?: unknown | undefined | null): Promise<any | null>
  findOneAndDelete(filter: unknown, options?: unknown | undefined | null): Promise<any | null>
  /**
   * Replaces the first match with `replacement` (no update operators:
   * `INVALID_ARGUMENT`); options `upsert`, `returnDocument` ('before', the
   * default, or 'after'), `projection`, `sort`. Resolves with the document or null.
   */
  findOneAndReplace(filter: unknown, replacement: unknown, options?: unknown | undefined | null): Promise<any | null>
  /** Resolves with the index name. */
  createIndex(keys: unknown, options?: unknown | undefined | null): Promise<string>
  /** `countDocuments({})`. */
  estimatedDocumentCount(): Promise<number>
  /** The server's index documents: `[{ v, key, name, unique?, … }]`. */
  indexes(): Promise<any[]>
  /** The same as a cursor (`listIndexes().toArray()`). */
  listIndexes(): Cursor
  /** Resolves `{ ok: 1 }`; a name that is not a string is `INVALID_ARGUMENT`, an unknown index `DATABASE_ERROR`. */
  dropIndex(name: string): Promise<{ ok: number }>
  /** Drops the collection and its indexes; resolves true whether or not it existed. */
  drop(): Promise<boolean>
  /**
   * The Node driver's `bulkWrite`: `[{ insertOne: { document } }, {
   * updateOne | updateMany: { filter, update, upsert?, arrayFilters? } }, {
   * replaceOne: { filter, replacement, upsert? } }, { deleteOne |
   * deleteMany: { filter } }]`, run one after another (not a transaction)
   * by the host, in one call from a function (in parts past
   * RUNTIME_MAX_RESULT_BYTES of arguments, each part checked before it
   * runs). Every operation is checked before any runs: another shape (`bulkWrite operation 1 must be one of
   * { insertOne | … }`) or a bad argument (`bulkWrite operation 1:
   * updateOne: 'filter' is required`) is `INVALID_ARGUMENT`, and a wall
   * (`$where`, the function store) refuses the whole bulk. Ordered (the
   * default) stops at the first failure; `{ ordered: false }` runs them
   * all. A failure rejects with the first error, carrying `result` (what
   * was done) and `writeErrors` (`[{ index, code, errmsg }]`).
   */
  bulkWrite(operations: unknown[], options?: { ordered?: boolean } | undefined | null): Promise<{
    acknowledged: boolean, insertedCount: number, matchedCount: number, modifiedCount: number, deletedCount: number,
    upsertedCount: number, insertedIds: Record<number, any>, upsertedIds: Record<number, any>
  }>
}

/** A database, as `client.db()` of the MongoDB Node driver. */
export interface Db {
  /** Throws `INVALID_ARGUMENT` for a name that is not a non-empty string. */
  collection(name: string): Collection
}

/**
 * The result of `find()`: chain `sort`, `limit`, `skip`, `project`, then
 * `toArray()`, or walk it as the MongoDB Node driver's cursors are walked.
 */
export interface FindCursor extends Cursor {
  /**
   * The driver's forms: `{ a: -1 }`, `'a'`, `('a', -1)`, `['a', -1]`,
   * `[['a', -1], ['b', 1]]`, `['a', 'b']`, a Map; directions 1, -1, 'asc',
   * 'desc', 'ascending', 'descending' (the `sort` option of find, findOne,
   * findOneAndUpdate and findOneAndDelete takes them too). Throws
   * `INVALID_ARGUMENT` for another direction or shape.
   */
  sort(sort: unknown, direction?: 1 | -1 | 'asc' | 'desc' | 'ascending' | 'descending'): this
  limit(limit: unknown): this
  skip(skip: unknown): this
  project(projection: unknown): this
  /** How many documents the filter matches, within `skip` and `limit` (the driver's deprecated `count()`). */
  count(): Promise<number>
}

/** A MongoDB ObjectId (12 bytes, shown as 24 hex characters). */
export declare class ObjectId {
  /**
   * A new id, or the id given as 24 hex characters.
   * Throws `INVALID_ARGUMENT` for anything else.
   */
  constructor(id?: string | undefined | null)
  /** True for a 24-character hex string. */
  static isValid(id: string): boolean
  static createFromHexString(hex: string): ObjectId
  toHexString(): string
  toString(): string
  /** JSON form: the hex string, as the `bson` package does. */
  toJSON(): string
  /** `'ObjectId'`, so code written for the `bson` package recognises it. */
  readonly _bsontype: 'ObjectId'
  /** Same id? Accepts an ObjectId or a hex string. */
  equals(other: ObjectId | string): boolean
  /** The creation time encoded in the id. */
  getTimestamp(): Date
}

/** S3 storage: `bucket(name?)`. */
export interface Storage {
  /** A bucket; without a name, the configured default (`S3_BUCKET`). */
  bucket(name?: string | undefined | null): Bucket
}

/** Options of `createCloud`; each falls back to the environment. */
export interface CloudOptions {
  /** @default MONGODB_URL */
  mongoUrl?: string
  /** @default MONGODB_DB or 'simple_ide' */
  database?: string
  /**
   * Where `invoke` finds functions (`{ name, compiled, hash }` documents).
   * @default FUNCTIONS_COLLECTION or 'functions'
   */
  functionsCollection?: string
  s3?: S3Options
  /**
   * Buckets besides `s3.bucket` that `storage.bucket(name)` may open;
   * any other is refused with `STORAGE_BUCKET_NOT_ALLOWED`.
   * @default S3_BUCKETS (comma-separated), else none
   */
  buckets?: Array<string>
  /**
   * `cloud.env` for functions backed by this Cloud.
   * @default the FUNCTION_ENV_* variables, prefix stripped
   */
  env?: Record<string, string>
  /**
   * The tenant of functions run with this Cloud as `ctx.cloud` (1 to 128 characters):
   * Clouds with the same tenant share warm workers and cached programs.
   * @default a tenant of this Cloud's own
   */
  tenant?: string
}

/** One syntax error found by `validateCode`. */
export interface CodeError {
  message: string
  /** 1-based. */
  line: number
  /** 1-based, in UTF-16 units (as JavaScript strings count). */
  column: number
}

/**
 * `base64(gzip(JSON.stringify(logs)))`: what `zlib.gunzipSync(Buffer.from(s, 'base64'))`
 * and `JSON.parse` read back.
 */
export declare function compressLogs(logs: string[]): string

/**
 * Creates a Cloud: the SDK for host code, and (passed as `ctx.cloud` to
 * `executeFunction`) the Cloud that backs an invocation. Nothing connects
 * until a call needs it; a missing setting is a `NOT_CONFIGURED` error at
 * that call, naming the variable to set.
 * Throws `INVALID_ARGUMENT` for options of the wrong type, named by their
 * path (`options.s3 must be an object, got string`, `options.env must be an
 * object of strings, got a number in it`), and for a database name MongoDB would not accept or that names a path (`''`,
 * `'a/b'`, `'a.b$'`).
 */
export declare function createCloud(options?: CloudOptions | undefined | null): Cloud

/**
 * The reverse of `compressLogs` (also reads Node's own gzip + base64).
 * Throws `INVALID_ARGUMENT` for invalid base64, data that is not gzip, more than
 * 64 MiB once decompressed, or JSON that is not an array of strings.
 */
export declare function decompressLogs(s: string): Array<string>

/**
 * Runs a function in the sandbox and resolves with its result.
 *
 * - `name`: the function's name (used in stack traces as `name.js`, or `name.ts`): 1 to
 *   1 024 bytes, no control characters or line breaks.
 * - `code`: CommonJS (`module.exports = fn`, `exports.default = fn` or `exports.main = fn`),
 *   or an ES module (`export default fn`, `export function main`), in JavaScript or, with
 *   `options.language: 'typescript'`, TypeScript. ES modules and TypeScript are compiled in
 *   Rust once per code version; `import` may name Node built-ins only.
 * - `hash`: identifies this version of the code for the module cache; `''` hashes the code.
 * - `ctx`: `{ body, query, headers, method, path, requestId, user }` (JSON). The function
 *   is called as `fn(ctx)` with `ctx.cloud` (and the global `cloud`) added. A `Cloud` from
 *   `createCloud()` in `ctx.cloud` backs this invocation alone (its database, storage,
 *   env); otherwise the default Cloud, configured from the environment, does.
 *
 * Resolves (never rejects) for anything the function did: throw, timeout, crash,
 * out-of-memory, bad return value — see `ExecuteResult.error` and `errorCode`. Throws or
 * rejects only for misuse: `INVALID_ARGUMENT` (an argument of the wrong type, an empty,
 * too long or control-character name, an option out of range or of the wrong type, ctx
 * not JSON), `CONFIG_INVALID` (a bad
 * RUNTIME_* variable), `WORKER_FAILED` (node could not be started), `SHUT_DOWN` (after
 * `shutdown()`), and on the dify backend `SANDBOX_*` (see the README). Inside a function on
 * the dify backend, a `fetch` the egress policy refuses rejects with a `TypeError` whose
 * `errorCode` is `EGRESS_REFUSED` (the message names the address and
 * `RUNTIME_EGRESS_ALLOW`); an allowed one that fails, `EGRESS_FAILED`.
 */
export declare function executeFunction(name: string, code: string, hash?: string | undefined | null, ctx?: object | undefined | null, options?: ExecuteOptions | undefined | null): Promise<ExecuteResult>

/**
 * Per-call options of `executeFunction`; each falls back to the environment.
 * A value of the wrong type, or a number out of range or not whole, is an
 * `INVALID_ARGUMENT` error naming the option (`invalid argument:
 * options.timeoutMs must be a number, got string`).
 */
export interface ExecuteOptions {
  /**
   * Whose function this is. A local worker serves one tenant for its whole life, and
   * compiled programs are cached per tenant, so tenants never share a process, a
   * module cache, a temp folder or timers. 1 to 128 characters.
   * @default the tenant of `ctx.cloud` (each `createCloud()` object is its own tenant
   * unless created with `{ tenant }`), else `'default'`
   */
  tenant?: string
  /**
   * Milliseconds the function may run, counted from when it starts (time spent
   * waiting for a free worker is bounded separately by RUNTIME_QUEUE_TIMEOUT_MS).
   * An integer from 1 to RUNTIME_MAX_TIMEOUT_MS (default 900000).
   * @default RUNTIME_TIMEOUT_MS or 10000
   */
  timeoutMs?: number
  /**
   * Heap limit of the local worker in MB, an integer from 16 to RUNTIME_MAX_MEMORY_MB
   * (default: the machine's memory). A value other than RUNTIME_MEMORY_MB runs on a
   * fresh one-off worker (a cold start of ~50 ms). Not enforced by the dify backend.
   * @default RUNTIME_MEMORY_MB or 256
   */
  memoryMb?: number
  /**
   * Called with each log line as the function writes it (the same text as
   * the result's `logs`, `[TRUNCATED] …` marker included), for a live
   * console: on the local pool while the function runs, on the dify backend
   * when the run is over (the server answers once). Lines of a nested
   * `cloud.invoke` come as the caller logs them (`[callee] …`). A callback
   * that throws is ignored; anything else than a function rejects with
   * `INVALID_ARGUMENT` (`options.onLog must be a function, got string`).
   */
  onLog?: (line: string) => void
  /**
   * Keep the function's context between this tenant's calls (local pool).
   * Off: every call gets a fresh context. On: as in AWS Lambda, the module
   * runs once per worker and its state (module-level variables,
   * `globalThis`, changes to built-ins) stays for later calls of the same
   * code on that worker, a cache but never a store (which worker serves a
   * call is not fixed). Console, `cloud` (and its `env`), `fetch` and timers
   * are always the current call's, even when captured at module level; a
   * call's timers end with it; a promise a call did not await may log into
   * or fail the next call. Tenants never share a context. The dify backend
   * and `runCode` start afresh every time; `cloud.invoke` callees follow
   * RUNTIME_REUSE_CONTEXT. Not a boolean: `INVALID_ARGUMENT`
   * (`options.reuseContext must be a boolean, got string`).
   * @default RUNTIME_REUSE_CONTEXT, else false
   */
  reuseContext?: boolean
  /**
   * `'typescript'` (`'ts'`): TypeScript, stripped in Rust (no type checking);
   * `'javascript'` (`'js'`, `'nodejs'`): CommonJS, or ES modules compiled to it.
   * Stacks and syntax errors name the source file and line (`name.ts:7`).
   * `'python3'` is reserved (INVALID_ARGUMENT).
   * @default 'nodejs'
   */
  language?: string
  /**
   * `'local'` (warm worker pool) or `'dify'` (the Dify Sandbox at SANDBOX_URL).
   * @default RUNTIME_BACKEND, else 'dify' when SANDBOX_URL is set, else 'local'
   */
  backend?: string
}

/** What `executeFunction` resolves with. It resolves for anything the function did. */
export interface ExecuteResult {
  /**
   * The function's return value as JSON (`undefined` → `null`). Any depth JSON allows
   * arrives; strings with lone surrogates arrive unchanged.
   */
  data: any
  /**
   * One string per console call, `util.format`-style; `console.error` lines start
   * `[ERROR] `, `warn` `[WARN] `, `debug` `[DEBUG] `; `console.group` indents what follows
   * by two spaces a level (after that prefix) and `console.table` draws Node's table. Capped at 1 MiB with a
   * `[TRUNCATED] …` marker line. Lines of a `cloud.invoke`d function are prefixed `[name] `.
   * A logged stack (`console.error(err)`) names the user's file and lines as `stack` does,
   * without the runtime's own frames.
   */
  logs: Array<string>
  /** Wall milliseconds of the execution. */
  time: number
  /**
   * Set when the function failed: its message, or the runtime's (`Function timed out
   * after N ms`, `Function ran out of memory…`, `SyntaxError: … (name.js:LINE)` or
   * `(name.ts:LINE)`, `No callable export…`, `import.meta is not supported…`, `Unhandled promise
   * rejection: …`, `Uncaught exception in a timer callback: …`, `process.exit(…) is not
   * allowed…`, `Function returned a value that cannot be converted to JSON: …`).
   */
  error?: string
  /**
   * The error's stack, with the user's own line numbers (`name.js:LINE:COL`; for
   * TypeScript `name.ts:LINE:COL`, mapped back through the compiler's source map), and
   * only the function's own frames: the runtime's worker script and Node's internals are
   * left out of every stack a function sees, too. A stack the function returns as a value
   * keeps the compiled program's `name.js` positions.
   */
  stack?: string
  /**
   * The kind of failure, stable for programs to branch on (set with `error`):
   * `FUNCTION_THREW` (the function threw or rejected), `TIMEOUT` (ran past timeoutMs),
   * `QUEUE_TIMEOUT` (no free worker within RUNTIME_QUEUE_TIMEOUT_MS; it did not run),
   * `OUT_OF_MEMORY`, `EXITED` (process.exit), `CRASHED` (the worker died otherwise),
   * `SYNTAX_ERROR` (also TypeScript, ES-module or snippet code too large or too deeply
   * nested to parse safely: see `validateCode`), `ESM_SYNTAX` (`import.meta` or top-level
   * `await` in a module),
   * `NO_EXPORT` (nothing callable exported, or a class),
   * `BAD_RESULT` (BigInt, circular), `RESULT_TOO_LARGE` (over RUNTIME_MAX_RESULT_BYTES,
   * default 6 MiB), `BLOCKED` (the sandbox refused an operation), `PROTOCOL_VIOLATION`
   * (the function wrote to the worker's protocol channel or forged frames).
   */
  errorCode?: string
}

/**
 * The runtime's state, cheap enough for a load balancer's probe (no I/O, does not start
 * the pool).
 */
export declare function health(): Health

/** What `health()` returns. */
export interface Health {
  /** `ok`, `degraded` (a service is down) or `shut_down`. */
  status: string
  /** `local` or `dify`. */
  backend: string
  pool: PoolHealth
  /** The active isolation layers; absent until the local pool has started. */
  isolation?: IsolationHealth
  services: ServicesHealth
}

/** The kernel layers every local worker runs under (see the README's security model). */
export interface IsolationHealth {
  /** `auto` or `strict` (RUNTIME_ISOLATION). */
  level: string
  /** The Landlock ABI in force; 0 when Landlock is not applied. */
  landlock: number
  /** Whether the seccomp deny-list is applied. */
  seccomp: boolean
  /** Namespaces each worker gets: some of `user`, `mount`, `net`, `ipc`, `pid`. */
  namespaces: Array<string>
  /** Whether RLIMIT_DATA/FSIZE/NOFILE/CORE are set. */
  rlimits: boolean
  /** The uid workers run as (a root host only); absent when they keep the host's. */
  uid?: number
  /**
   * Whether Node's permission model (`--permission`) is on too: a second fence, not the
   * one the isolation rests on (RUNTIME_ISOLATION_DISABLE=permission turns it off).
   */
  nodePermission: boolean
  /**
   * How much nicer than the host workers run (RUNTIME_WORKER_NICE, default 10; 0 on systems
   * other than Linux): the host's event loop wins a shared core over function code.
   */
  nice: number
}

/**
 * The `x-function-logs` value, at most `maxBytes` long (proxies reject large headers):
 * when all lines do not fit it keeps the first ones and ends with
 * `[runtime] N log lines dropped to fit the M-byte header`.
 * Throws `INVALID_ARGUMENT` when `maxBytes` is not a whole number from 1 to 2**31, or
 * cannot hold even that line.
 * @default maxBytes 8192
 */
export declare function logsHeader(logs: string[], maxBytes?: number | undefined | null): string

/**
 * Prometheus text: `runtime_invocations_total{status}`,
 * `runtime_invocation_failures_total{code}` (one series per `errorCode`), the
 * `runtime_invocation_duration_ms` histogram, `runtime_pool_workers{state}`,
 * `runtime_pool_queued`, `runtime_pool_workers_replaced_total`,
 * `runtime_sandbox_errors_total`, `runtime_compiles_total` (programs compiled into
 * the module cache: a miss; concurrent first runs of the same code count once).
 */
export declare function metrics(): string

/** The local pool's counts, as `health().pool` reports them. */
export interface PoolHealth {
  /** Worker processes alive. */
  workers: number
  idle: number
  busy: number
  /** Invocations waiting for a free worker. */
  queued: number
  /** Workers replaced after a fault since start. */
  replaced: number
  /** Idle workers not yet bound to a tenant (a new tenant's first call takes one). */
  blank: number
  /** Tenants with an idle worker. */
  tenants: number
  /** RUNTIME_MAX_WORKERS: the cap on every worker process. */
  maxWorkers: number
}

/**
 * Runs a code snippet the way coze-loop's code runner does, on the warm pool (or the
 * Dify Sandbox): `runCode({ language: 'js', code: "console.log('Hello World'); return 42;" })`
 * resolves with `{ stdout: 'Hello World
', stderr: '', retVal: '42', exitCode: 0, time }`.
 * Resolves for anything the code did (throw, timeout, syntax error: see `exitCode`,
 * `error`); rejects only for misuse: `INVALID_ARGUMENT` (unknown language, `python3`,
 * timeoutMs out of range, a missing or mistyped option: `invalid argument:
 * options.code is required`), and the errors `executeFunction` rejects with.
 */
export declare function runCode(options: RunCodeOptions): Promise<RunCodeResult>

/** What `runCode` runs. */
export interface RunCodeOptions {
  /** `'javascript'` (`'js'`, `'nodejs'`) or `'typescript'` (`'ts'`). */
  language: string
  /**
   * A function body: top-level `return` (the result) and `await`; `import` of Node
   * built-ins works, `export` does not.
   */
  code: string
  /**
   * An integer from 1 to RUNTIME_MAX_TIMEOUT_MS.
   * @default RUNTIME_TIMEOUT_MS or 10000
   */
  timeoutMs?: number
  /**
   * `'local'` or `'dify'`, as for executeFunction.
   * @default RUNTIME_BACKEND
   */
  backend?: string
}

/** What `runCode` resolves with: a process's view of the snippet. */
export interface RunCodeResult {
  /**
   * `console.log`/`info`/`debug`/`dir`/`table`/`count`/`time…` output (indented by
   * `console.group`), as a process prints it: the snippet's console is Node's `Console`;
   * `process.stdout.write(chunk)` appends the chunk exactly as written.
   */
  stdout: string
  /**
   * `console.error`/`warn`/`trace`/`assert`, `process.stderr.write` and
   * `process.emitWarning` output; on failure, ends with the error's stack
   * (positions in the user's code: `snippet.ts:3:7`) or message.
   */
  stderr: string
  /** The return value as JSON text (`'42'`, `'{"a":1}'`); `''` when nothing was returned. */
  retVal: string
  /** 0 when the snippet completed, 1 when it threw, did not compile or timed out. */
  exitCode: number
  /** Wall milliseconds of the run. */
  time: number
  /** Set on failure: the message (`Function timed out after N ms`, `SyntaxError: … (snippet.js:1)`, the thrown message). */
  error?: string
  /** As `ExecuteResult.errorCode`: `FUNCTION_THREW`, `TIMEOUT`, `SYNTAX_ERROR`, …. */
  errorCode?: string
}

/** S3 settings; each falls back to the environment. */
export interface S3Options {
  /** @default S3_ENDPOINT (AWS when unset) */
  endpoint?: string
  /** @default S3_REGION or 'us-east-1' */
  region?: string
  /** @default S3_ACCESS_KEY */
  accessKeyId?: string
  /** @default S3_SECRET_KEY */
  secretAccessKey?: string
  /**
   * The bucket of `storage.bucket()` with no name.
   * @default S3_BUCKET
   */
  bucket?: string
  /**
   * Path-style URLs (`endpoint/bucket/key`).
   * @default S3_FORCE_PATH_STYLE, else true when an endpoint is set
   */
  forcePathStyle?: boolean
}

/**
 * The state of each service of the default Cloud: `up` (its last call worked), `down`
 * (unreachable: calls fail fast until a background probe sees it answer), `unknown` (not
 * called yet) or `not_configured`.
 */
export interface ServicesHealth {
  database: string
  storage: string
}

/**
 * Sets how `cloud.invoke(name)` finds functions: `loader(name)` must return
 * a Promise of `{ compiled, hash?, name? }` (or `code` for `compiled`), or
 * of `null` when there is no such function (`FUNCTION_NOT_FOUND`). A loader
 * that throws, returns something other than a Promise, rejects, or resolves
 * to another shape makes that `cloud.invoke` reject with `LOADER_FAILED`
 * (the host keeps running). `null` restores the default: the
 * `FUNCTIONS_COLLECTION` collection of the invocation's Cloud.
 */
export declare function setFunctionLoader(loader: ((name: string) => Promise<{ name?: string, compiled: string, hash?: string } | null>) | null): void

/**
 * Stops the runtime: resolves when running invocations have finished (or met their
 * deadline), every worker process has exited and the pool's temp folders are removed.
 * Invocations still waiting for a worker, and every later call, fail with `SHUT_DOWN`.
 */
export declare function shutdown(): Promise<void>

/**
 * Checks the syntax of `code` in Rust, without running it or starting a sandbox
 * (microseconds to a few ms). The code is read as a snippet, a function body: top-level
 * `return` and `await` are valid, and so are `import`/`export`, so a module validates
 * too. Early errors count (a `let` declared twice, `break` outside a loop, an invalid
 * regular expression); types are not checked. As `runCode` runs it, a snippet is a
 * sloppy-mode function body: `with`, `010` and `delete x` are valid unless it starts with
 * `'use strict'` or uses `import`/`export` (module code is strict); so is `new.target`
 * (undefined), as code runs inside a function. `language`: `'typescript'` (`'ts'`) or `'javascript'` (`'js'`, `'nodejs'`);
 * any other is an `INVALID_ARGUMENT` error.
 *
 * The grammar is the newest ECMAScript oxc reads (ES2026), whatever node the workers run:
 * syntax newer than that node (`using` declarations before Node 24, regular-expression
 * modifiers `/(?i:a)b/` and duplicate named groups before Node 23) validates, then fails
 * as a `SYNTAX_ERROR` at its line when it runs there.
 *
 * The parser recurses on the native stack, so code reaches it only when an upper bound
 * on the stack it could need (every token charged) stays within 512 MiB: about 750 KiB
 * of ordinary code, half that when minified, and far more nesting than V8 itself
 * accepts. Past that, the one error (line 1, column 1) reads `the code is too large or
 * too deeply nested to parse safely (it could need N MiB of native stack; the limit is
 * 512 MiB); split it into smaller modules`. `executeFunction` and `runCode` apply the
 * same bound: TypeScript, ES-module and snippet code past it fails with `SYNTAX_ERROR`
 * and that message; CommonJS code goes to V8 as it is.
 */
export declare function validateCode(language: string, code: string): Validation

/** What `validateCode` returns. */
export interface Validation {
  valid: boolean
  /** Sorted by position; empty when `valid`. */
  errors: Array<CodeError>
}

/** Options of `Bucket.writeFile`. */
export interface WriteFileOptions {
  /** @default 'application/octet-stream' */
  contentType?: string
}
