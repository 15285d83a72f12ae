// The demo: starts the example server against the test services, seeds the
// function store, and invokes the sample functions over real HTTP.
import { createRequire } from 'node:module';
import { createApp } from './express/server.mjs';
import { seedFunctions } from './seed.mjs';

const require = createRequire(import.meta.url);
const { decompressLogs } = require('../index.js');

if (!process.env.MONGODB_URL) {
  console.error('MONGODB_URL is not set: run `bash scripts/demo.sh`, which starts the services');
  process.exit(1);
}
const token = 'demo-token';
const { app, db, close } = await createApp({ developToken: token, mongoUrl: process.env.MONGODB_URL, dbName: process.env.MONGODB_DB || 'simple_ide_demo' });
console.log('seeded functions:', (await seedFunctions(db)).join(', '));
const server = app.listen(0, '127.0.0.1');
await new Promise((r) => server.once('listening', r));
const base = `http://127.0.0.1:${server.address().port}`;
let failed = false;

async function invoke(name, { method = 'POST', body, query = '', expect = 200 } = {}) {
  const res = await fetch(`${base}/invoke/${name}${query}`, {
    method,
    headers: { 'x-develop-token': token, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = await res.json();
  const logs = res.headers.get('x-function-logs');
  console.log(`\n${method} /invoke/${name}${query} → ${res.status} in ${res.headers.get('x-execution-time')} ms`);
  console.log('  result:', JSON.stringify(data));
  if (logs) console.log('  logs:  ', JSON.stringify(decompressLogs(logs)));
  if (res.status !== expect) { failed = true; console.error(`  UNEXPECTED: wanted HTTP ${expect}`); }
  return data;
}

await invoke('hello', { body: { name: 'demo' } });
await invoke('echo', { method: 'GET', query: '?q=search&page=2' });
const exported = await invoke('exportUsers');
if (exported.downloadUrl) {
  const file = await fetch(exported.downloadUrl);
  const users = JSON.parse(await file.text());
  console.log(`  downloaded the presigned URL: HTTP ${file.status}, ${users.length} users, first: ${users[0]?.name}`);
  if (file.status !== 200 || users.length !== 2) failed = true;
} else failed = true;
await invoke('greetAll', { body: { names: ['Ada', 'Grace'] } });
await invoke('fail', { expect: 500 });
await invoke('nope', { expect: 404 });

server.close();
await close();
console.log(failed ? '\ndemo: something unexpected happened' : '\ndemo: all good');
process.exit(failed ? 1 : 0);
