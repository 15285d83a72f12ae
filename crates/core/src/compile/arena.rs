//! The arena oxc parses into: one per thread, reused, in memory that a
//! `fork` leaves alone.
//!
//! Why not a plain reused `Allocator`: every `fork` of the host (each
//! `child_process.spawn`, each worker the pool starts) write-protects the
//! parent's private pages, and the next parse then takes a page fault for
//! each page of the arena it writes: about 256 faults, 0.7 ms on a VM, more
//! than the parse itself. Memory mapped with `MADV_DONTFORK` is not part of
//! the child at all, so the parent's pages stay writable. The region is
//! reserved once (`MAP_NORESERVE`: only the pages a parse touches are ever
//! backed) and never grows, so code above [`FIXED_MAX_CODE`] parses in an
//! ordinary growable arena instead. Where the mapping cannot be made (a
//! strict overcommit policy, a small RLIMIT_AS, not Linux) every parse uses
//! the growable arena. A child forked without `exec` does not have the
//! region; Node never runs JavaScript in one, and our own spawner's child
//! does not parse.

use std::cell::RefCell;

use oxc::allocator::Allocator;

/// Code up to this many bytes parses in the fixed arena.
pub(crate) const FIXED_MAX_CODE: usize = 256 << 10;

/// The fixed arena's reserved (virtual) size: 1024× the largest code it
/// takes. An AST costs about 15 bytes per source byte for ordinary code (1 MiB
/// for 67 kB of TypeScript) and under 100 for the densest (`0,0,0,…`, `;;;`);
/// a fixed arena that filled would panic ("out of memory"), so the margin
/// is wide.
#[cfg(target_os = "linux")]
const FIXED_SIZE: usize = 256 << 20;

thread_local! {
    // `None` inside: the fixed arena could not be made (and will not be
    // tried again on this thread).
    static FIXED: RefCell<Option<Option<fixed::Fixed>>> = const { RefCell::new(None) };
    static GROWABLE: RefCell<Allocator> = RefCell::new(Allocator::default());
}

/// Runs `f` with this thread's arena, reset, sized for `code_len` bytes.
pub(crate) fn with_arena<T>(code_len: usize, f: impl FnOnce(&Allocator) -> T) -> T {
    let mut f = Some(f);
    if code_len <= FIXED_MAX_CODE {
        let done = FIXED.with(|cell| {
            let Ok(mut slot) = cell.try_borrow_mut() else {
                return None;
            };
            let fixed = slot.get_or_insert_with(fixed::Fixed::new).as_mut()?;
            let alloc = fixed.allocator();
            alloc.reset();
            f.take().map(|f| f(alloc))
        });
        if let Some(out) = done {
            return out;
        }
    }
    let Some(f) = f.take() else {
        unreachable!("the closure runs at most once")
    };
    GROWABLE.with(|cell| match cell.try_borrow_mut() {
        Ok(mut a) => {
            a.reset();
            f(&a)
        }
        // Re-entered (never expected): a fresh arena.
        Err(_) => f(&Allocator::default()),
    })
}

/// Whether this thread parses small code in a region that `fork` skips.
#[cfg(test)]
fn fork_safe_arena() -> bool {
    FIXED.with(|cell| {
        let mut slot = cell.borrow_mut();
        slot.get_or_insert_with(fixed::Fixed::new).is_some()
    })
}

#[cfg(target_os = "linux")]
mod fixed {
    use std::alloc::Layout;
    use std::mem::ManuallyDrop;

    use oxc::allocator::Allocator;

    use super::super::mapping::DontForkMap;
    use super::FIXED_SIZE;

    pub(super) struct Fixed {
        // Never dropped as an `Allocator`: that would hand the region to the
        // system allocator's `free`. The mapping unmaps itself instead.
        alloc: ManuallyDrop<Allocator>,
        _map: DontForkMap,
    }

    impl Fixed {
        pub(super) fn new() -> Option<Fixed> {
            let map = DontForkMap::new(FIXED_SIZE)?;
            let base = map.base();
            let layout = Layout::from_size_align(FIXED_SIZE, Allocator::RAW_MIN_ALIGN).ok()?;
            // SAFETY: the region is page-aligned (≥ RAW_MIN_ALIGN), its size a
            // multiple of it and far above RAW_MIN_SIZE, writable, and the
            // whole backing allocation; the allocator is never dropped, so
            // the system allocator never sees it, and it lives no longer
            // than the mapping (both are fields of `Fixed`).
            let alloc = unsafe { Allocator::from_raw_parts(base, FIXED_SIZE, base, layout) };
            Some(Fixed {
                alloc: ManuallyDrop::new(alloc),
                _map: map,
            })
        }

