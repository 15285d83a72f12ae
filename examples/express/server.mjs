// A simple-ide-like server: POST/GET /invoke/:name runs the stored function
// with @simple-ide/runtime. Functions live in the phase-1 store (MongoDB
// collection `functions`: { name, compiled, hash }).
//
//   DEVELOP_TOKEN=... MONGODB_URL=... node examples/express/server.mjs
import { createRequire } from 'node:module';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import express from 'express';
import { MongoClient } from 'mongodb';

const require = createRequire(import.meta.url);
const { executeFunction, logsHeader, health, shutdown } = require('../../index.js');

// Both sides hashed first: equal lengths, so neither content nor length leaks.
function tokenMatches(given, expected) {
  const a = createHash('sha256').update(String(given ?? '')).digest();
  const b = createHash('sha256').update(String(expected)).digest();
  return timingSafeEqual(a, b) && given !== undefined;
}

export async function createApp({ developToken, mongoUrl, dbName = 'simple_ide', functionsCollection = 'functions' }) {
  if (!developToken) throw new Error('developToken (DEVELOP_TOKEN) is required');
  if (!mongoUrl) throw new Error('mongoUrl (MONGODB_URL) is required');
  const client = new MongoClient(mongoUrl, { serverSelectionTimeoutMS: 5000 });
  await client.connect();
  const functions = client.db(dbName).collection(functionsCollection);

  const app = express();
  app.use(express.json());
  // For a load balancer: cheap, no I/O; 503 once the runtime is shutting down.
  app.get('/health', (req, res) => {
    const h = health();
    res.status(h.status === 'shut_down' ? 503 : 200).json({ ok: h.status !== 'shut_down', ...h });
  });

  app.all('/invoke/:name', async (req, res) => {
    if (!tokenMatches(req.get('x-develop-token'), developToken)) {
      return res.status(401).json({ error: 'Invalid token' });
    }
    const { name } = req.params;
    try {
      const fn = await functions.findOne({ name });
      if (!fn) return res.status(404).json({ error: `Function ${name} not found` });
      if (!fn.compiled) return res.status(400).json({ error: `Function ${name} is not compiled` });
      const { 'x-develop-token': _token, ...headers } = req.headers;
      const ctx = {
        body: req.body ?? null,
        query: req.query,
        headers,
        method: req.method,
        path: req.path,
        requestId: req.get('x-request-id') || randomUUID(),
        user: null,
      };
      const result = await executeFunction(name, fn.compiled, fn.hash || '', ctx);
      res.set('x-function-logs', logsHeader(result.logs));
      res.set('x-execution-time', String(Math.round(result.time * 1000) / 1000));
      if (result.error) {
        // QUEUE_TIMEOUT: the function did not run (every worker was busy); the client may retry.
        if (result.errorCode === 'QUEUE_TIMEOUT') res.set('retry-after', '1');
        const status = result.errorCode === 'QUEUE_TIMEOUT' ? 503 : 500;
        return res.status(status).json({ error: result.error, errorCode: result.errorCode, stack: result.stack });
      }
      res.json(result.data);
    } catch (err) {
      // Misuse of the runtime API or the store being down: the server keeps serving.
      res.status(500).json({ error: err.message, code: err.code });
    }
  });

  return { app, db: client.db(dbName), close: () => client.close() };
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  const { app } = await createApp({
    developToken: process.env.DEVELOP_TOKEN,
    mongoUrl: process.env.MONGODB_URL,
    dbName: process.env.MONGODB_DB || 'simple_ide',
  });
  const port = Number(process.env.PORT || 8000);
  const server = app.listen(port, '127.0.0.1', () => console.log(`simple-ide runtime example on http://127.0.0.1:${port}`));
  // Graceful stop: no new requests, running functions finish, workers and temp folders go.
  process.once('SIGTERM', async () => {
    server.close();
    await shutdown();
    process.exit(0);
  });
}
