//! A heap for the short-lived allocations of one validation, in memory that
//! `fork` leaves alone.
//!
//! Why: the parse arena and the stack are already `MADV_DONTFORK`
//! (`arena.rs`, `stack.rs`), but semantic analysis allocates its tables
//! (scopes, symbols, the node list, hash maps) with the global allocator.
//! Those land on malloc's reused pages, which every `fork` of the host
//! write-protects, so the first validation after a spawn took ~96 page
//! faults: 1.5 ms instead of 1.07 on the bench file (`bench/typescript.mjs`).
//!
//! How: [`QuietHeap`] is a global allocator that is `System` everywhere but
//! inside [`quiet`]. There a thread bumps through its own slot of one
//! reserved `MADV_DONTFORK` mapping (up to 16 threads hold a slot at once)
//! and counts live blocks; a `free` of a slot's block only decrements that
//! count. The slot's bump offset goes back to 0 only when none of its blocks
//! is alive, so a block that outlives its scope (returned, or kept by a lazy
//! static, a panic's backtrace cache) is never overwritten. Such a slot
//! fills: past half full, its thread trades it for an empty one, and the
//! old one is handed out last; with no slot free, allocations fall back to
//! `System`. A test checks that a validation leaves nothing alive.
//!
//! The addon installs it (`#[global_allocator]` in `src/lib.rs`), and so do
//! this crate's unit tests. Without it, `quiet` just runs its closure.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Threads that can hold a slot at once; a thread beyond them (or one
/// whose slot is full) allocates from `System` as usual.
const SLOTS: usize = 16;
/// Reserved (virtual) size of a slot; only pages a validation touches are
/// backed. The 2 000-line bench file uses about 3 MiB.
const SLOT_SIZE: usize = 64 << 20;
const NONE: usize = usize::MAX;

/// The region, `SLOTS` slots of `SLOT_SIZE` from `BASE` (0: not mapped).
static BASE: AtomicUsize = AtomicUsize::new(0);
static MAPPED: std::sync::Once = std::sync::Once::new();
/// Per slot: whether a thread owns it, its bump offset (written only by the
/// owner) and its live blocks (decremented by any thread that frees one).
static CLAIMED: [AtomicBool; SLOTS] = [const { AtomicBool::new(false) }; SLOTS];
static BUMP: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];
static LIVE: [AtomicUsize; SLOTS] = [const { AtomicUsize::new(0) }; SLOTS];

thread_local! {
    // The slot this thread allocates from: set only inside `quiet`. A
    // const `Cell` without a destructor, so the allocator may read it.
    static ACTIVE: Cell<usize> = const { Cell::new(NONE) };
    // The slot this thread owns, given back when the thread ends.
    static OWNED: RefCell<Option<Owned>> = const { RefCell::new(None) };
}

struct Owned(usize);

impl Drop for Owned {
    fn drop(&mut self) {
        CLAIMED[self.0].store(false, Ordering::Release);
    }
}

/// The global allocator: `System`, except inside [`quiet`].
pub struct QuietHeap;

/// The lowest address of `slot`.
fn slot_start(slot: usize) -> usize {
    BASE.load(Ordering::Relaxed) + slot * SLOT_SIZE
}

/// The slot whose range holds `p`, if any.
fn slot_of(p: *mut u8) -> Option<usize> {
    let base = BASE.load(Ordering::Relaxed);
    let off = (p as usize).wrapping_sub(base);
    (base != 0 && off < SLOTS * SLOT_SIZE).then_some(off / SLOT_SIZE)
}

/// A block from the active slot, or `None` (no slot active, or it is full).
fn region_alloc(layout: Layout) -> Option<*mut u8> {
    let slot = ACTIVE.with(Cell::get);
    if slot == NONE {
        return None;
    }
    let start_of_slot = slot_start(slot);
    let bump = start_of_slot + BUMP[slot].load(Ordering::Relaxed);
    let start = bump.checked_add(layout.align() - 1)? & !(layout.align() - 1);
    let end = start.checked_add(layout.size().max(1))?;
    if end > start_of_slot + SLOT_SIZE {
        return None;
    }
    BUMP[slot].store(end - start_of_slot, Ordering::Relaxed);
    LIVE[slot].fetch_add(1, Ordering::Relaxed);
    Some(start as *mut u8)
}

