//! `lif_step` (shaders/lif_step.wgsl): its descriptor, the structs it shares with Rust, and
//! its CPU twin, which mirrors the shader statement by statement in f32.

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

/// CPU twin of the `lif_step` entry point: every neuron of the batch, in parallel (recorded
/// neurons first, on this thread, since they share the record buffers).
pub fn lif_step(sp: &Specialization, cfg: &LifConfig, b: LifBuffers<'_>) {
    let nw = sp.windows as usize;
    let rec = (cfg.rec_spikes.max(cfg.rec_trace) as usize).min(cfg.n_threads as usize);
    let (st_rec, st_rest) = b.state.split_at_mut(rec);
    let (c_rec, c_rest) = b.counts.split_at_mut(rec * nw);
    let mut rb = RecordBufs {
        spike_n: b.spike_n,
        spikes: b.spikes,
        trace: b.trace,
    };
    for t in 0..rec {
        lif_neuron(
            sp,
            cfg,
            b.coef,
            b.stim,
            b.windows,
            t as u32,
            &mut st_rec[t],
            &mut c_rec[t * nw..(t + 1) * nw],
            Some(&mut rb),
        );
    }
    let mut pairs: Vec<(&mut LifState, &mut [u32])> = st_rest
        .iter_mut()
        .zip(c_rest.chunks_mut(nw.max(1)))
        .collect();
    let (coef, stim, windows) = (b.coef, b.stim, b.windows);
    par_chunks_mut(&mut pairs, 1, |first, chunk| {
        for (i, (st, cn)) in chunk.iter_mut().enumerate() {
            let t = (rec + first + i) as u32;
            lif_neuron(sp, cfg, coef, stim, windows, t, st, cn, None);
        }
    });
}

struct RecordBufs<'a> {
    spike_n: &'a mut [u32],
    spikes: &'a mut [u32],
    trace: &'a mut [f32],
}

/// The body of the `lif_step` entry point for thread `t`.
#[allow(clippy::too_many_arguments)]
fn lif_neuron(
    sp: &Specialization,
    cfg: &LifConfig,
    coef: &[LifCoef],
    stim: &[f32],
    windows: &[u32],
    t: u32,
    state: &mut LifState,
    counts: &mut [u32],
    mut rb: Option<&mut RecordBufs<'_>>,
) {
    let nw = sp.windows as usize;
    let neuron = cfg.neuron0 + t;
    let combo = neuron / cfg.per_combo - cfg.combo0;
    let c = coef[combo as usize];
    let seed = [cfg.seed_lo, cfg.seed_hi];
    let traced = sp.trace && t < cfg.rec_trace && rb.is_some();
    let recorded = sp.spikes && t < cfg.rec_spikes && rb.is_some();
    let dt = cfg.dt;
    let tu = t as usize;
    let gel = (neuron / cfg.pop_size) * cfg.n_groups + (neuron % cfg.pop_size) / cfg.group;

    let mut s = if cfg.step0 == 0 {
        let mut s = LifState {
            u: c.u_init,
            ..Default::default()
        };
        if sp.ou {
            let x0 = philox4x32_10([neuron, u32::MAX, Purpose::Noise.word(), 0], seed);
            s.eta = c.ou0 * box_muller(x0[0], x0[1])[0];
        }
        counts.fill(0);
        if traced {
            if let Some(r) = rb.as_deref_mut() {
                r.trace[tu] = c.u_init + c.e_l;
            }
        }
        s
    } else {
        *state
    };
    let mut cnt = [0u32; MAX_WINDOWS];
    cnt[..nw].copy_from_slice(&counts[..nw]);
    let mut n_rec = 0u32;
    let every = cfg.trace_every;
    let mut rec_next = (cfg.step0 / every + 1) * every;
    let mut row = (rec_next / every).wrapping_sub(cfg.trace_sample0);

    for j in 0..cfg.n_steps {
        let k = cfg.step0 + j;
        let mut w = c.w0;
        if sp.stim {
            w += c.r_m * stim[j as usize];
        }
        if sp.ou {
            w += c.r_m * s.eta;
        }
        let mut x = [0u32; 4];
        let mut z = [0f32; 2];
        if sp.noise || sp.ou {
            x = philox4x32_10([neuron, k, Purpose::Noise.word(), 0], seed);
            z = box_muller(x[0], x[1]);
        }
        let mut spiked = false;
        let mut offset = dt;
        if sp.precise {
            if s.ref_steps > 0 {
                s.ref_steps -= 1;
                s.u = c.u_reset;
            } else {
                let a = s.ref_frac;
                let mut e = c.p;
                if a > 0.0 {
                    e = math::exp(-(dt - a) * c.inv_tau);
                }
                let ua = s.u;
                let u1 = w + (ua - w) * e;
                s.ref_frac = 0.0;
                if u1 > c.u_th {
                    spiked = true;
                    offset = a + c.tau_m * math::ln((ua - w) / (c.u_th - w));
                    offset = offset.min(dt);
                    let end = offset + c.t_ref;
                    if end < dt {
                        s.u = w + (c.u_reset - w) * math::exp(-(dt - end) * c.inv_tau);
                    } else {
                        let m = (end / dt).floor();
                        s.ref_steps = (m as u32).wrapping_sub(1);
                        s.ref_frac = end - m * dt;
                        s.u = c.u_reset;
                    }
                } else {
                    s.u = u1;
                }
            }
        } else if s.ref_steps > 0 {
            s.ref_steps -= 1;
        } else {
            let mut u1 = w + (s.u - w) * c.p;
            if sp.noise {
                let mut xi = z[0];
                if sp.corr {
                    let y = philox4x32_10([gel, k, Purpose::Common.word(), 0], seed);
                    let zc = box_muller(y[0], y[1])[0];
                    xi = c.corr_a * zc + c.corr_b * z[0];
                }
                u1 += c.noise * xi;
            }
            spiked = u1 > c.u_th;
            if sp.bridge && !spiked {
                let arg = ((c.u_th - s.u) * (c.u_th - u1)) * c.bridge;
                spiked = u32_to_uniform0(x[2]) < math::exp(-arg);
            }
            if spiked {
                s.u = c.u_reset;
                s.ref_steps = c.ref_steps;
            } else {
                s.u = u1;
            }
        }
        if sp.ou {
            s.eta = s.eta * c.ou_decay + c.ou_amp * z[1];
        }
        if spiked {
            for q in 0..nw {
                if k >= windows[2 * q] && k < windows[2 * q + 1] {
                    cnt[q] += 1;
                }
            }
            if recorded && n_rec < cfg.spike_cap {
                if let Some(r) = rb.as_deref_mut() {
                    let i = ((tu * cfg.spike_cap as usize) + n_rec as usize) * 2;
                    r.spikes[i] = k;
                    r.spikes[i + 1] = offset.to_bits();
                }
                n_rec += 1;
            }
        }
        let k1 = k + 1;
        if traced && k1 == rec_next {
            if let Some(r) = rb.as_deref_mut() {
                r.trace[row as usize * cfg.rec_trace as usize + tu] = s.u + c.e_l;
            }
        }
        if sp.trace && k1 == rec_next {
            rec_next += every;
            row = row.wrapping_add(1);
        }
    }

    *state = s;
    counts[..nw].copy_from_slice(&cnt[..nw]);
    if recorded {
        if let Some(r) = rb {
            r.spike_n[tu] = n_rec;
        }
    }
}
