//! `lif_step` (shaders/lif_step.wgsl): its descriptor, the structs it shares with Rust, and
//! its CPU twin, which mirrors the shader statement by statement in f32.

// Loops over lanes index several arrays with the lane, as the shader's threads do.
#![allow(clippy::needless_range_loop)]

use crate::cpu::par_chunks_mut;
use crate::kernels::{Binding, BindingKind, KernelDesc, Layout};
use crate::math;
use crate::rng::{box_muller, philox4x32_10, u32_to_uniform0, Purpose};

/// Most count windows (`wl`/`wh` arrays in the shader).
pub const MAX_WINDOWS: usize = 16;

/// Per-dispatch settings. Keep in sync with `struct LifConfig` in shaders/lif_step.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LifConfig {
    /// Neurons (threads) in this batch.
    pub n_threads: u32,
    /// Global index of the batch's first neuron (the RNG element of thread 0).
    pub neuron0: u32,
    /// Neurons per sweep combination (size x replicas).
    pub per_combo: u32,
    /// Combination of `coef[0]`.
    pub combo0: u32,
    /// Step index of the state on entry.
    pub step0: u32,
    /// Steps to advance.
    pub n_steps: u32,
    /// Seed, low word.
    pub seed_lo: u32,
    /// Seed, high word.
    pub seed_hi: u32,
    /// Threads 0..rec_spikes record spike times.
    pub rec_spikes: u32,
    /// Spike slots per recorded neuron in this dispatch.
    pub spike_cap: u32,
    /// Threads 0..rec_trace record V.
    pub rec_trace: u32,
    /// Trace every `trace_every` steps.
    pub trace_every: u32,
    /// Global trace sample of row 0 of `trace` in this dispatch.
    pub trace_sample0: u32,
    /// Always 0 (the shader's `keep()` barrier).
    pub zero: u32,
    /// Time step, ms.
    pub dt: f32,
    /// Neurons per replica (the population's size).
    pub pop_size: u32,
    /// Neurons per correlation group.
    pub group: u32,
    /// Groups per replica (`ceil(pop_size / group)`).
    pub n_groups: u32,
    /// Padding.
    pub pad0: u32,
    /// Padding.
    pub pad1: u32,
}

/// Per combination, computed on the host in f64 and rounded once. Voltages are relative to
/// E_L. Keep in sync with `struct LifCoef` in shaders/lif_step.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LifCoef {
    /// Propagator e^{-dt/tau_m} (or 1 - dt/tau_m).
    pub p: f32,
    /// 1 - p, computed in f64 (-expm1(-dt/tau_m) or dt/tau_m).
    pub q: f32,
    /// R_m I, mV.
    pub w0: f32,
    /// R_m, MOhm.
    pub r_m: f32,
    /// V_th - E_L.
    pub u_th: f32,
    /// V_reset - E_L.
    pub u_reset: f32,
    /// V_init - E_L.
    pub u_init: f32,
    /// E_L (traces hold V = u + E_L).
    pub e_l: f32,
    /// sigma sqrt(dt), mV.
    pub noise: f32,
    /// 2 / (sigma^2 dt) (bridge exponent factor).
    pub bridge: f32,
    /// e^{-dt/tau_ou}.
    pub ou_decay: f32,
    /// sigma_ou sqrt(1 - e^{-2 dt/tau_ou}).
    pub ou_amp: f32,
    /// sigma_ou (stationary start).
    pub ou0: f32,
    /// tau_m, ms.
    pub tau_m: f32,
    /// 1 / tau_m.
    pub inv_tau: f32,
    /// t_ref, ms (precise mode).
    pub t_ref: f32,
    /// round(t_ref / dt) (grid mode).
    pub ref_steps: u32,
    /// sqrt(rho): weight of the group's common normal.
    pub corr_a: f32,
    /// sqrt(1 - rho): weight of the neuron's own normal.
    pub corr_b: f32,
    /// Padding.
    pub pad2: u32,
}

/// Per neuron state. Keep in sync with `struct LifState`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct LifState {
    /// V - E_L, mV.
    pub u: f32,
    /// OU input current, nA.
    pub eta: f32,
    /// Whole refractory steps left.
    pub ref_steps: u32,
    /// Precise mode: offset in the next free step at which refractoriness ends, ms.
    pub ref_frac: f32,
}

