//! `rate_step` (shaders/rate_step.wgsl): its descriptor, the structs it shares with Rust, and
//! its CPU twin, which mirrors the shader line by line in f32.

// Loops over lanes and populations index several arrays with the same index, as the shader.
#![allow(clippy::needless_range_loop)]

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

/// `rate_tanh`. Without branches (the shader's early return is a select), so lanes vectorise.
#[inline(always)]
fn rate_tanh(y: f32) -> f32 {
    let ay = y.abs();
    let y2 = y * y;
    let series = y * (1.0 - y2 * (1.0 / 3.0 - y2 * (2.0 / 15.0)));
    let e = math::exp(-2.0 * ay);
    let t = (1.0 - e) / (1.0 + e);
    let t = if y < 0.0 { -t } else { t };
    if ay < 0.01 {
        series
    } else {
        t
    }
}

/// `transfer`: F of population coefficients `c` at input `x`, in f32 as the shader.
#[inline(always)]
pub fn transfer(c: &PopCoef, x: f32) -> f32 {
    transfer_with(c.transfer, c.a, c.theta, c.f_offset, x)
}

/// [`transfer`] from the coefficients it reads.
#[inline(always)]
fn transfer_with(code: u32, a: f32, theta: f32, f_offset: f32, x: f32) -> f32 {
    match code {
        transfer_code::SIGMOID => 1.0 / (1.0 + math::exp(-a * (x - theta))) - f_offset,
        transfer_code::RELU => x.max(0.0),
        transfer_code::THRESHOLD_LINEAR => a * (x - theta).max(0.0),
        _ => rate_tanh(a * (x - theta)),
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

/// CPU twin of the `rate_step` entry point: every replica of the batch, in blocks of as many
/// replicas as a vector register holds (one lane each, see [`crate::simd`]), blocks in
/// parallel (those with traced replicas first, on this thread, since they share the trace
/// buffer). Each lane computes what the shader's thread of that replica computes, in the
/// same order, so the bits depend neither on the block size nor on the threads.
pub fn rate_step(cfg: &RateConfig, b: RateBuffers<'_>) {
    rate_step_at(crate::simd::level(), cfg, b);
}

/// [`rate_step`] at SIMD `level`.
pub fn rate_step_at(level: crate::simd::Level, cfg: &RateConfig, b: RateBuffers<'_>) {
    let np = cfg.n_pops as usize;
    let n = cfg.n_replicas as usize;
    let w = level.min(crate::simd::detected()).lanes() * INTERLEAVE;
    let rec = (cfg.rec_replicas as usize).min(n);
    let traced = rec.div_ceil(w) * w;
    let split = (traced * np).min(n * np);
    let (state_rec, state_rest) = b.state[..n * np].split_at_mut(split);
    let (sum_rec, sum_rest) = b.summary[..n * np].split_at_mut(split);
    let (coef, weights, stim) = (b.coef, b.weights, b.stim);
    for (blk, (st, su)) in state_rec
        .chunks_mut(w * np)
        .zip(sum_rec.chunks_mut(w * np))
        .enumerate()
    {
        let block = RateBlock {
            cfg,
            coef,
            weights,
            stim,
            t0: blk * w,
            state: st,
            summary: su,
            trace: Some(&mut *b.trace),
        };
        crate::simd::dispatch_at(level, block);
    }
    // Pair each block's states with its summaries so the untraced blocks run in parallel.
    let mut pairs: Vec<(&mut [PopState], &mut [PopSummary])> = state_rest
        .chunks_mut(w * np)
        .zip(sum_rest.chunks_mut(w * np))
        .collect();
    par_chunks_mut(&mut pairs, 1, |first, chunk| {
        for (i, (st, su)) in chunk.iter_mut().enumerate() {
            let block = RateBlock {
                cfg,
                coef,
                weights,
                stim,
                t0: traced + (first + i) * w,
                state: st,
                summary: su,
                trace: None,
            };
            crate::simd::dispatch_at(level, block);
        }
    });
}

/// Vector registers of replicas a block advances together. One step of one register is a
/// chain of dependent operations (the sum of inputs, the transfer function's `exp` and
/// division, the Euler update) whose latency, not the arithmetic, would bound a single
/// register; independent registers' chains interleave in the out-of-order core.
const INTERLEAVE: usize = 4;

/// Replicas `t0..` of a batch (as many as `state` holds, at most [`INTERLEAVE`] registers'
/// lanes).
struct RateBlock<'a> {
    cfg: &'a RateConfig,
    coef: &'a [PopCoef],
    weights: &'a [f32],
    stim: &'a [f32],
    t0: usize,
    state: &'a mut [PopState],
    summary: &'a mut [PopSummary],
    trace: Option<&'a mut [f32]>,
}

impl crate::simd::Lanes for RateBlock<'_> {
    type Output = ();

    #[inline(always)]
    fn run<const W: usize>(self) {
        // INTERLEAVE registers per block (the caller's block size).
        match W {
            16 => by_pops::<{ 16 * INTERLEAVE }>(self),
            8 => by_pops::<{ 8 * INTERLEAVE }>(self),
            _ => by_pops::<{ 4 * INTERLEAVE }>(self),
        }
    }
}

