//! Several processes sharing one run: MPI ranks (`mpirun -n K neuropop run ...`, built with
//! the `mpi` feature). Without the feature, or when not started by an MPI launcher, the
//! process is rank 0 of 1 and every function here is trivial.
//!
//! What the ranks share, and why the output cannot depend on their number: every random
//! stream is keyed by global replica (or neuron), step and purpose, never by process, so a
//! rank that simulates replicas `a..b` draws exactly what a single process draws for them.
//! Rank 0 gathers the other ranks' results in rank order and writes the files a
//! single-process run writes. Ranks agree on success before any gather ([`all_ok`]): a rank
//! that failed makes every rank return an error naming it, and nothing is written.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

use crate::error::{Error, Result};

/// (rank, size) of this process; (0, 1) unless [`init`] was given more.
static WORLD: OnceLock<(usize, usize)> = OnceLock::new();
/// Whether a run that the ranks share is in progress ([`share_run`]); outside one, the
/// library behaves as a single process (rank 0 of 1) on every rank.
static SHARED: AtomicBool = AtomicBool::new(false);

/// Records this process's rank and the number of ranks (the binary calls it once, after
/// initialising MPI).
pub fn init(rank: usize, size: usize) {
    let _ = WORLD.set((rank, size.max(1)));
}

/// This process's rank among all ranks.
pub fn world_rank() -> usize {
    WORLD.get().map_or(0, |w| w.0)
}

/// The number of ranks started.
pub fn world_size() -> usize {
    WORLD.get().map_or(1, |w| w.1)
}

/// This process's rank in the run in progress (0 outside a shared run).
pub fn rank() -> usize {
    if SHARED.load(Ordering::Relaxed) {
        world_rank()
    } else {
        0
    }
}

/// The number of ranks sharing the run in progress (1 outside a shared run).
pub fn size() -> usize {
    if SHARED.load(Ordering::Relaxed) {
        world_size()
    } else {
        1
    }
}

/// Whether the ranks of the shared run divide its model's work (set by the run once every
/// rank agreed; see [`all_true`]).
static DIVIDING: AtomicBool = AtomicBool::new(false);

/// Marks a run that every rank takes part in (every rank must call it for the same run)
/// until the guard drops.
pub fn share_run() -> SharedRun {
    SHARED.store(world_size() > 1, Ordering::Relaxed);
    SharedRun
}

/// Records whether the ranks divide the current run's work.
pub fn set_dividing(on: bool) {
    DIVIDING.store(on && size() > 1, Ordering::Relaxed);
}

/// Whether the ranks divide the current run's work (false on a single process).
pub fn dividing() -> bool {
    DIVIDING.load(Ordering::Relaxed) && size() > 1
}

/// True on every rank when `b` is true on every rank (every rank must call it).
pub fn all_true(b: bool) -> bool {
    if size() == 1 {
        return b;
    }
    #[cfg(feature = "mpi")]
    {
        all_gather_bytes(&[u8::from(b)])
            .iter()
            .all(|v| v.first() == Some(&1))
    }
    #[cfg(not(feature = "mpi"))]
    {
        b
    }
}

/// See [`share_run`].
#[derive(Debug)]
pub struct SharedRun;

impl Drop for SharedRun {
    fn drop(&mut self) {
        SHARED.store(false, Ordering::Relaxed);
        DIVIDING.store(false, Ordering::Relaxed);
    }
}

/// Whether this process writes the output (rank 0).
pub fn is_root() -> bool {
    rank() == 0
}

/// The rank-local index among the ranks on this machine, from the launcher's environment
/// (Open MPI, MPICH/Hydra, Slurm), for choosing a device; 0 when unknown.
pub fn local_rank() -> usize {
    [
        "OMPI_COMM_WORLD_LOCAL_RANK",
        "MPI_LOCALRANKID",
        "SLURM_LOCALID",
    ]
    .iter()
    .find_map(|k| std::env::var(k).ok()?.parse().ok())
    .unwrap_or(0)
}

/// Whether an MPI launcher started this process (so the binary should initialise MPI).
pub fn launched_by_mpi() -> bool {
    ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_RANK"]
        .iter()
        .any(|k| std::env::var_os(k).is_some())
}

/// The contiguous share `[lo, hi)` of `0..total` that `rank` of `size` takes; rank 0's share
/// starts at 0 and covers at least `0..first` (what only rank 0 records, e.g. traces).
pub fn share(total: u64, first: u64, rank: usize, size: usize) -> (u64, u64) {
    let size = size.max(1) as u64;
    let bound = |k: u64| -> u64 {
        if k == 0 {
            0
        } else if k >= size {
            total
        } else {
            (total * k / size).max(first.min(total))
        }
    };
    (bound(rank as u64), bound(rank as u64 + 1))
}

