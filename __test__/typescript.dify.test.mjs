// The TypeScript / runCode suite again, on the dify backend (the stand-in,
// or the real server with REAL_DIFY_URL): compiling and stack mapping happen
// in Rust, so both backends give the same answers.
import { useDifyBackend } from './fixtures/use-dify.mjs';

await useDifyBackend({});
await import('./typescript.test.mjs');