/// [`rate_block`] with its per-population arrays sized for the block's populations (1, 2,
/// 4 or [`MAX_POPS`]), so that one or two populations' state stays in registers.
#[inline(always)]
fn by_pops<const W: usize>(b: RateBlock<'_>) {
    match b.cfg.n_pops {
        1 => rate_block::<W, 1>(b),
        2 => rate_block::<W, 2>(b),
        3 | 4 => rate_block::<W, 4>(b),
        _ => rate_block::<W, MAX_POPS>(b),
    }
}

/// Per lane: a value of type T for each of W lanes.
type L<T, const W: usize> = [T; W];

/// The body of the `rate_step` entry point for the threads `t0 .. t0 + W` (fewer at the end
/// of a batch), lane `l` being thread `t0 + l`.
#[inline(always)]
fn rate_block<const W: usize, const P: usize>(b: RateBlock<'_>) {
    let cfg = b.cfg;
    // P populations at most (the caller checked); with P = 1 the loops over populations
    // disappear.
    let np = if P == 1 {
        1
    } else {
        (cfg.n_pops as usize).min(P)
    };
    let nl = (b.state.len() / np.max(1)).min(W);
    let seed = [cfg.seed_lo, cfg.seed_hi];
    let (noise, stimulus, summ) = (cfg.has_noise == 1, cfg.has_stim == 1, cfg.summary_mask != 0);
    let mut trace = b.trace;
    // Lanes past the batch repeat its last replica and are never stored.
    let tl: L<usize, W> = std::array::from_fn(|l| b.t0 + l.min(nl.saturating_sub(1)));
    let replica: L<u32, W> = std::array::from_fn(|l| cfg.replica0 + tl[l] as u32);
    let combo: L<usize, W> =
        std::array::from_fn(|l| (replica[l] / cfg.replicas_per_combo - cfg.combo0) as usize);
    // Coefficients and weights of every lane's combination.
    let cf = |m: usize, f: fn(&PopCoef) -> f32| -> L<f32, W> {
        std::array::from_fn(|l| f(&b.coef[combo[l] * np + m]))
    };
    let mut dt_tau = [[0f32; W]; P];
    let mut ca = [[0f32; W]; P];
    let mut ctheta = [[0f32; W]; P];
    let mut coff = [[0f32; W]; P];
    let mut iext = [[0f32; W]; P];
    let mut ou_decay = [[0f32; W]; P];
    let mut ou_amp = [[0f32; W]; P];
    let mut code = [0u32; P];
    for m in 0..np {
        dt_tau[m] = cf(m, |c| c.dt_over_tau);
        ca[m] = cf(m, |c| c.a);
        ctheta[m] = cf(m, |c| c.theta);
        coff[m] = cf(m, |c| c.f_offset);
        iext[m] = cf(m, |c| c.i_ext);
        ou_decay[m] = cf(m, |c| c.ou_decay);
        ou_amp[m] = cf(m, |c| c.ou_amp);
        // Not sweepable: the same in every combination.
        code[m] = b.coef[combo[0] * np + m].transfer;
    }
    let mut w = [[[0f32; W]; P]; P];
    for m in 0..np {
        for q in 0..np {
            w[m][q] = std::array::from_fn(|l| {
                let base = if cfg.w_per_combo == 1 {
                    combo[l] * np * np
                } else {
                    0
                };
                b.weights[base + m * np + q]
            });
        }
    }

    let mut r = [[0f32; W]; P];
    let mut eta = [[0f32; W]; P];
    let mut s_sum = [[0f32; W]; P];
    let mut s_sblock = [[0f32; W]; P];
    let mut s_block = [[0f32; W]; P];
    let mut s_above = [[0u32; W]; P];
    let mut s_cross = [[0u32; W]; P];
    let mut s_side = [[0u32; W]; P];
    let mut z = [[[0f32; W]; 4]; P];

    // Writes lane l's (r, eta) of every population at trace row `row` (traced lanes only).
    let write_trace =
        |trace: &mut Option<&mut [f32]>, row: usize, r: &[[f32; W]; P], eta: &[[f32; W]; P]| {
            if let Some(tr) = trace.as_deref_mut() {
                for l in 0..nl {
                    let t = tl[l];
                    if t >= cfg.rec_replicas as usize {
                        break;
                    }
                    for m in 0..np {
                        let i = ((row * cfg.rec_replicas as usize + t) * np + m) * 2;
                        tr[i] = r[m][l];
                        tr[i + 1] = eta[m][l];
                    }
                }
            }
        };

    if cfg.step0 == 0 {
        for m in 0..np {
            r[m] = cf(m, |c| c.r_init);
            if noise {
                let amp = cf(m, |c| c.eta0_amp);
                let z0 = noise_lanes::<W>(seed, &replica, 0, m as u32);
                for l in 0..W {
                    eta[m][l] = amp[l] * z0[0][l];
                }
            }
        }
        if summ && cfg.summary_from == 0 {
            for m in 0..np {
                summarize_lanes::<W>(
                    cfg,
                    &r[m],
                    0,
                    (&mut s_sum[m], &mut s_sblock[m], &mut s_block[m]),
                    (&mut s_above[m], &mut s_cross[m], &mut s_side[m]),
                );
            }
        }
        // Row 0 of a trace that starts at step 0 (`rec_sample0 = 0`).
        write_trace(&mut trace, 0, &r, &eta);
    } else {
        for l in 0..nl {
            for m in 0..np {
                let st = b.state[l * np + m];
                r[m][l] = st.r;
                eta[m][l] = st.eta;
                if summ {
                    let su = b.summary[l * np + m];
                    s_sum[m][l] = su.sum;
                    s_sblock[m][l] = su.sblock;
                    s_block[m][l] = su.block;
                    s_above[m][l] = su.above;
                    s_cross[m][l] = su.crossings;
                    s_side[m][l] = su.side;
                }
            }
        }
    }

    let every = cfg.rec_every;
    let mut rec_next = (cfg.step0 / every + 1) * every;
    let mut row = (rec_next / every).wrapping_sub(cfg.rec_sample0) as usize;
    let groups = cfg.n_steps.div_ceil(4);
    let mut f = [[0f32; W]; P];
    for g in 0..groups {
        let kb = cfg.step0 + 4 * g;
        if noise {
            for m in 0..np {
                z[m] = noise_lanes::<W>(seed, &replica, (kb >> 2) + 1, m as u32);
            }
        }
        for lstep in 0..4u32 {
            let j = 4 * g + lstep;
            if j >= cfg.n_steps {
                continue;
            }
            for m in 0..np {
                let st = if stimulus {
                    b.stim[j as usize * np + m]
                } else {
                    0.0
                };
                // Innermost loops over lanes only, so each vectorises.
                let mut x: L<f32, W> = std::array::from_fn(|l| iext[m][l] + eta[m][l]);
                for q in 0..np {
                    for l in 0..W {
                        x[l] += w[m][q][l] * r[q][l];
                    }
                }
                if stimulus {
                    for xl in x.iter_mut() {
                        *xl += st;
                    }
                }
                transfer_lanes(code[m], &ca[m], &ctheta[m], &coff[m], &x, &mut f[m]);
            }
            let k1 = kb + lstep + 1;
            for m in 0..np {
                // Each lane loop free of branches, so it is one vector operation (a branch
                // inside splits it into scalar and partial pieces, whose narrow stores stall
                // the wide loads that follow).
                let sum_now = summ && k1 >= cfg.summary_from;
                let mut rn = r[m];
                for l in 0..W {
                    rn[l] += dt_tau[m][l] * (f[m][l] - rn[l]);
                }
                r[m] = rn;
                if noise {
                    let zm = &z[m][lstep as usize];
                    for l in 0..W {
                        eta[m][l] = eta[m][l] * ou_decay[m][l] + ou_amp[m][l] * zm[l];
                    }
                }
                if sum_now {
                    summarize_lanes::<W>(
                        cfg,
                        &rn,
                        k1,
                        (&mut s_sum[m], &mut s_sblock[m], &mut s_block[m]),
                        (&mut s_above[m], &mut s_cross[m], &mut s_side[m]),
                    );
                }
            }
            if trace.is_some() && k1 == rec_next {
                write_trace(&mut trace, row, &r, &eta);
                rec_next += every;
                row = row.wrapping_add(1);
            }
        }
    }

    for l in 0..nl {
        for m in 0..np {
            b.state[l * np + m] = PopState {
                r: r[m][l],
                eta: eta[m][l],
            };
            if summ {
                b.summary[l * np + m] = PopSummary {
                    sum: s_sum[m][l],
                    sblock: s_sblock[m][l],
                    block: s_block[m][l],
                    above: s_above[m][l],
                    crossings: s_cross[m][l],
                    side: s_side[m][l],
                };
            }
        }
    }
}

