// The Cloud SDK suite again, with functions on the dify backend: their
// cloud.* calls go through the HTTP bridge with per-invocation tokens.
import { useDifyBackend, realDify } from './fixtures/use-dify.mjs';

// Each nested cloud.invoke level holds a sandbox worker while its callee runs:
// max_workers must exceed RUNTIME_MAX_INVOKE_DEPTH for a → a to reach the
// limit. The real server (start.sh) has 4 workers: levels 0..3.
if (realDify) process.env.RUNTIME_MAX_INVOKE_DEPTH = '3';
await useDifyBackend({ maxRequests: 100, maxWorkers: 12, workerTimeoutSec: 5 });
await import('./cloud.test.mjs');
