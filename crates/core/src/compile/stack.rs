//! The native stack oxc runs on.
//!
//! oxc's parser, semantic analysis, transformer and code generator all
//! recurse once per level of nesting, with no limit of their own
//! (oxc-project/oxc#24375, #21953). On a 2 MiB tokio thread, 3 000 nested
//! `[` were enough to overflow the stack, and that kills the whole host
//! process with SIGSEGV: any function author could have stopped the server.
//!
//! So before oxc sees any code, [`stack_bound`] gives an upper bound on the
//! stack the code can make it use. Every level of nesting consumes at least
//! one token, so the bound charges every token: each punctuation byte and
//! each word. The weights are twice the worst cost per token measured on
//! the release build, across 30 nesting shapes:
//! - 1 542 B per `[` or `(`;
//! - 1 795 B per `{a:` or `` `${ ``;
//! - 2 114 B per `class A{m(){`;
//! - 978 B per `a=>`;
//! - 96 B per `!`.
//!
//! The bound ignores strings and comments, so nothing can hide nesting from
//! it. [`with_stack`] then runs oxc on a stack at least that large: the
//! thread's own when enough of it is left, else a 64 MiB stack kept per
//! thread, else one `stacker` maps for the call. Code whose bound
//! passes [`MAX_STACK`] is not given to oxc at all: a caller reports it.
//! For ordinary code the bound is about 0.7 KiB per byte (minified code
//! about twice that), so the limit falls near 750 KiB of code.

/// Weight of one ASCII punctuation byte (bracket, operator, quote, …).
const PER_PUNCT: usize = 3_200;
/// Weight of one word (identifier, keyword, number), whatever its length.
const PER_WORD: usize = 1_200;
/// Frames below and around the recursion (semantic analysis, codegen).
const BASE: usize = 1 << 20;

/// The largest stack oxc may be given. With the weights' 2× margin, a
/// pathological input touches at most about half of it, for as long as the
/// call lasts (the stack is unmapped after).
pub(crate) const MAX_STACK: usize = 512 << 20;

/// Each byte's class for [`stack_bound`]: bit 0 a word byte (ASCII
/// alphanumeric, `_`, `$`, or any byte of a non-ASCII character), bit 1
/// punctuation (any other byte but ASCII whitespace).
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_alphanumeric() || c == b'_' || c == b'$' || c >= 0x80 {
            1
        } else if c.is_ascii_whitespace() {
            0
        } else {
            2
        };
        b += 1;
    }
    t
};

/// An upper bound, in bytes, on the native stack oxc needs for `code`.
pub(crate) fn stack_bound(code: &str) -> usize {
    // Branch-free over a table: this scan ran at ~1 GB/s with branches,
    // 9 % of validateCode's time on the 2 010-line bench file.
    let mut punct = 0usize;
    let mut words = 0usize;
    let mut prev = 0u8;
    for &b in code.as_bytes() {
        let c = CLASS[b as usize];
        let w = c & 1;
        words += (w & !prev & 1) as usize;
        punct += (c >> 1) as usize;
        prev = w;
    }
    BASE.saturating_add(punct.saturating_mul(PER_PUNCT))
        .saturating_add(words.saturating_mul(PER_WORD))
}

/// Code that oxc must not see, and why: its bound is above [`MAX_STACK`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooDeep {
    pub bound: usize,
}

impl TooDeep {
    pub(crate) fn message(&self) -> String {
        format!(
            "the code is too large or too deeply nested to parse safely (it could need {} MiB of native stack; the limit is {} MiB); split it into smaller modules",
            self.bound.div_ceil(1 << 20),
            MAX_STACK >> 20
        )
    }
}