/// `Ok` on every rank when no rank has an error (`err` is this rank's message, if it failed);
/// otherwise [`Error::Ranks`] on every rank, naming the failed ranks and their messages.
/// Every rank must call it at the same point.
pub fn all_ok(err: Option<&Error>) -> Result<()> {
    let alone = |e: &Error| Error::Ranks {
        message: e.to_string(),
        user: e.is_user_error(),
    };
    if size() == 1 {
        return err.map_or(Ok(()), |e| Err(alone(e)));
    }
    #[cfg(feature = "mpi")]
    {
        // Each rank sends nothing (success) or a flag byte (2: the user's input, 1: other)
        // and its message.
        let msg = err.map_or(Vec::new(), |e| {
            let mut b = vec![if e.is_user_error() { 2u8 } else { 1 }];
            b.extend(e.to_string().into_bytes());
            b
        });
        let all = all_gather_bytes(&msg);
        let user = all.iter().all(|m| m.first().is_none_or(|&f| f == 2));
        // Ranks failing with the same message are named together.
        let mut groups: Vec<(Vec<usize>, String)> = Vec::new();
        for (r, m) in all.iter().enumerate().filter(|(_, m)| !m.is_empty()) {
            let m = String::from_utf8_lossy(&m[1..]).into_owned();
            match groups.iter_mut().find(|g| g.1 == m) {
                Some(g) => g.0.push(r),
                None => groups.push((vec![r], m)),
            }
        }
        let failed: Vec<String> = groups
            .iter()
            .map(|(rs, m)| {
                let names: Vec<String> = rs.iter().map(|r| r.to_string()).collect();
                let word = if rs.len() == 1 { "rank" } else { "ranks" };
                format!("{word} {}: {m}", names.join(", "))
            })
            .collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Error::Ranks {
                message: failed.join("; "),
                user,
            })
        }
    }
    #[cfg(not(feature = "mpi"))]
    {
        err.map_or(Ok(()), |e| Err(alone(e)))
    }
}

/// `r` on a single process; with several ranks, `r` when every rank succeeded and
/// [`Error::Ranks`] on every rank when any failed (see [`all_ok`]).
pub fn agree<T>(r: Result<T>) -> Result<T> {
    if size() == 1 {
        return r;
    }
    match r {
        Ok(v) => all_ok(None).map(|()| v),
        Err(e @ Error::Ranks { .. }) => Err(e),
        Err(e) => {
            all_ok(Some(&e))?;
            Err(e)
        }
    }
}

/// Every rank's `mine`, in rank order, on every rank.
#[cfg(feature = "mpi")]
pub fn all_gather_bytes(mine: &[u8]) -> Vec<Vec<u8>> {
    use mpi::datatype::PartitionMut;
    use mpi::traits::*;
    // One leading byte on every contribution, so no buffer is ever empty (MPI rejects
    // the null pointer of an empty one).
    let mine = &[&[1u8][..], mine].concat()[..];
    let world = mpi::topology::SimpleCommunicator::world();
    let n = mine.len() as i32;
    let mut counts = vec![0i32; size()];
    world.all_gather_into(&n, &mut counts[..]);
    let displs = displacements(&counts);
    let mut buf = vec![0u8; counts.iter().sum::<i32>() as usize];
    {
        let mut part = PartitionMut::new(&mut buf[..], &counts[..], &displs[..]);
        world.all_gather_varcount_into(mine, &mut part);
    }
    split_marked(&buf, &counts, &displs)
}

/// Every rank's `mine`, concatenated in rank order, on every rank (the spike exchange of a
/// network whose neurons the ranks share).
pub fn all_gather_words(mine: &[u32]) -> Vec<u32> {
    if size() == 1 {
        return mine.to_vec();
    }
    #[cfg(feature = "mpi")]
    {
        use mpi::datatype::PartitionMut;
        use mpi::traits::*;
        // A leading marker word, as in `all_gather_bytes`.
        let mut sent = Vec::with_capacity(mine.len() + 1);
        sent.push(1u32);
        sent.extend_from_slice(mine);
        let world = mpi::topology::SimpleCommunicator::world();
        let n = sent.len() as i32;
        let mut counts = vec![0i32; size()];
        world.all_gather_into(&n, &mut counts[..]);
        let displs = displacements(&counts);
        let mut buf = vec![0u32; counts.iter().sum::<i32>() as usize];
        {
            let mut part = PartitionMut::new(&mut buf[..], &counts[..], &displs[..]);
            world.all_gather_varcount_into(&sent[..], &mut part);
        }
        counts
            .iter()
            .zip(&displs)
            .flat_map(|(&c, &d)| buf[d as usize + 1..(d + c) as usize].iter().copied())
            .collect()
    }
    #[cfg(not(feature = "mpi"))]
    {
        mine.to_vec()
    }
}

