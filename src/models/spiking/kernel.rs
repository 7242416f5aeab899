//! The two kernels of the spiking-network engine, their shared structs, descriptors and CPU
//! twins: `neuron_step` (shaders/neuron_step.wgsl) advances every neuron through a block of
//! steps shorter than the smallest delay; `deliver_spikes` (shaders/deliver_spikes.wgsl)
//! adds the block's spikes to the ring of per-projection spike counts of their targets.
//!
//! Counts are integers, so delivery order (atomics on the GPU, threads on the CPU) cannot
//! change a result; weights multiply the counts inside `neuron_step` in a fixed order.

// Loops over lanes index several arrays with the lane, as the shader's threads do.
#![allow(clippy::needless_range_loop)]

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use bytemuck::{Pod, Zeroable};

use super::params::{NeuronCoef, MAX_KERNELS};
use super::synapse::SynDist;
use crate::kernels::{Binding, BindingKind, KernelDesc, Layout};
use crate::rng::{Purpose, Rng};

/// Parameters of one block of steps. Keep in sync with `NetConfig` in
/// shaders/shared/network.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct NetConfig {
    /// Philox key, low word.
    pub seed_lo: u32,
    /// Philox key, high word.
    pub seed_hi: u32,
    /// Neurons per replica.
    pub n_neurons: u32,
    /// Neurons whose state this process holds (all replicas' neurons unless MPI ranks share
    /// them): the stride of the adaptation kernels' state.
    pub n_total: u32,
    /// Populations per replica.
    pub n_pops: u32,
    /// First step of the block.
    pub step0: u32,
    /// Steps in the block.
    pub n_steps: u32,
    /// First step of the chunk (row 0 of the chunk's recordings).
    pub chunk_step0: u32,
    /// Slots of the ring.
    pub ring_len: u32,
    /// Words per ring slot.
    pub ring_row: u32,
    /// Spike-list counter set of this block (0 or 1).
    pub parity: u32,
    /// Traced neurons.
    pub n_trace: u32,
    /// Trace interval in steps.
    pub trace_every: u32,
    /// Spike-list capacity (entries).
    pub spk_cap: u32,
    /// Spike-record capacity (entries).
    pub rec_cap: u32,
    /// Synapses per `syn*` binding.
    pub syn_cap: u32,
    /// Always 0 (the shader's `keep()` barrier).
    pub zero: u32,
    /// Replicas x populations.
    pub n_rep_pops: u32,
    /// Replicas of each sweep combination.
    pub replicas_per_combo: u32,
    /// Population-table entries (combinations x populations).
    pub n_entries: u32,
}

/// One population of one sweep combination (entry `combo * n_pops + pop`). Keep in sync with
/// `PopInfo` in shaders/shared/network.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Pod, Zeroable)]
pub struct PopInfo {
    /// First neuron within a replica.
    pub offset: u32,
    /// Neurons.
    pub size: u32,
    /// First incoming port.
    pub port0: u32,
    /// Incoming ports (projections into this population).
    pub n_ports: u32,
    /// First Poisson input.
    pub pois0: u32,
    /// Poisson inputs.
    pub n_pois: u32,
    /// First outgoing projection.
    pub out0: u32,
    /// Outgoing projections.
    pub n_out: u32,
    /// Neurons (from 0, replica 0) whose spikes are recorded.
    pub rec_spikes: u32,
    /// Neurons (from 0, replica 0) whose V is traced.
    pub trace_first: u32,
    /// First trace column of this population.
    pub trace_base: u32,
    /// First workgroup of this entry in `neuron_step` (GPU engine only).
    pub wg0: u32,
    /// Population index.
    pub pop: u32,
    /// Sweep combination.
    pub combo: u32,
    /// The neurons `[own_lo, own_hi)` of the population (in every replica) this process
    /// updates: all (`0 .. size`) unless MPI ranks share the neurons ([`rank_part`]).
    pub own_lo: u32,
    /// See `own_lo`.
    pub own_hi: u32,
    /// Where this population's neurons of a replica start among the neurons this process
    /// holds state for (`offset` on one process).
    pub own_base: u32,
    /// Neurons per replica this process holds state for (`n_neurons` on one process): the
    /// state of neuron `local` of replica `r` is entry `r own_stride + own_base + local -
    /// own_lo`.
    pub own_stride: u32,
}

/// An incoming projection as seen by its target: where its counts are and their weight.
/// Keep in sync with `Port` in shaders/neuron_step.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct Port {
    /// Offset of this projection's counts in a ring slot (`+ replica * size + local`).
    pub base: u32,
    /// Weight per spike (pA, or mV for iaf_psc_delta).
    pub weight: f32,
}

/// A Poisson input. Keep in sync with `Pois` in shaders/neuron_step.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct Pois {
    /// Mean input spikes per step.
    pub lambda: f32,
    /// Weight per input spike.
    pub weight: f32,
    /// RNG purpose word of this input.
    pub purpose: u32,
    /// e^-lambda (`math::exp`, the shaders' `npm_exp`), the inversion sampler's first term,
    /// computed once on the host.
    pub p0: f32,
}