/// [`transfer_with`] of every lane, one loop per transfer function.
#[inline(always)]
fn transfer_lanes<const W: usize>(
    code: u32,
    a: &[f32; W],
    theta: &[f32; W],
    off: &[f32; W],
    x: &[f32; W],
    f: &mut [f32; W],
) {
    match code {
        transfer_code::SIGMOID => {
            for l in 0..W {
                f[l] = transfer_with(transfer_code::SIGMOID, a[l], theta[l], off[l], x[l]);
            }
        }
        transfer_code::RELU => {
            for l in 0..W {
                f[l] = transfer_with(transfer_code::RELU, a[l], theta[l], off[l], x[l]);
            }
        }
        transfer_code::THRESHOLD_LINEAR => {
            for l in 0..W {
                f[l] = transfer_with(
                    transfer_code::THRESHOLD_LINEAR,
                    a[l],
                    theta[l],
                    off[l],
                    x[l],
                );
            }
        }
        _ => {
            for l in 0..W {
                f[l] = transfer_with(transfer_code::TANH, a[l], theta[l], off[l], x[l]);
            }
        }
    }
}

/// [`noise_block`] of every lane: `[normal index][lane]`.
#[inline(always)]
fn noise_lanes<const W: usize>(
    seed: [u32; 2],
    replica: &[u32; W],
    b: u32,
    m: u32,
) -> [[f32; W]; 4] {
    let mut out = [[0f32; W]; 4];
    for l in 0..W {
        let z = noise_block(seed, replica[l], b, m);
        for i in 0..4 {
            out[i][l] = z[i];
        }
    }
    out
}

