// One fresh process: how long `require('@simple-ide/runtime')` takes, and
// that it starts no worker process (the pool starts on first use). Prints
// one JSON line; exits 1 when a worker exists right after require, or when
// none exists after the first call (then the check could not see them).
const t0 = process.hrtime.bigint()
const runtime = require('@simple-ide/runtime')
const requireMs = Number(process.hrtime.bigint() - t0) / 1e6

const { readdirSync, readFileSync } = require('node:fs')
// Linux: this process's children, from every thread's children file.
const children = () =>
  readdirSync('/proc/self/task').flatMap((t) =>
    readFileSync(`/proc/self/task/${t}/children`, 'utf8').split(' ').filter(Boolean),
  )

const afterRequire = children().length
runtime.executeFunction('lazy', 'module.exports = () => 1', '', {}).then((r) => {
  const afterFirstCall = children().length
  console.log(JSON.stringify({ requireMs, afterRequire, afterFirstCall, data: r.data }))
  process.exit(afterRequire === 0 && afterFirstCall > 0 && r.data === 1 ? 0 : 1)
})
