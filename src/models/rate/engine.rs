//! The two ways to execute `rate_step`: the CPU twin on host vectors, or the shader on
//! device buffers that stay resident for a whole batch (only traces and the final summaries
//! are read back).

use super::kernel::{rate_step, PopCoef, PopState, PopSummary, RateBuffers, RateConfig};
use crate::error::Result;

/// Executes `rate_step` chunks for one batch of replicas.
pub trait RateEngine {
    /// Uploads the coefficient and coupling tables of a new batch.
    fn load(&mut self, coef: &[PopCoef], weights: &[f32]) -> Result<()>;
    /// Advances the batch by `cfg.n_steps` steps with the per-step stimulus table `stim`.
    fn step(&mut self, cfg: &RateConfig, stim: &[f32]) -> Result<()>;
    /// Waits until submitted work is done (the GPU queues steps; the CPU runs them at once).
    fn sync(&mut self) -> Result<()> {
        Ok(())
    }
    /// The first `len` trace values written by the last step.
    fn trace(&mut self, len: usize) -> Result<Vec<f32>>;
    /// State and summaries of the first `n` replica-populations.
    fn results(&mut self, n: usize) -> Result<(Vec<PopState>, Vec<PopSummary>)>;
}

/// The CPU reference path.
pub struct CpuEngine {
    coef: Vec<PopCoef>,
    weights: Vec<f32>,
    state: Vec<PopState>,
    summary: Vec<PopSummary>,
    trace: Vec<f32>,
}

impl CpuEngine {
    /// Room for `n` replica-populations and `trace_len` trace values.
    pub fn new(n: usize, trace_len: usize) -> Self {
        Self {
            coef: Vec::new(),
            weights: Vec::new(),
            state: vec![PopState::default(); n],
            summary: vec![PopSummary::default(); n],
            trace: vec![0.0; trace_len.max(1)],
        }
    }
}

impl RateEngine for CpuEngine {
    fn load(&mut self, coef: &[PopCoef], weights: &[f32]) -> Result<()> {
        self.coef = coef.to_vec();
        self.weights = weights.to_vec();
        Ok(())
    }

    fn step(&mut self, cfg: &RateConfig, stim: &[f32]) -> Result<()> {
        let n = (cfg.n_replicas * cfg.n_pops) as usize;
        rate_step(
            cfg,
            RateBuffers {
                coef: &self.coef,
                weights: &self.weights,
                stim,
                state: &mut self.state[..n],
                summary: &mut self.summary[..n],
                trace: &mut self.trace,
            },
        );
        Ok(())
    }

    fn trace(&mut self, len: usize) -> Result<Vec<f32>> {
        Ok(self.trace[..len].to_vec())
    }

    fn results(&mut self, n: usize) -> Result<(Vec<PopState>, Vec<PopSummary>)> {
        Ok((self.state[..n].to_vec(), self.summary[..n].to_vec()))
    }
}

#[cfg(feature = "gpu")]
pub use gpu::GpuEngine;

#[cfg(feature = "gpu")]
mod gpu {
    use std::sync::Arc;

    use super::super::kernel::{PopCoef, PopState, PopSummary, RateConfig, Specialization, DESC};
    use super::RateEngine;
    use crate::error::Result;
    use crate::gpu::{GpuContext, KernelRunner};

    /// The shader path: buffers allocated once per run (only traces and the final
    /// summaries are read back).
    pub struct GpuEngine(KernelRunner);

    // Buffer indices: the descriptor's binding order.
    const CFG: usize = 0;
    const COEF: usize = 1;
    const WEIGHTS: usize = 2;
    const STIM: usize = 3;
    const STATE: usize = 4;
    const SUMMARY: usize = 5;
    const TRACE: usize = 6;

    impl GpuEngine {
        /// Pipeline specialised for `spec`; buffers for `n` replica-populations, `coef_len`
        /// coefficients, `w_len` weights, `stim_len` stimulus values and `trace_len` trace
        /// values; every size is checked against the device's limits before anything runs.
        #[allow(clippy::too_many_arguments)]
        pub fn new(
            ctx: Arc<GpuContext>,
            spec: &Specialization,
            n: usize,
            coef_len: usize,
            w_len: usize,
            stim_len: usize,
            trace_len: usize,
        ) -> Result<Self> {
            let lens = [1, coef_len, w_len, stim_len, n, n, trace_len];
            Ok(Self(KernelRunner::new(
                ctx,
                &DESC,
                &spec.constants(),
                &lens,
            )?))
        }
    }

    impl RateEngine for GpuEngine {
        fn load(&mut self, coef: &[PopCoef], weights: &[f32]) -> Result<()> {
            self.0.write(COEF, coef)?;
            self.0.write(WEIGHTS, weights)?;
            Ok(())
        }

        fn step(&mut self, cfg: &RateConfig, stim: &[f32]) -> Result<()> {
            self.0.write(CFG, std::slice::from_ref(cfg))?;
            self.0.write(STIM, stim)?;
            self.0.submit(u64::from(cfg.n_replicas))
        }

        fn sync(&mut self) -> Result<()> {
            self.0.wait()
        }

        fn trace(&mut self, len: usize) -> Result<Vec<f32>> {
            self.0.read(TRACE, len)
        }

        fn results(&mut self, n: usize) -> Result<(Vec<PopState>, Vec<PopSummary>)> {
            Ok((self.0.read(STATE, n)?, self.0.read(SUMMARY, n)?))
        }
    }
}
