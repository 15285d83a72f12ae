// Jest file 2 of 2: executeFunction and the host Cloud SDK directly,
// against the real MongoDB and S3 servers of MONGODB_URL / S3_*.
const { createCloud, executeFunction, ObjectId, compressLogs, decompressLogs } = require('@simple-ide/runtime')
const { FUNCTIONS } = require('../app')

// consumer-test.sh counts the processes the files ran in (in band: 1; --maxWorkers=2: 2).
if (process.env.JEST_PIDS_FILE) require('node:fs').appendFileSync(process.env.JEST_PIDS_FILE, `${process.pid}\n`)

const cloud = createCloud({ database: `${process.env.MONGODB_DB || 'consumer'}_jest_cloud` })

test('a function given ctx.cloud writes that database; host code reads it', async () => {
  const text = `jest ${Date.now()}`
  const result = await executeFunction('notes', FUNCTIONS.notes, '', { body: { text }, cloud })
  expect(result.error).toBeUndefined()
  expect(result.data.text).toBe(text)
  const doc = await cloud.database().collection('notes').findOne({ _id: new ObjectId(result.data.id) })
  expect(doc.text).toBe(text)
  // A Date from the addon belongs to Node's main realm; jest runs each test
  // file in a realm of its own (jestjs/jest#2549), where `instanceof Date`
  // is false for it, so the type is checked the realm-independent way.
  expect(Object.prototype.toString.call(doc.at)).toBe('[object Date]')
  expect(Math.abs(doc.at.getTime() - Date.now())).toBeLessThan(60_000)
  expect(await cloud.database().collection('notes').countDocuments({ text })).toBe(1)
})

test('storage: host writes, the function reads it through its own cloud', async () => {
  const key = `jest/${Date.now()}.txt`
  await cloud.storage.bucket().writeFile(key, 'from the host')
  const result = await executeFunction(
    'readBack',
    `module.exports = async (ctx) => (await cloud.storage.bucket().readFile(ctx.body.key)).toString()`,
    '',
    { body: { key }, cloud },
  )
  expect(result).toMatchObject({ data: 'from the host', logs: [] })
  await cloud.storage.bucket().deleteFile(key)
  await expect(cloud.storage.bucket().readFile(key)).rejects.toMatchObject({ code: 'STORAGE_NOT_FOUND' })
})

test('timeouts resolve with an error and the next call runs normally', async () => {
  const slow = await executeFunction('slow', 'module.exports = () => new Promise(() => {})', '', {}, { timeoutMs: 300 })
  expect(slow.error).toBe('Function timed out after 300 ms')
  const next = await executeFunction('next', 'module.exports = () => 42', '', {})
  expect(next.data).toBe(42)
})

test('logs compress the way the header expects', () => {
  expect(decompressLogs(compressLogs(['a', 'b']))).toEqual(['a', 'b'])
})
