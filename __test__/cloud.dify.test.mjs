// The Cloud SDK suite again, with functions on the dify backend: their
// cloud.* calls go through the HTTP bridge with per-invocation tokens.
import { afterAll } from 'vitest';
import { startDifySandbox } from './fixtures/dify-sandbox.mjs';

const sandbox = await startDifySandbox({ apiKey: 'test-key', maxRequests: 100, maxWorkers: 4, workerTimeoutSec: 5 });
process.env.RUNTIME_BACKEND = 'dify';
process.env.SANDBOX_URL = sandbox.url;
process.env.SANDBOX_API_KEY = 'test-key';
afterAll(() => sandbox.close());

await import('./cloud.test.mjs');
