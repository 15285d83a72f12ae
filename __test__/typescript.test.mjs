// TypeScript and ES modules compiled in Rust, stacks in source lines,
// validateCode and runCode, as Node sees them. typescript.dify.test.mjs runs
// this file again on the dify backend.
import { createRequire } from 'node:module';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect } from 'vitest';

const require = createRequire(import.meta.url);
const { executeFunction, validateCode, runCode } = require('../index.js');

const ts = (name, code, ctx = {}) => executeFunction(name, code, '', ctx, { language: 'typescript' });

const TS_FN = `import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

interface Body { n: number }
enum Scale { One = 1, Ten = 10 }

export default async function handler(ctx: { body: Body; headers?: IncomingHttpHeaders }): Promise<object> {
  const n: number = ctx.body.n * Scale.Ten;
  if (n > 100) {
    throw new RangeError('too big: ' + n);
  }
  return { n, sha: createHash('sha1').update('x').digest('hex').slice(0, 8) };
}
`;

describe('executeFunction with TypeScript and ES modules', () => {
  it('strips types, runs enums and imports Node built-ins', async () => {
    const r = await ts('tsfn', TS_FN, { body: { n: 2 } });
    expect(r.error).toBeUndefined();
    expect(r.data).toEqual({ n: 20, sha: '11f6ad8e' });
  });

  it("a thrown error's stack names the .ts file and line", async () => {
    const r = await ts('tsfn', TS_FN, { body: { n: 50 } });
    expect(r.error).toBe('too big: 500');
    expect(r.errorCode).toBe('FUNCTION_THREW');
    expect(r.stack).toMatch(/^RangeError: too big: 500\n\s+at handler \(tsfn\.ts:10:11\)/);
    expect(r.stack).not.toContain('tsfn.js');
  });

  it('an anonymous default export is named `default`, as in an ES module', async () => {
    const arrow = await ts('anon', "export default async (ctx: object) => {\n  throw new Error('x');\n}");
    expect(arrow.stack).toMatch(/^Error: x\n\s+at default \(anon\.ts:2:9\)/);
    const fn = await executeFunction('anonfn', "export default function () { throw new Error('z') }", '', {});
    expect(fn.stack).toMatch(/^Error: z\n\s+at default \(anonfn\.js:1:36\)/);
    // A name the function gave itself stays.
    const own = await ts('own', "export default (function mine() { throw new Error('y') });");
    expect(own.stack).toMatch(/^Error: y\n\s+at mine \(own\.ts:1:41\)/);
    const bound = await ts('bound', "function named() { throw new Error('w') }\nexport default named;");
    expect(bound.stack).toMatch(/^Error: w\n\s+at named \(bound\.ts:1:26\)/);
  });

  it('a stack the function logs names the .ts lines too, and no runtime frames', async () => {
    const code = [
      'interface Box { n: number }',
      'function fail(b: Box): never {',
      "  throw new RangeError('bad box ' + b.n);",
      '}',
      'export default async function handler(ctx: { body: Box }) {',
      '  try {',
      '    fail(ctx.body);',
      '  } catch (e) {',
      '    console.error(e);',
      '    return (e as Error).stack;',
      '  }',
      '}',
    ].join('\n');
    const r = await ts('logged', code, { body: { n: 1 } });
    expect(r.error).toBeUndefined();
    expect(r.logs).toEqual(['[ERROR] RangeError: bad box 1\n    at fail (logged.ts:3:9)\n    at handler (logged.ts:7:5)']);
    // The value the function read: the same two frames, in the compiled
    // program's positions (only what the runtime reports is mapped).
    expect(r.data).toMatch(/^RangeError: bad box 1\n    at fail \(logged\.js:\d+:\d+\)\n    at handler \(logged\.js:\d+:\d+\)$/);
    // A function's own prepareStackTrace still wins in its context.
    const own = await executeFunction('own', "module.exports = () => { Error.prepareStackTrace = () => 'mine'; return new Error('x').stack }", '', {});
    expect(own.data).toBe('mine');
  });

  it('a syntax error names the .ts line and does not run', async () => {
    const r = await ts('broken', 'const a: number = 1;\n\nlet b: string = ;\nexport default () => a;\n');
    expect(r.errorCode).toBe('SYNTAX_ERROR');
    expect(r.error).toBe('SyntaxError: Unexpected token (broken.ts:3)');
    expect(r.stack).toBe('broken.ts:3\nlet b: string = ;\n                ^\n\nSyntaxError: Unexpected token');
  });

  it('JavaScript ES modules work with every export form; CommonJS is unchanged', async () => {
    const run = (code) => executeFunction('esm', code, '', { body: { x: 1 } });
    expect((await run("import { join } from 'node:path';\nexport default (ctx) => join('a', String(ctx.body.x))")).data).toBe('a/1');
    expect((await run('export function main(ctx) { return ctx.body.x + 1 }')).data).toBe(2);
    expect((await run('const f = async () => 3;\nexport { f as default };')).data).toBe(3);
    expect((await run("export * from 'node:os';\nexport default () => 4")).data).toBe(4);
    expect((await run("export default async () => (await import('node:path')).sep")).data).toBe('/');
    expect((await run('module.exports = (ctx) => ctx.body.x')).data).toBe(1);
  });

  it('what does not compile says why', async () => {
    const run = (code) => executeFunction('esm', code, '', {});
    let r = await run('export default () => import.meta.url');
    expect(r.errorCode).toBe('ESM_SYNTAX');
    expect(r.error).toBe('import.meta is not supported: functions run as CommonJS (use __filename) (esm.js:1)');
    r = await run("const x = await Promise.resolve(1);\nexport default () => x");
    expect(r.errorCode).toBe('ESM_SYNTAX');
    expect(r.error).toBe('top-level await is not supported in a function module: await inside the exported function (esm.js:1)');
    r = await run("import _ from 'lodash';\nexport default () => _");
    expect(r.error).toMatch(/^Cannot find module 'lodash': functions can require only Node built-in modules/);
    // Decorators: named at their .ts line, in runCode and validateCode alike.
    const deco = 'decorators are not supported: Node.js does not run them, and the runtime does not compile them (call the function instead)';
    r = await ts('deco', "function sealed(c: Function) {}\n@sealed\nclass D {}\nexport default () => 1;");
    expect([r.errorCode, r.error]).toEqual(['SYNTAX_ERROR', `SyntaxError: ${deco} (deco.ts:2)`]);
    const rc = await runCode({ language: 'ts', code: 'const d = (c: any) => c;\n@d class E {}\nreturn 1;' });
    expect([rc.errorCode, rc.error]).toEqual(['SYNTAX_ERROR', `SyntaxError: ${deco} (snippet.ts:2)`]);
    expect(validateCode('ts', 'const d = (c: any) => c;\n@d class E {}\nreturn 1;').errors).toEqual([{ message: deco, line: 2, column: 1 }]);
    // Class auto-accessors: V8 said only "Unexpected identifier 'n'".
    const acc = 'class auto-accessors (`accessor x`) are not supported: Node.js does not run them, and the runtime does not compile them (write a getter and a setter)';
    r = await ts('acc', 'class C {\n  static accessor n: number = 0;\n}\nexport default () => C.n;');
    expect([r.errorCode, r.error]).toEqual(['SYNTAX_ERROR', `SyntaxError: ${acc} (acc.ts:2)`]);
    expect(validateCode('ts', 'class C {\n  accessor n = 0;\n}').errors).toEqual([{ message: acc, line: 2, column: 3 }]);
  });

  it('`using` declarations run on Node 24 and later; older nodes name what is missing', async () => {
    const version = (await executeFunction('version', 'module.exports = () => process.version', '', {})).data;
    const code = "export default () => {\n  const log: string[] = [];\n  {\n    using r = { [Symbol.dispose]() { log.push('disposed'); } };\n    log.push('in');\n  }\n  return log;\n};";
    const r = await ts('using', code);
    if (Number(version.slice(1).split('.')[0]) >= 24) {
      expect(r.error).toBeUndefined();
      expect(r.data).toEqual(['in', 'disposed']);
    } else {
      expect([r.errorCode, r.error]).toEqual(['SYNTAX_ERROR', `SyntaxError: Unexpected identifier 'r': \`using\` declarations need Node.js 24 or later, and this sandbox runs ${version}: use try/finally (using.ts:4)`]);
    }
    // A variable named `using` is ordinary code everywhere.
    expect((await ts('using2', 'const using = 2;\nexport default () => using * 2;')).data).toBe(4);
  });

  it('regular-expression syntax newer than the workers\' node validates, then runs or fails at its line as that node says', async () => {
    const version = (await executeFunction('version', 'module.exports = () => process.version', '', {})).data;
    const modern = Number(version.slice(1).split('.')[0]) >= 23;
    const cases = [
      ['modifiers', '/(?i:a)b/', 'Invalid group', ['Ab']],
      ['dupgroups', '/(?<y>a)|(?<y>b)/', 'Duplicate capture group name', ['b']],
    ];
    for (const [name, re, v8says, match] of cases) {
      const code = `interface R { m: string[] }\nexport default (): R => {\n  const re = ${re};\n  return { m: [...(${name === 'modifiers' ? "'Ab'" : "'b'"}.match(re) ?? [])].slice(0, 1) };\n};`;
      expect(validateCode('ts', code)).toEqual({ valid: true, errors: [] });
      const r = await ts(`re-${name}`, code);
      if (modern) {
        expect(r.error).toBeUndefined();
        expect(r.data).toEqual({ m: match });
      } else {
        expect([r.errorCode, r.error]).toEqual(['SYNTAX_ERROR', `SyntaxError: Invalid regular expression: ${re}: ${v8says} (re-${name}.ts:3)`]);
        // The line as written (not the compiled one) and a caret under it.
        expect(r.stack.split('\n').slice(0, 3)).toEqual([`re-${name}.ts:3`, `  const re = ${re};`, `${' '.repeat(13)}${'^'.repeat(re.length)}`]);
      }
    }
  });

  it('an unknown language is INVALID_ARGUMENT; python3 is not supported yet', async () => {
    await expect(executeFunction('f', 'module.exports = () => 1', '', {}, { language: 'ruby' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: "unknown language \"ruby\": expected 'typescript' ('ts'), 'javascript' ('js', 'nodejs') or 'python3' ('python')",
    });
    await expect(executeFunction('f', 'x = 1', '', {}, { language: 'python' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: "language 'python3' is not supported by executeFunction: functions are JavaScript ('javascript') or TypeScript ('typescript')",
    });
  });
});

describe('validateCode', () => {
  it('accepts snippets with top-level return and await, in both languages', () => {
    expect(validateCode('js', 'const x = await Promise.resolve(1);\nreturn x;')).toEqual({ valid: true, errors: [] });
    expect(validateCode('typescript', 'const x: number = await 1;\nreturn x as number;')).toEqual({ valid: true, errors: [] });
  });

  it('reports each error with its line and column', () => {
    expect(validateCode('javascript', 'const a = 1;\nlet b = ;')).toEqual({
      valid: false,
      errors: [{ message: 'Unexpected token', line: 2, column: 9 }],
    });
    expect(validateCode('js', 'let a;\nlet a;').errors).toEqual([
      { message: 'Identifier `a` has already been declared', line: 2, column: 5 },
    ]);
    // Type annotations are TypeScript, not JavaScript.
    expect(validateCode('js', 'const x: number = 1').valid).toBe(false);
  });

  // A snippet is a sloppy-mode function body, as runCode runs it and as
  // `node --check` reads a CommonJS file: validateCode, runCode and node
  // agree on what is an error.
  it('agrees with runCode and node --check on sloppy code, strict mode and regular expressions', async () => {
    const valid = ['with ({}) {}', 'var a = 010;', 'delete x;', 'var yield = 1;', 'function f(a, a) {}',
      'if (1) function f() {}', 'var r = /{/;', 'var r = /]/;'];
    const invalid = {
      "'use strict';\nwith ({}) {}": "'with' statements are not allowed",
      "'use strict';\nvar a = 010;": "'0'-prefixed octal literals and octal escape sequences are deprecated",
      'let a;\nvar a;': 'Identifier `a` has already been declared',
      'x;\nvar r = /(/;': 'Invalid regular expression: Unterminated capturing group',
      'x;\nvar r = /a{2,1}/;': 'Invalid regular expression: Numbers out of order in braced quantifier',
    };
    const dir = mkdtempSync(join(tmpdir(), 'validate-'));
    const nodeAccepts = (code) => {
      writeFileSync(join(dir, 'c.js'), code);
      try { execFileSync(process.execPath, ['--check', join(dir, 'c.js')], { stdio: 'pipe' }); return true; } catch { return false; }
    };
    try {
      for (const code of valid) {
        expect([code, validateCode('js', code)]).toEqual([code, { valid: true, errors: [] }]);
        expect([code, nodeAccepts(code)]).toEqual([code, true]);
        const r = await runCode({ language: 'js', code });
        expect([code, r.errorCode, r.exitCode]).toEqual([code, undefined, 0]);
      }
      for (const [code, message] of Object.entries(invalid)) {
        const v = validateCode('js', code);
        expect([code, v.valid, v.errors[0].line, v.errors[0].message.startsWith(message)]).toEqual([code, false, 2, true]);
        expect([code, nodeAccepts(code)]).toEqual([code, false]);
        const r = await runCode({ language: 'js', code });
        expect([code, r.errorCode]).toEqual([code, 'SYNTAX_ERROR']);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives every thread its own answers when worker threads validate at once (the addon allocator keeps a slot per thread)', async () => {
    const { Worker } = await import('node:worker_threads');
    const src = `
      const { parentPort, workerData } = require('node:worker_threads');
      const { validateCode } = require(workerData.addon);
      const out = [];
      for (let i = 0; i < 200; i++) {
        const bad = validateCode('ts', 'let v' + workerData.id + ': number = ' + i + ';\\nlet v' + workerData.id + ' = 2;');
        const good = validateCode('ts', 'const w: string = "' + i + '";\\nreturn w;');
        out.push(bad.errors.length === 1 && bad.errors[0].line === 2 && bad.errors[0].message.includes('v' + workerData.id) && good.valid);
      }
      parentPort.postMessage(out.every(Boolean));`;
    const addon = require.resolve('../index.js');
    const threads = Array.from({ length: 4 }, (_, id) => new Promise((resolve, reject) => {
      const w = new Worker(src, { eval: true, workerData: { addon, id } });
      w.once('message', resolve);
      w.once('error', reject);
    }));
    // The main thread validates meanwhile, too.
    for (let i = 0; i < 100; i++) {
      const r = validateCode('ts', `let m: number = ${i};\nlet m = 1;`);
      expect(r.errors).toHaveLength(1);
      expect(r.errors[0].message).toContain('`m` has already been declared');
    }
    expect(await Promise.all(threads)).toEqual([true, true, true, true]);
    // Threads that ended gave their slots back: more can come and go.
    for (let round = 0; round < 5; round++) {
      const more = Array.from({ length: 4 }, (_, id) => new Promise((resolve, reject) => {
        const w = new Worker(src, { eval: true, workerData: { addon, id: 10 + id } });
        w.once('message', resolve);
        w.once('error', reject);
      }));
      expect(await Promise.all(more)).toEqual([true, true, true, true]);
    }
  }, 60_000);

  it('an unknown language or a wrong argument is INVALID_ARGUMENT', () => {
    expect(() => validateCode('cobol', 'x')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^unknown language "cobol"/) }));
    expect(() => validateCode('python', 'x')).toThrow(expect.objectContaining({
      code: 'INVALID_ARGUMENT',
      message: "language 'python3' is not supported by validateCode yet: use 'javascript' or 'typescript'",
    }));
    expect(() => validateCode('js', 42)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});

describe('runCode (the coze-loop contract)', () => {
  it("runs coze-loop's example", async () => {
    const r = await runCode({ language: 'js', code: "console.log('Hello World'); return 42;" });
    expect(r).toMatchObject({ stdout: 'Hello World\n', stderr: '', retVal: '42', exitCode: 0 });
    expect(r.time).toBeGreaterThan(0);
    expect(r.error).toBeUndefined();
  });

  it("TypeScript's `catch (e: unknown) { if (e instanceof Error) … }` sees a built-in's error as an Error", async () => {
    const code = "try { JSON.parse(require('zlib').gunzipSync(Buffer.from('x')).toString()); } catch (e: unknown) { return e instanceof Error ? e.message : 'not an Error'; }";
    const r = await runCode({ language: 'ts', code });
    expect(r.error).toBeUndefined();
    expect(r.retVal).toBe('"unexpected end of file"');
  });

  it('splits stdout and stderr as a process would, and returns JSON', async () => {
    const r = await runCode({
      language: 'ts',
      code: "const x: number = await Promise.resolve(2);\nconsole.error('to stderr', x);\nconsole.warn('warned');\nconsole.log('[ERROR] still stdout', { a: [1] });\nreturn { x };",
    });
    expect(r.stdout).toBe('[ERROR] still stdout { a: [ 1 ] }\n');
    expect(r.stderr).toBe('to stderr 2\nwarned\n');
    expect(r.retVal).toBe('{"x":2}');
    expect((await runCode({ language: 'js', code: 'console.log(1)' })).retVal).toBe('');
    expect((await runCode({ language: 'js', code: 'return null' })).retVal).toBe('null');
  });

  it('process.stdout.write and process.stderr.write print exactly what they are given, in order with console', async () => {
    const r = await runCode({
      language: 'ts',
      code: "console.log('a');\nprocess.stdout.write('b');\nprocess.stdout.write(Buffer.from('c\\n'));\nprocess.stderr.write('no newline');\nconsole.error('!');\nglobalThis.process.stdout.write('d', () => {});\nprocess.emitWarning('careful');\nreturn process.stdout.isTTY;",
    });
    expect(r.error).toBeUndefined();
    expect(r.stdout).toBe('a\nbc\nd');
    expect(r.stderr).toBe('no newline!\nWarning: careful\n');
    expect(r.retVal).toBe('false');
    const bad = await runCode({ language: 'js', code: 'process.stdout.write(42)' });
    expect(bad.error).toBe('The "chunk" argument must be of type string or an instance of Buffer or Uint8Array');
  });

  it('a throw exits 1 with the stack (in snippet lines) on stderr', async () => {
    const r = await runCode({ language: 'typescript', code: "type T = number;\nconsole.log('before');\nthrow new TypeError('bad ' + (1 as T));" });
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toBe('before\n');
    expect(r.error).toBe('bad 1');
    expect(r.errorCode).toBe('FUNCTION_THREW');
    expect(r.stderr).toMatch(/^TypeError: bad 1\n\s+at snippet\.ts:3:7/);
  });

  it("every console method prints as a process would, on its stream, even text starting with 'o' or 'e'", async () => {
    const code = [
      "console.group('open');",
      "console.log('inside');",
      'console.groupEnd();',
      "console.count('events');",
      "console.table([{ a: 1 }]);",
      "console.assert(false, 'bad');",
      "globalThis.console.log('engine');",
      "console.info('%s=%d', 'x', 5);",
      'return 1;',
    ].join('\n');
    const r = await runCode({ language: 'js', code });
    expect(r.stdout).toBe('open\n  inside\nevents: 1\n┌─────────┬───┐\n│ (index) │ a │\n├─────────┼───┤\n│ 0       │ 1 │\n└─────────┴───┘\nengine\nx=5\n');
    expect(r.stderr).toBe('Assertion failed: bad\n');
    expect(r.exitCode).toBe(0);
  });

  it('an error the snippet logs reads in snippet lines, with no runtime frames', async () => {
    const r = await runCode({ language: 'ts', code: "const n: number = 2;\nconsole.error(new Error('logged ' + n));\nreturn n;" });
    expect(r).toMatchObject({ stdout: '', stderr: 'Error: logged 2\n    at snippet.ts:2:15\n', retVal: '2', exitCode: 0 });
  });

  it('new.target is valid in a snippet and a module (both run inside a function), as in new Function(code)', async () => {
    for (const language of ['js', 'ts']) {
      expect(validateCode(language, 'return typeof new.target')).toEqual({ valid: true, errors: [] });
      const r = await runCode({ language, code: 'return typeof new.target' });
      expect([r.exitCode, r.retVal, r.stderr]).toEqual([0, '"undefined"', '']);
    }
    // A module runs in the CommonJS wrapper: there too.
    const m = await ts('newtarget', 'const t: string = typeof new.target;\nexport default () => t;');
    expect([m.error, m.data]).toEqual([undefined, 'undefined']);
    // coze-loop's own check: a Function body may say new.target.
    expect(new Function('return typeof new.target')()).toBe('undefined');
  });

  it('a syntax error and a timeout are errors', async () => {
    let r = await runCode({ language: 'js', code: 'const a = ;' });
    expect(r).toMatchObject({ exitCode: 1, errorCode: 'SYNTAX_ERROR', error: 'SyntaxError: Unexpected token (snippet.js:1)' });
    r = await runCode({ language: 'js', code: 'while (true) {}', timeoutMs: 300 });
    expect(r).toMatchObject({ exitCode: 1, errorCode: 'TIMEOUT', error: 'Function timed out after 300 ms' });
    expect((await runCode({ language: 'js', code: 'return 1' })).retVal).toBe('1');
  });

  it('misuse rejects with INVALID_ARGUMENT', async () => {
    await expect(runCode({ language: 'python', code: 'print(1)' })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: "language 'python3' is not supported by runCode yet: use 'javascript' or 'typescript'",
    });
    await expect(runCode({ language: 'js', code: 'return 1', timeoutMs: 0 })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', message: expect.stringContaining('options.timeoutMs') });
    await expect(Promise.resolve().then(() => runCode({ language: 'js' }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});
