module.exports = async function (ctx) {
  console.log('method', ctx.method, 'query', ctx.query)
  console.debug('body', ctx.body)
  return { body: ctx.body, query: ctx.query, method: ctx.method }
}
