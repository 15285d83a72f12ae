// Seeds the phase-1 function store ({ name, compiled, hash }) from
// examples/functions/*.js, and a few users for exportUsers.
import { readdir, readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join, dirname, basename } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'functions');

export async function seedFunctions(db, collection = 'functions') {
  const names = [];
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.js'))) {
    const compiled = await readFile(join(dir, file), 'utf8');
    const name = basename(file, '.js');
    const hash = createHash('sha256').update(compiled).digest('hex');
    await db.collection(collection).updateOne({ name }, { $set: { name, compiled, hash } }, { upsert: true });
    names.push(name);
  }
  await db.collection('users').deleteMany({});
  await db.collection('users').insertMany([
    { name: 'Ada Lovelace', email: 'ada@example.com', createdAt: new Date('2024-01-01T00:00:00Z') },
    { name: 'Linus Torvalds', email: 'linus@example.com', createdAt: new Date('2024-02-01T00:00:00Z') },
  ]);
  return names;
}