/// An outgoing projection as seen by its source. Keep in sync with `Proj` in
/// shaders/deliver_spikes.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, Pod, Zeroable)]
pub struct Proj {
    /// Offset of the target port in a ring slot.
    pub port_base: u32,
    /// Target population size.
    pub tgt_size: u32,
    /// Delay in steps (>= the block length).
    pub delay: u32,
    /// First row of this projection in `rowptr` (`+ replica * src_size + local`; stored).
    pub row0: u32,
    /// [`proj_mode`]: stored rows or a procedural rule.
    pub mode: u32,
    /// Procedural `pairwise_bernoulli`: targets per segment (one random stream each).
    pub seg_len: u32,
    /// 1 when a neuron must not reach itself (same population, no autapses).
    pub forbid_self: u32,
    /// Projection index (the RNG `step` word of procedural streams).
    pub index: u32,
    /// Procedural `pairwise_bernoulli`: `1 / ln(1 - p)` (negative).
    pub inv_log_q: f32,
    /// Words per stored synapse (1: target; 2: target, weight in quanta).
    pub words: u32,
    /// Bits of a stored synapse's first word holding its delay above `delay`.
    pub dbits: u32,
    /// The targets `[tgt_lo, tgt_hi)` this process delivers to: all (`0 .. tgt_size`) unless
    /// MPI ranks share the neurons ([`rank_part`]).
    pub tgt_lo: u32,
    /// See `tgt_lo`.
    pub tgt_hi: u32,
    /// Padding.
    pub _pad: [u32; 3],
    /// Weights drawn per synapse (kind 0: one weight, each synapse adds 1).
    pub wdist: SynDist,
    /// Delays drawn per synapse (kind 0: `delay` for all).
    pub ddist: SynDist,
}

/// `Proj::mode` values (`MODE_*` in shaders/deliver_spikes.wgsl).
pub mod proj_mode {
    /// Compressed rows by source.
    pub const STORED: u32 = 0;
    /// `pairwise_bernoulli` regenerated per spike: geometric gaps per segment of targets.
    pub const BERNOULLI: u32 = 1;
    /// Every target.
    pub const ALL_TO_ALL: u32 = 2;
    /// The target with the source's index.
    pub const ONE_TO_ONE: u32 = 3;
    /// `fixed_total_number` regenerated per spike: the source's out-degree from `rowptr`,
    /// each synapse's target from its own Philox lane.
    pub const FIXED_TOTAL: u32 = 4;
}

/// Targets per random stream of a procedural `pairwise_bernoulli` projection.
pub const PROCEDURAL_SEGMENT: u32 = 1024;

impl Proj {
    /// The procedural fields of projection `index` (mode STORED when it is stored).
    pub fn procedural(c: &super::connect::ConnSpec, index: u32) -> Self {
        let forbid_self = u32::from(c.src == c.tgt && !c.autapses);
        let mode = if !c.procedural {
            proj_mode::STORED
        } else {
            match c.rule {
                crate::spec::Rule::AllToAll => proj_mode::ALL_TO_ALL,
                crate::spec::Rule::OneToOne => proj_mode::ONE_TO_ONE,
                crate::spec::Rule::FixedTotalNumber => proj_mode::FIXED_TOTAL,
                _ if c.p >= 1.0 => proj_mode::ALL_TO_ALL,
                _ => proj_mode::BERNOULLI,
            }
        };
        Self {
            mode,
            words: 1,
            seg_len: PROCEDURAL_SEGMENT,
            forbid_self,
            index,
            inv_log_q: if c.p > 0.0 && c.p < 1.0 {
                (1.0 / (1.0 - c.p).ln()) as f32
            } else {
                0.0
            },
            ..Default::default()
        }
    }
}

/// RNG purpose word of the `k`-th Poisson input of a network.
pub fn poisson_purpose(k: usize) -> u32 {
    Purpose::PoissonInput.word() + 256 * k as u32
}

/// `neuron_step`'s descriptor.
pub static NEURON_DESC: KernelDesc = KernelDesc {
    name: "neuron_step",
    shader: "neuron_step.wgsl",
    entry: "neuron_step",
    workgroup_size: [64, 1, 1],
    overrides: &[
        "MODEL", "NSTC", "NSFA", "WG", "STIM", "TRACE", "POIS", "BIG_LIST", "NPT",
    ],
    bindings: &[
        Binding::uniform_dynamic::<NetConfig>("cfg"),
        Binding::array::<PopInfo>("pops", BindingKind::StorageRead),
        Binding::array::<NeuronCoef>("coef", BindingKind::StorageRead),
        Binding::array::<Port>("ports", BindingKind::StorageRead),
        Binding::array::<Pois>("pois", BindingKind::StorageRead),
        Binding::new("stim", BindingKind::StorageRead, Layout::Array(4)),
        Binding::new("v_m", BindingKind::StorageReadWrite, Layout::Array(4)),
        Binding::new("i_syn", BindingKind::StorageReadWrite, Layout::Array(8)),
        Binding::new("refr", BindingKind::StorageReadWrite, Layout::Array(4)),
        Binding::new("adapt", BindingKind::StorageReadWrite, Layout::Array(4)),
        Binding::new("ring", BindingKind::StorageReadWrite, Layout::Array(4)),
        Binding::new("ctl", BindingKind::StorageReadWrite, Layout::Array(4)),
        Binding::new("spk", BindingKind::StorageReadWrite, Layout::Array(4)),
        Binding::new("act", BindingKind::StorageReadWrite, Layout::Array(4)),
        Binding::new("rec", BindingKind::StorageReadWrite, Layout::Array(4)),
        Binding::new("trace", BindingKind::StorageReadWrite, Layout::Array(4)),
    ],
};

