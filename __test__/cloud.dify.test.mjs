// The Cloud SDK suite again, with functions on the dify backend: their
// cloud.* calls go through the HTTP bridge with per-invocation tokens.
import { afterAll } from 'vitest';
import { startDifySandbox } from './fixtures/dify-sandbox.mjs';

// Each nested cloud.invoke level holds a sandbox worker while its callee runs:
// max_workers must exceed RUNTIME_MAX_INVOKE_DEPTH (8) for a → a to reach the limit.
const sandbox = await startDifySandbox({ apiKey: 'test-key', maxRequests: 100, maxWorkers: 12, workerTimeoutSec: 5 });
process.env.RUNTIME_BACKEND = 'dify';
process.env.SANDBOX_URL = sandbox.url;
process.env.SANDBOX_API_KEY = 'test-key';
afterAll(() => sandbox.close());

await import('./cloud.test.mjs');
