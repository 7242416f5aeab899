//! The two kernels of the spiking-network engine, their shared structs, descriptors and CPU
//! twins: `neuron_step` (shaders/neuron_step.wgsl) advances every neuron through a block of
//! steps shorter than the smallest delay; `deliver_spikes` (shaders/deliver_spikes.wgsl)
//! adds the block's spikes to the ring of per-projection spike counts of their targets.
//!
//! Counts are integers, so delivery order (atomics on the GPU, threads on the CPU) cannot
//! change a result; weights multiply the counts inside `neuron_step` in a fixed order.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};

use bytemuck::{Pod, Zeroable};

use super::params::{NeuronCoef, MAX_KERNELS};
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
    /// Neurons in all replicas.
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
    /// Padding.
    pub _pad: [u32; 3],
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
                _ if c.p >= 1.0 => proj_mode::ALL_TO_ALL,
                _ => proj_mode::BERNOULLI,
            }
        };
        Self {
            mode,
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
    overrides: &["WG", "NSYN", "BIG_LIST", "PROCEDURAL"],
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

/// `-expm1(-x)` as the shader computes it.
fn spike_probability(x: f32) -> f32 {
    if x < 1e-3 {
        return x - (0.5 * x) * x;
    }
    1.0 - crate::math::exp(-x)
}

const HAZARD_CLAMP: f32 = 60.0;

/// CPU twin of `neuron_step` for neurons `g0 .. g0 + states.len()`: `model` and `nk`
/// (`NSTC`, `NSFA`) are the shader's overrides. `ring` and `act` are shared between threads (each neuron touches only
/// its own ring words; activity counts add up).
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
    let seed = u64::from(cfg.seed_lo) | (u64::from(cfg.seed_hi) << 32);
    for (k, st) in states.iter_mut().enumerate() {
        let g = (g0 + k) as u32;
        let r = g / cfg.n_neurons;
        let i = g - r * cfg.n_neurons;
        let p = (1..cfg.n_pops as usize)
            .rev()
            .find(|&q| i >= tab.pops[q].offset)
            .unwrap_or(0);
        let entry = (r / cfg.replicas_per_combo) as usize * cfg.n_pops as usize + p;
        let pop = tab.pops[entry];
        let c = &tab.coef[entry];
        let local = i - pop.offset;
        let mut v = st.v;
        let mut cur = st.i_syn;
        let mut rc = st.refr;
        for s in 0..cfg.n_steps {
            let t = cfg.step0 + s;
            let slot = t % cfg.ring_len;
            let mut in_ex = 0f32;
            let mut in_in = 0f32;
            for port in &tab.ports[pop.port0 as usize..(pop.port0 + pop.n_ports) as usize] {
                let idx = (slot * cfg.ring_row + port.base + r * pop.size + local) as usize;
                // Only this neuron's thread touches its ring words during the step: a
                // plain load and store, not a locked swap (several times the cost on x86).
                let n = ring[idx].load(Relaxed);
                ring[idx].store(0, Relaxed);
                let w = port.weight * n as f32;
                if port.weight >= 0.0 {
                    in_ex += w;
                } else {
                    in_in += w;
                }
            }
            for ps in &tab.pois[pop.pois0 as usize..(pop.pois0 + pop.n_pois) as usize] {
                // Inversion below a mean of 10 either way, so the shader's inversion-only
                // variant draws the same counts.
                let mut rng = Rng::new(seed, g, t, ps.purpose);
                let n = if ps.lambda < 10.0 {
                    rng.poisson_inversion_p0(ps.lambda, ps.p0)
                } else {
                    rng.poisson(ps.lambda)
                };
                let w = ps.weight * n as f32;
                if ps.weight >= 0.0 {
                    in_ex += w;
                } else {
                    in_in += w;
                }
            }
            let i_stim = if tab.stim.is_empty() {
                0.0
            } else {
                tab.stim[((t - cfg.chunk_step0) * cfg.n_pops) as usize + p]
            };
            let mut spiked = false;
            match model {
                0 => {
                    if rc == 0 {
                        v = (c.p_vi * (i_stim + c.i_e) + c.p_vv * v) + (in_ex + in_in);
                        v = v.max(c.v_min);
                    } else {
                        rc -= 1;
                    }
                    if v >= c.v_th {
                        rc = c.refr_steps;
                        v = c.v_reset;
                        spiked = true;
                    }
                }
                1 => {
                    if rc == 0 {
                        v = ((v * c.p_vv + cur[0] * c.p21_ex) + cur[1] * c.p21_in)
                            + (c.i_e + i_stim) * c.p_vi;
                    } else {
                        rc -= 1;
                    }
                    cur = [cur[0] * c.p11_ex + in_ex, cur[1] * c.p11_in + in_in];
                    if v >= c.v_th {
                        rc = c.refr_steps;
                        v = c.v_reset;
                        spiked = true;
                    }
                }
                _ => {
                    let mut stc_sum = 0f32;
                    let mut theta = c.v_t_star;
                    for k in 0..nk[0] {
                        stc_sum += st.stc[k];
                        st.stc[k] *= c.p_stc[k];
                    }
                    for k in 0..nk[1] {
                        theta += st.sfa[k];
                        st.sfa[k] *= c.p_sfa[k];
                    }
                    cur = [cur[0] * c.p11_ex + in_ex, cur[1] * c.p11_in + in_in];
                    if rc == 0 {
                        let drive = (i_stim + c.i_e) - stc_sum;
                        v = (((c.p_vi * drive + c.p_vv * v) + c.p_vl) + cur[0] * c.p21_ex)
                            + cur[1] * c.p21_in;
                        let e = ((v - theta) * c.inv_delta_v).min(HAZARD_CLAMP);
                        let x = c.lambda_h * crate::math::exp(e);
                        let mut rng = Rng::new(seed, g, t, Purpose::Spike.word());
                        if x > 0.0 && rng.uniform0() < spike_probability(x) {
                            for k in 0..nk[0] {
                                st.stc[k] += c.q_stc[k];
                            }
                            for k in 0..nk[1] {
                                st.sfa[k] += c.q_sfa[k];
                            }
                            rc = c.refr_steps;
                            spiked = true;
                        }
                    } else {
                        rc -= 1;
                        v = c.v_reset;
                    }
                }
            }
            if spiked {
                out.spikes.push([g, t]);
                act[((t - cfg.chunk_step0) * cfg.n_rep_pops + r * cfg.n_pops) as usize + p]
                    .fetch_add(1, Relaxed);
                if r == 0 && local < pop.rec_spikes {
                    out.rec.push([t, i]);
                }
            }
            if cfg.n_trace > 0
                && r == 0
                && local < pop.trace_first
                && t.is_multiple_of(cfg.trace_every)
            {
                let row = ((t - cfg.chunk_step0) / cfg.trace_every) as usize;
                out.trace.push((
                    row * cfg.n_trace as usize + (pop.trace_base + local) as usize,
                    v,
                ));
            }
        }
        st.v = v;
        st.i_syn = cur;
        st.refr = rc;
    }
}