/// Descriptor of the `lif_step` kernel.
pub const DESC: KernelDesc = KernelDesc {
    name: "lif_step",
    shader: "lif_step.wgsl",
    entry: "lif_step",
    workgroup_size: [64, 1, 1],
    overrides: &[
        "PRECISE", "NOISE", "OU", "BRIDGE", "STIM", "NW", "TRACE", "SPIKES", "CORR",
    ],
    bindings: &[
        Binding::uniform::<LifConfig>("cfg"),
        Binding::array::<LifCoef>("coef", BindingKind::StorageRead),
        Binding::new("stim", BindingKind::StorageRead, Layout::Array(4)),
        Binding::new("windows", BindingKind::StorageRead, Layout::Array(4)),
        Binding::array::<LifState>("state", BindingKind::StorageReadWrite),
        Binding::new("counts", BindingKind::StorageReadWrite, Layout::Array(4)),
        Binding::new("spike_n", BindingKind::StorageReadWrite, Layout::Array(4)),
        Binding::new("spikes", BindingKind::StorageReadWrite, Layout::Array(4)),
        Binding::new("trace", BindingKind::StorageReadWrite, Layout::Array(4)),
    ],
};

/// Values of the shader's `override` constants for one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Specialization {
    /// Exact crossing times (no noise, no grid rounding).
    pub precise: bool,
    /// White noise on V.
    pub noise: bool,
    /// OU input current.
    pub ou: bool,
    /// Brownian-bridge crossing correction.
    pub bridge: bool,
    /// Step-current stimulus.
    pub stim: bool,
    /// Count windows (1..=16).
    pub windows: u32,
    /// V traces.
    pub trace: bool,
    /// Spike-time records.
    pub spikes: bool,
    /// Correlated white noise (a common normal per group and step).
    pub corr: bool,
}

impl Specialization {
    /// The `(name, value)` pairs for the pipeline.
    pub fn constants(&self) -> [(&'static str, f64); 9] {
        let b = |x: bool| f64::from(u8::from(x));
        [
            ("PRECISE", b(self.precise)),
            ("NOISE", b(self.noise)),
            ("OU", b(self.ou)),
            ("BRIDGE", b(self.bridge)),
            ("STIM", b(self.stim)),
            ("NW", f64::from(self.windows)),
            ("TRACE", b(self.trace)),
            ("SPIKES", b(self.spikes)),
            ("CORR", b(self.corr)),
        ]
    }
}

/// Buffers of one `lif_step` call (the shader's bindings 1..8).
pub struct LifBuffers<'a> {
    /// `coef`, one per combination of the batch.
    pub coef: &'a [LifCoef],
    /// `stim`, nA per step of the dispatch.
    pub stim: &'a [f32],
    /// `windows`, (lo, hi) step pairs.
    pub windows: &'a [u32],
    /// `state`, one per thread.
    pub state: &'a mut [LifState],
    /// `counts`, `n_threads * NW`.
    pub counts: &'a mut [u32],
    /// `spike_n`, one per recorded neuron.
    pub spike_n: &'a mut [u32],
    /// `spikes`, `rec_spikes * spike_cap * 2` words.
    pub spikes: &'a mut [u32],
    /// `trace`, `rows * rec_trace`.
    pub trace: &'a mut [f32],
}

/// CPU twin of the `lif_step` entry point: every neuron of the batch, in blocks of as many
/// neurons as a vector register holds (one lane each, see [`crate::simd`]), blocks in
/// parallel (those with recorded neurons first, on this thread, since they share the
/// recording buffers). Each lane computes what the shader's thread of that neuron computes,
/// in the same order; work that only spiking or just-released lanes need runs when some lane
/// of the block needs it, so the bits depend neither on the block size nor on the threads.
pub fn lif_step(sp: &Specialization, cfg: &LifConfig, b: LifBuffers<'_>) {
    lif_step_at(crate::simd::level(), sp, cfg, b);
}

