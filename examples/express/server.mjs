// A simple-ide-like server: POST/GET /invoke/:name runs the stored function
// with @simple-ide/runtime; POST /run_code is coze-loop's code runner. Functions live in the phase-1 store (MongoDB
// collection `functions`: { name, compiled, hash }).
//
//   DEVELOP_TOKEN=... MONGODB_URL=... node examples/express/server.mjs
import { createRequire } from 'node:module';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import express from 'express';
import { MongoClient } from 'mongodb';

const require = createRequire(import.meta.url);
const { executeFunction, runCode, logsHeader, health, shutdown } = require('../../index.js');

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
      // `Accept: text/event-stream`: the IDE's live console. Each log line is
      // a `log` event as the function writes it, then one `result` event.
      if ((req.get('accept') || '').includes('text/event-stream')) {
        res.set({ 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }).status(200).flushHeaders();
        const send = (event, value) => res.write(`event: ${event}\ndata: ${JSON.stringify(value)}\n\n`);
        const result = await executeFunction(name, fn.compiled, fn.hash || '', ctx, { onLog: (line) => send('log', line) });
        send('result', result.error ? { error: result.error, errorCode: result.errorCode, stack: result.stack, time: result.time } : { data: result.data, time: result.time });
        return res.end();
      }
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

  // coze-loop's FaaS contract: { language, code, timeout } → { output: { stdout, stderr,
  // ret_val }, metadata }. It runs any code it is sent, so it takes the develop token too.
  app.post('/run_code', async (req, res) => {
    if (!tokenMatches(req.get('x-develop-token'), developToken)) {
      return res.status(401).json({ error: 'Invalid token' });
    }
    const { language = 'javascript', code, timeout = 30000 } = req.body ?? {};
    if (typeof code !== 'string' || !code) return res.status(400).json({ error: 'Missing required parameter: code' });
    if (!['js', 'javascript', 'ts', 'typescript', 'nodejs'].includes(language)) {
      return res.status(400).json({ error: `This service only supports javascript and typescript, not ${JSON.stringify(language)}` });
    }
    try {
      const r = await runCode({ language, code, timeoutMs: timeout });
      const timedOut = r.errorCode === 'TIMEOUT';
      if (timedOut) return res.status(408).json({ error: 'Execution timeout', details: r.error });
      res.json({
        output: { stdout: r.stdout, stderr: r.stderr, ret_val: r.retVal },
        metadata: {
          language: language.startsWith('t') ? 'typescript' : 'javascript',
          duration: Math.round(r.time),
          status: r.exitCode === 0 ? 'success' : 'error',
          exit_code: r.exitCode,
          timed_out: false,
          ...(r.errorCode ? { error_code: r.errorCode } : {}),
        },
      });
    } catch (err) {
      // INVALID_ARGUMENT (a timeout out of range): the request's fault.
      const status = err.code === 'INVALID_ARGUMENT' ? 400 : 500;
      res.status(status).json({ error: status === 400 ? err.message : 'Internal server error', details: err.message, code: err.code });
    }
  });

  // express.json()'s failures (malformed JSON, a body over its 100 KB limit)
  // answer in JSON like every other error here, not with Express's HTML page
  // and its stack of server paths.
  app.use((err, req, res, next) => {
    if (res.headersSent) return next(err);
    const status = err.status >= 400 && err.status < 500 ? err.status : 500;
    const error = err.type === 'entity.parse.failed' ? `Invalid JSON body: ${err.message}`
      : err.type === 'entity.too.large' ? `Request body larger than ${err.limit} bytes`
        : status < 500 ? err.message : 'Internal server error';
    res.status(status).json({ error });
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
