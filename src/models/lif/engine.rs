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
    use crate::error::{Error, Result};
    use crate::gpu::{GpuContext, Pipeline};

    /// The shader path: buffers allocated once per run.
    pub struct GpuEngine {
        ctx: Arc<GpuContext>,
        pipeline: Arc<Pipeline>,
        buffers: Vec<wgpu::Buffer>,
        bind: Option<wgpu::BindGroup>,
    }

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
            let pipeline = ctx.pipeline_with(&DESC, &spec.constants())?;
            let nw = spec.windows as usize;
            let buffers = ctx.kernel_buffers(
                &DESC,
                &[
                    1,
                    coef_len,
                    stim_len,
                    2 * nw,
                    n,
                    n * nw,
                    n_rec,
                    spike_words,
                    trace_len,
                ],
            )?;
            Ok(Self {
                ctx,
                pipeline,
                buffers,
                bind: None,
            })
        }
    }

    impl LifEngine for GpuEngine {
        fn load(&mut self, coef: &[LifCoef], windows: &[u32]) -> Result<()> {
            self.ctx.write(&self.buffers[COEF], 0, coef);
            self.ctx.write(&self.buffers[WINDOWS], 0, windows);
            if self.bind.is_none() {
                self.bind = Some(self.pipeline.bind_all(&self.ctx, &self.buffers)?);
            }
            Ok(())
        }

        fn step(&mut self, cfg: &LifConfig, stim: &[f32]) -> Result<()> {
            self.ctx
                .write(&self.buffers[CFG], 0, std::slice::from_ref(cfg));
            if !stim.is_empty() {
                self.ctx.write(&self.buffers[STIM], 0, stim);
            }
            let Some(bind) = &self.bind else {
                return Err(Error::Gpu("lif engine stepped before load".into()));
            };
            self.pipeline
                .submit(&self.ctx, bind, u64::from(cfg.n_threads));
            Ok(())
        }

        fn sync(&mut self) -> Result<()> {
            self.ctx.wait()
        }

        fn records(&mut self, n_rec: usize, cap: usize, trace_len: usize) -> Result<Records> {
            let n = if n_rec > 0 {
                self.ctx.read(&self.buffers[SPIKE_N], 0, n_rec)?
            } else {
                Vec::new()
            };
            let s = if n_rec > 0 {
                self.ctx.read(&self.buffers[SPIKES], 0, n_rec * cap * 2)?
            } else {
                Vec::new()
            };
            let t = if trace_len > 0 {
                self.ctx.read(&self.buffers[TRACE], 0, trace_len)?
            } else {
                Vec::new()
            };
            Ok((n, s, t))
        }

        fn results(&mut self, n: usize, windows: usize) -> Result<(Vec<LifState>, Vec<u32>)> {
            Ok((
                self.ctx.read(&self.buffers[STATE], 0, n)?,
                self.ctx.read(&self.buffers[COUNTS], 0, n * windows)?,
            ))
        }
    }
}
