//! TypeScript and ES modules → the CommonJS the sandbox runs, in Rust with
//! oxc, plus the position map that turns a stack's `name.js:L:C` back into
//! the user's `name.ts:l:c`.
//!
//! - JavaScript without `import`/`export` is passed through untouched (not
//!   even re-printed), so CommonJS functions behave exactly as before.
//! - TypeScript is stripped by oxc's transformer and re-printed with a
//!   source map (no type checking).
//! - ES module syntax is rewritten *in place*, statement by statement, in a
//!   way that keeps every line where it was: `import` → `require`, `export`
//!   → getters on `exports` appended after the last line. So JavaScript
//!   needs no map at all and TypeScript needs only the codegen's.
//! - A snippet (`runCode`) is a function body: it is wrapped on its own
//!   first line, so only line-1 columns shift, and the wrapper's frames are
//!   dropped from stacks.

use std::fmt::Write as _;
use std::path::Path;

use oxc::allocator::{Allocator, Dummy};
use oxc::ast::ast::{
    Declaration, ExportDefaultDeclarationKind, ImportDeclarationSpecifier, ModuleExportName,
    Program, Statement,
};
use oxc::codegen::{Codegen, CodegenOptions};
use oxc::diagnostics::OxcDiagnostic;
use oxc::parser::{ParseOptions, Parser, ParserReturn};
use oxc::semantic::SemanticBuilder;
use oxc::span::SourceType;
use oxc::transformer::{TransformOptions, Transformer};

use crate::sandbox::FailureKind;

pub use heap::QuietHeap;

mod arena;
mod heap;
#[cfg(target_os = "linux")]
mod mapping;
mod stack;

/// The source language of user code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lang {
    JavaScript,
    TypeScript,
}

/// How code is shaped: a module exporting the function, or a function body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    Module,
    Snippet,
}

/// What to compile as. Part of the module cache's key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct How {
    pub lang: Lang,
    pub mode: Mode,
}

impl Default for How {
    fn default() -> Self {
        How {
            lang: Lang::JavaScript,
            mode: Mode::Module,
        }
    }
}

impl How {
    /// Appended to the cache hash so one code text compiled two ways is
    /// two entries; empty for the default, so CommonJS keys are unchanged.
    pub fn tag(self) -> &'static str {
        match (self.lang, self.mode) {
            (Lang::JavaScript, Mode::Module) => "",
            (Lang::TypeScript, Mode::Module) => "~ts",
            (Lang::JavaScript, Mode::Snippet) => "~snippet-js",
            (Lang::TypeScript, Mode::Snippet) => "~snippet-ts",
        }
    }
    /// How `executeFunction`/`runCode` code in `language` compiles.
    pub fn of(language: crate::config::Language, snippet: bool) -> Self {
        How {
            lang: match language {
                crate::config::Language::Typescript => Lang::TypeScript,
                _ => Lang::JavaScript,
            },
            mode: if snippet { Mode::Snippet } else { Mode::Module },
        }
    }
    fn ext(self) -> &'static str {
        match self.lang {
            Lang::JavaScript => "js",
            Lang::TypeScript => "ts",
        }
    }
}

/// A syntax error with its 1-based line and column (UTF-16 units, as in
/// JavaScript strings).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    pub message: String,
    pub line: u32,
    pub column: u32,
}

/// Why code did not compile, as the invocation's failure.
#[derive(Debug, Clone)]
pub struct CompileError {
    pub kind: FailureKind,
    /// `SyntaxError: … (name.ts:7)`
    pub message: String,
    /// V8-style: `name.ts:7`, the source line, a caret, the message.
    pub stack: String,
}

/// The compiled program: what the sandbox runs and how to read its stacks.
#[derive(Debug)]
pub struct Compiled {
    pub code: String,
    /// The user's file name in stacks (`name.ts`).
    file: String,
    /// The file name the sandbox gives the program (`name.js`).
    sandbox_file: String,
    /// Generated → source positions (TypeScript only; JavaScript keeps its lines).
    map: Option<LineMap>,
    /// Columns the snippet wrapper adds on line 1.
    shift1: u32,
    /// Lines of the user's (compiled) code; later lines are the wrapper's.
    user_lines: u32,
    /// The code as the user wrote it, where its lines differ from the
    /// program's (TypeScript): a syntax error V8 finds shows the user's line.
    /// The module cache keeps this same text as its key (no second copy).
    pub source: Option<std::sync::Arc<str>>,
}

impl Compiled {
    /// Bytes held, for the cache's budget.
    pub fn bytes(&self) -> usize {
        self.code.len() + self.map.as_ref().map_or(0, |m| m.0.len() * 16) + 64
    }

    /// Rewrites every `name.js:L[:C]` of the program in `text` (a stack or a
    /// message) to the user's file and position, and drops the frames of
    /// the snippet wrapper.
    pub fn remap(&self, text: &str) -> String {
        // A syntax error's three-line head is replaced; the rest maps as usual.
        let (head, rest) = match self.syntax_head(text) {
            Some((head, rest)) => (Some(head), rest),
            None => (None, text),
        };
        let mapped = rest
            .split('\n')
            .filter_map(|l| self.remap_line(l))
            .collect::<Vec<_>>()
            .join("\n");
        match head {
            Some(head) if rest.is_empty() => head,
            Some(head) => format!("{head}\n{mapped}"),
            None => mapped,
        }
    }

