// The consumer app of scripts/consumer-test.sh: a fresh CommonJS Express app
// that uses the installed @simple-ide/runtime the way simple-ide's server
// does. Copied into a temporary folder with the test files beside it.
const express = require('express')
const { createCloud, executeFunction, logsHeader } = require('@simple-ide/runtime')

// The functions the tests store and call, compiled CommonJS as simple-ide
// stores them ({ name, compiled, hash }); a suffix keeps each test file's
// copies apart when jest runs them in parallel.
const FUNCTIONS = {
  hello: `exports.default = async function (ctx) {
  console.log('hello', ctx.body.name)
  console.warn('careful')
  return { greeting: 'Hello, ' + ctx.body.name + '!', method: ctx.method, query: ctx.query }
}`,
  notes: `exports.default = async function (ctx) {
  const notes = cloud.database().collection('notes')
  const { insertedId } = await notes.insertOne({ text: ctx.body.text, at: new Date() })
  const saved = await notes.findOne({ _id: insertedId })
  console.log('saved', insertedId.toHexString())
  return { id: insertedId.toHexString(), text: saved.text, isDate: saved.at instanceof Date }
}`,
  files: `exports.default = async function (ctx) {
  const bucket = cloud.storage.bucket()
  await bucket.writeFile(ctx.body.key, ctx.body.content)
  const back = (await bucket.readFile(ctx.body.key)).toString('utf8')
  console.log('stored', ctx.body.key)
  return { back, url: await bucket.getDownloadUrl(ctx.body.key, 60) }
}`,
  fail: `module.exports = function () {
  console.error('about to fail')
  throw new Error('boom on purpose')
}`,
  chain: `exports.main = async function (ctx) {
  return { viaInvoke: await cloud.invoke(ctx.body.callee, { name: 'chain' }) }
}`,
}

/** Stores the functions (as `name + suffix`) in the functions collection. */
async function seed(suffix = '', cloud = createCloud()) {
  const store = cloud.database().collection(process.env.FUNCTIONS_COLLECTION || 'functions')
  for (const [name, compiled] of Object.entries(FUNCTIONS)) {
    await store.replaceOne({ name: name + suffix }, { name: name + suffix, compiled, hash: '' }, { upsert: true })
  }
  return store
}

function createApp(cloud = createCloud()) {
  const store = cloud.database().collection(process.env.FUNCTIONS_COLLECTION || 'functions')
  const app = express()
  app.use(express.json())
  app.all('/invoke/:name', async (req, res) => {
    const fn = await store.findOne({ name: req.params.name })
    if (!fn) return res.status(404).json({ error: `Function ${req.params.name} not found` })
    const result = await executeFunction(fn.name, fn.compiled, fn.hash ?? '', {
      body: req.body ?? null,
      query: req.query,
      headers: req.headers,
      method: req.method,
      path: req.path,
      requestId: req.get('x-request-id'),
    })
    res.set('x-function-logs', logsHeader(result.logs))
    res.set('x-execution-time', String(result.time))
    if (result.error) return res.status(500).json({ error: result.error })
    res.json(result.data)
  })
  return app
}

module.exports = { createApp, seed, FUNCTIONS }

if (require.main === module) {
  const server = createApp().listen(Number(process.env.PORT || 0), '127.0.0.1', () => {
    console.log(`listening on http://127.0.0.1:${server.address().port}`)
  })
}
