// The sandbox as an attacker sees it: every attack a function author can
// write without an exploit (fixtures/attacks.mjs) must fail, at every
// isolation level this machine allows — all layers, and each of Landlock,
// seccomp, namespaces and Node's permission model switched off in turn (the
// others must still hold).
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, it, expect } from 'vitest';

const FIXTURE = path.join(import.meta.dirname, 'fixtures/attacks.mjs');
const INDEX = path.join(import.meta.dirname, '../index.js');

function runAttacks(disable) {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const env = {
    ...process.env,
    RUNTIME_ISOLATION_DISABLE: disable,
    RUNTIME_EGRESS_ALLOW: `127.0.0.1:${port}`,
    ALLOWED_PORT: String(port),
    RUNTIME_MAX_WORKERS: '8',
    RUNTIME_POOL_SIZE: '2',
    RUNTIME_BACKEND: 'local',
  };
  delete env.SANDBOX_URL;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [FIXTURE], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop();
      try { resolve(JSON.parse(line)); } catch { reject(new Error(`attack host exited ${code}: ${out}`)); }
    });
  });
}

// What this machine can apply, from a host with every layer on.
const full = await runAttacks('');
const iso = full.health.isolation;
const levels = [['all layers', '', full]];
if (iso.landlock > 0) levels.push(['without Landlock', 'landlock']);
if (iso.seccomp) levels.push(['without seccomp', 'seccomp']);
if (iso.namespaces.length) levels.push(['without namespaces', 'namespaces']);
// The kernel alone: Node's permission model is a second fence, not the one
// the promise rests on.
levels.push(["without Node's permission model", 'permission']);

const ATTACKS = [
  'process.kill of the host',
  'process.kill of a sibling worker',
  'a function starts a process',
  'a function reads a host file',
  '_debugProcess of the host',
  'stdin hook reads another tenant',
  'forged frames',
  'net.connect to MongoDB',
  'loopback port scan',
  'fetch to 127.0.0.1 refused',
  'fetch to 169.254.169.254 refused',
  'cross-tenant cache poisoning',
  'timer outlives its invocation',
  'temp file visible to another tenant',
  'temp folder quota',
  '2 GiB of Buffers under memoryMb 256',
  '40 parallel invokes',
];

// Stopped by seccomp alone (the README's security model says so): with it
// off, a host unix socket that the workers' uid may write is reachable.
// The test asserts that gap too, so that closing it updates the README.
const SECCOMP_ONLY = ['a function connects to a host unix socket'];
// Only a PID namespace hides the host's pid (no other layer can); where
// the kernel allows one (root, or user namespaces), every level but
// "without namespaces" has it.
const PID_NS_ONLY = ['the host pid is visible'];

describe('isolation layers on this machine', () => {
  it('reports the layers it applies (Landlock and seccomp at least, on a Linux CI host)', () => {
    expect(iso.level).toBe('auto');
    expect(iso.landlock).toBeGreaterThan(0);
    expect(iso.seccomp).toBe(true);
    expect(iso.rlimits).toBe(true);
  });

  // A root host can always make mount, network, IPC and PID namespaces.
  it.runIf(process.getuid?.() === 0)('gives every worker mount, net, ipc and pid namespaces on a root host', () => {
    expect(iso.namespaces).toEqual(expect.arrayContaining(['mount', 'net', 'ipc', 'pid']));
  });
});

describe.each(levels)('attacks fail: %s', (label, disable, preRun) => {
  let result;
  const get = async () => (result ??= preRun || await runAttacks(disable));

  it('runs with the expected layers', async () => {
    const r = await get();
    const h = r.health.isolation;
    if (disable === 'landlock') expect(h.landlock).toBe(0);
    if (disable === 'seccomp') expect(h.seccomp).toBe(false);
    if (disable === 'namespaces') expect(h.namespaces).toEqual([]);
    expect(h.nodePermission).toBe(disable !== 'permission');
  }, 120000);

  it('the escape to the real process works (so the attacks test the kernel, not the vm)', async () => {
    const r = await get();
    expect(r.attacks['escape reaches the real process'].real).toBe(true);
  }, 120000);

  it.each(ATTACKS)('%s', async (name) => {
    const r = await get();
    const a = r.attacks[name];
    expect(a, name).toBeDefined();
    expect(a.blocked, `${name}: ${JSON.stringify(a.detail)}`).toBe(true);
  }, 120000);

  it.each(SECCOMP_ONLY)(`%s (${disable === 'seccomp' ? 'reachable without seccomp: the documented gap' : 'refused'})`, async (name) => {
    const r = await get();
    const a = r.attacks[name];
    expect(a, name).toBeDefined();
    expect(a.blocked, `${name}: ${JSON.stringify(a.detail)}`).toBe(disable !== 'seccomp');
  }, 120000);

  it.each(PID_NS_ONLY)('%s (hidden when the worker has a PID namespace)', async (name) => {
    const r = await get();
    const a = r.attacks[name];
    expect(a, name).toBeDefined();
    expect(a.blocked, `${name}: ${JSON.stringify(a.detail)}`).toBe(r.health.isolation.namespaces.includes('pid'));
  }, 120000);

  it('fetch to an allowed loopback server works', async () => {
    const r = await get();
    const a = r.attacks['fetch to the allowed server works'];
    expect(a.works, JSON.stringify(a.detail)).toBe(true);
  }, 120000);
});

describe('RUNTIME_ISOLATION=strict', () => {
  const strict = (disable) => spawnSync(process.execPath, ['-e', `
    const { executeFunction } = require(${JSON.stringify(INDEX)});
    executeFunction('f', 'module.exports = () => 1', '', {}).then(
      (r) => console.log(JSON.stringify({ ran: r.data })),
      (e) => console.log(JSON.stringify({ code: e.code, message: e.message })));
  `], { env: { ...process.env, RUNTIME_BACKEND: 'local', RUNTIME_ISOLATION: 'strict', RUNTIME_ISOLATION_DISABLE: disable }, encoding: 'utf8' });

  it('runs functions when every required layer is available', () => {
    expect(JSON.parse(strict('').stdout)).toEqual({ ran: 1 });
  });

  it.each([['landlock', 'Landlock'], ['seccomp', 'seccomp']])('refuses with ISOLATION_UNAVAILABLE when %s is off', (layer, named) => {
    const out = JSON.parse(strict(layer).stdout);
    expect(out.code).toBe('ISOLATION_UNAVAILABLE');
    expect(out.message).toContain(`RUNTIME_ISOLATION=strict and ${named} cannot be applied on this machine`);
    expect(out.message).toContain(`RUNTIME_ISOLATION_DISABLE=${layer}`);
  });

  it('rejects an unknown level or layer by name', () => {
    const bad = spawnSync(process.execPath, ['-e', `
      const { executeFunction } = require(${JSON.stringify(INDEX)});
      executeFunction('f', 'module.exports = () => 1', '', {}).then(() => {}, (e) => console.log(e.message));
    `], { env: { ...process.env, RUNTIME_ISOLATION: 'paranoid' }, encoding: 'utf8' });
    expect(bad.stdout).toContain(`RUNTIME_ISOLATION="paranoid": expected 'auto' or 'strict'`);
  });
});