    /// V8's head of a syntax error in the program (`name.js:L`, the line,
    /// a caret under the token) as the user's file, line and caret: the
    /// program's line text is the compiled one (types gone, tabs), which
    /// the user never wrote; with the text after the head. None: not such a
    /// head, or no source to show.
    fn syntax_head<'t>(&self, text: &'t str) -> Option<(String, &'t str)> {
        let source = self.source.as_deref()?;
        let mut lines = text.splitn(4, '\n');
        let l: u32 = lines
            .next()?
            .strip_prefix(self.sandbox_file.as_str())?
            .strip_prefix(':')?
            .parse()
            .ok()?;
        let program_line = lines.next()?;
        let caret = lines.next()?;
        let rest = lines.next().unwrap_or("");
        let at = caret.chars().position(|c| c == '^')?;
        let len = caret.chars().skip(at).take_while(|&c| c == '^').count();
        if !caret.chars().take(at).all(|c| c == ' ' || c == '\t') {
            return None;
        }
        // The caret's column in UTF-16 units, as the map counts them.
        let col: u32 = program_line
            .chars()
            .take(at)
            .map(|c| c.len_utf16() as u32)
            .sum::<u32>()
            + 1;
        let (sl, sc) = self.position(l, col)?;
        let text = source.lines().nth(sl as usize - 1)?;
        let pad: String = text
            .chars()
            .scan(1u32, |units, c| {
                let here = *units;
                *units += c.len_utf16() as u32;
                (here < sc).then_some(if c == '\t' { '\t' } else { ' ' })
            })
            .collect();
        let head = format!("{}:{sl}\n{text}\n{pad}{}", self.file, "^".repeat(len));
        Some((head, rest))
    }

    /// None: the line is a frame of the wrapper, to be dropped.
    fn remap_line(&self, line: &str) -> Option<String> {
        let needle = format!("{}:", self.sandbox_file);
        let mut out = String::new();
        let mut rest = line;
        let is_frame = line.trim_start().starts_with("at ");
        while let Some(pos) = rest.find(&needle) {
            let before_ok =
                pos == 0 || matches!(rest.as_bytes()[pos - 1], b'(' | b' ' | b'/' | b'@' | b'\n');
            let after = &rest[pos + needle.len()..];
            let l_len = after.bytes().take_while(u8::is_ascii_digit).count();
            if !before_ok || l_len == 0 {
                out.push_str(&rest[..pos + needle.len()]);
                rest = after;
                continue;
            }
            let l: u32 = after[..l_len].parse().unwrap_or(0);
            let mut consumed = l_len;
            let mut c: Option<u32> = None;
            if after[l_len..].starts_with(':') {
                let c_len = after[l_len + 1..]
                    .bytes()
                    .take_while(u8::is_ascii_digit)
                    .count();
                if c_len > 0 {
                    c = after[l_len + 1..l_len + 1 + c_len].parse().ok();
                    consumed += 1 + c_len;
                }
            }
            out.push_str(&rest[..pos]);
            // Without a column (V8's `SyntaxError: … (name.js:1)`), line 1
            // means the user's code after the snippet wrapper's prefix.
            let col = c.unwrap_or(if l == 1 { self.shift1 + 1 } else { 1 });
            match self.position(l, col) {
                Some((sl, sc)) => {
                    let _ = write!(out, "{}:{sl}", self.file);
                    if c.is_some() {
                        let _ = write!(out, ":{sc}");
                    }
                }
                None if is_frame => return None,
                None => out.push_str(&rest[pos..pos + needle.len() + consumed]),
            }
            rest = &after[consumed..];
        }
        out.push_str(rest);
        Some(out)
    }

    /// The user's 1-based (line, column) of a 1-based generated position;
    /// None for the wrapper's own code.
    fn position(&self, line: u32, col: u32) -> Option<(u32, u32)> {
        if line == 0 || line > self.user_lines {
            return None;
        }
        let col = if line == 1 {
            if col <= self.shift1 {
                return None;
            }
            col - self.shift1
        } else {
            col
        };
        match &self.map {
            None => Some((line, col)),
            Some(m) => m.lookup(line - 1, col.saturating_sub(1)),
        }
    }
}

/// Generated (line0, col0) → source (line1, col1), sorted by generated position.
#[derive(Debug)]
struct LineMap(Vec<[u32; 4]>);

impl LineMap {
    fn lookup(&self, line0: u32, col0: u32) -> Option<(u32, u32)> {
        // The last token at or before the position on its line; else the
        // line's first token (a frame inside leading indentation).
        let idx = self.0.partition_point(|t| (t[0], t[1]) <= (line0, col0));
        let t = match idx.checked_sub(1).map(|i| self.0[i]) {
            Some(t) if t[0] == line0 => t,
            _ => *self.0.get(idx).filter(|t| t[0] == line0)?,
        };
        Some((t[2] + 1, t[3] + 1))
    }
}

fn parse_options() -> ParseOptions {
    ParseOptions {
        // CommonJS modules and snippets are function bodies.
        allow_return_outside_function: true,
        // An invalid regular expression literal is an early error in V8
        // (`/(/`): report it before the code runs, not when it is loaded.
        parse_regular_expression: true,
        ..ParseOptions::default()
    }
}

fn source_type(how: How) -> SourceType {
    let base = match how.lang {
        Lang::JavaScript => SourceType::mjs(),
        Lang::TypeScript => SourceType::ts(),
    };
    match how.mode {
        // Script unless it has `import`/`export`: sloppy CommonJS still parses.
        Mode::Module => base.with_unambiguous(true),
        // A module's goal, for top-level `await`.
        Mode::Snippet => base.with_module(true),
    }
}

/// The result of code that did not compile: it never reached a sandbox.
pub(crate) fn failed_result(
    e: &CompileError,
    metrics: &crate::engine::Metrics,
) -> crate::engine::ExecuteResult {
    metrics.observe(Some(e.kind), 0.0);
    crate::engine::ExecuteResult {
        data: crate::sandbox::json_null(),
        logs: Vec::new(),
        time: 0.0,
        error: Some(e.message.clone()),
        stack: (!e.stack.is_empty()).then(|| e.stack.clone()),
        kind: Some(e.kind),
    }
}

/// An outcome's error, stack and log lines with the user's file and
/// positions: a stack the function logged (`console.error(err)`) reads
/// `name.ts:7` as its failure does.
pub(crate) fn remap(
    compiled: Option<&Result<Compiled, CompileError>>,
    error: Option<String>,
    stack: Option<String>,
    logs: &mut [String],
) -> (Option<String>, Option<String>) {
    let Some(Ok(c)) = compiled else {
        return (error, stack);
    };
    for line in logs.iter_mut().filter(|l| l.contains(&c.sandbox_file)) {
        *line = c.remap(line);
    }
    (error.map(|e| c.remap(&e)), stack.map(|s| c.remap(&s)))
}

/// 1-based line and UTF-16 column of a byte offset.
fn line_col(src: &str, offset: u32) -> (u32, u32) {
    let offset = (offset as usize).min(src.len());
    let mut offset = offset;
    while !src.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &src[..offset];
    let line = before.matches('\n').count() as u32 + 1;
    let start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[start..].encode_utf16().count() as u32 + 1;
    (line, col)
}

fn diagnostic(src: &str, d: &OxcDiagnostic) -> Diagnostic {
    // The primary label, else the last (a redeclaration labels the first
    // declaration, then the offending one).
    let offset = d
        .labels
        .iter()
        .find(|l| l.primary())
        .or(d.labels.last())
        .map_or(0, |l| l.offset());
    let (line, column) = line_col(src, offset);
    Diagnostic {
        message: d.message.to_string(),
        line,
        column,
    }
}

