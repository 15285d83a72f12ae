// The executeFunction suite again, on the dify backend: against the Dify
// Sandbox stand-in (a test fixture that follows DIFY-SANDBOX.md and applies
// the real node seccomp allow-list), and with REAL_DIFY_URL against the real
// server.
import { useDifyBackend, realDify } from './fixtures/use-dify.mjs';

// The real server turns away more than max_requests (50) runs in flight;
// 200 concurrent invocations get through by retrying its 503s (every 2 s at
// most, until the invocation's deadline).
if (realDify) process.env.RUNTIME_SANDBOX_RETRIES = '60';
await useDifyBackend({ maxRequests: 250, maxWorkers: 8, workerTimeoutSec: 5 });
await import('./execute.test.mjs');
