// Type-checks (tsc --noEmit, strict) against the installed index.d.ts, using
// every export; consumer-test.sh fails if an export of index.d.ts is missing here.
import {
  __napiBindingTarget,
  AggregationCursor,
  Bucket,
  Cloud,
  CloudOptions,
  CodeError,
  Collection,
  Cursor,
  Db,
  ExecuteOptions,
  ExecuteResult,
  FindCursor,
  Health,
  IsolationHealth,
  ObjectId,
  PoolHealth,
  RunCodeOptions,
  RunCodeResult,
  S3Options,
  ServicesHealth,
  Storage,
  Validation,
  WriteFileOptions,
  compressLogs,
  createCloud,
  decompressLogs,
  executeFunction,
  health,
  logsHeader,
  metrics,
  runCode,
  setFunctionLoader,
  shutdown,
  validateCode,
} from '@simple-ide/runtime'

const target: 'native' | 'wasm32-wasi' | 'wasm32-wasip1' = __napiBindingTarget

const s3: S3Options = { endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', bucket: 'b', forcePathStyle: true }
const options: CloudOptions = { mongoUrl: 'mongodb://127.0.0.1:27017', database: 'app', s3, env: { A: '1' } }
const cloud: Cloud = createCloud(options)
const db: Db = cloud.database()
const users: Collection = db.collection('users')
const name: string = users.collectionName
const storage: Storage = cloud.storage
const bucket: Bucket = storage.bucket()
const env: Record<string, string> = cloud.env
const writeOptions: WriteFileOptions = { contentType: 'text/plain' }

async function useEverything(): Promise<void> {
  const execOptions: ExecuteOptions = { timeoutMs: 1000, memoryMb: 128, language: 'nodejs', backend: 'local', onLog: (line: string) => void line.length }
  const result: ExecuteResult = await executeFunction('f', 'module.exports = () => 1', '', { body: {} }, execOptions)
  const lines: string[] = result.logs
  const time: number = result.time
  const error: string | undefined = result.error
  const stack: string | undefined = result.stack
  const errorCode: string | undefined = result.errorCode
  const tsResult: ExecuteResult = await executeFunction('t', 'export default (): number => 1', '', {}, { language: 'typescript' })

  const checked: Validation = validateCode('typescript', 'const x: number = await 1; return x')
  const firstError: CodeError | undefined = checked.errors[0]
  const where: number = checked.valid ? 0 : (firstError?.line ?? 0) + (firstError?.column ?? 0)
  const runOptions: RunCodeOptions = { language: 'js', code: "console.log('Hello World'); return 42;", timeoutMs: 1000, backend: 'local' }
  const ran: RunCodeResult = await runCode(runOptions)
  const ranText: string = ran.stdout + ran.stderr + ran.retVal + String(ran.exitCode + ran.time) + (ran.error ?? '') + (ran.errorCode ?? '')

  const cursor: FindCursor = users.find({ age: { $gt: 1 } }).sort({ age: -1 }).limit(10).skip(1).project({ name: 1 })
  const docs: any[] = await cursor.toArray()
  const agg: AggregationCursor = users.aggregate([{ $match: {} }])
  const grouped: any[] = await agg.toArray()
  for await (const doc of users.find({})) docs.push(doc)
  for await (const doc of users.aggregate([])) grouped.push(doc)
  const walked: Cursor = users.find({}).map((d) => d.name)
  const first: any | null = await walked.next()
  const more: boolean = await walked.hasNext()
  await walked.rewind().forEach((name) => name !== first)
  const matched: number = (await users.find({}).count()) + (await users.estimatedDocumentCount())
  const bulk = await users.bulkWrite([{ insertOne: { document: { name: 'b' } } }], { ordered: false })
  const bulkCount: number = bulk.insertedCount + bulk.matchedCount + bulk.deletedCount + (more ? matched : 0)
  const inserted = await users.insertOne({ name: 'a' })
  const count: number = await users.countDocuments({})
  const index: string = await users.createIndex({ name: 1 })

  await bucket.writeFile('k', Buffer.from('x'), writeOptions)
  const bytes: Buffer = await bucket.readFile('k')
  const listed = await bucket.listFiles('k')
  const size: number = listed[0].size
  const url: string = await bucket.getDownloadUrl('k', 60)
  const up: string = await bucket.getUploadUrl('k')
  const invoked: any = await cloud.invoke('other', { x: 1 })

  const id = new ObjectId()
  const same: boolean = id.equals(ObjectId.createFromHexString(id.toHexString())) && ObjectId.isValid(id.toString())
  const when: Date = id.getTimestamp()

  const header: string = logsHeader(lines, 4096)
  const back: string[] = decompressLogs(compressLogs(lines))
  const text: string = metrics()
  setFunctionLoader(async (fnName: string) => ({ compiled: `module.exports = () => '${fnName}'` }))
  setFunctionLoader(null)
  const h: Health = health()
  const pool: PoolHealth = h.pool
  const services: ServicesHealth = h.services
  const isolation: IsolationHealth | undefined = h.isolation ?? undefined
  const layers: string = isolation ? `${isolation.level} landlock=${isolation.landlock} seccomp=${isolation.seccomp} ${isolation.namespaces.join(',')} rlimits=${isolation.rlimits} uid=${isolation.uid ?? '-'}` : 'not started'
  const state: string = `${h.status} ${h.backend} ${pool.workers} ${pool.idle} ${pool.blank} ${pool.busy} ${pool.queued} ${pool.replaced} ${pool.tenants} ${pool.maxWorkers} ${services.database} ${services.storage} ${layers}`
  await shutdown()

  console.log(bulkCount, target, name, env, time, error, stack, docs, grouped, inserted.insertedId, count, index, bytes, size, url, up, invoked, same, when, header, back, text, errorCode, state)
}

void useEverything