// SAFETY: every block handed out is either System's or a distinct, aligned,
// unused range of a slot (a slot's bump offset only goes back to 0 when
// none of its blocks is alive); frees are routed by address to their owner.
// Not inlined: fat LTO put the slot check into every allocation site of
// the addon (+190 KB); a call more per allocation costs nothing measurable.
unsafe impl GlobalAlloc for QuietHeap {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        match region_alloc(layout) {
            Some(p) => p,
            None => System.alloc(layout),
        }
    }

    // System's own, so a large zeroed block outside a validation stays
    // lazily zeroed by the kernel (calloc), not written through.
    #[inline(never)]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        match region_alloc(layout) {
            Some(p) => {
                std::ptr::write_bytes(p, 0, layout.size());
                p
            }
            None => System.alloc_zeroed(layout),
        }
    }

    #[inline(never)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match slot_of(ptr) {
            Some(slot) => {
                LIVE[slot].fetch_sub(1, Ordering::Release);
            }
            None => System.dealloc(ptr, layout),
        }
    }

    #[inline(never)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(slot) = slot_of(ptr) else {
            return System.realloc(ptr, layout, new_size);
        };
        // The owner's last block grows (or shrinks) in place: the common
        // case of a Vec being filled.
        if ACTIVE.with(Cell::get) == slot {
            let off = ptr as usize - slot_start(slot);
            if off + layout.size() == BUMP[slot].load(Ordering::Relaxed)
                && off + new_size.max(1) <= SLOT_SIZE
            {
                BUMP[slot].store(off + new_size.max(1), Ordering::Relaxed);
                return ptr;
            }
        }
        let Ok(new_layout) = Layout::from_size_align(new_size, layout.align()) else {
            return std::ptr::null_mut();
        };
        let new = self.alloc(new_layout);
        if !new.is_null() {
            std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
            self.dealloc(ptr, layout);
        }
        new
    }
}

fn map_region() {
    MAPPED.call_once(|| {
        #[cfg(target_os = "linux")]
        if let Some(map) = super::mapping::DontForkMap::new(SLOTS * SLOT_SIZE) {
            let base = map.base().as_ptr() as usize;
            // Kept for the life of the process: blocks may outlive any scope.
            std::mem::forget(map);
            BASE.store(base, Ordering::Release);
        }
    });
}

/// This thread's slot, claimed on first use; `None` when every slot is
/// taken or there is no region.
fn my_slot() -> Option<usize> {
    map_region();
    if BASE.load(Ordering::Acquire) == 0 {
        return None;
    }
    OWNED
        .try_with(|owned| {
            let mut owned = owned.try_borrow_mut().ok()?;
            if owned.is_none() {
                *owned = Some(Owned(claim(false)?));
            }
            let slot = owned.as_ref()?.0;
            // A slot past half full that cannot empty holds a block that is
            // never freed (a lazy static made inside; the backtrace cache of
            // a panic printed inside, with RUST_BACKTRACE set): trade it for
            // an empty one. The old one goes back unowned, taken last.
            if LIVE[slot].load(Ordering::Acquire) != 0
                && BUMP[slot].load(Ordering::Relaxed) > SLOT_SIZE / 2
            {
                if let Some(fresh) = claim(true) {
                    *owned = Some(Owned(fresh));
                }
            }
            owned.as_ref().map(|o| o.0)
        })
        .ok()
        .flatten()
}

/// Claims an unowned slot, an empty one first; one that a block still pins
/// only when `empty_only` is false and no empty one is left.
fn claim(empty_only: bool) -> Option<usize> {
    let take = |i: &usize| {
        CLAIMED[*i]
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
    };
    (0..SLOTS)
        .filter(|&i| LIVE[i].load(Ordering::Acquire) == 0)
        .find(take)
        .or_else(|| (!empty_only).then(|| (0..SLOTS).find(take)).flatten())
}

