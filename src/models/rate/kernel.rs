//! `rate_step` (shaders/rate_step.wgsl): its descriptor, the structs it shares with Rust, and
//! its CPU twin, which mirrors the shader line by line in f32.

use crate::cpu::par_chunks_mut;
use crate::kernels::{Binding, BindingKind, KernelDesc, Layout};
use crate::math;
use crate::rng::{box_muller, philox4x32_10, Purpose};

/// Most populations one replica may hold (`MAX_POPS` in the shader).
pub const MAX_POPS: usize = 16;

/// Transfer function codes (`TRANSFER_*` in the shader).
pub mod transfer_code {
    /// The rate-model tutorial's sigmoid with F(0) = 0.
    pub const SIGMOID: u32 = 0;
    /// max(x, 0).
    pub const RELU: u32 = 1;
    /// a max(x - theta, 0).
    pub const THRESHOLD_LINEAR: u32 = 2;
    /// tanh(a (x - theta)).
    pub const TANH: u32 = 3;
}

/// Bits of the summary mask (`SUM_*` in the shader).
pub mod summary_bit {
    /// Time average.
    pub const MEAN: u32 = 1;
    /// Fraction of time above a level.
    pub const ABOVE: u32 = 2;
    /// Crossings between two levels.
    pub const CROSSINGS: u32 = 4;
}

/// Per-dispatch settings. Keep in sync with `struct RateConfig` in shaders/rate_step.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct RateConfig {
    /// Replicas (threads) in this batch.
    pub n_replicas: u32,
    /// Populations per replica (1..=16).
    pub n_pops: u32,
    /// Replicas per sweep combination.
    pub replicas_per_combo: u32,
    /// Global index of the batch's first replica (the RNG element of thread 0).
    pub replica0: u32,
    /// Combination of `coef[0]` (and of `weights[0]` when per combination).
    pub combo0: u32,
    /// Step index k of the state on entry; a multiple of 4 (steps advance in groups of 4).
    pub step0: u32,
    /// Steps to advance.
    pub n_steps: u32,
    /// Seed, low word.
    pub seed_lo: u32,
    /// Seed, high word.
    pub seed_hi: u32,
    /// 1 when `weights` holds one matrix per combination, 0 for one shared matrix.
    pub w_per_combo: u32,
    /// 1 when any population has OU noise (the shader's NOISE override).
    pub has_noise: u32,
    /// 1 when `stim` holds per-step inputs (the shader's STIM override).
    pub has_stim: u32,
    /// Replicas 0..rec_replicas of the batch write traces.
    pub rec_replicas: u32,
    /// Trace every `rec_every` steps.
    pub rec_every: u32,
    /// Global trace sample of row 0 of `trace` in this dispatch.
    pub rec_sample0: u32,
    /// First step whose state enters the summaries.
    pub summary_from: u32,
    /// Level of the `above` summary.
    pub above: f32,
    /// Lower level of the `crossings` summary.
    pub cross_low: f32,
    /// Upper level of the `crossings` summary.
    pub cross_high: f32,
    /// Summaries to accumulate, a mask of [`summary_bit`] (the shader's SUMMARY override).
    pub summary_mask: u32,
}

/// Per combination and population, computed on the host in f64 and rounded once.
/// Keep in sync with `struct PopCoef` in shaders/rate_step.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct PopCoef {
    /// dt / tau.
    pub dt_over_tau: f32,
    /// Gain a.
    pub a: f32,
    /// Threshold theta.
    pub theta: f32,
    /// 1 / (1 + exp(a theta)) (sigmoid only): makes F(0) = 0.
    pub f_offset: f32,
    /// Constant input I_ext.
    pub i_ext: f32,
    /// Initial rate.
    pub r_init: f32,
    /// OU factor per step: 1 - dt/tau_ou (Euler) or exp(-dt/tau_ou) (exact).
    pub ou_decay: f32,
    /// OU noise amplitude per step: sqrt(2 dt/tau_ou) sigma (Euler) or
    /// sigma sqrt(1 - exp(-2 dt/tau_ou)) (exact).
    pub ou_amp: f32,
    /// Standard deviation of eta at step 0: sigma.
    pub eta0_amp: f32,
    /// A [`transfer_code`].
    pub transfer: u32,
}

