// Calls another function through cloud.invoke.
exports.main = async function (ctx) {
  const names = (ctx.body && ctx.body.names) || ['Ada', 'Linus']
  const greetings = []
  for (const name of names) {
    const r = await cloud.invoke('hello', { name })
    greetings.push(`${r.message}, ${r.body.name}`)
  }
  console.log('greeted', greetings.length)
  return { greetings }
}