        pub(super) fn allocator(&mut self) -> &mut Allocator {
            &mut self.alloc
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod fixed {
    use oxc::allocator::Allocator;

    /// No `MADV_DONTFORK` here: every parse uses the growable arena.
    pub(super) enum Fixed {}

    impl Fixed {
        pub(super) fn new() -> Option<Fixed> {
            None
        }

        pub(super) fn allocator(&mut self) -> &mut Allocator {
            match *self {}
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use crate::compile::{validate, validate_in, validation_lang};

    fn minor_faults() -> i64 {
        // SAFETY: getrusage fills the zeroed struct it is given.
        unsafe {
            let mut u: libc::rusage = std::mem::zeroed();
            libc::getrusage(libc::RUSAGE_THREAD, &mut u);
            u.ru_minflt
        }
    }

    fn fork_and_reap() {
        // SAFETY: the child only calls `_exit`, which is async-signal-safe.
        unsafe {
            let pid = libc::fork();
            assert!(pid >= 0, "fork failed");
            if pid == 0 {
                libc::_exit(0);
            }
            let mut status = 0;
            libc::waitpid(pid, &mut status, 0);
        }
    }

    fn program() -> String {
        (0..400)
            .map(|i| {
                format!(
                    "function f{i}(a: number, b: string[]): number {{\n  let s: number = a * {i};\n  for (const x of b) s += x.length;\n  return s;\n}}\n"
                )
            })
            .collect()
    }

    #[test]
    fn a_fork_costs_the_next_parse_no_page_faults() {
        let code = program();
        let ts = validation_lang("ts").unwrap();
        assert!(fork_safe_arena());
        for _ in 0..3 {
            assert!(validate(ts, &code).is_empty());
        }
        fork_and_reap();
        let before = minor_faults();
        assert!(validate(ts, &code).is_empty());
        let fixed = minor_faults() - before;

        // The control: the same validation in an ordinary reused arena
        // pays a fault for each arena page it writes after a fork. What
        // remains above is semantic analysis's own (malloc) memory.
        let mut growable = Allocator::default();
        assert!(validate_in(&growable, ts, &code).is_empty());
        growable.reset();
        fork_and_reap();
        let before = minor_faults();
        assert!(validate_in(&growable, ts, &code).is_empty());
        let plain = minor_faults() - before;
        eprintln!("faults after a fork: {fixed} (fixed arena), {plain} (plain arena)");
        // Semantic analysis's tables are in the quiet heap (heap.rs): 96
        // faults here before it, 0 with it.
        assert!(fixed < 20, "{fixed} faults after a fork");
        // With THP always on, the plain arena may sit in huge pages and
        // fault rarely; `the_fixed_arena_is_left_out_of_a_fork` still holds.
        let thp = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled");
        if thp.is_ok_and(|t| t.contains("[always]")) && plain < 100 {
            return;
        }
        assert!(
            plain - fixed >= 100,
            "{fixed} faults after a fork, vs {plain} in a plain arena"
        );
    }

    /// The `VmFlags` of the mapping that holds `addr`, from /proc/self/smaps.
    fn vm_flags(addr: usize) -> String {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let mut inside = false;
        for line in smaps.lines() {
            let range = line.split_whitespace().next().unwrap_or("");
            if let Some((lo, hi)) = range.split_once('-') {
                if let (Ok(lo), Ok(hi)) =
                    (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16))
                {
                    inside = lo <= addr && addr < hi;
                    continue;
                }
            }
            if inside {
                if let Some(flags) = line.strip_prefix("VmFlags:") {
                    return flags.trim().to_string();
                }
            }
        }
        panic!("no mapping holds {addr:#x}");
    }

    #[test]
    fn the_fixed_arena_is_left_out_of_a_fork() {
        assert!(fork_safe_arena());
        let addr = FIXED.with(|cell| {
            let mut slot = cell.borrow_mut();
            let fixed = slot.as_mut().and_then(|f| f.as_mut()).unwrap();
            fixed.allocator().data_end_ptr().as_ptr() as usize
        });
        // `dc`: do not copy this area on fork.
        let flags = vm_flags(addr);
        assert!(flags.split(' ').any(|f| f == "dc"), "VmFlags: {flags}");
        // The control: the growable arena's memory is copied.
        let growable = Allocator::default();
        let p = growable.alloc(0u64) as *const u64 as usize;
        let flags = vm_flags(p);
        assert!(!flags.split(' ').any(|f| f == "dc"), "VmFlags: {flags}");
    }

    #[test]
    fn the_densest_code_under_the_limit_fits() {
        use crate::compile::stack::{stack_bound, MAX_STACK};
        let js = validation_lang("js").unwrap();
        // Flat shapes with the most AST per source byte, as long as both
        // limits let them through to oxc (a fixed arena that filled would
        // panic, failing the test).
        for unit in ["0,", ";", "[],", "a;"] {
            let mut n = (FIXED_MAX_CODE - 64) / unit.len();
            while stack_bound(&unit.repeat(n)) > MAX_STACK {
                n = n * 9 / 10;
            }
            let code = format!("{}0", unit.repeat(n));
            let errors = validate(js, &code);
            assert!(errors.is_empty(), "{unit}: {:?}", errors.first());
        }
    }

    #[test]
    fn code_above_the_fixed_limit_parses_in_a_growable_arena() {
        let mut code = String::new();
        while code.len() <= FIXED_MAX_CODE {
            code.push_str("a_long_variable_name_for_size = [1, 2, 3].map((x) => x * 2);\n");
        }
        let js = validation_lang("js").unwrap();
        let errs = validate(js, &format!("let twice = 1;\n{code}let twice = 2;"));
        // Parsed whole: the redeclaration at the very end is found.
        assert_eq!(errs.len(), 1, "{:?}", errs.first());
        assert!(
            errs[0].message.contains("has already been declared"),
            "{errs:?}"
        );
    }
}
