//! Helpers of the CPU reference path: no wgpu here or in anything the CPU twins use.
//!
//! The CPU path is the reference, so it is written for clarity first; it still splits
//! independent elements across threads (std scoped threads, `NEUROPOP_THREADS` to override
//! the count) so that GPU-vs-CPU speed ratios compare against every core of the machine.

use std::sync::OnceLock;

thread_local! {
    /// A count that [`threads`] returns on this thread instead ([`with_threads`]).
    static LOCAL_THREADS: std::cell::Cell<Option<usize>> = const { std::cell::Cell::new(None) };
}

/// Runs `f` with [`threads`] returning `n` on the calling thread: work that is itself one
/// of several parallel parts then does not split again.
pub fn with_threads<T>(n: usize, f: impl FnOnce() -> T) -> T {
    let before = LOCAL_THREADS.with(|c| c.replace(Some(n.max(1))));
    let out = f();
    LOCAL_THREADS.with(|c| c.set(before));
    out
}

/// Worker threads for the CPU path: `NEUROPOP_THREADS` if set to a positive number,
/// otherwise the available parallelism (or what [`with_threads`] set on this thread).
pub fn threads() -> usize {
    if let Some(n) = LOCAL_THREADS.with(|c| c.get()) {
        return n;
    }
    static THREADS: OnceLock<usize> = OnceLock::new();
    *THREADS.get_or_init(|| {
        std::env::var("NEUROPOP_THREADS")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|&n| n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
    })
}

/// Splits `data` into contiguous chunks of whole items (`item` elements each) and runs
/// `f(first_item_index, chunk)` on them in parallel. Items are independent, so the result
/// does not depend on the number of threads.
pub fn par_chunks_mut<T: Send>(data: &mut [T], item: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    let item = item.max(1);
    let items = data.len() / item;
    let n_threads = threads().min(items.max(1));
    if n_threads <= 1 {
        f(0, data);
        return;
    }
    let per_thread = items.div_ceil(n_threads);
    std::thread::scope(|s| {
        for (t, chunk) in data.chunks_mut(per_thread * item).enumerate() {
            let f = &f;
            s.spawn(move || f(t * per_thread, chunk));
        }
    });
}

/// A barrier for a few threads that synchronise thousands of times a second (one step of a
/// network each): it spins instead of sleeping, as a step takes microseconds and a futex wake
/// about as long; after a while it yields, so oversubscribed machines still progress.
#[derive(Debug)]
pub struct SpinBarrier {
    threads: usize,
    arrived: std::sync::atomic::AtomicUsize,
    generation: std::sync::atomic::AtomicUsize,
}

impl SpinBarrier {
    /// A barrier for `threads` threads.
    pub fn new(threads: usize) -> Self {
        Self {
            threads: threads.max(1),
            arrived: std::sync::atomic::AtomicUsize::new(0),
            generation: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    /// Waits until every thread has called `wait` (the same number of times); everything a
    /// thread wrote before its call is visible to all after.
    pub fn wait(&self) {
        use std::sync::atomic::Ordering::{AcqRel, Acquire, Release};
        let gen = self.generation.load(Acquire);
        if self.arrived.fetch_add(1, AcqRel) + 1 == self.threads {
            self.arrived.store(0, Release);
            self.generation.fetch_add(1, Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Acquire) == gen {
            if spins < 20_000 {
                std::hint::spin_loop();
                spins += 1;
            } else {
                std::thread::yield_now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spin_barrier_orders_the_steps_of_every_thread() {
        use std::sync::atomic::{AtomicU64, Ordering};
        let b = SpinBarrier::new(3);
        let slots: Vec<AtomicU64> = (0..3).map(|_| AtomicU64::new(0)).collect();
        std::thread::scope(|s| {
            for t in 0..3 {
                let (b, slots) = (&b, &slots);
                s.spawn(move || {
                    for step in 1..=2000u64 {
                        slots[t].store(step, Ordering::Relaxed);
                        b.wait();
                        // Every thread has finished `step` and none has started `step + 1`.
                        for o in slots {
                            assert_eq!(o.load(Ordering::Relaxed), step);
                        }
                        b.wait();
                    }
                });
            }
        });
    }

    #[test]
    fn par_chunks_visits_every_item_with_its_index() {
        let mut v = vec![0usize; 3 * 1001];
        par_chunks_mut(&mut v, 3, |first, chunk| {
            for (i, item) in chunk.chunks_mut(3).enumerate() {
                item.fill(first + i);
            }
        });
        for (i, item) in v.chunks(3).enumerate() {
            assert!(item.iter().all(|&x| x == i));
        }
    }
}