/// What a slot keeps backed between validations; pages above it that a
/// large one touched go back to the kernel when the slot empties.
const KEEP: usize = 8 << 20;

/// Moves a slot's bump offset back to 0 when none of its blocks is alive
/// (a block that escaped a scope and is still held keeps it where it is).
fn reset_if_empty(slot: usize) {
    if LIVE[slot].load(Ordering::Acquire) != 0 {
        return;
    }
    let used = BUMP[slot].swap(0, Ordering::Relaxed);
    if used > KEEP {
        let from = slot_start(slot) + KEEP;
        // SAFETY: pages of this slot above KEEP, none of whose blocks is
        // alive; they read as zeros when touched again. A failure only
        // leaves them backed.
        #[cfg(target_os = "linux")]
        unsafe {
            libc::madvise(from as *mut libc::c_void, used - KEEP, libc::MADV_DONTNEED);
        }
    }
}

/// Runs `f` with this thread's allocations in its slot of the region (or
/// on `System` when it has none). What `f` returns may live in the slot;
/// that is safe, it only keeps the slot from being reused until it is freed.
pub(crate) fn quiet<T>(f: impl FnOnce() -> T) -> T {
    if ACTIVE.with(Cell::get) != NONE {
        return f();
    }
    let Some(slot) = my_slot() else {
        return f();
    };
    // Ended on unwind too, so a panic inside never leaves the slot active.
    struct Scope(usize);
    impl Drop for Scope {
        fn drop(&mut self) {
            ACTIVE.with(|a| a.set(NONE));
            reset_if_empty(self.0);
        }
    }
    reset_if_empty(slot);
    let _scope = Scope(slot);
    ACTIVE.with(|a| a.set(slot));
    f()
}

/// Whether `p` is a block of the region.
#[cfg(test)]
pub(crate) fn in_region(p: *const u8) -> bool {
    slot_of(p as *mut u8).is_some()
}