/// The language `validateCode` reads for a `language` name: `INVALID_ARGUMENT`
/// for an unknown one and for `python3`, which validates nothing yet.
pub fn validation_lang(language: &str) -> crate::Result<Lang> {
    match crate::Language::parse(language)? {
        crate::Language::Nodejs => Ok(Lang::JavaScript),
        crate::Language::Typescript => Ok(Lang::TypeScript),
        crate::Language::Python3 => Err(crate::Error::invalid(
            "language 'python3' is not supported by validateCode yet: use 'javascript' or 'typescript'",
        )),
    }
}

/// Runs oxc's work on `code`: on a stack sized for it and in this thread's
/// arena, or not at all when the code could overflow any stack we give.
fn with_oxc<T>(code: &str, f: impl FnOnce(&Allocator) -> T) -> Result<T, stack::TooDeep> {
    stack::with_stack(code, || arena::with_arena(code.len(), f))
}

/// The syntax errors of `code` as a snippet (a function body: top-level
/// `return` and `await` allowed; `import`/`export` too), without running it.
pub fn validate(lang: Lang, code: &str) -> Vec<Diagnostic> {
    heap::quiet(|| with_oxc(code, |allocator| validate_in(allocator, lang, code))).unwrap_or_else(
        |too_deep| {
            vec![Diagnostic {
                message: too_deep.message(),
                line: 1,
                column: 1,
            }]
        },
    )
}

fn validate_in(allocator: &Allocator, lang: Lang, code: &str) -> Vec<Diagnostic> {
    let how = How {
        lang,
        mode: Mode::Snippet,
    };
    let mut ret = Parser::new(allocator, code, source_type(how))
        .with_options(parse_options())
        .parse();
    let mut out: Vec<Diagnostic> = ret
        .diagnostics
        .iter()
        .filter(|d| !valid_in_a_function_body(d))
        .map(|d| diagnostic(code, d))
        .collect();
    if out.is_empty() && !ret.panicked {
        out.extend(unsupported_syntax(code, &ret.program));
        check_as_function_body(&mut ret);
        // Early errors the parser leaves to semantic analysis (a `let`
        // declared twice, a `break` outside a loop).
        let sem = SemanticBuilder::new()
            .with_check_syntax_error(true)
            .build(&ret.program);
        out.extend(sem.diagnostics.iter().map(|d| diagnostic(code, d)));
    }
    out.sort_by_key(|d| (d.line, d.column));
    out
}

/// What the parser refuses at a program's top level but our code may do,
/// since every program runs inside a function (runCode's, or the CommonJS
/// wrapper): `new.target`, undefined there, as in coze-loop's
/// `new Function(code)`.
fn valid_in_a_function_body(d: &OxcDiagnostic) -> bool {
    d.message == "Unexpected new.target expression"
}

/// A snippet runs as the body of a sloppy-mode async function (runCode's
/// wrapper), so semantic checks must apply strict-mode rules (`with`, `010`,
/// `delete x`) only under a 'use strict' directive, or to code with
/// import/export (ES module code is strict). The module goal the snippet was
/// parsed with was only there to let top-level `await` parse.
fn check_as_function_body(parsed: &mut ParserReturn) {
    if !parsed.module_record.has_module_syntax {
        parsed.program.source_type = parsed.program.source_type.with_commonjs(true);
    }
}

fn syntax_error(file: &str, src: &str, d: &Diagnostic, kind: FailureKind) -> CompileError {
    let text = src.lines().nth(d.line as usize - 1).unwrap_or("");
    let caret = " ".repeat(d.column.saturating_sub(1) as usize);
    let label = match kind {
        FailureKind::EsmSyntax => "",
        _ => "SyntaxError: ",
    };
    CompileError {
        kind,
        message: format!("{label}{} ({file}:{})", d.message, d.line),
        stack: format!(
            "{file}:{}\n{text}\n{caret}^\n\n{label}{}",
            d.line, d.message
        ),
    }
}

/// Compiles `code` (the function `name`) for the sandbox. `Ok(None)`: run
/// the code as it is (CommonJS, or JavaScript that oxc cannot parse, which
/// V8 then reports with its own message).
pub fn compile(name: &str, code: &str, how: How) -> Result<Option<Compiled>, CompileError> {
    match with_oxc(code, |allocator| compile_in(allocator, name, code, how)) {
        Ok(result) => result,
        // CommonJS JavaScript runs as it is: V8 checks its own stack.
        Err(_) if how == How::default() => Ok(None),
        Err(too_deep) => {
            let message = format!("SyntaxError: {} ({name}.{})", too_deep.message(), how.ext());
            Err(CompileError {
                kind: FailureKind::SyntaxError,
                stack: message.clone(),
                message,
            })
        }
    }
}

