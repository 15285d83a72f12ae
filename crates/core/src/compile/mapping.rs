//! Memory the parse owns outright: a private anonymous mapping, reserved
//! with `MAP_NORESERVE` (only touched pages are ever backed) and marked
//! `MADV_DONTFORK`, so a `fork` of the host neither copies it into the
//! child nor write-protects the parent's pages (which would cost a page
//! fault per page on the next use). The arena and the reused stack are
//! both one of these.

use std::ptr::NonNull;

pub(super) struct DontForkMap {
    base: NonNull<u8>,
    len: usize,
}

impl DontForkMap {
    /// `None` when the kernel refuses (strict overcommit, a small RLIMIT_AS).
    pub(super) fn new(len: usize) -> Option<DontForkMap> {
        // SAFETY: an anonymous private mapping at an address the kernel
        // picks; checked for failure before any use.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return None;
        }
        // Owned from here on: an early return unmaps it.
        let map = DontForkMap {
            base: NonNull::new(p.cast::<u8>())?,
            len,
        };
        // SAFETY: `p` is the mapping made above, `len` long.
        if unsafe { libc::madvise(p, len, libc::MADV_DONTFORK) } != 0 {
            return None;
        }
        Some(map)
    }

    /// The lowest address (page-aligned).
    pub(super) fn base(&self) -> NonNull<u8> {
        self.base
    }
}

impl Drop for DontForkMap {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`; its owner (the arena or the
        // stack) goes with it and never uses it again.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.len) };
    }
}