/// `deliver_spikes`' descriptor.
pub static DELIVER_DESC: KernelDesc = KernelDesc {
    name: "deliver_spikes",
    shader: "deliver_spikes.wgsl",
    entry: "deliver_spikes",
    workgroup_size: [64, 1, 1],
    overrides: &["WG", "NSYN", "BIG_LIST", "PROCEDURAL", "DRAWN"],
    bindings: &[
        Binding::uniform_dynamic::<NetConfig>("cfg"),
        Binding::array::<PopInfo>("pops", BindingKind::StorageRead),
        Binding::array::<Proj>("proj", BindingKind::StorageRead),
        Binding::new("ctl", BindingKind::StorageRead, Layout::Array(4)),
        Binding::new("spk", BindingKind::StorageRead, Layout::Array(4)),
        Binding::new("rowptr", BindingKind::StorageRead, Layout::Array(4)),
        Binding::new("ring", BindingKind::StorageReadWrite, Layout::Array(4)),
        Binding::new("syn0", BindingKind::StorageRead, Layout::Array(4)),
        Binding::new("syn1", BindingKind::StorageRead, Layout::Array(4)),
        Binding::new("syn2", BindingKind::StorageRead, Layout::Array(4)),
        Binding::new("syn3", BindingKind::StorageRead, Layout::Array(4)),
    ],
};

/// State of one neuron on the CPU path (the shader keeps the same values in separate arrays).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct NeuronState {
    /// Membrane potential (iaf: relative to E_L).
    pub v: f32,
    /// Excitatory and inhibitory synaptic currents, pA.
    pub i_syn: [f32; 2],
    /// Refractory steps left.
    pub refr: u32,
    /// Spike-triggered current elements, pA.
    pub stc: [f32; MAX_KERNELS],
    /// Threshold elements, mV.
    pub sfa: [f32; MAX_KERNELS],
}

/// The read-only tables of a network.
#[derive(Debug, Clone, Copy)]
pub struct NetTables<'a> {
    /// Populations.
    pub pops: &'a [PopInfo],
    /// Coefficients per population.
    pub coef: &'a [NeuronCoef],
    /// Incoming ports.
    pub ports: &'a [Port],
    /// Poisson inputs.
    pub pois: &'a [Pois],
    /// Step currents of the chunk, `[(t - chunk_step0) * n_pops + p]` (empty: none).
    pub stim: &'a [f32],
    /// Outgoing projections.
    pub proj: &'a [Proj],
    /// CSR row starts.
    pub rowptr: &'a [u32],
    /// Targets (local index in the target population), all projections.
    pub syn: &'a [u32],
    /// The targets in 16 bits when the connectivity was narrowed (then `syn` is not read).
    pub syn16: &'a [u16],
}

/// What one call of the CPU `neuron_step` produced besides state.
#[derive(Debug, Default)]
pub struct StepOut {
    /// (neuron, step) of every spike.
    pub spikes: Vec<[u32; 2]>,
    /// (step, neuron) of recorded spikes.
    pub rec: Vec<[u32; 2]>,
    /// (trace index, V).
    pub trace: Vec<(usize, f32)>,
}

/// `-expm1(-x)` as the shader computes it (both branches computed, one selected, so lanes
/// vectorise).
#[inline(always)]
fn spike_probability(x: f32) -> f32 {
    let small = x - (0.5 * x) * x;
    let big = 1.0 - crate::math::exp(-x);
    if x < 1e-3 {
        small
    } else {
        big
    }
}

const HAZARD_CLAMP: f32 = 60.0;

/// CPU twin of `neuron_step` for neurons `g0 .. g0 + states.len()`: `model` and `nk`
/// (`NSTC`, `NSFA`) are the shader's overrides. `ring` and `act` are shared between threads
/// (each neuron touches only its own ring words; activity counts add up). Consecutive neurons
/// of one population and replica go in blocks of vector lanes (see [`crate::simd`]); each lane
/// computes what the shader's thread of that neuron computes, in the same order.
#[allow(clippy::too_many_arguments)]
pub fn neuron_step(
    cfg: &NetConfig,
    tab: &NetTables<'_>,
    model: u32,
    nk: [usize; 2],
    g0: usize,
    states: &mut [NeuronState],
    ring: &[AtomicU32],
    act: &[AtomicU32],
    out: &mut StepOut,
) {
    crate::simd::dispatch(NeuronBlocks {
        cfg,
        tab,
        model,
        nk,
        g0,
        states,
        ring,
        act,
        out,
    });
}