/// Per replica and population state. Keep in sync with `struct PopState`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct PopState {
    /// Rate r.
    pub r: f32,
    /// OU input eta.
    pub eta: f32,
}

/// Per replica and population running summaries. Keep in sync with `struct PopSummary`.
/// The sum of r over the window is `sum + sblock + block`: values enter `block`, which is
/// folded into `sblock` every 64 steps, which is folded into `sum` every 4096 steps (at fixed
/// global step indices, so the result does not depend on how steps are split into chunks).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct PopSummary {
    /// Sum of completed 4096-step super-blocks.
    pub sum: f32,
    /// Sum of completed 64-step blocks of the current super-block.
    pub sblock: f32,
    /// Sum of the current 64-step block.
    pub block: f32,
    /// Steps with r above the level.
    pub above: u32,
    /// Completed passages between the two crossing levels (either direction).
    pub crossings: u32,
    /// 0: not yet below/above a level; 1: last seen below the low level; 2: above the high.
    pub side: u32,
}

/// Descriptor of the `rate_step` kernel.
pub const DESC: KernelDesc = KernelDesc {
    name: "rate_step",
    shader: "rate_step.wgsl",
    entry: "rate_step",
    workgroup_size: [64, 1, 1],
    overrides: &["NP", "NOISE", "STIM", "TRACE", "SUMMARY", "TRANSFER"],
    bindings: &[
        Binding::uniform::<RateConfig>("cfg"),
        Binding::array::<PopCoef>("coef", BindingKind::StorageRead),
        Binding::new("weights", BindingKind::StorageRead, Layout::Array(4)),
        Binding::new("stim", BindingKind::StorageRead, Layout::Array(4)),
        Binding::array::<PopState>("state", BindingKind::StorageReadWrite),
        Binding::array::<PopSummary>("summary", BindingKind::StorageReadWrite),
        Binding::new("trace", BindingKind::StorageReadWrite, Layout::Array(4)),
    ],
};

/// `rate_tanh`.
#[inline]
fn rate_tanh(y: f32) -> f32 {
    let ay = y.abs();
    if ay < 0.01 {
        let y2 = y * y;
        return y * (1.0 - y2 * (1.0 / 3.0 - y2 * (2.0 / 15.0)));
    }
    let e = math::exp(-2.0 * ay);
    let t = (1.0 - e) / (1.0 + e);
    if y < 0.0 {
        -t
    } else {
        t
    }
}

/// `transfer`: F of population coefficients `c` at input `x`, in f32 as the shader.
#[inline]
pub fn transfer(c: &PopCoef, x: f32) -> f32 {
    match c.transfer {
        transfer_code::SIGMOID => 1.0 / (1.0 + math::exp(-c.a * (x - c.theta))) - c.f_offset,
        transfer_code::RELU => x.max(0.0),
        transfer_code::THRESHOLD_LINEAR => c.a * (x - c.theta).max(0.0),
        _ => rate_tanh(c.a * (x - c.theta)),
    }
}

/// `noise_block`: the four normals of block (replica, b, m).
#[inline]
fn noise_block(seed: [u32; 2], replica: u32, b: u32, m: u32) -> [f32; 4] {
    let x = philox4x32_10([replica, b, Purpose::Noise.word(), m], seed);
    let z0 = box_muller(x[0], x[1]);
    let z1 = box_muller(x[2], x[3]);
    [z0[0], z0[1], z1[0], z1[1]]
}

