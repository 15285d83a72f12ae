// The executeFunction suite again, on the dify backend, against the Dify
// Sandbox stand-in (a test fixture that follows DIFY-SANDBOX.md).
import { useDifyBackend } from './fixtures/use-dify.mjs';

await useDifyBackend({ maxRequests: 250, maxWorkers: 8, workerTimeoutSec: 5 });
await import('./execute.test.mjs');