fn compile_in(
    allocator: &Allocator,
    name: &str,
    code: &str,
    how: How,
) -> Result<Option<Compiled>, CompileError> {
    let file = format!("{name}.{}", how.ext());
    let mut parsed = Parser::new(allocator, code, source_type(how))
        .with_options(parse_options())
        .parse();
    let first_error = |ret: &ParserReturn, src: &str| {
        ret.diagnostics
            .iter()
            .filter(|d| !valid_in_a_function_body(d))
            .map(|d| diagnostic(src, d))
            .min_by_key(|d| (d.line, d.column))
    };
    if let Some(d) = first_error(&parsed, code) {
        if how == How::default() {
            return Ok(None);
        }
        return Err(syntax_error(&file, code, &d, FailureKind::SyntaxError));
    }
    if let Some(span) = parsed.module_record.import_metas.first() {
        let (line, column) = line_col(code, span.start);
        let d = Diagnostic {
            message: "import.meta is not supported: functions run as CommonJS (use __filename)"
                .into(),
            line,
            column,
        };
        return Err(syntax_error(&file, code, &d, FailureKind::EsmSyntax));
    }
    if how.mode == Mode::Snippet {
        if let Some(s) = parsed.program.body.iter().find(|s| is_export(s)) {
            let (line, column) = line_col(code, stmt_start(s));
            let d = Diagnostic {
                message: "`export` is not allowed in runCode code: it is a function body (return the value instead)".into(),
                line,
                column,
            };
            return Err(syntax_error(&file, code, &d, FailureKind::SyntaxError));
        }
    }
    if how.mode == Mode::Snippet {
        check_as_function_body(&mut parsed);
    }
    let esm =
        parsed.module_record.has_module_syntax || !parsed.module_record.dynamic_imports.is_empty();
    if how.mode == Mode::Module && parsed.module_record.has_module_syntax {
        // Module code runs in CommonJS's synchronous wrapper.
        if let Some(start) = top_level_await(&parsed.program) {
            let (line, column) = line_col(code, start);
            let d = Diagnostic {
                message: "top-level await is not supported in a function module: await inside the exported function".into(),
                line,
                column,
            };
            return Err(syntax_error(&file, code, &d, FailureKind::EsmSyntax));
        }
    }
    if how == How::default() && !esm {
        return Ok(None);
    }
    if let Some(d) = unsupported_syntax(code, &parsed.program) {
        return Err(syntax_error(&file, code, &d, FailureKind::SyntaxError));
    }

    let (js, map) = match how.lang {
        Lang::JavaScript => (String::new(), None),
        Lang::TypeScript => {
            let mut program = std::mem::replace(&mut parsed.program, Program::dummy(allocator));
            // enum_eval: the transformer needs evaluated enum members (it panics without).
            let sem = SemanticBuilder::new()
                .with_check_syntax_error(true)
                .with_enum_eval(true)
                .build(&program);
            if let Some(d) = sem
                .diagnostics
                .iter()
                .map(|d| diagnostic(code, d))
                .min_by_key(|d| (d.line, d.column))
            {
                return Err(syntax_error(&file, code, &d, FailureKind::SyntaxError));
            }
            let scoping = sem.semantic.into_scoping();
            let path = Path::new(&file);
            let ret = Transformer::new(allocator, path, &TransformOptions::default())
                .build_with_scoping(scoping, &mut program);
            if let Some(d) = ret
                .diagnostics
                .iter()
                .map(|d| diagnostic(code, d))
                .min_by_key(|d| (d.line, d.column))
            {
                return Err(syntax_error(&file, code, &d, FailureKind::SyntaxError));
            }
            let out = Codegen::new()
                .with_options(CodegenOptions {
                    source_map_path: Some(path.to_path_buf()),
                    ..CodegenOptions::default()
                })
                .build(&program);
            let map = out.map.map(|m| {
                let mut t: Vec<[u32; 4]> = m
                    .get_tokens()
                    .map(|t| {
                        [
                            t.get_dst_line(),
                            t.get_dst_col(),
                            t.get_src_line(),
                            t.get_src_col(),
                        ]
                    })
                    .collect();
                t.sort_unstable();
                LineMap(t)
            });
            (out.code, map)
        }
    };

    // The ES module rewrite reads the JavaScript (the TypeScript's output).
    let rewritten = if how.lang == Lang::JavaScript {
        rewrite_esm(code, &parsed.program, &parsed.module_record)
    } else {
        let allocator = Allocator::default();
        let st = match how.mode {
            Mode::Module => SourceType::mjs().with_unambiguous(true),
            Mode::Snippet => SourceType::mjs(),
        };
        let ret = Parser::new(&allocator, &js, st)
            .with_options(parse_options())
            .parse();
        if let Some(d) = first_error(&ret, &js) {
            // oxc printed code it cannot read back: a compiler bug, reported as such.
            return Err(CompileError {
                kind: FailureKind::SyntaxError,
                message: format!(
                    "TypeScript compiler error: the compiled code does not parse ({}:{}:{}: {})",
                    file, d.line, d.column, d.message
                ),
                stack: String::new(),
            });
        }
        rewrite_esm(&js, &ret.program, &ret.module_record)
    };

    let source = map.is_some().then(|| std::sync::Arc::from(code));
    let user_lines = rewritten.body.matches('\n').count() as u32 + 1;
    let (code, shift1) = match how.mode {
        Mode::Module => (format!("{}{}", rewritten.body, rewritten.epilogue), 0),
        Mode::Snippet => {
            let prefix = SNIPPET_PREFIX;
            (
                format!(
                    "{prefix}{}\n{SNIPPET_SUFFIX}{}",
                    rewritten.body, rewritten.epilogue
                ),
                prefix.encode_utf16().count() as u32,
            )
        }
    };
    Ok(Some(Compiled {
        code,
        file,
        sandbox_file: format!("{name}.js"),
        map,
        shift1,
        user_lines,
        source,
    }))
}

// The snippet wrapper. Its console is Node's own `Console` (groups, tables,
// counters, timers, assert and trace as a process prints them) over two
// streams that forward each write, as written, to the sandbox's console
// tagged `O` (stdout) or `E` (stderr), so runCode can split the streams even
// when a line itself starts with `[ERROR] `. It is the context's global
// console too, so no console call of the snippet goes out untagged (an
// untagged "open" was read as stdout "pen"), and `process.stdout.write` /
// `process.stderr.write` (and emitWarning) go to the same streams, exactly
// as written (`write('a')` then `write('b')` is stdout `ab`). The return
// value travels as `[value]`, or `[]` for undefined.
const SNIPPET_PREFIX: &str = "module.exports = async function () { const console = __snippetConsole(globalThis.console); const __r = await (async () => {";
const SNIPPET_SUFFIX: &str = "})(); return __r === undefined ? [] : [__r]; };\n\
function __snippetConsole(c) { const { Console } = require('console'); \
const stream = (tag) => ({ write: (s) => { c.log(tag + s); return true; } }); \
const p = globalThis.process, streams = Symbol.for('simple-ide.runtime.streams'); \
if (p && typeof p[streams] === 'function') p[streams]((s) => c.log('O' + s), (s) => c.log('E' + s)); \
return globalThis.console = new Console({ stdout: stream('O'), stderr: stream('E'), colorMode: false, ignoreErrors: false }); }\n";

