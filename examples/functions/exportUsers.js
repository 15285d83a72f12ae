// The seed's example: database → storage → presigned download URL.
exports.default = async function (ctx) {
  const db = cloud.database()
  const users = await db.collection('users').find().sort({ name: 1 }).toArray()
  const bucket = cloud.storage.bucket()
  await bucket.writeFile('export/users.json', JSON.stringify(users))
  const url = await bucket.getDownloadUrl('export/users.json')
  console.log(`exported ${users.length} users`)
  return { users, downloadUrl: url }
}