/// Runs `f` (oxc's work on `code`) on a stack large enough for `code`.
pub(crate) fn with_stack<T>(code: &str, f: impl FnOnce() -> T) -> Result<T, TooDeep> {
    let bound = stack_bound(code);
    if bound > MAX_STACK {
        return Err(TooDeep { bound });
    }
    if stacker::remaining_stack().is_some_and(|left| left >= bound) {
        return Ok(f());
    }
    // Most code fits this thread's reused stack; larger bounds get a fresh
    // one, mapped for the call.
    Ok(cached::run(bound, f).unwrap_or_else(|f| stacker::grow(bound, f)))
}

#[cfg(target_os = "linux")]
mod cached {
    //! One reused stack per thread, so a call maps nothing and its pages
    //! stay in place: a fresh stack per call cost ~0.25 ms of page faults
    //! and mapping on the 2 010-line bench file. `MADV_DONTFORK`, as the
    //! arena, so a fork of the host does not write-protect it either.

    use std::cell::RefCell;

    use super::super::mapping::DontForkMap;

    /// Usable size; one guard page below it.
    const SIZE: usize = 64 << 20;
    const GUARD: usize = 4096;

    struct Stack {
        map: DontForkMap,
    }

    impl Stack {
        fn new() -> Option<Stack> {
            let map = DontForkMap::new(SIZE + GUARD)?;
            // SAFETY: the lowest page of the mapping made above; nothing
            // uses it yet. On failure the mapping unmaps itself.
            if unsafe { libc::mprotect(map.base().as_ptr().cast(), GUARD, libc::PROT_NONE) } != 0 {
                return None;
            }
            Some(Stack { map })
        }
    }

    thread_local! {
        static STACK: RefCell<Option<Option<Stack>>> = const { RefCell::new(None) };
    }