struct NeuronBlocks<'a, 'b> {
    cfg: &'a NetConfig,
    tab: &'a NetTables<'b>,
    model: u32,
    nk: [usize; 2],
    g0: usize,
    states: &'a mut [NeuronState],
    ring: &'a [AtomicU32],
    act: &'a [AtomicU32],
    out: &'a mut StepOut,
}

impl crate::simd::Lanes for NeuronBlocks<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn run<const W: usize>(self) {
        let NeuronBlocks {
            cfg,
            tab,
            model,
            nk,
            g0,
            states,
            ring,
            act,
            out,
        } = self;
        // Runs of neurons of one (replica, population), in blocks of W.
        let mut k = 0;
        while k < states.len() {
            let g = (g0 + k) as u32;
            let r = g / cfg.n_neurons;
            let i = g - r * cfg.n_neurons;
            let p = (1..cfg.n_pops as usize)
                .rev()
                .find(|&q| i >= tab.pops[q].offset)
                .unwrap_or(0);
            let left = (tab.pops[p].offset + tab.pops[p].size - i) as usize;
            let end = (k + left).min(states.len());
            for b in (k..end).step_by(W) {
                let nl = (end - b).min(W);
                let block = Block {
                    g0: (g0 + b) as u32,
                    nl,
                    r,
                    p,
                };
                neuron_block::<W>(
                    cfg,
                    tab,
                    model,
                    nk,
                    block,
                    &mut states[b..b + nl],
                    ring,
                    act,
                    out,
                );
            }
            k = end;
        }
    }
}

/// `W` lanes' worth of consecutive neurons of population `p` of replica `r`, the first `nl`
/// real (the others repeat the last one and are never stored).
#[derive(Clone, Copy)]
struct Block {
    g0: u32,
    nl: usize,
    r: u32,
    p: usize,
}