/// [`lif_step`] at SIMD `level`.
pub fn lif_step_at(
    level: crate::simd::Level,
    sp: &Specialization,
    cfg: &LifConfig,
    b: LifBuffers<'_>,
) {
    let nw = sp.windows as usize;
    let n = cfg.n_threads as usize;
    // Lanes per block: four vector registers (see `LifBlock::run`).
    let w = 4 * level.min(crate::simd::detected()).lanes();
    let rec = (cfg.rec_spikes.max(cfg.rec_trace) as usize).min(n);
    let recorded = (rec.div_ceil(w) * w).min(n);
    let (st_rec, st_rest) = b.state[..n].split_at_mut(recorded);
    let (c_rec, c_rest) = b.counts[..n * nw].split_at_mut(recorded * nw);
    let mut rb = RecordBufs {
        spike_n: b.spike_n,
        spikes: b.spikes,
        trace: b.trace,
    };
    let (coef, stim, windows) = (b.coef, b.stim, b.windows);
    // Each block's states with its counts (none without windows).
    fn blocks<'a>(
        st: &'a mut [LifState],
        cn: &'a mut [u32],
        w: usize,
        nw: usize,
    ) -> Vec<(&'a mut [LifState], &'a mut [u32])> {
        if nw == 0 {
            st.chunks_mut(w).map(|s| (s, &mut [][..])).collect()
        } else {
            st.chunks_mut(w).zip(cn.chunks_mut(w * nw)).collect()
        }
    }
    for (blk, (st, cn)) in blocks(st_rec, c_rec, w, nw).into_iter().enumerate() {
        let block = LifBlock {
            sp,
            cfg,
            coef,
            stim,
            windows,
            t0: blk * w,
            state: st,
            counts: cn,
            rb: Some(&mut rb),
        };
        crate::simd::dispatch_at(level, block);
    }
    let mut pairs = blocks(st_rest, c_rest, w, nw);
    par_chunks_mut(&mut pairs, 1, |first, chunk| {
        for (i, (st, cn)) in chunk.iter_mut().enumerate() {
            let block = LifBlock {
                sp,
                cfg,
                coef,
                stim,
                windows,
                t0: recorded + (first + i) * w,
                state: st,
                counts: cn,
                rb: None,
            };
            crate::simd::dispatch_at(level, block);
        }
    });
}

struct RecordBufs<'a> {
    spike_n: &'a mut [u32],
    spikes: &'a mut [u32],
    trace: &'a mut [f32],
}

/// Neurons `t0..` of a batch (as many as `state` holds, at most one register's lanes).
struct LifBlock<'a, 'b> {
    sp: &'a Specialization,
    cfg: &'a LifConfig,
    coef: &'a [LifCoef],
    stim: &'a [f32],
    windows: &'a [u32],
    t0: usize,
    state: &'a mut [LifState],
    counts: &'a mut [u32],
    rb: Option<&'a mut RecordBufs<'b>>,
}

impl crate::simd::Lanes for LifBlock<'_, '_> {
    type Output = ();

    /// Four registers of lanes per block: each step of a neuron depends on the step before,
    /// and four independent chains keep the vector units busy (two measured 30 % slower on
    /// 10^6 exact neurons, eight no faster).
    #[inline(always)]
    fn run<const W: usize>(self) {
        match W {
            16 => lif_block::<64>(self),
            8 => lif_block::<32>(self),
            _ => lif_block::<16>(self),
        }
    }
}