/// Syntax of the decorators proposal that oxc parses but no Node.js runs:
/// decorators (TypeScript's and the TC39 proposal's; oxc compiles them only
/// with helpers the sandbox does not have, and V8 refused the program with
/// `Invalid or unexpected token (name.js:1)`, the wrong file and line) and
/// class auto-accessors (`accessor x`: V8's `Unexpected identifier 'x'`).
/// The first of either, by position.
fn unsupported_syntax(src: &str, program: &Program) -> Option<Diagnostic> {
    use oxc::ast::ast::{AccessorProperty, Decorator};
    use oxc::ast_visit::{walk, Visit};
    const DECORATOR: &str = "decorators are not supported: Node.js does not run them, and the runtime does not compile them (call the function instead)";
    const ACCESSOR: &str = "class auto-accessors (`accessor x`) are not supported: Node.js does not run them, and the runtime does not compile them (write a getter and a setter)";
    struct Finder(Option<(u32, &'static str)>);
    impl Finder {
        fn found(&mut self, at: u32, message: &'static str) {
            if self.0.is_none_or(|(first, _)| at < first) {
                self.0 = Some((at, message));
            }
        }
    }
    impl<'a> Visit<'a> for Finder {
        fn visit_decorator(&mut self, it: &Decorator<'a>) {
            self.found(it.span.start, DECORATOR);
        }
        fn visit_accessor_property(&mut self, it: &AccessorProperty<'a>) {
            self.found(it.span.start, ACCESSOR);
            walk::walk_accessor_property(self, it);
        }
    }
    // Most code has neither: no walk of its tree.
    if !src.contains('@') && !src.contains("accessor") {
        return None;
    }
    let mut f = Finder(None);
    f.visit_program(program);
    let (at, message) = f.0?;
    let (line, column) = line_col(src, at);
    Some(Diagnostic {
        message: message.into(),
        line,
        column,
    })
}

/// Where the first `await` outside any function is.
fn top_level_await(program: &Program) -> Option<u32> {
    use oxc::ast::ast::{ArrowFunctionExpression, AwaitExpression, ForOfStatement, Function};
    use oxc::ast_visit::{walk, Visit};
    use oxc::syntax::scope::ScopeFlags;
    struct Finder(Option<u32>);
    impl<'a> Visit<'a> for Finder {
        fn visit_function(&mut self, _: &Function<'a>, _: ScopeFlags) {}
        fn visit_arrow_function_expression(&mut self, _: &ArrowFunctionExpression<'a>) {}
        fn visit_await_expression(&mut self, it: &AwaitExpression<'a>) {
            self.0.get_or_insert(it.span.start);
        }
        fn visit_for_of_statement(&mut self, it: &ForOfStatement<'a>) {
            if it.r#await {
                self.0.get_or_insert(it.span.start);
            }
            walk::walk_for_of_statement(self, it);
        }
    }
    let mut f = Finder(None);
    f.visit_program(program);
    f.0
}

fn is_export(s: &Statement) -> bool {
    matches!(
        s,
        Statement::ExportNamedDeclaration(_)
            | Statement::ExportDeclaration(_)
            | Statement::ExportFromDeclaration(_)
            | Statement::ExportDefaultDeclaration(_)
            | Statement::ExportAllDeclaration(_)
            | Statement::TSExportAssignment(_)
    )
}

fn stmt_start(s: &Statement) -> u32 {
    use oxc::span::GetSpan;
    s.span().start
}

struct Rewritten {
    /// The code with the same line count as its input.
    body: String,
    /// Appended after the last line: export getters and helpers.
    epilogue: String,
}

fn js_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

fn export_name(n: &ModuleExportName) -> String {
    n.name().to_string()
}

/// Rewrites `import`/`export` statements in place, keeping line breaks.
fn rewrite_esm(
    src: &str,
    program: &Program,
    record: &oxc::syntax::module_record::ModuleRecord,
) -> Rewritten {
    // (start, end, replacement); replacements keep the span's newlines.
    let mut edits: Vec<(u32, u32, String)> = Vec::new();
    // (exported name, JavaScript expression of its value)
    let mut exports: Vec<(String, String)> = Vec::new();
    let mut star_used = false;
    let mut default_used = false;
    let mut anonymous_default = false;
    let mut tmp = 0usize;
    let mut fresh = || {
        tmp += 1;
        format!("__esm{tmp}")
    };
    for stmt in &program.body {
        match stmt {
            Statement::ImportDeclaration(d) => {
                let req = format!("require({})", js_string(&d.source.value));
                let text = match &d.specifiers {
                    None => format!("{req};"),
                    Some(specs) if specs.is_empty() => format!("{req};"),
                    Some(specs) => {
                        let m = fresh();
                        let mut s = format!("const {m} = {req};");
                        for spec in specs {
                            match spec {
                                ImportDeclarationSpecifier::ImportDefaultSpecifier(x) => {
                                    default_used = true;
                                    let _ =
                                        write!(s, " const {} = __esmDefault({m});", x.local.name);
                                }
                                ImportDeclarationSpecifier::ImportNamespaceSpecifier(x) => {
                                    let _ = write!(s, " const {} = {m};", x.local.name);
                                }
                                ImportDeclarationSpecifier::ImportSpecifier(x) => {
                                    let imported = export_name(&x.imported);
                                    let _ = write!(
                                        s,
                                        " const {} = {m}[{}];",
                                        x.local.name,
                                        js_string(&imported)
                                    );
                                }
                            }
                        }
                        s
                    }
                };
                edits.push((d.span.start, d.span.end, text));
            }
            Statement::ExportDeclaration(d) => {
                use oxc::span::GetSpan;
                // `export ` becomes blanks: columns stay the user's.
                let decl = &d.declaration;
                let start = decl.span().start;
                edits.push((
                    d.span.start,
                    start,
                    " ".repeat((start - d.span.start) as usize),
                ));
                match decl {
                    Declaration::VariableDeclaration(v) => {
                        for declarator in &v.declarations {
                            for id in declarator.id.get_binding_identifiers() {
                                exports.push((id.name.to_string(), id.name.to_string()));
                            }
                        }
                    }
                    Declaration::FunctionDeclaration(f) => {
                        if let Some(id) = &f.id {
                            exports.push((id.name.to_string(), id.name.to_string()));
                        }
                    }
                    Declaration::ClassDeclaration(c) => {
                        if let Some(id) = &c.id {
                            exports.push((id.name.to_string(), id.name.to_string()));
                        }
                    }
                    _ => {}
                }
            }
            Statement::ExportFromDeclaration(d) => {
                let m = fresh();
                edits.push((
                    d.span.start,
                    d.span.end,
                    format!("const {m} = require({});", js_string(&d.source.value)),
                ));
                for s in &d.specifiers {
                    let local = export_name(&s.local);
                    let value = if local == "default" {
                        default_used = true;
                        format!("__esmDefault({m})")
                    } else {
                        format!("{m}[{}]", js_string(&local))
                    };
                    exports.push((export_name(&s.exported), value));
                }
            }
            Statement::ExportNamedDeclaration(d) => {
                edits.push((d.span.start, d.span.end, String::new()));
                for s in &d.specifiers {
                    exports.push((export_name(&s.exported), export_name(&s.local)));
                }
            }
            Statement::ExportDefaultDeclaration(d) => {
                let named = match &d.declaration {
                    ExportDefaultDeclarationKind::FunctionDeclaration(f) => {
                        f.id.as_ref().map(|i| (i.name.to_string(), f.span.start))
                    }
                    ExportDefaultDeclarationKind::ClassDeclaration(c) => {
                        c.id.as_ref().map(|i| (i.name.to_string(), c.span.start))
                    }
                    _ => None,
                };
                match named {
                    Some((name, start)) => {
                        edits.push((
                            d.span.start,
                            start,
                            " ".repeat((start - d.span.start) as usize),
                        ));
                        exports.push(("default".into(), name));
                    }
                    None => {
                        use oxc::span::GetSpan;
                        let start = match &d.declaration {
                            ExportDefaultDeclarationKind::FunctionDeclaration(f) => f.span.start,
                            ExportDefaultDeclarationKind::ClassDeclaration(c) => c.span.start,
                            other => other.span().start,
                        };
                        // `export default ` becomes `const __esmd = ` of the
                        // same shape, so the value keeps its line and column.
                        let span = &src[d.span.start as usize..start as usize];
                        let mut text = String::from("const __esmd =");
                        match span.rfind('\n') {
                            None => {
                                text.push_str(&" ".repeat(span.len().saturating_sub(text.len())))
                            }
                            Some(i) => {
                                text.push_str(&"\n".repeat(span.matches('\n').count()));
                                text.push_str(&" ".repeat(span.len() - i - 1));
                            }
                        }
                        edits.push((d.span.start, start, text));
                        exports.push(("default".into(), "__esmd".into()));
                        anonymous_default = true;
                    }
                }
            }
            Statement::ExportAllDeclaration(d) => {
                let req = format!("require({})", js_string(&d.source.value));
                match &d.exported {
                    Some(name) => {
                        let m = fresh();
                        edits.push((d.span.start, d.span.end, format!("const {m} = {req};")));
                        exports.push((export_name(name), m));
                    }
                    None => {
                        star_used = true;
                        edits.push((
                            d.span.start,
                            d.span.end,
                            format!("__esmExportStar(exports, {req});"),
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    let mut dynamic = false;
    for di in &record.dynamic_imports {
        // `import(x)` → `__esmImport(x)`: vm scripts have no module loader.
        edits.push((
            di.span.start,
            di.span.start + "import".len() as u32,
            "__esmImport".into(),
        ));
        dynamic = true;
    }
    edits.sort_by_key(|e| (e.0, e.1));
    let mut body = String::with_capacity(src.len() + 256);
    let mut at = 0usize;
    for (start, end, text) in edits {
        let (start, end) = (start as usize, end as usize);
        if start < at {
            continue;
        }
        body.push_str(&src[at..start]);
        body.push_str(&text);
        // The statement's own line breaks, so later lines stay put.
        let kept = text.matches('\n').count();
        for _ in src[start..end].matches('\n').skip(kept) {
            body.push('\n');
        }
        at = end;
    }
    body.push_str(&src[at..]);

    let mut epilogue = String::new();
    if !exports.is_empty() || record.has_module_syntax {
        epilogue.push_str("\n;Object.defineProperty(exports, \"__esModule\", { value: true });");
        for (name, value) in &exports {
            let _ = write!(
                epilogue,
                " Object.defineProperty(exports, {}, {{ enumerable: true, configurable: true, get: () => {value} }});",
                js_string(name)
            );
        }
    }
    if anonymous_default {
        // An anonymous function or class exported as default is named
        // `default` (as in an ES module), not after our binding: stacks
        // show `at default (name.ts:3:9)`.
        epilogue.push_str("\nif (typeof __esmd === 'function' && __esmd.name === '__esmd') Object.defineProperty(__esmd, 'name', { value: 'default' });");
    }
    if default_used {
        epilogue
            .push_str("\nfunction __esmDefault(m) { return m && m.__esModule ? m.default : m; }");
    }
    if star_used {
        epilogue.push_str("\nfunction __esmExportStar(e, m) { for (const k of Object.keys(m)) if (k !== 'default' && !Object.prototype.hasOwnProperty.call(e, k)) Object.defineProperty(e, k, { enumerable: true, configurable: true, get: () => m[k] }); }");
    }
    if dynamic {
        epilogue.push_str(
            "\nfunction __esmImport(s) { return Promise.resolve().then(() => require(s)); }",
        );
    }
    if !epilogue.is_empty() {
        epilogue.push('\n');
    }
    Rewritten { body, epilogue }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TS: How = How {
        lang: Lang::TypeScript,
        mode: Mode::Module,
    };

    #[test]
    fn commonjs_passes_through_untouched() {
        let c = compile("f", "module.exports = () => 1", How::default()).unwrap();
        assert!(c.is_none());
        // Unparseable JavaScript is left to V8's own message.
        assert!(compile("f", "module.exports = () => {", How::default())
            .unwrap()
            .is_none());
    }

    #[test]
    fn esm_keeps_lines_and_exports_getters() {
        let src = "import crypto from 'node:crypto';\nimport {\n  join\n} from 'path';\nexport const a = 1;\nexport default function main(ctx) {\n  return join('a', 'b');\n}\n";
        let c = compile("f", src, How::default()).unwrap().unwrap();
        let lines: Vec<&str> = c.code.lines().collect();
        assert!(
            lines[0].starts_with("const __esm1 = require(\"node:crypto\");"),
            "{}",
            c.code
        );
        assert_eq!(lines[4], "       const a = 1;");
        assert_eq!(lines[5], "               function main(ctx) {");
        assert_eq!(lines[6], "  return join('a', 'b');");
        assert!(c.code.contains("get: () => main"), "{}", c.code);
    }

    #[test]
    fn an_anonymous_default_export_keeps_its_columns() {
        let one = compile("f", "export default  async () => 1;\nf();", How::default())
            .unwrap()
            .unwrap();
        assert!(
            one.code.starts_with("const __esmd =  async () => 1;\nf();"),
            "{}",
            one.code
        );
        let split = compile("f", "export default\n   (ctx) => 2;\n", How::default())
            .unwrap()
            .unwrap();
        assert!(
            split.code.starts_with("const __esmd =\n   (ctx) => 2;\n"),
            "{}",
            split.code
        );
        assert!(split.code.contains("get: () => __esmd"), "{}", split.code);
    }

    #[test]
    fn typescript_is_stripped_and_stack_lines_map_back() {
        let src = "interface In { x: number }\n\ntype T = string;\nexport default function (ctx: { body: In }): number {\n  const y: number = ctx.body.x;\n  throw new Error('at line 6 ' + y);\n}\n";
        let c = compile("fn", src, TS).unwrap().unwrap();
        assert!(!c.code.contains("interface"), "{}", c.code);
        let gen_line = c
            .code
            .lines()
            .position(|l| l.contains("throw new Error"))
            .unwrap() as u32
            + 1;
        let col = c
            .code
            .lines()
            .nth(gen_line as usize - 1)
            .unwrap()
            .find("new")
            .unwrap() as u32
            + 1;
        let stack = format!("Error: at line 6\n    at exports.default (fn.js:{gen_line}:{col})\n    at other (x.js:1:1)");
        let mapped = c.remap(&stack);
        assert!(mapped.contains("(fn.ts:6:9)"), "{mapped}\n{}", c.code);
        assert!(mapped.contains("(x.js:1:1)"));
    }

    #[test]
    fn typescript_syntax_error_names_the_ts_line() {
        let e = compile("bad", "const a: number = 1;\nlet = = 2;\n", TS).unwrap_err();
        assert_eq!(e.kind, FailureKind::SyntaxError);
        assert!(e.message.starts_with("SyntaxError: "), "{}", e.message);
        assert!(e.message.ends_with("(bad.ts:2)"), "{}", e.message);
        assert!(e.stack.starts_with("bad.ts:2\nlet = = 2;\n"), "{}", e.stack);
    }

    #[test]
    fn a_syntax_error_v8_finds_in_typescript_shows_the_users_line_and_caret() {
        // oxc reads regular-expression modifiers (ES2025); Node 20's V8 does
        // not. V8's head quotes the program's line: a tab, types gone.
        let src = "interface A { x: number }\nexport default (a: A): number => {\n  const r: RegExp = /(?i:a)b/; // é\n  return a.x;\n};\n";
        let c = compile("re", src, TS).unwrap().unwrap();
        let (i, program_line) = c
            .code
            .lines()
            .enumerate()
            .find(|(_, l)| l.contains("/(?i:a)b/"))
            .unwrap();
        let at = program_line.find('/').unwrap();
        let caret: String = program_line[..at]
            .chars()
            .map(|ch| if ch == '\t' { '\t' } else { ' ' })
            .collect();
        let stack = format!(
            "re.js:{}\n{program_line}\n{caret}^^^^^^^^^\n\nSyntaxError: Invalid regular expression: /(?i:a)b/: Invalid group",
            i + 1
        );
        assert_eq!(
            c.remap(&stack),
            "re.ts:3\n  const r: RegExp = /(?i:a)b/; // é\n                    ^^^^^^^^^\n\nSyntaxError: Invalid regular expression: /(?i:a)b/: Invalid group"
        );
        // Not a head of the program's: mapped line by line, as before.
        assert_eq!(c.remap("other.js:3\nx\n^"), "other.js:3\nx\n^");
        // JavaScript keeps its lines and text: nothing to replace.
        let js = compile("m", "export default () => /(?i:a)b/;\n", How::default())
            .unwrap()
            .unwrap();
        assert!(js.source.is_none());
    }

    #[test]
    fn enums_compile() {
        let c = compile("e", "enum C { A, B }\nexport default () => C.B;\n", TS)
            .unwrap()
            .unwrap();
        assert!(
            c.code.contains("C[\"B\"] = 1") || c.code.contains("C[C[\"B\"] = 1]"),
            "{}",
            c.code
        );
    }

    #[test]
    fn snippets_wrap_on_line_one_and_drop_wrapper_frames() {
        let how = How {
            lang: Lang::JavaScript,
            mode: Mode::Snippet,
        };
        let c = compile("snippet", "console.log(1);\nthrow new Error('x');", how)
            .unwrap()
            .unwrap();
        let stack = "Error: x\n    at snippet.js:2:7\n    at module.exports (snippet.js:1:120)";
        assert_eq!(c.remap(stack), "Error: x\n    at snippet.js:2:7");
        let col1 = SNIPPET_PREFIX.len() as u32 + 5;
        assert_eq!(
            c.remap(&format!("at snippet.js:1:{col1}")),
            "at snippet.js:1:5"
        );
        let e = compile("snippet", "export const a = 1", how).unwrap_err();
        assert!(
            e.message.contains("`export` is not allowed"),
            "{}",
            e.message
        );
    }

    #[test]
    fn logs_and_line_only_messages_are_remapped() {
        let how = How {
            lang: Lang::TypeScript,
            mode: Mode::Snippet,
        };
        let compiled = compile(
            "snippet",
            "const n: number = 1;\nconsole.error(new Error('x'));",
            how,
        )
        .map(|c| c.expect("a snippet is always compiled"));
        // Line 1 up to the prefix's length is the wrapper's code.
        let mut logs = vec![
            "eError: x\n    at snippet.js:2:15\n    at module.exports (snippet.js:1:5)".to_string(),
            "osnippet.json is a file name, not a frame".to_string(),
        ];
        let (error, stack) = remap(
            Some(&compiled),
            Some("Unexpected identifier 'r' (snippet.js:1)".into()),
            None,
            &mut logs,
        );
        assert_eq!(
            error.as_deref(),
            Some("Unexpected identifier 'r' (snippet.ts:1)"),
            "V8's message names line 1 without a column"
        );
        assert_eq!(stack, None);
        assert_eq!(logs[0], "eError: x\n    at snippet.ts:2:15");
        assert_eq!(logs[1], "osnippet.json is a file name, not a frame");
    }

    #[test]
    fn import_meta_is_reported() {
        let e = compile(
            "m",
            "const u = import.meta.url;\nexport default () => u;",
            How::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind, FailureKind::EsmSyntax);
        assert_eq!(
            e.message,
            "import.meta is not supported: functions run as CommonJS (use __filename) (m.js:1)"
        );
    }

    #[test]
    fn top_level_await_in_a_module_is_reported() {
        let e = compile(
            "m",
            "const f = async () => await 1;\nconst x = await f();\nexport default () => x;",
            How::default(),
        )
        .unwrap_err();
        assert_eq!(e.kind, FailureKind::EsmSyntax);
        assert!(e.message.ends_with("(m.js:2)"), "{}", e.message);
    }

    #[test]
    fn validate_allows_snippet_return_and_await() {
        assert!(validate(Lang::JavaScript, "const x = await 1; return x;").is_empty());
        assert!(validate(Lang::TypeScript, "const x: number = await 1; return x;").is_empty());
        let d = validate(Lang::JavaScript, "const a = 1;\nfunction (\n");
        assert_eq!(d[0].line, 2);
        let d = validate(Lang::JavaScript, "let a = 1;\nlet a = 2;");
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].line, 2, "{d:?}");
        assert!(!validate(Lang::JavaScript, "const x: number = 1").is_empty());
    }

    #[test]
    fn new_target_is_valid_where_code_runs_inside_a_function() {
        // Snippets run in runCode's function, modules in the CommonJS
        // wrapper: `new.target` is undefined there, never a syntax error.
        for lang in [Lang::JavaScript, Lang::TypeScript] {
            assert!(validate(lang, "return typeof new.target;").is_empty());
            assert!(validate(lang, "export const t = new.target;").is_empty());
            let snippet = How {
                lang,
                mode: Mode::Snippet,
            };
            assert!(compile("s", "return new.target === undefined;", snippet).is_ok());
            let module = How {
                lang,
                mode: Mode::Module,
            };
            let src = "export default () => 1;\nconst t = new.target;";
            assert!(compile("m", src, module).is_ok());
        }
        // Only the meta property `new.target` is; `new.foo` stays an error.
        assert!(!validate(Lang::JavaScript, "return new.foo;").is_empty());
    }

    #[test]
    fn snippets_are_checked_as_sloppy_function_bodies() {
        // TypeScript itself refuses `with`, in any mode.
        assert_eq!(
            validate(Lang::JavaScript, "with ({ a: 1 }) { return a; }"),
            vec![]
        );
        let sloppy = [
            "var a = 010;",
            "delete x;",
            "var yield = 1, static = 2;",
            "function f(a, a) {}",
            "if (1) function f() {}",
            "function a() {} var a;",
        ];
        for code in sloppy {
            for lang in [Lang::JavaScript, Lang::TypeScript] {
                assert_eq!(validate(lang, code), vec![], "{lang:?}: {code}");
            }
            let snippet = How {
                lang: Lang::TypeScript,
                mode: Mode::Snippet,
            };
            assert!(
                compile("s", code, snippet).is_ok(),
                "runCode's compile: {code}"
            );
        }
        // Strict where the code asks for it, or where it is module code.
        let strict = [
            (
                "'use strict';\nwith (a) {}",
                "'with' statements are not allowed",
            ),
            (
                "import fs from 'node:fs';\nwith (fs) {}",
                "'with' statements are not allowed",
            ),
            (
                "'use strict';\nvar a = 010;",
                "'0'-prefixed octal literals and octal escape sequences are deprecated",
            ),
        ];
        for (code, message) in strict {
            let d = validate(Lang::JavaScript, code);
            assert_eq!((d[0].line, d[0].message.as_str()), (2, message), "{code}");
        }
        // Lexical redeclarations stay errors in sloppy code.
        assert_eq!(validate(Lang::JavaScript, "let a; var a;").len(), 1);
    }

    #[test]
    fn decorators_are_reported_where_they_are() {
        let code = "const a = '@';\n@sealed\nclass D {}\nexport default () => 1;";
        let message = "decorators are not supported: Node.js does not run them, and the runtime does not compile them (call the function instead)";
        let d = validate(Lang::TypeScript, code);
        assert_eq!(
            (d[0].line, d[0].column, d[0].message.as_str()),
            (2, 1, message)
        );
        let ts = How {
            lang: Lang::TypeScript,
            mode: Mode::Module,
        };
        let e = compile("deco", code, ts).unwrap_err();
        assert_eq!(e.kind, FailureKind::SyntaxError);
        assert_eq!(e.message, format!("SyntaxError: {message} (deco.ts:2)"));
        // An `@` in a string alone is no decorator.
        assert!(compile("at", "const a: string = '@';\nexport default () => a;", ts).is_ok());
    }

    #[test]
    fn class_auto_accessors_are_reported_where_they_are() {
        let accessor = "class auto-accessors (`accessor x`) are not supported: Node.js does not run them, and the runtime does not compile them (write a getter and a setter)";
        let code = "class C {\n  static accessor n = 0;\n}\nexport default () => C;";
        for lang in [Lang::TypeScript, Lang::JavaScript] {
            let d = validate(lang, code);
            assert_eq!(
                (d[0].line, d[0].column, d[0].message.as_str()),
                (2, 3, accessor)
            );
            let how = How {
                lang,
                mode: Mode::Module,
            };
            let e = compile("acc", code, how).unwrap_err();
            let file = if lang == Lang::TypeScript {
                "acc.ts"
            } else {
                "acc.js"
            };
            assert_eq!(e.message, format!("SyntaxError: {accessor} ({file}:2)"));
        }
        // The first of a decorator and an accessor is the one named.
        let both = "class C {\n  accessor a = 1;\n  @d m() {}\n}";
        assert_eq!(validate(Lang::TypeScript, both)[0].message, accessor);
        // A field or a method named `accessor` is ordinary code.
        for ok in [
            "class C { accessor = 1; accessor2() {} }\nexport default () => new C().accessor;",
            "const accessor = 1;\nexport default () => accessor;",
        ] {
            assert!(validate(Lang::TypeScript, ok).is_empty(), "{ok}");
            assert!(
                compile(
                    "ok",
                    ok,
                    How {
                        lang: Lang::TypeScript,
                        mode: Mode::Module
                    }
                )
                .is_ok(),
                "{ok}"
            );
        }
    }

    #[test]
    fn invalid_regular_expressions_are_syntax_errors() {
        let cases = [
            (
                "let a = /(/;",
                "Invalid regular expression: Unterminated capturing group",
            ),
            (
                "let a = /a{2,1}/;",
                "Invalid regular expression: Numbers out of order in braced quantifier",
            ),
            (
                "let a = /(?<n>a)(?<n>b)/;",
                "Invalid regular expression: Duplicated capturing group names",
            ),
        ];
        for (code, message) in cases {
            let d = validate(Lang::JavaScript, code);
            assert_eq!(d.len(), 1, "{code}: {d:?}");
            assert!(d[0].message.starts_with(message), "{code}: {d:?}");
            let ts = How {
                lang: Lang::TypeScript,
                mode: Mode::Module,
            };
            let Err(e) = compile("re", code, ts) else {
                panic!("{code} compiled")
            };
            assert!(
                e.message.starts_with(&format!("SyntaxError: {message}")),
                "{}",
                e.message
            );
        }
        // Annex B's sloppy forms, which V8 accepts without the u flag.
        for code in ["/{/", "/]/", "/\\8/", "/a{/", "/[\\d-a]/", "/\\c/"] {
            assert_eq!(validate(Lang::JavaScript, code), vec![], "{code}");
        }
    }
}
