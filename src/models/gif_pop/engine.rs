//! CPU and GPU execution of `gif_pop_step` for one batch of replicas.

use super::kernel::{
    gif_pop_step_on, ChunkedTheta, MesoConfig, MesoPopCoef, MesoState, MesoTables, Projection,
    RecSlot, ReplicaBuffers, MAX_WIN,
};
use crate::cpu::par_chunks_mut;
use crate::error::Result;

/// Executes `gif_pop_step` chunks for one batch.
pub trait MesoEngine {
    /// Uploads the tables of a new batch.
    fn load(&mut self, coef: &[MesoPopCoef], theta: &[[f32; 2]], proj: &[Projection])
        -> Result<()>;
    /// Advances the batch by `cfg.n_steps` steps.
    fn step(&mut self, cfg: &MesoConfig, stim: &[f32]) -> Result<()>;
    /// The first `len` values of the recording buffer written by the last step.
    fn rec(&mut self, len: usize) -> Result<Vec<f32>>;
    /// Window sums `[(replica * NP + p) * MAX_WIN + w]` of the first `n` replicas.
    fn wsum(&mut self, n: usize) -> Result<Vec<[u32; 4]>>;
    /// Scalar state `[replica * NP + p]` of the first `n` replicas (tests, debugging).
    fn state(&mut self, n: usize) -> Result<Vec<MesoState>>;
}

/// The CPU reference path: one set of buffers per replica (a recording buffer of its own
/// included), replicas in parallel.
pub struct CpuEngine {
    np: usize,
    l_max: usize,
    coef: Vec<MesoPopCoef>,
    theta: ChunkedTheta,
    proj: Vec<Projection>,
    replicas: Vec<(ReplicaBuffers, Vec<f32>)>,
    rec_replicas: usize,
}

impl CpuEngine {
    /// Buffers for `n` replicas of `np` populations; `rec_len` recording values per chunk
    /// over `rec_replicas` traced replicas.
    pub fn new(
        np: usize,
        n: usize,
        l_max: usize,
        d_len: usize,
        rec_len: usize,
        rec_replicas: usize,
    ) -> Self {
        let per = rec_len / rec_replicas.max(1);
        Self {
            np,
            l_max,
            coef: Vec::new(),
            theta: ChunkedTheta::default(),
            proj: Vec::new(),
            replicas: (0..n)
                .map(|i| {
                    (
                        ReplicaBuffers::new(np, l_max, d_len),
                        vec![0.0; if i < rec_replicas { per } else { 0 }],
                    )
                })
                .collect(),
            rec_replicas,
        }
    }
}

impl MesoEngine for CpuEngine {
    fn load(
        &mut self,
        coef: &[MesoPopCoef],
        theta: &[[f32; 2]],
        proj: &[Projection],
    ) -> Result<()> {
        self.coef = coef.to_vec();
        self.theta = ChunkedTheta::new(coef, theta, self.l_max);
        self.proj = proj.to_vec();
        Ok(())
    }

    fn step(&mut self, cfg: &MesoConfig, stim: &[f32]) -> Result<()> {
        let tab = MesoTables {
            coef: &self.coef,
            theta: &self.theta,
            proj: &self.proj,
            stim,
        };
        let n = cfg.n_replicas as usize;
        let np = self.np;
        // Replicas in parallel; fewer replicas than threads also split their populations.
        let pop_threads = (crate::cpu::threads() / n.max(1)).clamp(1, np.max(1));
        let level = crate::simd::level();
        par_chunks_mut(&mut self.replicas[..n], 1, |first, chunk| {
            for (i, (b, rec)) in chunk.iter_mut().enumerate() {
                let slot = (!rec.is_empty()).then_some(RecSlot {
                    buf: rec.as_mut_slice(),
                    stride: 1,
                    lane: 0,
                });
                let t = (first + i) as u32;
                gif_pop_step_on(level, pop_threads, cfg, np, &tab, t, b, slot);
            }
        });
        Ok(())
    }

    fn rec(&mut self, len: usize) -> Result<Vec<f32>> {
        // Interleave the traced replicas' rows as the shader lays them out.
        let k = self.rec_replicas.max(1);
        let row = self.np * 2;
        let mut out = vec![0.0; len];
        for (i, chunk) in out.chunks_mut(row).enumerate() {
            let (r, t) = (i / k, i % k);
            chunk.copy_from_slice(&self.replicas[t].1[r * row..(r + 1) * row]);
        }
        Ok(out)
    }

    fn wsum(&mut self, n: usize) -> Result<Vec<[u32; 4]>> {
        Ok(self.replicas[..n]
            .iter()
            .flat_map(|(b, _)| b.wsum.iter().copied())
            .collect())
    }