/// The block's neurons through the call's steps.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn neuron_block<const W: usize>(
    cfg: &NetConfig,
    tab: &NetTables<'_>,
    model: u32,
    nk: [usize; 2],
    b: Block,
    states: &mut [NeuronState],
    ring: &[AtomicU32],
    act: &[AtomicU32],
    out: &mut StepOut,
) {
    let seed = u64::from(cfg.seed_lo) | (u64::from(cfg.seed_hi) << 32);
    let entry = (b.r / cfg.replicas_per_combo) as usize * cfg.n_pops as usize + b.p;
    let pop = tab.pops[entry];
    let c = &tab.coef[entry];
    let nl = b.nl;
    let last = nl.saturating_sub(1);
    let g: [u32; W] = std::array::from_fn(|l| b.g0 + l.min(last) as u32);
    let local0 = b.g0 - b.r * cfg.n_neurons - pop.offset;
    let st = |l: usize| &states[l.min(last)];
    let mut v: [f32; W] = std::array::from_fn(|l| st(l).v);
    let mut cur: [[f32; W]; 2] = std::array::from_fn(|j| std::array::from_fn(|l| st(l).i_syn[j]));
    let mut rc: [u32; W] = std::array::from_fn(|l| st(l).refr);
    let mut stc = [[0f32; W]; MAX_KERNELS];
    let mut sfa = [[0f32; W]; MAX_KERNELS];
    for j in 0..MAX_KERNELS {
        stc[j] = std::array::from_fn(|l| st(l).stc[j]);
        sfa[j] = std::array::from_fn(|l| st(l).sfa[j]);
    }
    let ports = &tab.ports[pop.port0 as usize..(pop.port0 + pop.n_ports) as usize];
    let pois = &tab.pois[pop.pois0 as usize..(pop.pois0 + pop.n_pois) as usize];
    for s in 0..cfg.n_steps {
        let t = cfg.step0 + s;
        let slot = t % cfg.ring_len;
        let mut in_ex = [0f32; W];
        let mut in_in = [0f32; W];
        for port in ports {
            // The ring holds this process's neurons only: `own_hi - own_lo` per replica.
            let base = (slot * cfg.ring_row
                + port.base
                + b.r * (pop.own_hi - pop.own_lo)
                + (local0 - pop.own_lo)) as usize;
            // Only this neuron's thread touches its ring words during the step: a plain load
            // and store, not a locked swap (several times the cost on x86).
            let mut n = [0u32; W];
            for (l, nl_) in n.iter_mut().enumerate().take(nl) {
                *nl_ = ring[base + l].load(Relaxed);
                ring[base + l].store(0, Relaxed);
            }
            let acc = if port.weight >= 0.0 {
                &mut in_ex
            } else {
                &mut in_in
            };
            for l in 0..W {
                acc[l] += port.weight * n[l] as f32;
            }
        }
        for ps in pois {
            // Inversion below a mean of 10 either way, so the shader's inversion-only
            // variant draws the same counts.
            // Counts as f32 (`n as f32` of the shader: exact).
            let n: [f32; W] = if ps.lambda < 10.0 {
                let u = crate::rng::lanes::uniform0::<W>(seed, &g, t, ps.purpose);
                crate::rng::lanes::poisson_inversion::<W>(&u, ps.lambda, ps.p0)
            } else {
                std::array::from_fn(|l| {
                    Rng::new(seed, g[l], t, ps.purpose).poisson(ps.lambda) as f32
                })
            };
            let acc = if ps.weight >= 0.0 {
                &mut in_ex
            } else {
                &mut in_in
            };
            for l in 0..W {
                acc[l] += ps.weight * n[l];
            }
        }
        let i_stim = if tab.stim.is_empty() {
            0.0
        } else {
            tab.stim[((t - cfg.chunk_step0) * cfg.n_pops) as usize + b.p]
        };
        let mut spiked = [false; W];
        match model {
            0 => {
                for l in 0..W {
                    let (vl, rl) = (v[l], rc[l]);
                    let v1 = ((c.p_vi * (i_stim + c.i_e) + c.p_vv * vl) + (in_ex[l] + in_in[l]))
                        .max(c.v_min);
                    let free = rl == 0;
                    let v2 = if free { v1 } else { vl };
                    let r2 = if free { rl } else { rl.wrapping_sub(1) };
                    let spk = v2 >= c.v_th;
                    v[l] = if spk { c.v_reset } else { v2 };
                    rc[l] = if spk { c.refr_steps } else { r2 };
                    spiked[l] = spk;
                }
            }
            1 => {
                for l in 0..W {
                    let (vl, rl, ce, ci) = (v[l], rc[l], cur[0][l], cur[1][l]);
                    let v1 =
                        ((vl * c.p_vv + ce * c.p21_ex) + ci * c.p21_in) + (c.i_e + i_stim) * c.p_vi;
                    let free = rl == 0;
                    let v2 = if free { v1 } else { vl };
                    let r2 = if free { rl } else { rl.wrapping_sub(1) };
                    cur[0][l] = ce * c.p11_ex + in_ex[l];
                    cur[1][l] = ci * c.p11_in + in_in[l];
                    let spk = v2 >= c.v_th;
                    v[l] = if spk { c.v_reset } else { v2 };
                    rc[l] = if spk { c.refr_steps } else { r2 };
                    spiked[l] = spk;
                }
            }
            _ => {
                let mut stc_sum = [0f32; W];
                let mut theta = [c.v_t_star; W];
                for k in 0..nk[0] {
                    for l in 0..W {
                        stc_sum[l] += stc[k][l];
                        stc[k][l] *= c.p_stc[k];
                    }
                }
                for k in 0..nk[1] {
                    for l in 0..W {
                        theta[l] += sfa[k][l];
                        sfa[k][l] *= c.p_sfa[k];
                    }
                }
                let mut x = [0f32; W];
                for l in 0..W {
                    let (vl, ce, ci) = (v[l], cur[0][l], cur[1][l]);
                    let ce1 = ce * c.p11_ex + in_ex[l];
                    let ci1 = ci * c.p11_in + in_in[l];
                    cur[0][l] = ce1;
                    cur[1][l] = ci1;
                    let drive = (i_stim + c.i_e) - stc_sum[l];
                    let v1 = (((c.p_vi * drive + c.p_vv * vl) + c.p_vl) + ce1 * c.p21_ex)
                        + ci1 * c.p21_in;
                    let e = ((v1 - theta[l]) * c.inv_delta_v).min(HAZARD_CLAMP);
                    x[l] = c.lambda_h * crate::math::exp(e);
                    v[l] = if rc[l] == 0 { v1 } else { c.v_reset };
                }
                let u = crate::rng::lanes::uniform0::<W>(seed, &g, t, Purpose::Spike.word());
                for l in 0..W {
                    let (xl, rl) = (x[l], rc[l]);
                    let prob = spike_probability(xl);
                    let spk = rl == 0 && xl > 0.0 && u[l] < prob;
                    rc[l] = if spk {
                        c.refr_steps
                    } else if rl == 0 {
                        rl
                    } else {
                        rl.wrapping_sub(1)
                    };
                    spiked[l] = spk;
                }
                for k in 0..nk[0] {
                    for l in 0..W {
                        let (a, q) = (stc[k][l], stc[k][l] + c.q_stc[k]);
                        stc[k][l] = if spiked[l] { q } else { a };
                    }
                }
                for k in 0..nk[1] {
                    for l in 0..W {
                        let (a, q) = (sfa[k][l], sfa[k][l] + c.q_sfa[k]);
                        sfa[k][l] = if spiked[l] { q } else { a };
                    }
                }
            }
        }
        if spiked[..nl].iter().fold(false, |a, &s| a | s) {
            for l in 0..nl {
                if !spiked[l] {
                    continue;
                }
                out.spikes.push([g[l], t]);
                act[((t - cfg.chunk_step0) * cfg.n_rep_pops + b.r * cfg.n_pops) as usize + b.p]
                    .fetch_add(1, Relaxed);
                let local = local0 + l as u32;
                if b.r == 0 && local < pop.rec_spikes {
                    out.rec.push([t, g[l] - b.r * cfg.n_neurons]);
                }
            }
        }
        if cfg.n_trace > 0
            && b.r == 0
            && local0 < pop.trace_first
            && t.is_multiple_of(cfg.trace_every)
        {
            let row = ((t - cfg.chunk_step0) / cfg.trace_every) as usize;
            for l in 0..nl {
                let local = local0 + l as u32;
                if local < pop.trace_first {
                    out.trace.push((
                        row * cfg.n_trace as usize + (pop.trace_base + local) as usize,
                        v[l],
                    ));
                }
            }
        }
    }
    for (l, st) in states.iter_mut().enumerate().take(nl) {
        st.v = v[l];
        st.i_syn = [cur[0][l], cur[1][l]];
        st.refr = rc[l];
        for k in 0..MAX_KERNELS {
            st.stc[k] = stc[k][l];
            st.sfa[k] = sfa[k][l];
        }
    }
}