/// `summarize` for every lane: adds the values `r` of state `k` (selects, no branches per
/// lane; `k` is the same in every lane).
#[inline(always)]
fn summarize_lanes<const W: usize>(
    cfg: &RateConfig,
    r: &[f32; W],
    k: u32,
    (sum, sblock, block): (&mut [f32; W], &mut [f32; W], &mut [f32; W]),
    (above, cross, side): (&mut [u32; W], &mut [u32; W], &mut [u32; W]),
) {
    if cfg.summary_mask & summary_bit::MEAN != 0 {
        for l in 0..W {
            block[l] += r[l];
        }
        if k & 63 == 63 {
            for l in 0..W {
                sblock[l] += block[l];
                block[l] = 0.0;
            }
            if k & 4095 == 4095 {
                for l in 0..W {
                    sum[l] += sblock[l];
                    sblock[l] = 0.0;
                }
            }
        }
    }
    if cfg.summary_mask & summary_bit::ABOVE != 0 {
        let level = cfg.above;
        for l in 0..W {
            above[l] += u32::from(r[l] > level);
        }
    }
    if cfg.summary_mask & summary_bit::CROSSINGS != 0 {
        let (lo, hi) = (cfg.cross_low, cfg.cross_high);
        for l in 0..W {
            let low = r[l] < lo;
            let high = r[l] > hi;
            let new = if low {
                1
            } else if high {
                2
            } else {
                side[l]
            };
            // A passage is a change of side between 1 and 2 (1 ^ 2 = 3; from 0 it is not).
            cross[l] += u32::from(new ^ side[l] == 3);
            side[l] = new;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::Level;

    /// Replicas with every transfer function, coupling, a stimulus, traces and summaries.
    struct Case {
        np: usize,
        n: usize,
        coef: Vec<PopCoef>,
        weights: Vec<f32>,
        stim: Vec<f32>,
    }

    impl Case {
        fn new(np: usize, n: usize) -> Case {
            let coef = (0..np)
                .map(|m| PopCoef {
                    dt_over_tau: 0.1 + 0.02 * m as f32,
                    a: 1.2,
                    theta: 2.8 - 0.3 * m as f32,
                    f_offset: 1.0 / (1.0 + (1.2f32 * 2.8).exp()),
                    i_ext: 0.5 + 0.1 * m as f32,
                    r_init: 0.1,
                    ou_decay: 0.9,
                    ou_amp: 0.3,
                    eta0_amp: 0.7,
                    transfer: (m % 4) as u32,
                })
                .collect();
            let weights = (0..np * np)
                .map(|i| 0.7 * ((i * 7) % 5) as f32 - 1.1)
                .collect();
            let stim = (0..256 * np).map(|i| 0.01 * (i % 13) as f32).collect();
            Case {
                np,
                n,
                coef,
                weights,
                stim,
            }
        }

        fn cfg(&self, step0: u32, n_steps: u32, rec: u32) -> RateConfig {
            RateConfig {
                n_replicas: self.n as u32,
                n_pops: self.np as u32,
                replicas_per_combo: self.n as u32,
                seed_lo: 7,
                seed_hi: 3,
                step0,
                n_steps,
                has_noise: 1,
                has_stim: 1,
                rec_replicas: rec,
                rec_every: 3,
                summary_from: 10,
                above: 0.5,
                cross_low: 0.2,
                cross_high: 0.7,
                summary_mask: 7,
                ..RateConfig::default()
            }
        }

        /// Two calls (200 steps traced, then 53 more), each through `step`.
        fn run(&self, step: impl Fn(&RateConfig, RateBuffers<'_>)) -> Vec<u32> {
            let len = self.n * self.np;
            let mut state = vec![PopState::default(); len];
            let mut summary = vec![PopSummary::default(); len];
            let mut trace = vec![0f32; 67 * 5 * self.np * 2];
            for (step0, n_steps, rec) in [(0, 200, 5), (200, 53, 0)] {
                let cfg = self.cfg(step0, n_steps, rec);
                step(
                    &cfg,
                    RateBuffers {
                        coef: &self.coef,
                        weights: &self.weights,
                        stim: &self.stim,
                        state: &mut state,
                        summary: &mut summary,
                        trace: &mut trace,
                    },
                );
            }
            let mut bits: Vec<u32> = bytemuck::cast_slice(&state).to_vec();
            bits.extend_from_slice(bytemuck::cast_slice(&summary));
            bits.extend(trace.iter().map(|v| v.to_bits()));
            bits
        }
    }

    /// One replica at a time through the general block (arrays for 16 populations, one
    /// live lane of four): the bits of every specialised, interleaved block at every level.
    #[test]
    fn specialised_blocks_compute_the_general_blocks_bits() {
        for np in [1, 2, 3, 5] {
            let case = Case::new(np, 37);
            let reference = case.run(|cfg, b| {
                let trace = b.trace;
                for t in 0..case.n {
                    rate_block::<4, MAX_POPS>(RateBlock {
                        cfg,
                        coef: b.coef,
                        weights: b.weights,
                        stim: b.stim,
                        t0: t,
                        state: &mut b.state[t * np..(t + 1) * np],
                        summary: &mut b.summary[t * np..(t + 1) * np],
                        trace: Some(&mut *trace),
                    });
                }
            });
            let moved = reference
                .iter()
                .zip(case.run(|_, _| {}))
                .filter(|(a, b)| **a != *b)
                .count();
            assert!(
                moved > reference.len() / 2,
                "{np} populations: a trivial run"
            );
            for level in Level::available() {
                for threads in [1, 2] {
                    let bits = crate::cpu::with_threads(threads, || {
                        case.run(|cfg, b| rate_step_at(level, cfg, b))
                    });
                    assert!(
                        bits == reference,
                        "{np} populations, {level}, {threads} threads"
                    );
                }
            }
        }
    }
}