    fn state(&mut self, n: usize) -> Result<Vec<MesoState>> {
        Ok(self.replicas[..n]
            .iter()
            .flat_map(|(b, _)| b.state.iter().copied())
            .collect())
    }
}

/// Bytes of device memory one replica needs (history, delay ring, state, window sums).
pub fn bytes_per_replica(np: usize, l_max: usize, d_len: usize) -> u64 {
    (np * (5 * l_max + d_len) * 4 + np * std::mem::size_of::<MesoState>() + np * MAX_WIN * 16)
        as u64
}

#[cfg(feature = "gpu")]
pub use gpu::{workgroup, GpuEngine};

#[cfg(feature = "gpu")]
mod gpu {
    use std::sync::Arc;

    use super::super::kernel::{
        MesoConfig, MesoPopCoef, MesoState, Projection, DESC, GROUPS, MAX_POPS, MAX_WIN,
    };
    use super::MesoEngine;
    use crate::error::Result;
    use crate::gpu::{GpuContext, KernelRunner};

    /// Sizes of the device buffers of one batch.
    #[derive(Debug, Clone, Copy)]
    pub struct GpuSizes {
        /// Populations per replica.
        pub np: usize,
        /// Replicas per batch.
        pub replicas: usize,
        /// History slots.
        pub l_max: usize,
        /// Delay ring length.
        pub d_len: usize,
        /// Coefficient rows x populations.
        pub coef: usize,
        /// Projections in all rows.
        pub proj: usize,
        /// Stimulus values per chunk.
        pub stim: usize,
        /// Recording values per chunk.
        pub rec: usize,
    }

    /// The shader path: buffers allocated once per run, reused by every batch and chunk.
    pub struct GpuEngine {
        np: usize,
        kernel: KernelRunner,
    }

    // Buffer indices: the descriptor's binding order.
    const CFG: usize = 0;
    const COEF: usize = 1;
    const THETA: usize = 2;
    const PROJ: usize = 3;
    const STIM: usize = 4;
    const STATE: usize = 5;
    const WSUM: usize = 6;
    const REC: usize = 10;

    impl GpuEngine {
        /// Allocates every buffer, each checked against the device's limits.
        pub fn new(ctx: Arc<GpuContext>, s: GpuSizes) -> Result<Self> {
            let wg = workgroup(&ctx);
            let hist = s.l_max * s.np * s.replicas;
            let lens = [
                1,
                s.coef,
                s.coef * s.l_max,
                s.proj,
                s.stim,
                s.replicas * s.np,
                s.replicas * s.np * MAX_WIN,
                hist,
                hist,
                s.d_len * s.np * s.replicas,
                s.rec,
            ];
            let constants = [("NP", s.np as f64), ("WG", f64::from(wg))];
            Ok(Self {
                np: s.np,
                kernel: KernelRunner::new(ctx, &DESC, &constants, &lens)?,
            })
        }
    }

    /// The workgroup size on `ctx`: the adapter's choice (`NEUROPOP_WG_GIF_POP_STEP` to
    /// override) rounded down to a power of two in MAX_POPS ..= GROUPS, as the shader needs
    /// (every invocation walks GROUPS / WG whole chunks, and p < NP lead the populations).
    pub fn workgroup(ctx: &GpuContext) -> u32 {
        let wg = ctx
            .workgroup_for(&DESC)
            .clamp(MAX_POPS as u32, GROUPS as u32);
        1 << (31 - wg.leading_zeros())
    }

    impl MesoEngine for GpuEngine {
        fn load(
            &mut self,
            coef: &[MesoPopCoef],
            theta: &[[f32; 2]],
            proj: &[Projection],
        ) -> Result<()> {
            self.kernel.write(COEF, coef)?;
            self.kernel.write(THETA, theta)?;
            self.kernel.write(PROJ, proj)?;
            Ok(())
        }

        fn step(&mut self, cfg: &MesoConfig, stim: &[f32]) -> Result<()> {
            self.kernel.write(CFG, std::slice::from_ref(cfg))?;
            self.kernel.write(STIM, stim)?;
            // One workgroup per replica. No wait: chunks queue up on the device (each write
            // of cfg/stim is ordered before its submit); reading the recordings waits.
            let wg = u64::from(self.kernel.workgroup());
            self.kernel.submit(u64::from(cfg.n_replicas) * wg)
        }

        fn rec(&mut self, len: usize) -> Result<Vec<f32>> {
            self.kernel.read(REC, len)
        }

        fn wsum(&mut self, n: usize) -> Result<Vec<[u32; 4]>> {
            self.kernel.read(WSUM, n * self.np * MAX_WIN)
        }

        fn state(&mut self, n: usize) -> Result<Vec<MesoState>> {
            self.kernel.read(STATE, n * self.np)
        }
    }
}

#[cfg(feature = "gpu")]
pub use gpu::GpuSizes;
