// The walls and parity suite again, with functions on the dify backend:
// their cloud.* calls go through the HTTP bridge.
import { useDifyBackend } from './fixtures/use-dify.mjs';

await useDifyBackend({ maxRequests: 100, maxWorkers: 8, workerTimeoutSec: 10 });
await import('./cloud.walls.test.mjs');
