// Jest file 2 of 2: executeFunction and the host Cloud SDK directly,
// against the real MongoDB and S3 servers of MONGODB_URL / S3_*.
const { createCloud, executeFunction, ObjectId, compressLogs, decompressLogs } = require('@simple-ide/runtime')
const { FUNCTIONS } = require('../app')

const cloud = createCloud({ database: `${process.env.MONGODB_DB || 'consumer'}_jest_cloud` })

test('a function given ctx.cloud writes that database; host code reads it', async () => {
  const text = `jest ${Date.now()}`
  const result = await executeFunction('notes', FUNCTIONS.notes, '', { body: { text }, cloud })
  expect(result.error).toBeUndefined()
  expect(result.data.text).toBe(text)
  const doc = await cloud.database().collection('notes').findOne({ _id: new ObjectId(result.data.id) })
  expect(doc.text).toBe(text)
  expect(doc.at).toBeInstanceOf(Date)
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