/// Where each rank's contribution starts in the gathered buffer.
#[cfg(feature = "mpi")]
fn displacements(counts: &[i32]) -> Vec<i32> {
    counts
        .iter()
        .scan(0i32, |a, &c| {
            let d = *a;
            *a += c;
            Some(d)
        })
        .collect()
}

/// The contributions of a gathered buffer, each without its leading marker byte.
#[cfg(feature = "mpi")]
fn split_marked(buf: &[u8], counts: &[i32], displs: &[i32]) -> Vec<Vec<u8>> {
    counts
        .iter()
        .zip(displs)
        .map(|(&c, &d)| buf[d as usize + 1..(d + c) as usize].to_vec())
        .collect()
}

/// Every rank's `mine`, in rank order, on rank 0 (empty elsewhere).
pub fn gather_bytes(mine: &[u8]) -> Vec<Vec<u8>> {
    if size() == 1 {
        return vec![mine.to_vec()];
    }
    #[cfg(feature = "mpi")]
    {
        use mpi::datatype::PartitionMut;
        use mpi::traits::*;
        let mine = &[&[1u8][..], mine].concat()[..];
        let world = mpi::topology::SimpleCommunicator::world();
        let root = world.process_at_rank(0);
        let n = mine.len() as i32;
        if is_root() {
            let mut counts = vec![0i32; size()];
            root.gather_into_root(&n, &mut counts[..]);
            let displs = displacements(&counts);
            let mut buf = vec![0u8; counts.iter().sum::<i32>() as usize];
            {
                let mut part = PartitionMut::new(&mut buf[..], &counts[..], &displs[..]);
                root.gather_varcount_into_root(mine, &mut part);
            }
            split_marked(&buf, &counts, &displs)
        } else {
            root.gather_into(&n);
            root.gather_varcount_into(mine);
            Vec::new()
        }
    }
    #[cfg(not(feature = "mpi"))]
    {
        vec![mine.to_vec()]
    }
}

/// Numbers sent between ranks, little-endian whatever the machines.
pub trait Wire: Copy {
    /// Appends `v` to `out`.
    fn put(v: &[Self], out: &mut Vec<u8>);
    /// The values of `bytes` (a trailing partial value is ignored).
    fn take(bytes: &[u8]) -> Vec<Self>;
}

macro_rules! wire {
    ($($t:ty),*) => {$(
        impl Wire for $t {
            fn put(v: &[Self], out: &mut Vec<u8>) {
                out.extend(v.iter().flat_map(|x| x.to_le_bytes()));
            }
            fn take(bytes: &[u8]) -> Vec<Self> {
                const N: usize = std::mem::size_of::<$t>();
                bytes
                    .chunks_exact(N)
                    .map(|b| <$t>::from_le_bytes(b.try_into().unwrap_or([0; N])))
                    .collect()
            }
        }
    )*};
}
wire!(u32, u64, f64);

/// The cost of one all-gather of `bytes` bytes per rank (the exchange a spiking network
/// partitioned over ranks makes once per delay block), as measured by [`collective_costs`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct CollectiveCost {
    /// Bytes each rank contributes.
    pub bytes: usize,
    /// Ranks.
    pub ranks: usize,
    /// Mean wall time of one all-gather, microseconds.
    pub us: f64,
    /// Bytes every rank receives per second.
    pub received_per_s: f64,
}

/// Times all-gathers of 8 B to 4 MiB per rank among the ranks sharing the run (every rank
/// must call it): the latency and bandwidth that a spike exchange per block would pay.
#[cfg(feature = "mpi")]
pub fn collective_costs() -> Vec<CollectiveCost> {
    let mut out = Vec::new();
    for bytes in [8usize, 1 << 10, 1 << 16, 1 << 20, 1 << 22] {
        let mine = vec![7u8; bytes];
        let reps = (64usize << 20).div_ceil(bytes * size()).clamp(5, 2000);
        // Untimed rounds first (connection setup, caches).
        for _ in 0..3 {
            all_gather_bytes(&mine);
        }
        let t0 = std::time::Instant::now();
        for _ in 0..reps {
            std::hint::black_box(all_gather_bytes(&mine));
        }
        let s = t0.elapsed().as_secs_f64() / reps as f64;
        out.push(CollectiveCost {
            bytes,
            ranks: size(),
            us: s * 1e6,
            received_per_s: (bytes * size()) as f64 / s,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_cover_the_range_in_order() {
        for (total, first, size) in [(10u64, 0u64, 3usize), (7, 5, 2), (3, 0, 4), (100, 2, 3)] {
            let mut next = 0;
            for r in 0..size {
                let (lo, hi) = share(total, first, r, size);
                assert_eq!(lo, next, "{total} {first} {size}");
                assert!(hi >= lo);
                next = hi;
            }
            assert_eq!(next, total);
            assert!(share(total, first, 0, size).1 >= first.min(total));
        }
    }
}