/// Part `part.0` of `part.1` of the targets `[lo, hi)`: what one worker thread delivers to.
pub fn sub_part(lo: u32, hi: u32, part: (u32, u32)) -> (u32, u32) {
    let n = u64::from(hi.saturating_sub(lo));
    let at = |i: u32| lo + (n * u64::from(i) / u64::from(part.1.max(1))) as u32;
    (at(part.0), at(part.0 + 1))
}

/// The targets of a population of `size` that worker part `part` of rank `split` delivers
/// to (and whose synapses that part stores): [`sub_part`] of [`rank_part`].
pub fn part_range(size: u32, split: (u32, u32), part: (u32, u32)) -> (u32, u32) {
    let (lo, hi) = rank_part(size, split);
    sub_part(lo, hi, part)
}

/// Neurons `[a, b)` of a population of `size` that rank `split.0` of `split.1` owns.
pub fn rank_part(size: u32, split: (u32, u32)) -> (u32, u32) {
    let k = u64::from(split.1.max(1));
    let at = |i: u32| (u64::from(size) * u64::from(i) / k) as u32;
    (at(split.0), at(split.0 + 1))
}

/// CPU twin of `deliver_spikes` for a list of (neuron, step) spikes, restricted to part `part`
/// of `parts` of every target population's targets this process updates ([`sub_part`] of
/// `tgt_lo .. tgt_hi`): threads that each take one part write disjoint ring words, so they
/// increment with plain loads and stores and together add the same counts. `tab`'s stored
/// rows must hold the synapses onto the part's targets only (the part's own connectivity,
/// [`part_range`]), so a thread reads only what it adds. Procedural rows regenerate only the
/// segments of targets (each its own random stream) that reach into the part.
pub fn deliver_spikes(
    cfg: &NetConfig,
    tab: &NetTables<'_>,
    spikes: &[[u32; 2]],
    ring: &[AtomicU32],
    part: u32,
    parts: u32,
) {
    // Compiled for the CPU's SIMD level: a procedural row's `floor` and `ln` are then single
    // instructions instead of library calls.
    crate::simd::dispatch(Deliver {
        cfg,
        tab,
        spikes,
        ring,
        part,
        parts,
    });
}

struct Deliver<'a, 'b> {
    cfg: &'a NetConfig,
    tab: &'a NetTables<'b>,
    spikes: &'a [[u32; 2]],
    ring: &'a [AtomicU32],
    part: u32,
    parts: u32,
}

impl crate::simd::Lanes for Deliver<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn run<const W: usize>(self) {
        // As the shader's DRAWN override: without drawn values the per-synapse draws are not
        // compiled into the loop at all.
        let drawn = self
            .tab
            .proj
            .iter()
            .any(|p| p.wdist.kind != 0 || p.ddist.kind != 0 || p.words > 1 || p.dbits > 0);
        let Deliver {
            cfg,
            tab,
            spikes,
            ring,
            part,
            parts,
        } = self;
        if drawn {
            deliver_part::<true>(cfg, tab, spikes, ring, part, parts);
        } else {
            deliver_part::<false>(cfg, tab, spikes, ring, part, parts);
        }
    }
}