    /// Runs `f` on this thread's reused stack, or hands it back when the
    /// stack is too small, in use, or cannot be made.
    pub(super) fn run<T, F: FnOnce() -> T>(bound: usize, f: F) -> Result<T, F> {
        if bound > SIZE {
            return Err(f);
        }
        STACK.with(|cell| {
            let Ok(mut slot) = cell.try_borrow_mut() else {
                return Err(f);
            };
            let Some(stack) = slot.get_or_insert_with(Stack::new).as_ref() else {
                return Err(f);
            };
            // SAFETY: `base` is page-aligned (above the guard page) and `SIZE`
            // a multiple of any stack alignment; the region is ours and
            // borrowed (the RefCell) for the whole call. The callback must
            // not unwind across the switch, so a panic is caught on the new
            // stack and resumed on the old one, as `stacker` does.
            let out = unsafe {
                let base = stack.map.base().as_ptr().add(GUARD);
                psm::on_stack(base, SIZE, move || {
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
                })
            };
            match out {
                Ok(v) => Ok(v),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        })
    }
}

#[cfg(not(target_os = "linux"))]
mod cached {
    pub(super) fn run<T, F: FnOnce() -> T>(_bound: usize, f: F) -> Result<T, F> {
        Err(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{compile, validate, validation_lang, How, Lang, Mode};

    /// Nesting shapes at a depth that overflowed a 2 MiB thread before.
    fn deep(shape: &str, n: usize) -> String {
        let r = |a: &str| a.repeat(n);
        match shape {
            "bracket" => format!("x = {}{};", r("["), r("]")),
            "paren" => format!("x = {}1{};", r("("), r(")")),
            "object" => format!("x = {}1{};", r("{a:"), r("}")),
            "template" => format!("x = {}1{};", r("`${"), r("}`")),
            "class" => format!("{}{}", r("class A{m(){"), r("}}")),
            "arrow" => format!("x = {}1;", r("a=>")),
            "not" => format!("x = {}1;", r("!")),
            "binary" => format!("x = 1{};", r("+1")),
            "elseif" => format!("if(a){{}}{}", r("else if(a){}")),
            "tsarray" => format!("let x: {}number{};", r("Array<"), r(">")),
            _ => unreachable!(),
        }
    }

    const SHAPES: [&str; 10] = [
        "bracket", "paren", "object", "template", "class", "arrow", "not", "binary", "elseif",
        "tsarray",
    ];

    // Each runs on a 2 MiB thread, as tokio's are: before, each of these
    // aborted the process.
    fn on_small_thread(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(2 << 20)
            .spawn(f)
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn deep_nesting_within_the_limit_compiles_and_validates() {
        on_small_thread(|| {
            for shape in SHAPES {
                let code = deep(shape, 8_000);
                assert!(stack_bound(&code) <= MAX_STACK, "{shape}");
                let ts = validation_lang("ts").unwrap();
                let errors = validate(ts, &code);
                assert!(errors.is_empty(), "{shape}: {:?}", errors.first());
                let how = How {
                    lang: Lang::TypeScript,
                    mode: Mode::Module,
                };
                assert!(compile("f", &code, how).is_ok(), "{shape}");
            }
        });
    }

    #[test]
    fn nesting_past_the_limit_is_a_clear_error_not_a_crash() {
        on_small_thread(|| {
            let code = deep("bracket", 400_000);
            assert!(stack_bound(&code) > MAX_STACK);
            let ts = validation_lang("ts").unwrap();
            let errors = validate(ts, &code);
            assert_eq!(errors.len(), 1);
            assert!(
                errors[0].message.contains("too large or too deeply nested"),
                "{}",
                errors[0].message
            );
            let how = How {
                lang: Lang::TypeScript,
                mode: Mode::Module,
            };
            let e = compile("f", &code, how).unwrap_err();
            assert!(e.message.contains("too deeply nested"), "{}", e.message);
            // CommonJS JavaScript runs as it is: V8 has its own stack limit.
            assert!(compile("f", &code, How::default()).unwrap().is_none());
        });
    }

    #[test]
    fn a_panic_on_the_reused_stack_reaches_the_caller_and_the_stack_stays_usable() {
        on_small_thread(|| {
            // Past a 2 MiB thread's stack, within the reused one.
            let code = "!".repeat(2_000);
            let bound = stack_bound(&code);
            assert!(bound > 2 << 20 && bound < 64 << 20);
            let outer = psm::stack_pointer() as usize;
            let caught = std::panic::catch_unwind(|| {
                with_stack(&code, || -> usize { panic!("inside oxc") })
            });
            assert!(caught.is_err());
            let inner = with_stack(&code, || psm::stack_pointer() as usize).unwrap();
            // It ran on another stack, not this thread's.
            assert!(inner.abs_diff(outer) > 2 << 20, "{inner:#x} vs {outer:#x}");
        });
    }

    #[test]
    fn the_bound_counts_what_strings_and_comments_hold() {
        let plain = stack_bound("x = [[[1]]];");
        assert!(stack_bound("x = '[[[1]]]'; // ]]]") > plain);
        assert_eq!(stack_bound(""), BASE);
        assert_eq!(stack_bound("abc  def"), BASE + 2 * PER_WORD);
        assert_eq!(stack_bound("(("), BASE + 2 * PER_PUNCT);
        // The table counts as the plain definition does, on every ASCII
        // byte and on non-ASCII characters (word bytes, like identifiers).
        let plain_bound = |code: &str| {
            let (mut punct, mut words, mut in_word) = (0, 0, false);
            for &b in code.as_bytes() {
                let word = b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80;
                if word && !in_word {
                    words += 1;
                } else if !word && !b.is_ascii_whitespace() {
                    punct += 1;
                }
                in_word = word;
            }
            BASE + punct * PER_PUNCT + words * PER_WORD
        };
        let all: String = (0u8..128).map(char::from).collect();
        for code in [
            all.as_str(),
            "a\u{a0}b é$_9 \t\n\r\x0c{[(`${x}`)]}",
            "变量=值; /* ü */ a=>b",
        ] {
            assert_eq!(stack_bound(code), plain_bound(code), "{code:?}");
        }
    }
}
