// Jest file 1 of 2: the Express route in-process, over HTTP on 127.0.0.1:0.
const { once } = require('node:events')
const { decompressLogs, metrics } = require('@simple-ide/runtime')
const { createApp, seed } = require('../app')

const SUFFIX = '_jest_invoke'
let server
let base

// consumer-test.sh counts the processes the files ran in (in band: 1; --maxWorkers=2: 2).
if (process.env.JEST_PIDS_FILE) require('node:fs').appendFileSync(process.env.JEST_PIDS_FILE, `${process.pid}\n`)

beforeAll(async () => {
  await seed(SUFFIX)
  server = createApp().listen(0, '127.0.0.1')
  await once(server, 'listening')
  base = `http://127.0.0.1:${server.address().port}`
})
afterAll(() => new Promise((resolve) => server.close(resolve)))

async function post(name, body) {
  const res = await fetch(`${base}/invoke/${name}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  return { res, body: await res.json(), logs: decompressLogs(res.headers.get('x-function-logs')) }
}

test('a stored function answers over HTTP with its logs and time', async () => {
  const { res, body, logs } = await post(`hello${SUFFIX}`, { name: 'Grace' })
  expect(res.status).toBe(200)
  expect(body.greeting).toBe('Hello, Grace!')
  expect(logs).toEqual(['hello Grace', '[WARN] careful'])
  expect(Number(res.headers.get('x-execution-time'))).toBeGreaterThanOrEqual(0)
})

test('concurrent requests keep their logs apart', async () => {
  const names = Array.from({ length: 12 }, (_, i) => `user${i}`)
  const results = await Promise.all(names.map((name) => post(`hello${SUFFIX}`, { name })))
  results.forEach(({ res, body, logs }, i) => {
    expect(res.status).toBe(200)
    expect(body.greeting).toBe(`Hello, ${names[i]}!`)
    expect(logs).toEqual([`hello ${names[i]}`, '[WARN] careful'])
  })
})

test('a throwing function is a 500 with its message', async () => {
  const { res, body, logs } = await post(`fail${SUFFIX}`, {})
  expect(res.status).toBe(500)
  expect(body.error).toBe('boom on purpose')
  expect(logs).toEqual(['[ERROR] about to fail'])
  expect(metrics()).toMatch(/runtime_invocations_total/)
})
