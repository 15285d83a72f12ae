module.exports = function () {
  console.warn('about to fail')
  throw new Error('something went wrong')
}
