// compressLogs / decompressLogs / logsHeader against Node's own zlib.
import { createRequire } from 'node:module';
import zlib from 'node:zlib';
import { it, expect } from 'vitest';

const require = createRequire(import.meta.url);
const { compressLogs, decompressLogs, logsHeader } = require('../index.js');
const lines = Array.from({ length: 300 }, (_, i) => `[WARN] line ${i} — ünïcødé ✓ ${'x'.repeat(i % 40)}`);

it('Node zlib.gunzipSync reads what compressLogs writes', () => {
  const s = compressLogs(lines);
  expect(JSON.parse(zlib.gunzipSync(Buffer.from(s, 'base64')).toString('utf8'))).toEqual(lines);
});

it('decompressLogs reads what Node gzip + base64 writes, and round-trips', () => {
  expect(decompressLogs(zlib.gzipSync(JSON.stringify(lines)).toString('base64'))).toEqual(lines);
  expect(decompressLogs(compressLogs([]))).toEqual([]);
});

it('decompressLogs errors carry a code and say what is wrong', () => {
  const err = (f) => { try { f(); } catch (e) { return e; } return null; };
  let e = err(() => decompressLogs('%%%'));
  expect(e.code).toBe('INVALID_ARGUMENT');
  expect(e.message).toMatch(/^logs are not valid base64/);
  e = err(() => decompressLogs(Buffer.from('plain').toString('base64')));
  expect(e.message).toMatch(/^logs are not gzip data/);
  e = err(() => decompressLogs(zlib.gzipSync('{"a":1}').toString('base64')));
  expect(e.message).toMatch(/^logs are not a JSON array of strings/);
  e = err(() => logsHeader(lines, 10));
  expect(e.code).toBe('INVALID_ARGUMENT');
  expect(e.message).toMatch(/^maxBytes 10 is too small: the header needs at least \d+ bytes$/);
});

it('logsHeader stays under its budget and says how many lines it dropped', () => {
  const many = Array.from({ length: 20000 }, (_, i) => `${i}:${Math.sin(i).toString(36)}`);
  for (const max of [512, 4096, 8192]) {
    const h = logsHeader(many, max);
    expect(h.length).toBeLessThanOrEqual(max);
    const back = decompressLogs(h);
    const kept = back.length - 1;
    expect(back.slice(0, kept)).toEqual(many.slice(0, kept));
    expect(back[kept]).toBe(`[runtime] ${many.length - kept} log lines dropped to fit the ${max}-byte header`);
  }
  expect(decompressLogs(logsHeader(['a', 'b']))).toEqual(['a', 'b']);
});
