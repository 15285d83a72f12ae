module.exports = () => new Promise(() => {}) // never settles: times out
