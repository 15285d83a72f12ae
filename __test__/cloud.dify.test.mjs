// The Cloud SDK suite again, with functions on the dify backend: their
// cloud.* calls go through the HTTP bridge with per-invocation tokens.
import { useDifyBackend } from './fixtures/use-dify.mjs';

// Each nested cloud.invoke level holds a sandbox worker while its callee runs:
// max_workers must exceed RUNTIME_MAX_INVOKE_DEPTH (8) for a → a to reach the limit.
await useDifyBackend({ maxRequests: 100, maxWorkers: 12, workerTimeoutSec: 5 });
await import('./cloud.test.mjs');
