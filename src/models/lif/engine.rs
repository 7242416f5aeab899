//! The two ways to execute `lif_step`: the CPU twin on host vectors, or the shader on device
//! buffers that stay resident for a whole batch (only records and final counts are read).

use super::kernel::{lif_step, LifBuffers, LifCoef, LifConfig, LifState, Specialization};
use crate::error::Result;

/// What one dispatch recorded: spikes per recorded neuron, spike words, trace values.
pub type Records = (Vec<u32>, Vec<u32>, Vec<f32>);

/// Executes `lif_step` chunks for one batch of neurons.
pub trait LifEngine {
    /// Uploads the coefficients of a new batch and the window table.
    fn load(&mut self, coef: &[LifCoef], windows: &[u32]) -> Result<()>;
    /// Advances the batch by `cfg.n_steps` steps with the per-step stimulus table `stim`.
    fn step(&mut self, cfg: &LifConfig, stim: &[f32]) -> Result<()>;
    /// Waits until submitted work is done.
    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
    /// Spike counts (`n_rec`), spike words (`n_rec * cap * 2`) and `trace_len` trace values
    /// written by the last step.
    fn records(&mut self, n_rec: usize, cap: usize, trace_len: usize) -> Result<Records>;
    /// State and counts (`n * windows`) of the first `n` neurons.
    fn results(&mut self, n: usize, windows: usize) -> Result<(Vec<LifState>, Vec<u32>)>;
}

/// The CPU reference path.
pub struct CpuEngine {
    spec: Specialization,
    coef: Vec<LifCoef>,
    windows: Vec<u32>,
    state: Vec<LifState>,
    counts: Vec<u32>,
    spike_n: Vec<u32>,
    spikes: Vec<u32>,
    trace: Vec<f32>,
}

impl CpuEngine {
    /// Room for `n` neurons, `spike_words` spike words and `trace_len` trace values.
    pub fn new(
        spec: Specialization,
        n: usize,
        n_rec: usize,
        spike_words: usize,
        trace_len: usize,
    ) -> Self {
        Self {
            spec,
            coef: Vec::new(),
            windows: Vec::new(),
            state: vec![LifState::default(); n],
            counts: vec![0; n * spec.windows as usize],
            spike_n: vec![0; n_rec.max(1)],
            spikes: vec![0; spike_words.max(1)],
            trace: vec![0.0; trace_len.max(1)],
        }
    }
}

impl LifEngine for CpuEngine {
    fn load(&mut self, coef: &[LifCoef], windows: &[u32]) -> Result<()> {
        self.coef = coef.to_vec();
        self.windows = windows.to_vec();
        Ok(())
    }

    fn step(&mut self, cfg: &LifConfig, stim: &[f32]) -> Result<()> {
        let n = cfg.n_threads as usize;
        let nw = self.spec.windows as usize;
        lif_step(
            &self.spec,
            cfg,
            LifBuffers {
                coef: &self.coef,
                stim,
                windows: &self.windows,
                state: &mut self.state[..n],
                counts: &mut self.counts[..n * nw],
                spike_n: &mut self.spike_n,
                spikes: &mut self.spikes,
                trace: &mut self.trace,
            },
        );
        Ok(())
    }

    fn records(&mut self, n_rec: usize, cap: usize, trace_len: usize) -> Result<Records> {
        Ok((
            self.spike_n[..n_rec].to_vec(),
            self.spikes[..n_rec * cap * 2].to_vec(),
            self.trace[..trace_len].to_vec(),
        ))
    }

    fn results(&mut self, n: usize, windows: usize) -> Result<(Vec<LifState>, Vec<u32>)> {
        Ok((
            self.state[..n].to_vec(),
            self.counts[..n * windows].to_vec(),
        ))
    }
}

#[cfg(feature = "gpu")]
pub use gpu::GpuEngine;

#[cfg(feature = "gpu")]
mod gpu {
    use std::sync::Arc;

    use super::super::kernel::{LifCoef, LifConfig, LifState, Specialization, DESC};
    use super::{LifEngine, Records};
    use crate::error::Result;
    use crate::gpu::{GpuContext, KernelRunner};

    /// The shader path: buffers allocated once per run (only records and final counts are
    /// read back).
    pub struct GpuEngine(KernelRunner);

    // Buffer indices: the descriptor's binding order.
    const CFG: usize = 0;
    const COEF: usize = 1;
    const STIM: usize = 2;
    const WINDOWS: usize = 3;
    const STATE: usize = 4;
    const COUNTS: usize = 5;
    const SPIKE_N: usize = 6;
    const SPIKES: usize = 7;
    const TRACE: usize = 8;

    impl GpuEngine {
        /// Pipeline specialised for `spec`; buffers for `n` neurons, `coef_len`
        /// coefficients, `stim_len` stimulus values, `n_rec` recorded neurons with
        /// `spike_words` spike words and `trace_len` trace values.
        #[allow(clippy::too_many_arguments)]
        pub fn new(
            ctx: Arc<GpuContext>,
            spec: &Specialization,
            n: usize,
            coef_len: usize,
            stim_len: usize,
            n_rec: usize,
            spike_words: usize,
            trace_len: usize,
        ) -> Result<Self> {
            let nw = spec.windows as usize;
            let lens = [
                1,
                coef_len,
                stim_len,
                2 * nw,
                n,
                n * nw,
                n_rec,
                spike_words,
                trace_len,
            ];
            Ok(Self(KernelRunner::new(
                ctx,
                &DESC,
                &spec.constants(),
                &lens,
            )?))
        }
    }

    impl LifEngine for GpuEngine {
        fn load(&mut self, coef: &[LifCoef], windows: &[u32]) -> Result<()> {
            self.0.write(COEF, coef)?;
            self.0.write(WINDOWS, windows)?;
            Ok(())
        }

        fn step(&mut self, cfg: &LifConfig, stim: &[f32]) -> Result<()> {
            self.0.write(CFG, std::slice::from_ref(cfg))?;
            self.0.write(STIM, stim)?;
            self.0.submit(u64::from(cfg.n_threads))
        }

        fn sync(&mut self) -> Result<()> {
            self.0.wait()
        }

        fn records(&mut self, n_rec: usize, cap: usize, trace_len: usize) -> Result<Records> {
            Ok((
                self.0.read(SPIKE_N, n_rec)?,
                self.0.read(SPIKES, n_rec * cap * 2)?,
                self.0.read(TRACE, trace_len)?,
            ))
        }

        fn results(&mut self, n: usize, windows: usize) -> Result<(Vec<LifState>, Vec<u32>)> {
            Ok((self.0.read(STATE, n)?, self.0.read(COUNTS, n * windows)?))
        }
    }
}
