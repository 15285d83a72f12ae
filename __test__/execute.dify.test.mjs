// The executeFunction suite again, on the dify backend, against the Dify
// Sandbox stand-in (a test fixture that follows DIFY-SANDBOX.md).
import { afterAll } from 'vitest';
import { startDifySandbox } from './fixtures/dify-sandbox.mjs';

const sandbox = await startDifySandbox({ apiKey: 'test-key', maxRequests: 250, maxWorkers: 8, workerTimeoutSec: 5 });
process.env.RUNTIME_BACKEND = 'dify';
process.env.SANDBOX_URL = sandbox.url;
process.env.SANDBOX_API_KEY = 'test-key';
afterAll(() => sandbox.close());

await import('./execute.test.mjs');