/// `summarize`: adds the value r of state k.
#[inline]
fn summarize(cfg: &RateConfig, s: &mut PopSummary, r: f32, k: u32) {
    if cfg.summary_mask & summary_bit::MEAN != 0 {
        s.block += r;
        if k & 63 == 63 {
            s.sblock += s.block;
            s.block = 0.0;
            if k & 4095 == 4095 {
                s.sum += s.sblock;
                s.sblock = 0.0;
            }
        }
    }
    if cfg.summary_mask & summary_bit::ABOVE != 0 && r > cfg.above {
        s.above += 1;
    }
    if cfg.summary_mask & summary_bit::CROSSINGS == 0 {
        return;
    }
    if r < cfg.cross_low {
        if s.side == 2 {
            s.crossings += 1;
        }
        s.side = 1;
    } else if r > cfg.cross_high {
        if s.side == 1 {
            s.crossings += 1;
        }
        s.side = 2;
    }
}

/// Buffers of one `rate_step` call (the shader's bindings 1..6).
pub struct RateBuffers<'a> {
    /// `coef`.
    pub coef: &'a [PopCoef],
    /// `weights`.
    pub weights: &'a [f32],
    /// `stim`.
    pub stim: &'a [f32],
    /// `state`, `n_replicas * n_pops`.
    pub state: &'a mut [PopState],
    /// `summary`, `n_replicas * n_pops`.
    pub summary: &'a mut [PopSummary],
    /// `trace`, `rows * rec_replicas * n_pops * 2`.
    pub trace: &'a mut [f32],
}

/// CPU twin of the `rate_step` entry point: every replica of the batch, in parallel (traced
/// replicas first, on this thread, since they share the trace buffer).
pub fn rate_step(cfg: &RateConfig, b: RateBuffers<'_>) {
    let np = cfg.n_pops as usize;
    let rec = (cfg.rec_replicas as usize).min(cfg.n_replicas as usize);
    let (state_rec, state_rest) = b.state.split_at_mut(rec * np);
    let (sum_rec, sum_rest) = b.summary.split_at_mut(rec * np);
    for t in 0..rec {
        let st = &mut state_rec[t * np..(t + 1) * np];
        let su = &mut sum_rec[t * np..(t + 1) * np];
        rate_replica(
            cfg,
            b.coef,
            b.weights,
            b.stim,
            t as u32,
            st,
            su,
            Some(&mut *b.trace),
        );
    }
    // Pair each replica's state with its summary so the untraced ones run in parallel.
    let mut pairs: Vec<(&mut [PopState], &mut [PopSummary])> = state_rest
        .chunks_mut(np)
        .zip(sum_rest.chunks_mut(np))
        .collect();
    let (coef, weights, stim) = (b.coef, b.weights, b.stim);
    par_chunks_mut(&mut pairs, 1, |first, chunk| {
        for (i, (st, su)) in chunk.iter_mut().enumerate() {
            let t = (rec + first + i) as u32;
            rate_replica(cfg, coef, weights, stim, t, st, su, None);
        }
    });
}