/// CPU twin of `deliver_spikes` for a list of (neuron, step) spikes. The counts are integers,
/// so the order of the increments does not matter; `exclusive` says that no other thread
/// writes `ring` meanwhile, and the increments are then plain loads and stores (an atomic
/// read-modify-write costs several times as much on x86, and stored rows are mostly
/// increments).
pub fn deliver_spikes(
    cfg: &NetConfig,
    tab: &NetTables<'_>,
    spikes: &[[u32; 2]],
    ring: &[AtomicU32],
    exclusive: bool,
) {
    let seed = u64::from(cfg.seed_lo) | (u64::from(cfg.seed_hi) << 32);
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
            let slot = (t + pr.delay) % cfg.ring_len;
            let base = slot * cfg.ring_row + pr.port_base + r * pr.tgt_size;
            let add = |j: u32| {
                let w = &ring[(base + j) as usize];
                if exclusive {
                    w.store(w.load(Relaxed).wrapping_add(1), Relaxed);
                } else {
                    w.fetch_add(1, Relaxed);
                }
            };
            match pr.mode {
                proj_mode::STORED => {
                    let row = (pr.row0 + r * pop.size + local) as usize;
                    let (lo, hi) = (tab.rowptr[row] as usize, tab.rowptr[row + 1] as usize);
                    tab.syn[lo..hi].iter().for_each(|&j| add(j));
                }
                proj_mode::ALL_TO_ALL => (0..pr.tgt_size)
                    .filter(|&j| !(pr.forbid_self == 1 && j == local))
                    .for_each(add),
                proj_mode::ONE_TO_ONE => {
                    if pr.forbid_self == 0 {
                        add(local);
                    }
                }
                _ => {
                    let n_seg = pr.tgt_size.div_ceil(pr.seg_len);
                    for sg in 0..n_seg {
                        bernoulli_segment(seed, g, pr, sg, local, &add);
                    }
                }
            }
        }
    }
}

/// The targets of segment `sg` of a procedural `pairwise_bernoulli` projection for source
/// neuron `g` (index `local` in its population): geometric gaps from the stream
/// (seed; g, projection, 3 + 256 (sg + 1)), as `bernoulli_segment` in the shader.
pub fn bernoulli_segment(seed: u64, g: u32, pr: &Proj, sg: u32, local: u32, add: &impl Fn(u32)) {
    let mut rng = Rng::new(seed, g, pr.index, Purpose::Connect.word() + 256 * (sg + 1));
    let hi = pr.tgt_size.min((sg + 1) * pr.seg_len);
    let mut j = sg * pr.seg_len;
    loop {
        let u = rng.uniform();
        let gap = (crate::math::ln(u) * pr.inv_log_q).floor();
        if gap >= (hi - j) as f32 {
            break;
        }
        j += gap as u32;
        if !(pr.forbid_self == 1 && j == local) {
            add(j);
        }
        j += 1;
        if j >= hi {
            break;
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
        };
        let pr = Proj {
            tgt_size: 3000,
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