/// This thread's slot's bytes in use (0 when it has none).
#[cfg(test)]
pub(crate) fn in_use() -> usize {
    my_slot().map_or(0, |s| BUMP[s].load(Ordering::Relaxed))
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn blocks_made_inside_land_in_the_region_and_the_slot_empties() {
        let inside = quiet(|| {
            let v: Vec<u64> = (0..1000).collect();
            assert_eq!(v.iter().sum::<u64>(), 499_500);
            in_region(v.as_ptr().cast())
        });
        assert!(inside, "a test thread gets a slot");
        // Each test runs on its own thread, so the slot is this one's alone.
        assert_eq!(in_use(), 0);
        let v: Vec<u64> = (0..1000).collect();
        assert!(!in_region(v.as_ptr().cast()));
    }

    #[test]
    fn a_block_that_escapes_is_never_overwritten() {
        let mut kept = Vec::new();
        for i in 0..50u8 {
            kept.push(quiet(|| vec![i; 4096]));
            // Later scopes must not reuse the bytes of a block still held.
            let other = quiet(|| vec![255u8; 4096]);
            assert!(other.iter().all(|&b| b == 255));
        }
        for (i, block) in kept.iter().enumerate() {
            assert!(block.iter().all(|&b| b == i as u8));
        }
        assert!(in_use() > 0);
        drop(kept);
        quiet(|| {});
        assert_eq!(in_use(), 0, "freed blocks give the slot back");
    }

    #[test]
    fn growth_in_place_and_by_copy_keep_the_contents() {
        quiet(|| {
            let mut a: Vec<u32> = Vec::new();
            let mut b: Vec<u32> = Vec::new();
            for i in 0..10_000 {
                a.push(i);
                b.push(i * 2);
            }
            assert!(in_region(a.as_ptr().cast()) && in_region(b.as_ptr().cast()));
            assert!(a.iter().enumerate().all(|(i, &x)| x == i as u32));
            assert!(b.iter().enumerate().all(|(i, &x)| x == 2 * i as u32));
            a.shrink_to_fit();
            assert_eq!(a[9_999], 9_999);
        });
        assert_eq!(in_use(), 0);
    }

    #[test]
    fn a_block_freed_on_another_thread_is_counted() {
        let kept = quiet(|| vec![1u8; 100]);
        assert!(in_use() > 0);
        std::thread::spawn(move || drop(kept)).join().unwrap();
        quiet(|| {});
        assert_eq!(in_use(), 0);
    }

    #[test]
    fn a_full_slot_falls_back_to_the_system_allocator() {
        quiet(|| {
            let big = vec![3u8; SLOT_SIZE - 4096];
            let more = vec![4u8; 1 << 20];
            assert!(in_region(big.as_ptr()));
            assert!(!in_region(more.as_ptr()));
            assert_eq!(big[SLOT_SIZE - 4097] + more[0], 7);
        });
        assert_eq!(in_use(), 0);
    }

    #[test]
    fn a_validation_leaves_its_slot_empty() {
        use crate::compile::{validate, validation_lang};
        let ts = validation_lang("ts").unwrap();
        let errors = validate(ts, "let a: number = 1;\nlet a = 2;\n");
        assert_eq!(errors.len(), 1, "{errors:?}");
        // The diagnostics live in the slot until they are dropped.
        assert!(in_region(errors.as_ptr().cast()));
        drop(errors);
        // Nothing else of the first validation stays alive (a lazy static
        // made inside would pin the slot for good).
        assert!(validate(ts, "const x: number = 1;").is_empty());
        assert_eq!(in_use(), 0);
    }

    #[test]
    fn zeroed_blocks_are_zero_in_reused_memory_and_lazy_outside() {
        let first = quiet(|| {
            let v = vec![0xAAu8; 4096];
            v.as_ptr() as usize
        });
        // The slot emptied, so the next scope reuses the same bytes.
        let (second, zero) = quiet(|| {
            let v = vec![0u8; 4096];
            (v.as_ptr() as usize, v.iter().all(|&b| b == 0))
        });
        assert_eq!(first, second);
        assert!(zero);

        // Outside a validation a zeroed gigabyte is calloc's: untouched
        // pages, not 1 GiB written.
        let rss = || {
            let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
            statm.split(' ').nth(1).unwrap().parse::<usize>().unwrap() * 4096
        };
        let before = rss();
        let big = vec![0u8; 1 << 30];
        let grown = rss().saturating_sub(before);
        assert_eq!(big[(1 << 30) - 1], 0);
        assert!(grown < 512 << 20, "RSS grew by {grown} bytes");
    }

    #[test]
    fn a_slot_pinned_by_a_block_never_freed_is_traded_for_an_empty_one() {
        std::thread::spawn(|| {
            let pinned = quiet(|| {
                let v = vec![1u8; SLOT_SIZE * 3 / 4];
                let at = v.as_ptr() as usize;
                std::mem::forget(v);
                at
            });
            let pinned = slot_of(pinned as *mut u8).expect("in the region");
            let (fresh, inside) = quiet(|| {
                let v = vec![2u8; 4096];
                (slot_of(v.as_ptr() as *mut u8), v[4095] == 2)
            });
            assert!(inside);
            assert!(fresh.is_some_and(|s| s != pinned), "{fresh:?} {pinned}");
        })
        .join()
        .unwrap();
    }

    #[test]
    fn a_panic_inside_ends_the_scope() {
        let caught = std::panic::catch_unwind(|| quiet(|| panic!("inside")));
        assert!(caught.is_err());
        let v = Box::new([0u8; 64]);
        assert!(!in_region(v.as_ptr()));
    }

    #[test]
    fn a_thread_that_ends_gives_its_slot_back() {
        for _ in 0..3 * SLOTS {
            std::thread::spawn(|| {
                let inside = quiet(|| in_region(vec![0u8; 8].as_ptr()));
                assert!(inside, "a slot for every thread in turn");
            })
            .join()
            .unwrap();
        }
    }
}