/// The body of the `lif_step` entry point for the threads `t0 .. t0 + W` (fewer at the end of
/// a batch), lane `l` being thread `t0 + l`.
#[inline(always)]
fn lif_block<const W: usize>(b: LifBlock<'_, '_>) {
    let (sp, cfg) = (b.sp, b.cfg);
    let nw = sp.windows as usize;
    let nl = b.state.len().min(W);
    let seed = [cfg.seed_lo, cfg.seed_hi];
    let dt = cfg.dt;
    let mut rb = b.rb;
    // Lanes past the batch repeat its last neuron and are never stored.
    let tl: [u32; W] = std::array::from_fn(|l| (b.t0 + l.min(nl.saturating_sub(1))) as u32);
    let neuron: [u32; W] = std::array::from_fn(|l| cfg.neuron0 + tl[l]);
    let c: [LifCoef; W] =
        std::array::from_fn(|l| b.coef[(neuron[l] / cfg.per_combo - cfg.combo0) as usize]);
    let cf = |f: fn(&LifCoef) -> f32| -> [f32; W] { std::array::from_fn(|l| f(&c[l])) };
    let (w0, r_m, p, u_th, u_reset) = (
        cf(|c| c.w0),
        cf(|c| c.r_m),
        cf(|c| c.p),
        cf(|c| c.u_th),
        cf(|c| c.u_reset),
    );
    let (noise_amp, bridge, ou_decay, ou_amp) = (
        cf(|c| c.noise),
        cf(|c| c.bridge),
        cf(|c| c.ou_decay),
        cf(|c| c.ou_amp),
    );
    let (tau_m, inv_tau, t_ref, corr_a, corr_b) = (
        cf(|c| c.tau_m),
        cf(|c| c.inv_tau),
        cf(|c| c.t_ref),
        cf(|c| c.corr_a),
        cf(|c| c.corr_b),
    );
    let ref_steps_c: [u32; W] = std::array::from_fn(|l| c[l].ref_steps);
    let gel: [u32; W] = std::array::from_fn(|l| {
        (neuron[l] / cfg.pop_size) * cfg.n_groups + (neuron[l] % cfg.pop_size) / cfg.group
    });
    let rb_some = rb.is_some();
    let traced: [bool; W] = std::array::from_fn(|l| sp.trace && tl[l] < cfg.rec_trace && rb_some);
    let recorded: [bool; W] =
        std::array::from_fn(|l| sp.spikes && tl[l] < cfg.rec_spikes && rb_some);

    let mut u = [0f32; W];
    let mut eta = [0f32; W];
    let mut ref_steps = [0u32; W];
    let mut ref_frac = [0f32; W];
    let mut cnt = [[0u32; W]; MAX_WINDOWS];
    if cfg.step0 == 0 {
        for l in 0..W {
            u[l] = c[l].u_init;
            if sp.ou {
                let x0 = philox4x32_10([neuron[l], u32::MAX, Purpose::Noise.word(), 0], seed);
                eta[l] = c[l].ou0 * box_muller(x0[0], x0[1])[0];
            }
        }
        if let Some(r) = rb.as_deref_mut() {
            for l in 0..nl {
                if traced[l] {
                    r.trace[tl[l] as usize] = c[l].u_init + c[l].e_l;
                }
            }
        }
    } else {
        for l in 0..nl {
            let st = b.state[l];
            u[l] = st.u;
            eta[l] = st.eta;
            ref_steps[l] = st.ref_steps;
            ref_frac[l] = st.ref_frac;
            for q in 0..nw {
                cnt[q][l] = b.counts[l * nw + q];
            }
        }
    }
    let mut n_rec = [0u32; W];
    let every = cfg.trace_every;
    let mut rec_next = (cfg.step0 / every + 1) * every;
    let mut row = (rec_next / every).wrapping_sub(cfg.trace_sample0);

    for j in 0..cfg.n_steps {
        let k = cfg.step0 + j;
        let mut w = w0;
        if sp.stim {
            let st = b.stim[j as usize];
            for l in 0..W {
                w[l] += r_m[l] * st;
            }
        }
        if sp.ou {
            for l in 0..W {
                w[l] += r_m[l] * eta[l];
            }
        }
        let mut x = [[0u32; W]; 4];
        let mut z = [[0f32; W]; 2];
        if sp.noise || sp.ou {
            for l in 0..W {
                let xl = philox4x32_10([neuron[l], k, Purpose::Noise.word(), 0], seed);
                let zl = box_muller(xl[0], xl[1]);
                for i in 0..4 {
                    x[i][l] = xl[i];
                }
                z[0][l] = zl[0];
                z[1][l] = zl[1];
            }
        }
        let mut spiked = [false; W];
        let mut offset = [dt; W];
        if sp.precise {
            // A lane just released from refractoriness starts the step at `ref_frac`.
            let released = (0..W).fold(false, |a, l| a | (ref_steps[l] == 0 && ref_frac[l] > 0.0));
            let mut e = p;
            if released {
                for l in 0..W {
                    let (rf, pl) = (ref_frac[l], p[l]);
                    let el = math::exp(-(dt - rf) * inv_tau[l]);
                    e[l] = if rf > 0.0 { el } else { pl };
                }
            }
            let ua = u;
            let a = ref_frac;
            let mut u1 = [0f32; W];
            let mut any = false;
            for l in 0..W {
                u1[l] = w[l] + (ua[l] - w[l]) * e[l];
                spiked[l] = ref_steps[l] == 0 && u1[l] > u_th[l];
                any |= spiked[l];
            }
            let (mut u_spk, mut rs_spk, mut rf_spk) = ([0f32; W], [0u32; W], [0f32; W]);
            if any {
                for l in 0..W {
                    let (wl, ur) = (w[l], u_reset[l]);
                    let off = (a[l] + tau_m[l] * math::ln((ua[l] - wl) / (u_th[l] - wl))).min(dt);
                    offset[l] = if spiked[l] { off } else { dt };
                    let end = off + t_ref[l];
                    let m = (end / dt).floor();
                    let short = end < dt;
                    let u_short = wl + (ur - wl) * math::exp(-(dt - end) * inv_tau[l]);
                    u_spk[l] = if short { u_short } else { ur };
                    rs_spk[l] = if short { 0 } else { (m as u32).wrapping_sub(1) };
                    rf_spk[l] = if short { 0.0 } else { end - m * dt };
                }
            }
            for l in 0..W {
                // Every value loaded before the selects: a load inside a branch would be
                // sunk into one load from a selected address, which vectorises as a gather.
                let (rs, rf, ur, us, rss, rfs, uu) = (
                    ref_steps[l],
                    ref_frac[l],
                    u_reset[l],
                    u_spk[l],
                    rs_spk[l],
                    rf_spk[l],
                    u1[l],
                );
                let (refr, spk) = (rs > 0, spiked[l]);
                u[l] = if refr {
                    ur
                } else if spk {
                    us
                } else {
                    uu
                };
                ref_steps[l] = if refr {
                    rs.wrapping_sub(1)
                } else if spk {
                    rss
                } else {
                    0
                };
                ref_frac[l] = if refr {
                    rf
                } else if spk {
                    rfs
                } else {
                    0.0
                };
            }
        } else {
            let mut u1 = [0f32; W];
            for l in 0..W {
                u1[l] = w[l] + (u[l] - w[l]) * p[l];
            }
            if sp.noise {
                let mut xi = z[0];
                if sp.corr {
                    for l in 0..W {
                        let y = philox4x32_10([gel[l], k, Purpose::Common.word(), 0], seed);
                        let zc = box_muller(y[0], y[1])[0];
                        xi[l] = corr_a[l] * zc + corr_b[l] * z[0][l];
                    }
                }
                for l in 0..W {
                    u1[l] += noise_amp[l] * xi[l];
                }
            }
            for l in 0..W {
                spiked[l] = u1[l] > u_th[l];
            }
            if sp.bridge {
                for l in 0..W {
                    let arg = ((u_th[l] - u[l]) * (u_th[l] - u1[l])) * bridge[l];
                    let cross = u32_to_uniform0(x[2][l]) < math::exp(-arg);
                    spiked[l] |= cross;
                }
            }
            for l in 0..W {
                // Loads before the selects (see the precise branch).
                let (rs, uo, ur, uu, rsc) = (ref_steps[l], u[l], u_reset[l], u1[l], ref_steps_c[l]);
                let refr = rs > 0;
                let spk = spiked[l] & !refr;
                spiked[l] = spk;
                u[l] = if refr {
                    uo
                } else if spk {
                    ur
                } else {
                    uu
                };
                ref_steps[l] = if refr {
                    rs.wrapping_sub(1)
                } else if spk {
                    rsc
                } else {
                    rs
                };
            }
        }
        if sp.ou {
            for l in 0..W {
                eta[l] = eta[l] * ou_decay[l] + ou_amp[l] * z[1][l];
            }
        }
        if spiked[..nl].iter().fold(false, |a, &s| a | s) {
            for l in 0..nl {
                if !spiked[l] {
                    continue;
                }
                for q in 0..nw {
                    if k >= b.windows[2 * q] && k < b.windows[2 * q + 1] {
                        cnt[q][l] += 1;
                    }
                }
                if recorded[l] && n_rec[l] < cfg.spike_cap {
                    if let Some(r) = rb.as_deref_mut() {
                        let i = ((tl[l] as usize * cfg.spike_cap as usize) + n_rec[l] as usize) * 2;
                        r.spikes[i] = k;
                        r.spikes[i + 1] = offset[l].to_bits();
                    }
                    n_rec[l] += 1;
                }
            }
        }
        let k1 = k + 1;
        if sp.trace && k1 == rec_next {
            if let Some(r) = rb.as_deref_mut() {
                for l in 0..nl {
                    if traced[l] {
                        r.trace[row as usize * cfg.rec_trace as usize + tl[l] as usize] =
                            u[l] + c[l].e_l;
                    }
                }
            }
            rec_next += every;
            row = row.wrapping_add(1);
        }
    }

    for l in 0..nl {
        b.state[l] = LifState {
            u: u[l],
            eta: eta[l],
            ref_steps: ref_steps[l],
            ref_frac: ref_frac[l],
        };
        for q in 0..nw {
            b.counts[l * nw + q] = cnt[q][l];
        }
        if recorded[l] {
            if let Some(r) = rb.as_deref_mut() {
                r.spike_n[tl[l] as usize] = n_rec[l];
            }
        }
    }
}