#[inline(always)]
fn deliver_part<const DRAWN: bool>(
    cfg: &NetConfig,
    tab: &NetTables<'_>,
    spikes: &[[u32; 2]],
    ring: &[AtomicU32],
    part: u32,
    parts: u32,
) {
    let seed = u64::from(cfg.seed_lo) | (u64::from(cfg.seed_hi) << 32);
    let parts = parts.max(1);
    for &[g, t] in spikes {
        let r = g / cfg.n_neurons;
        let i = g - r * cfg.n_neurons;
        let p = (1..cfg.n_pops as usize)
            .rev()
            .find(|&q| i >= tab.pops[q].offset)
            .unwrap_or(0);
        let pop = tab.pops[p];
        let local = i - pop.offset;
        for pr in &tab.proj[pop.out0 as usize..(pop.out0 + pop.n_out) as usize] {
            // Part `part` of `parts` of this process's targets (all of them unless MPI ranks
            // share the neurons); the stored rows hold the synapses onto these only.
            let (lo_j, hi_j) = sub_part(pr.tgt_lo, pr.tgt_hi, (part, parts));
            let slot = (t + pr.delay) % cfg.ring_len;
            // Ring words of this process's targets only (`tgt_lo .. tgt_hi` per replica):
            // target j at `base + j - tgt_lo`.
            let base = (slot * cfg.ring_row + pr.port_base + r * (pr.tgt_hi - pr.tgt_lo)) as usize;
            let t_lo = pr.tgt_lo as usize;
            let drawn = DRAWN && (pr.wdist.kind != 0 || pr.ddist.kind != 0);
            // This part's words: nobody else writes them during delivery.
            let add = |j: u32| {
                let w = &ring[base + j as usize - t_lo];
                w.store(w.load(Relaxed).wrapping_add(1), Relaxed);
            };
            // A procedural synapse with drawn values: drawn from the streams keyed (g, key).
            // (Its own closure, so the plain one above stays a bare increment.)
            let add_drawn = |j: u32, key: u32| {
                let (q, at) = synapse_target(cfg, pr, seed, g, key, j, t, r);
                let w = &ring[at];
                w.store(w.load(Relaxed).wrapping_add(q), Relaxed);
            };
            match pr.mode {
                proj_mode::STORED if DRAWN && (pr.words > 1 || pr.dbits > 0) => {
                    // Synapses of `words` words, the target above `dbits` bits of delay.
                    let row = (pr.row0 + r * pop.size + local) as usize;
                    let (lo, hi) = (tab.rowptr[row] as usize, tab.rowptr[row + 1] as usize);
                    let syn = &tab.syn[lo..hi];
                    let words = pr.words as usize;
                    let dmask = (1u32 << pr.dbits) - 1;
                    let row_base = (pr.port_base + r * (pr.tgt_hi - pr.tgt_lo)) as usize;
                    for i in 0..syn.len() / words {
                        let w0 = syn[i * words];
                        let q = if words > 1 { syn[i * words + 1] } else { 1 };
                        let slot = (t + pr.delay + (w0 & dmask)) % cfg.ring_len;
                        let at =
                            (slot * cfg.ring_row) as usize + row_base + (w0 >> pr.dbits) as usize
                                - t_lo;
                        let w = &ring[at];
                        w.store(w.load(Relaxed).wrapping_add(q), Relaxed);
                    }
                }
                proj_mode::STORED => {
                    let row = (pr.row0 + r * pop.size + local) as usize;
                    let (lo, hi) = (tab.rowptr[row] as usize, tab.rowptr[row + 1] as usize);
                    if tab.syn16.is_empty() {
                        tab.syn[lo..hi].iter().for_each(|&j| add(j));
                    } else {
                        tab.syn16[lo..hi].iter().for_each(|&j| add(u32::from(j)));
                    }
                }
                proj_mode::ALL_TO_ALL if drawn => (lo_j..hi_j)
                    .filter(|&j| !(pr.forbid_self == 1 && j == local))
                    .for_each(|j| add_drawn(j, j)),
                proj_mode::ALL_TO_ALL => (lo_j..hi_j)
                    .filter(|&j| !(pr.forbid_self == 1 && j == local))
                    .for_each(add),
                proj_mode::ONE_TO_ONE => {
                    if pr.forbid_self == 0 && (lo_j..hi_j).contains(&local) {
                        if drawn {
                            add_drawn(local, local);
                        } else {
                            add(local);
                        }
                    }
                }
                proj_mode::FIXED_TOTAL => {
                    // Every part draws the row's targets (a quarter Philox block each) and
                    // only its own synapses' values.
                    let row = (pr.row0 + r * pop.size + local) as usize;
                    let deg = tab.rowptr[row + 1] - tab.rowptr[row];
                    super::connect::total_number_row(
                        crate::rng::seed_key(seed),
                        g,
                        pr.index,
                        deg,
                        pr.tgt_size,
                        pr.forbid_self == 1,
                        local,
                        |d, j| {
                            if (lo_j..hi_j).contains(&j) {
                                if drawn {
                                    add_drawn(j, d);
                                } else {
                                    add(j);
                                }
                            }
                        },
                    );
                }
                _ => {
                    // Procedural rows: each segment of targets has its own stream, so a part
                    // regenerates only the segments that reach into it.
                    let seg = pr.seg_len.max(1);
                    if drawn {
                        let in_part = |j: u32| {
                            if (lo_j..hi_j).contains(&j) {
                                add_drawn(j, j);
                            }
                        };
                        for sg in lo_j / seg..hi_j.div_ceil(seg) {
                            bernoulli_segment(seed, g, pr, sg, local, &in_part);
                        }
                    } else {
                        let in_part = |j: u32| {
                            if (lo_j..hi_j).contains(&j) {
                                add(j);
                            }
                        };
                        for sg in lo_j / seg..hi_j.div_ceil(seg) {
                            bernoulli_segment(seed, g, pr, sg, local, &in_part);
                        }
                    }
                }
            }
        }
    }
}

/// Weight in quanta and ring word of a procedural synapse from global neuron `g` (replica
/// `r`, spike at step `t`) onto target `j`, its values drawn from the streams keyed
/// (g, `key`): the target for the rules drawn per pair, the draw index for
/// `fixed_total_number` (`add_drawn` in the shader).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn synapse_target(
    cfg: &NetConfig,
    pr: &Proj,
    seed: u64,
    g: u32,
    key: u32,
    j: u32,
    t: u32,
    r: u32,
) -> (u32, usize) {
    let q = if pr.wdist.kind != 0 {
        pr.wdist.quantum(pr.wdist.draw(seed, g, key))
    } else {
        1
    };
    let d = if pr.ddist.kind != 0 {
        pr.ddist.steps(pr.ddist.draw(seed, g, key))
    } else {
        pr.delay
    };
    let slot = (t + d) % cfg.ring_len;
    let at = slot * cfg.ring_row + pr.port_base + r * (pr.tgt_hi - pr.tgt_lo) + j - pr.tgt_lo;
    (q, at as usize)
}

