// The seed's test function.
exports.default = async function (ctx) {
  console.log('Hello from function')
  return { message: 'Hello', body: ctx.body }
}
