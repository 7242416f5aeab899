//! Helpers of the CPU reference path: no wgpu here or in anything the CPU twins use.
//!
//! The CPU path is the reference, so it is written for clarity first; it still splits
//! independent elements across threads (std scoped threads, `NEUROPOP_THREADS` to override
//! the count) so that GPU-vs-CPU speed ratios compare against every core of the machine.

use std::sync::OnceLock;

/// Worker threads for the CPU path: `NEUROPOP_THREADS` if set to a positive number,
/// otherwise the available parallelism.
pub fn threads() -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;

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