/// The targets of segment `sg` of a procedural `pairwise_bernoulli` projection for source
/// neuron `g` (index `local` in its population): geometric gaps from the stream
/// (seed; g, projection, 3 + 256 (sg + 1)), as `bernoulli_segment` in the shader. The gaps do
/// not depend on where the walk stands, so the four of each Philox block are drawn together
/// (one vector of `ln`) and then walked in order; draws past the end of the segment are
/// unused. (Sparse rows end after a draw or two, so larger batches cost more than they save.)
#[inline(always)]
pub fn bernoulli_segment(seed: u64, g: u32, pr: &Proj, sg: u32, local: u32, add: &impl Fn(u32)) {
    const BATCH: usize = 4;
    let key = crate::rng::seed_key(seed);
    let purpose = Purpose::Connect.word() + 256 * (sg + 1);
    let hi = pr.tgt_size.min((sg + 1) * pr.seg_len);
    let mut j = sg * pr.seg_len;
    let mut block = 0u32;
    loop {
        let mut gaps = [0f32; BATCH];
        for (b, chunk) in gaps.chunks_exact_mut(4).enumerate() {
            let x = crate::rng::philox4x32_10([g, pr.index, purpose, block + b as u32], key);
            for (gap, &xi) in chunk.iter_mut().zip(&x) {
                let u = crate::rng::u32_to_uniform(xi);
                *gap = (crate::math::ln(u) * pr.inv_log_q).floor();
            }
        }
        block += (BATCH / 4) as u32;
        for &gap in &gaps {
            if gap >= (hi - j) as f32 {
                return;
            }
            j += gap as u32;
            if !(pr.forbid_self == 1 && j == local) {
                add(j);
            }
            j += 1;
            if j >= hi {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::spiking::connect::ConnSpec;
    use crate::spec::Rule;

    #[test]
    fn procedural_bernoulli_connects_each_pair_with_probability_p() {
        let c = ConnSpec {
            rule: Rule::PairwiseBernoulli,
            src: (0, 200),
            tgt: (0, 3000),
            indegree: 0,
            p: 0.05,
            autapses: true,
            multapses: true,
            procedural: true,
            n_total: 0,
            words: 1,
            dbits: 0,
            wdist: SynDist::default(),
            ddist: SynDist::default(),
        };
        let pr = Proj {
            tgt_size: 3000,
            tgt_hi: 3000,
            ..Proj::procedural(&c, 2)
        };
        assert_eq!(pr.mode, proj_mode::BERNOULLI);
        let hits: Vec<AtomicU32> = (0..3000).map(|_| AtomicU32::new(0)).collect();
        let mut degrees = Vec::new();
        for g in 0..200u32 {
            let n = AtomicU32::new(0);
            let add = |j: u32| {
                hits[j as usize].fetch_add(1, Relaxed);
                n.fetch_add(1, Relaxed);
            };
            for sg in 0..3000u32.div_ceil(pr.seg_len) {
                bernoulli_segment(11, g, &pr, sg, g, &add);
            }
            degrees.push(f64::from(n.load(Relaxed)));
        }
        // Out-degree: Binomial(3000, 0.05), mean 150, sd 11.9; the mean of 200 has sd 0.84.
        let mean = degrees.iter().sum::<f64>() / 200.0;
        assert!((mean - 150.0).abs() < 4.0, "mean out-degree {mean}");
        let var = degrees.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / 199.0;
        assert!((var / 142.5 - 1.0).abs() < 0.3, "variance {var}");
        // Every target is reached about 200 p = 10 times: chi-square over targets.
        let chi2: f64 = hits
            .iter()
            .map(|h| {
                let x = f64::from(h.load(Relaxed));
                (x - 200.0 * 0.05).powi(2) / (200.0 * 0.05 * 0.95)
            })
            .sum();
        // 3000 degrees of freedom: mean 3000, sd 77.
        assert!((chi2 - 3000.0).abs() < 400.0, "chi-square {chi2}");
        // The same stream gives the same targets (procedural = regenerated identically).
        let a: Vec<u32> = {
            let v = std::sync::Mutex::new(Vec::new());
            bernoulli_segment(11, 7, &pr, 1, 7, &|j| v.lock().expect("lock").push(j));
            v.into_inner().expect("v")
        };
        let b: Vec<u32> = {
            let v = std::sync::Mutex::new(Vec::new());
            bernoulli_segment(11, 7, &pr, 1, 7, &|j| v.lock().expect("lock").push(j));
            v.into_inner().expect("v")
        };
        assert_eq!(a, b);
        assert!(a.iter().all(|&j| (1024..2048).contains(&j)));
    }
}
