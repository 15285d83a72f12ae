// The release workflow's check of an installed package on each platform
// (Linux glibc/musl, macOS, Windows): no services needed. Exits 1 on a miss.
const assert = require('node:assert/strict')
const runtime = require('@simple-ide/runtime')

;(async () => {
  const ok = await runtime.executeFunction(
    'smoke',
    `exports.default = async (ctx) => { console.log('n is', ctx.body.n); console.error('to stderr'); return { twice: ctx.body.n * 2 } }`,
    '',
    { body: { n: 21 } },
  )
  assert.deepEqual(ok.data, { twice: 42 })
  assert.deepEqual(ok.logs, ['n is 21', '[ERROR] to stderr'])
  assert.ok(ok.time >= 0)

  const thrown = await runtime.executeFunction('boom', 'module.exports = () => { throw new Error("nope") }', '', {})
  assert.equal(thrown.error, 'nope')
  const slow = await runtime.executeFunction('slow', 'module.exports = () => new Promise(() => {})', '', {}, { timeoutMs: 300 })
  assert.equal(slow.error, 'Function timed out after 300 ms')
  const after = await runtime.executeFunction('after', 'module.exports = () => "still serving"', '', {})
  assert.equal(after.data, 'still serving')

  assert.deepEqual(runtime.decompressLogs(runtime.compressLogs(['a', 'b'])), ['a', 'b'])
  assert.ok(runtime.ObjectId.isValid(new runtime.ObjectId().toHexString()))
  const unconfigured = await Promise.resolve()
    .then(() => runtime.createCloud({ mongoUrl: undefined }).database().collection('x').findOne({}))
    .then(() => 'no error', (e) => e.code)
  if (!process.env.MONGODB_URL) assert.equal(unconfigured, 'NOT_CONFIGURED')
  assert.match(runtime.metrics(), /runtime_invocations_total/)

  console.log(`smoke: ${process.platform}-${process.arch} node ${process.version}: ok`)
  process.exit(0)
})().catch((err) => {
  console.error(err)
  process.exit(1)
})