/// The body of the `rate_step` entry point for thread `t`.
#[allow(clippy::too_many_arguments)]
fn rate_replica(
    cfg: &RateConfig,
    coef: &[PopCoef],
    weights: &[f32],
    stim: &[f32],
    t: u32,
    state: &mut [PopState],
    summary: &mut [PopSummary],
    mut trace: Option<&mut [f32]>,
) {
    let replica = cfg.replica0 + t;
    let combo = replica / cfg.replicas_per_combo - cfg.combo0;
    let np = cfg.n_pops as usize;
    let seed = [cfg.seed_lo, cfg.seed_hi];
    let cbase = combo as usize * np;
    let wbase = if cfg.w_per_combo == 1 {
        combo as usize * np * np
    } else {
        0
    };
    let tu = t as usize;
    let (noise, stimulus, summ) = (cfg.has_noise == 1, cfg.has_stim == 1, cfg.summary_mask != 0);

    let mut c = [PopCoef::default(); MAX_POPS];
    c[..np].copy_from_slice(&coef[cbase..cbase + np]);
    let mut w = [0f32; MAX_POPS * MAX_POPS];
    w[..np * np].copy_from_slice(&weights[wbase..wbase + np * np]);
    let mut r = [0f32; MAX_POPS];
    let mut eta = [0f32; MAX_POPS];
    let mut f = [0f32; MAX_POPS];
    let mut z = [[0f32; 4]; MAX_POPS];
    let mut s = [PopSummary::default(); MAX_POPS];

    if cfg.step0 == 0 {
        for m in 0..np {
            r[m] = c[m].r_init;
            eta[m] = 0.0;
            if noise {
                eta[m] = c[m].eta0_amp * noise_block(seed, replica, 0, m as u32)[0];
            }
            s[m] = PopSummary::default();
            if summ && cfg.summary_from == 0 {
                summarize(cfg, &mut s[m], r[m], 0);
            }
            if let Some(tr) = trace.as_deref_mut() {
                let i = (tu * np + m) * 2;
                tr[i] = r[m];
                tr[i + 1] = eta[m];
            }
        }
    } else {
        for m in 0..np {
            r[m] = state[m].r;
            eta[m] = state[m].eta;
            if summ {
                s[m] = summary[m];
            }
        }
    }

    let every = cfg.rec_every;
    let mut rec_next = (cfg.step0 / every + 1) * every;
    let mut row = (rec_next / every).wrapping_sub(cfg.rec_sample0) as usize;
    let groups = cfg.n_steps.div_ceil(4);
    for g in 0..groups {
        let kb = cfg.step0 + 4 * g;
        if noise {
            for (m, zm) in z.iter_mut().enumerate().take(np) {
                *zm = noise_block(seed, replica, (kb >> 2) + 1, m as u32);
            }
        }
        for l in 0..4u32 {
            let j = 4 * g + l;
            if j >= cfg.n_steps {
                continue;
            }
            for m in 0..np {
                let mut x = c[m].i_ext + eta[m];
                for q in 0..np {
                    x += w[m * np + q] * r[q];
                }
                if stimulus {
                    x += stim[j as usize * np + m];
                }
                f[m] = transfer(&c[m], x);
            }
            let k1 = kb + l + 1;
            let rec = trace.is_some() && k1 == rec_next;
            for m in 0..np {
                r[m] += c[m].dt_over_tau * (f[m] - r[m]);
                if noise {
                    eta[m] = eta[m] * c[m].ou_decay + c[m].ou_amp * z[m][l as usize];
                }
                if summ && k1 >= cfg.summary_from {
                    summarize(cfg, &mut s[m], r[m], k1);
                }
                if rec {
                    if let Some(tr) = trace.as_deref_mut() {
                        let i = ((row * cfg.rec_replicas as usize + tu) * np + m) * 2;
                        tr[i] = r[m];
                        tr[i + 1] = eta[m];
                    }
                }
            }
            if trace.is_some() && k1 == rec_next {
                rec_next += every;
                row = row.wrapping_add(1);
            }
        }
    }

    for m in 0..np {
        state[m] = PopState {
            r: r[m],
            eta: eta[m],
        };
        if summ {
            summary[m] = s[m];
        }
    }
}

/// Values of the shader's `override` constants for one run; the CPU twin reads the same
/// switches from [`RateConfig`] (and each population's `transfer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Specialization {
    /// Populations per replica (NP).
    pub pops: u32,
    /// Any OU noise (NOISE).
    pub noise: bool,
    /// Any stimulus (STIM).
    pub stim: bool,
    /// Any trace (TRACE).
    pub trace: bool,
    /// Summaries to accumulate, a mask of [`summary_bit`] (SUMMARY).
    pub summary: u32,
    /// The common transfer code, or 4 when populations differ (TRANSFER).
    pub transfer: u32,
}

impl Specialization {
    /// The `(name, value)` pairs for the pipeline.
    pub fn constants(&self) -> [(&'static str, f64); 6] {
        [
            ("NP", f64::from(self.pops)),
            ("NOISE", f64::from(u8::from(self.noise))),
            ("STIM", f64::from(u8::from(self.stim))),
            ("TRACE", f64::from(u8::from(self.trace))),
            ("SUMMARY", f64::from(self.summary)),
            ("TRANSFER", f64::from(self.transfer)),
        ]
    }
}
