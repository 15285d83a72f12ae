// Drives the app's server (started as its own process by consumer-test.sh)
// over real HTTP and checks status, body, x-function-logs (decoded with the
// package's decompressLogs) and x-execution-time. Exits 1 on the first miss.
const assert = require('node:assert/strict')
const { createCloud, decompressLogs, ObjectId } = require('@simple-ide/runtime')

const base = process.argv[2]
let passed = 0

async function invoke(name, { method = 'POST', body, query = '' } = {}) {
  const res = await fetch(`${base}/invoke/${name}${query}`, {
    method,
    headers: body ? { 'content-type': 'application/json' } : {},
    body: body ? JSON.stringify(body) : undefined,
  })
  const logsValue = res.headers.get('x-function-logs')
  const time = res.headers.get('x-execution-time')
  return { status: res.status, body: await res.json(), logs: logsValue === null ? null : decompressLogs(logsValue), time: time === null ? null : Number(time) }
}

async function check(name, fn) {
  await fn()
  passed += 1
  console.log(`  ok  ${name}`)
}

;(async () => {
  await check('hello: 200, body, logs, time', async () => {
    const r = await invoke('hello', { body: { name: 'Ada' }, query: '?lang=en' })
    assert.equal(r.status, 200)
    assert.deepEqual(r.body, { greeting: 'Hello, Ada!', method: 'POST', query: { lang: 'en' } })
    assert.deepEqual(r.logs, ['hello Ada', '[WARN] careful'])
    assert.ok(Number.isFinite(r.time) && r.time >= 0 && r.time < 10_000, `x-execution-time ${r.time}`)
  })
  await check('notes: the function writes MongoDB, the host reads it back', async () => {
    const text = `note ${Date.now()}`
    const r = await invoke('notes', { body: { text } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.text, text)
    assert.equal(r.body.isDate, true)
    assert.deepEqual(r.logs, [`saved ${r.body.id}`])
    const doc = await createCloud().database().collection('notes').findOne({ _id: new ObjectId(r.body.id) })
    assert.equal(doc.text, text)
  })
  await check('files: S3 write/read and a presigned URL that serves the bytes', async () => {
    const key = `consumer/${Date.now()}.txt`
    const r = await invoke('files', { body: { key, content: 'bytes over S3' } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.back, 'bytes over S3')
    assert.deepEqual(r.logs, [`stored ${key}`])
    const got = await fetch(r.body.url)
    assert.equal(got.status, 200)
    assert.equal(await got.text(), 'bytes over S3')
  })
  await check('fail: 500 with the message and the logs up to the throw', async () => {
    const r = await invoke('fail', { method: 'GET' })
    assert.equal(r.status, 500)
    assert.equal(r.body.error, 'boom on purpose')
    assert.deepEqual(r.logs, ['[ERROR] about to fail'])
    assert.ok(Number.isFinite(r.time))
  })
  await check('chain: cloud.invoke of a stored function', async () => {
    const r = await invoke('chain', { body: { callee: 'hello' } })
    assert.equal(r.status, 200, JSON.stringify(r.body))
    assert.equal(r.body.viaInvoke.greeting, 'Hello, chain!')
    assert.deepEqual(r.logs, ['[hello] hello chain', '[hello] [WARN] careful'])
  })
  await check('unknown function: 404, no logs header', async () => {
    const r = await invoke('nope', { method: 'GET' })
    assert.equal(r.status, 404)
    assert.equal(r.logs, null)
  })
  console.log(`http: ${passed} checks ok`)
})().catch((err) => {
  console.error(`http check failed after ${passed} passed:`, err)
  process.exit(1)
})
