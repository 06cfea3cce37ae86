//! A persistent pool of worker threads for the packed product, with chunk claiming.
//!
//! Spawning a thread per product costs tens of µs, as much as a whole batch-64 training
//! product, so workers are started once (on first use) and parked on a condition variable.
//! A product is cut into chunks (disjoint blocks of C); the calling thread and the woken
//! workers claim chunks from one atomic counter. The caller starts at once and claims
//! whatever no worker has started, so a worker that wakes late (a busy machine) costs at
//! most the wake-up call: a product is never much slower than on one thread. Which thread
//! computes a chunk never changes its bits (each C element is computed by the same
//! operations in the same order), so results do not depend on the thread count either.
//!
//! One job runs at a time; a caller that finds the pool busy, or another thread of the
//! process inside a product at the same time (e.g. experiment arms run in parallel, which
//! already keep the cores busy), computes all its chunks itself.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};

/// One posted product: the chunk function and the counters the threads share.
struct Job<'a> {
    f: &'a (dyn Fn(usize) + Sync),
    chunks: usize,
    /// Next unclaimed chunk.
    next: AtomicUsize,
    /// Chunks finished (by anyone).
    done: AtomicUsize,
    /// Workers that picked the job up and have not let go of it yet.
    active: AtomicUsize,
    panicked: AtomicBool,
}

impl Job<'_> {
    /// Claims and runs chunks until none is left.
    fn work(&self) {
        loop {
            let i = self.next.fetch_add(1, Ordering::Relaxed);
            if i >= self.chunks {
                return;
            }
            if catch_unwind(AssertUnwindSafe(|| (self.f)(i))).is_err() {
                self.panicked.store(true, Ordering::Relaxed);
            }
            self.done.fetch_add(1, Ordering::Release);
        }
    }
}

/// A `*const Job` with its lifetime erased, so that parked workers can hold it.
#[derive(Clone, Copy)]
struct JobPtr(*const Job<'static>);
// SAFETY: the pointee is only read through shared references (atomics and a `Sync` closure),
// and `run` keeps it alive until every worker has let go of it (see `run`).
unsafe impl Send for JobPtr {}

struct Slot {
    job: Option<JobPtr>,
    /// Bumped for every posted job, so a worker takes each job at most once.
    generation: u64,
}

struct Pool {
    slot: Mutex<Slot>,
    wake: Condvar,
    /// Set while a caller owns the slot (one job at a time).
    busy: AtomicBool,
    workers: usize,
}

fn worker_loop(pool: &'static Pool) {
    let mut seen = 0u64;
    loop {
        let job = {
            let mut slot = pool.slot.lock().unwrap_or_else(|e| e.into_inner());
            while slot.generation == seen || slot.job.is_none() {
                if slot.generation != seen {
                    seen = slot.generation; // a job already retracted: skip it
                }
                slot = pool.wake.wait(slot).unwrap_or_else(|e| e.into_inner());
            }
            seen = slot.generation;
            let job = slot.job.expect("checked just above");
            // SAFETY: the job is still posted (we hold the lock and it is Some), so `run`
            // has not retracted it and is waiting; registering as active keeps it alive.
            unsafe { &*job.0 }.active.fetch_add(1, Ordering::Acquire);
            job
        };
        // SAFETY: registered as active above; `run` does not return (and free the job) until
        // `active` is back to 0, which the fetch_sub below is the last touch of.
        let job = unsafe { &*job.0 };
        job.work();
        job.active.fetch_sub(1, Ordering::Release);
    }
}

/// The pool with `cores - 1` workers, started on first use.
fn pool() -> &'static Pool {
    static POOL: OnceLock<&'static Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let workers = crate::kernels::isa::num_cores().saturating_sub(1);
        let pool: &'static Pool = Box::leak(Box::new(Pool {
            slot: Mutex::new(Slot {
                job: None,
                generation: 0,
            }),
            wake: Condvar::new(),
            busy: AtomicBool::new(false),
            workers,
        }));
        for i in 0..workers {
            let spawned = std::thread::Builder::new()
                .name(format!("gi-gemm-{i}"))
                .spawn(move || worker_loop(pool));
            // Without a worker the caller simply computes every chunk itself.
            drop(spawned);
        }
        pool
    })
}

/// Runs `f(0) .. f(chunks - 1)` on the calling thread and up to `helpers` pool workers;
/// returns when all are done.
///
/// # Panics
/// If a chunk panicked (re-raised on the calling thread after every chunk finished).
pub(super) fn run(chunks: usize, helpers: usize, f: &(dyn Fn(usize) + Sync)) {
    let job = Job {
        f,
        chunks,
        next: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        active: AtomicUsize::new(0),
        panicked: AtomicBool::new(false),
    };
    // Threads of this process inside `run` right now, this one included.
    static CALLERS: AtomicUsize = AtomicUsize::new(0);
    let alone = CALLERS.fetch_add(1, Ordering::Relaxed) == 0;
    let pool = pool();
    let post = alone
        && chunks > 1
        && helpers > 0
        && pool.workers > 0
        && pool
            .busy
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
    if post {
        let mut slot = pool.slot.lock().unwrap_or_else(|e| e.into_inner());
        slot.job = Some(JobPtr((&job as *const Job<'_>).cast::<Job<'static>>()));
        slot.generation += 1;
        drop(slot);
        if helpers >= pool.workers {
            pool.wake.notify_all();
        } else {
            (0..helpers).for_each(|_| pool.wake.notify_one());
        }
    }
    job.work();
    if post {
        // Retract the job: no worker can pick it up after this, so once `active` is 0 no
        // worker holds a reference and `job` may be dropped.
        pool.slot.lock().unwrap_or_else(|e| e.into_inner()).job = None;
        while job.active.load(Ordering::Acquire) > 0 || job.done.load(Ordering::Acquire) < chunks {
            std::hint::spin_loop();
            std::thread::yield_now();
        }
        pool.busy.store(false, Ordering::Release);
    }
    CALLERS.fetch_sub(1, Ordering::Relaxed);
    assert!(
        !job.panicked.load(Ordering::Relaxed),
        "sgemm: a worker chunk panicked"
    );
}
