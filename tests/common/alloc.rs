//! An allocator that forwards to the system allocator and records what it is asked for: the
//! number of allocations (process-wide) and the largest single allocation (per thread).
//!
//! A test or bench installs it with
//! `#[global_allocator] static ALLOC: TrackingAlloc = TrackingAlloc;` and then reads
//! [`allocations_of`] (heap allocations per training step) or [`largest_allocation_of`] (a
//! hostile header must not make a reader allocate what it declares). Benches include this
//! file with `#[path = "../tests/common/alloc.rs"]`.
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Forwards to [`System`]; counts `alloc` and `realloc` calls and tracks the largest size.
pub struct TrackingAlloc;

/// alloc + realloc calls in the whole process (every thread, including kernel workers).
static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Largest single allocation or reallocation (bytes) on this thread since the last reset.
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn record(size: usize) {
    ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
    // try_with: during thread teardown the slot may be gone; then the size is not recorded.
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

// SAFETY: every method forwards to the system allocator with the caller's arguments, so the
// GlobalAlloc contract holds exactly as for System. The bookkeeping never allocates: an
// atomic add and a const-initialised thread-local `Cell<usize>` without a destructor.
unsafe impl GlobalAlloc for TrackingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Heap allocations (alloc + realloc, every thread) made while `f` runs.
pub fn allocations_of(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    f();
    ALLOCATIONS.load(Ordering::Relaxed) - before
}

/// `f`'s result and the largest single allocation (bytes) this thread made while it ran.
pub fn largest_allocation_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    let out = f();
    (out, LARGEST.with(|l| l.get()))
}
