//! `gif_pop_step` (shaders/gif_pop_step.wgsl): descriptor, shared structs and the CPU twin,
//! which mirrors the shader statement by statement in f32 (docs/models.md, section 6).

use crate::kernels::{Binding, BindingKind, KernelDesc, Layout};
use crate::math;
use crate::rng::{Purpose, Rng};

/// Most populations per replica (`MAX_POPS` in the shader).
pub const MAX_POPS: usize = 8;
/// Chunks of every age walk (`GROUPS`): sums over ages are formed per chunk of
/// ceil(L / GROUPS) ages, then over the chunks in order, whatever the workgroup size.
pub const GROUPS: usize = 64;
/// Most summary windows (`MAX_WIN`).
pub const MAX_WIN: usize = 4;
/// Largest hazard exponent (V - theta)/Delta_V: above it the spike probability per step is
/// already 1, and clamping keeps the arithmetic finite (`HAZARD_CLAMP`).
pub const HAZARD_CLAMP: f32 = 60.0;

/// Per-dispatch settings. Keep in sync with `struct MesoConfig` in shaders/gif_pop_step.wgsl.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MesoConfig {
    /// Replicas (workgroups) in the batch.
    pub n_replicas: u32,
    /// Replicas per sweep combination.
    pub replicas_per_combo: u32,
    /// Global index of the batch's first replica (RNG element of thread 0).
    pub replica0: u32,
    /// Combination of table row 0.
    pub combo0: u32,
    /// First step of this dispatch.
    pub step0: u32,
    /// Steps to advance.
    pub n_steps: u32,
    /// Seed, low word.
    pub seed_lo: u32,
    /// Seed, high word.
    pub seed_hi: u32,
    /// History slots per population (the longest L).
    pub l_max: u32,
    /// Delay ring length (longest delay + 1).
    pub d_len: u32,
    /// Projections per combination.
    pub n_proj: u32,
    /// 1 when tables hold one row per combination, 0 for one shared row.
    pub per_combo: u32,
    /// Steps per recording bin.
    pub bin_steps: u32,
    /// Replicas 0..rec_replicas of the batch write binned activity.
    pub rec_replicas: u32,
    /// Global bin of row 0 of `rec` in this dispatch.
    pub rec_bin0: u32,
    /// Summary windows in use.
    pub n_win: u32,
    /// First bin of each window.
    pub win_lo: [u32; 4],
    /// One past the last bin of each window.
    pub win_hi: [u32; 4],
    /// 1 when `stim` holds per-step currents.
    pub has_stim: u32,
    /// Always 0: the shader's `keep` xors with it to hide sums from the driver's rewriting.
    pub zero: u32,
    /// Padding.
    pub _pad: [u32; 2],
}

/// Per population (and combination when swept), computed on the host in f64.
/// Keep in sync with `struct MesoPopCoef`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MesoPopCoef {
    /// Population size N.
    pub n: f32,
    /// exp(-h / tau_m).
    pub p22: f32,
    /// tau_m / C_m (1 - P22).
    pub p20: f32,
    /// V_reset - E_L, mV (voltages are kept relative to E_L).
    pub v_reset_rel: f32,
    /// V_T_star - E_L, mV.
    pub v_t_star_rel: f32,
    /// Initial V and u relative to E_L: -E_L (NEST starts them at 0 mV).
    pub v_init_rel: f32,
    /// lambda_0, 1/s.
    pub lambda_0: f32,
    /// 1 / Delta_V.
    pub inv_delta_v: f32,
    /// 0.0005 h: turns a sum of two rates in 1/s into half their integral over a step.
    pub half_h_ms: f32,
    /// I_e, pA.
    pub i_e: f32,
    /// exp(-h / tau_syn_ex).
    pub p11_ex: f32,
    /// 1 - exp(-h / tau_syn_ex).
    pub q11_ex: f32,
    /// a - k with a = tau_m (1 - P22): weight of the held input JA_ex in the voltage
    /// increment `b JA + k Jy` (NEST's `a JA + k (Jy - JA)` regrouped).
    pub b_ex: f32,
    /// tau_m tau_s (P11 - P22) / (tau_s - tau_m) (h P22 when equal): weight of Jy.
    pub k_ex: f32,
    /// tau_syn_ex / (C_m h): summed spike weights (pA) to JA_ex.
    pub jscale_ex: f32,
    /// exp(-h / tau_syn_in).
    pub p11_in: f32,
    /// 1 - exp(-h / tau_syn_in).
    pub q11_in: f32,
    /// As `b_ex` for inhibition.
    pub b_in: f32,
    /// As `k_ex` for inhibition.
    pub k_in: f32,
    /// As `jscale_ex` for inhibition.
    pub jscale_in: f32,
    /// exp(-h / tau_sfa_j).
    pub q: [f32; 4],
    /// (1 - exp(-h / tau_sfa_j)) / (N h).
    pub qn: [f32; 4],
    /// q_sfa_j tau_sfa_j exp(-h L / tau_sfa_j).
    pub qk: [f32; 4],
    /// Adaptation kernels in use.
    pub n_sfa: u32,
    /// Refractory steps round(t_ref / h).
    pub k_ref: u32,
    /// History length L of this population.
    pub len: u32,
    /// 1: binomial spike counts; 0: Poisson clipped to N.
    pub bino: u32,
}

/// One projection: each step the target receives `weight x n_src(k - delay)` pA.
/// Keep in sync with `struct Projection`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Projection {
    /// Source population.
    pub src: u32,
    /// Target population.
    pub tgt: u32,
    /// Delay in steps (>= 1).
    pub delay: u32,
    /// Effective weight per source spike, pA (weight x pconn).
    pub weight: f32,
}

/// Per replica and population scalar state. Keep in sync with `struct MesoState`.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
pub struct MesoState {
    /// Free membrane potential relative to E_L, V_free - E_L, mV.
    pub v_rel: f32,
    /// Excitatory synaptic input Jy_ex = I_syn_ex / C_m.
    pub jy_ex: f32,
    /// Inhibitory synaptic input Jy_in.
    pub jy_in: f32,
    /// Step current of the previous step, pA.
    pub y0: f32,
    /// Free escape rate of the previous step, 1/s.
    pub lambda_free: f32,
    /// Expected number of neurons in the free pool.
    pub x: f32,
    /// Variance of the free pool.
    pub z: f32,
    /// Adaptation accumulators g_j.
    pub g: [f32; 4],
    /// Spikes in the current recording bin.
    pub bin_n: u32,
    /// Sum of nbar over the current bin.
    pub bin_nbar: f32,
}

/// Descriptor of the `gif_pop_step` kernel.
pub const DESC: KernelDesc = KernelDesc {
    name: "gif_pop_step",
    shader: "gif_pop_step.wgsl",
    entry: "gif_pop_step",
    workgroup_size: [64, 1, 1],
    overrides: &["NP", "WG"],
    bindings: &[
        Binding::uniform::<MesoConfig>("cfg"),
        Binding::array::<MesoPopCoef>("coef", BindingKind::StorageRead),
        Binding::new("theta", BindingKind::StorageRead, Layout::Array(8)),
        Binding::array::<Projection>("proj", BindingKind::StorageRead),
        Binding::new("stim", BindingKind::StorageRead, Layout::Array(4)),
        Binding::array::<MesoState>("state", BindingKind::StorageReadWrite),
        Binding::new("wsum", BindingKind::StorageReadWrite, Layout::Array(16)),
        Binding::new("hist_n", BindingKind::StorageReadWrite, Layout::Array(4)),
        Binding::new("hist", BindingKind::StorageReadWrite, Layout::Array(16)),
        Binding::new("nbuf", BindingKind::StorageReadWrite, Layout::Array(4)),
        Binding::new("rec", BindingKind::StorageReadWrite, Layout::Array(4)),
    ],
};

/// The random stream of population `p`'s spike count at step `k` (`spike_stream`): purpose
/// word `2 + 256 p`, so populations draw independently of the order they are updated in.
pub fn spike_stream(seed: [u32; 2], replica: u32, k: u32, p: u32) -> Rng {
    let seed64 = u64::from(seed[0]) | (u64::from(seed[1]) << 32);
    Rng::new(seed64, replica, k, Purpose::Spike.word() + 256 * p)
}

/// `add64`: adds x to the 64-bit number (lo, hi).
#[inline]
fn add64(lo: &mut u32, hi: &mut u32, x_lo: u32, x_hi: u32) {
    let (s, carry) = lo.overflowing_add(x_lo);
    *lo = s;
    *hi = hi.wrapping_add(x_hi).wrapping_add(u32::from(carry));
}

/// One replica's buffers for the CPU twin: the history arrays of all its populations
/// (`[p * l_max + slot]`, the shader's layout without the replica offset), its delay ring
/// (`[p * d_len + slot]`), scalar state and window sums.
#[derive(Debug, Clone)]
pub struct ReplicaBuffers {
    /// Spike counts per age slot.
    pub hist_n: Vec<f32>,
    /// Per age slot: expected survivors m, their variance v, membrane potential u (relative
    /// to E_L, mV) and hazard lam (1/s).
    pub hist: Vec<[f32; 4]>,
    /// Delay ring of spike counts.
    pub nbuf: Vec<f32>,
    /// Scalar state per population.
    pub state: Vec<MesoState>,
    /// Window sums per population and window: (sum lo, sum hi, sum of squares lo, hi).
    pub wsum: Vec<[u32; 4]>,
}

impl ReplicaBuffers {
    /// Zeroed buffers for `np` populations, `l_max` slots, a delay ring of `d_len`.
    pub fn new(np: usize, l_max: usize, d_len: usize) -> Self {
        Self {
            hist_n: vec![0.0; l_max * np],
            hist: vec![[0.0; 4]; l_max * np],
            nbuf: vec![0.0; d_len * np],
            state: vec![MesoState::default(); np],
            wsum: vec![[0; 4]; np * MAX_WIN],
        }
    }
}

/// Read-only tables of one `gif_pop_step` call.
pub struct MesoTables<'a> {
    /// `coef`, `[row * NP + p]`.
    pub coef: &'a [MesoPopCoef],
    /// `theta`, `[(row * NP + p) * l_max + a]`: (theta_kernel, theta_tilde).
    pub theta: &'a [[f32; 2]],
    /// `proj`, `[row * n_proj + q]`.
    pub proj: &'a [Projection],
    /// `stim`, `[j * NP + p]` (pA).
    pub stim: &'a [f32],
}

/// Where a traced replica writes its binned activity: value `v` of bin row `r`, population
/// `p` goes to `buf[((r * stride + lane) * NP + p) * 2 + v]` (the shader uses
/// `stride = rec_replicas`, `lane = t`; the CPU engine gives each replica its own buffer).
pub struct RecSlot<'a> {
    /// The buffer.
    pub buf: &'a mut [f32],
    /// Replicas per row.
    pub stride: u32,
    /// This replica's position in a row.
    pub lane: u32,
}

/// Chunk partial sums of one step (the shader's workgroup arrays), `[p * GROUPS + g]`; `t`
/// holds two sets (this step's threshold-kernel totals and the next step's).
struct Partials {
    t: [f32; 2 * MAX_POPS * GROUPS],
    x: [f32; MAX_POPS * GROUPS],
    y: [f32; MAX_POPS * GROUPS],
    z: [f32; MAX_POPS * GROUPS],
    w: [f32; MAX_POPS * GROUPS],
}

/// CPU twin of the `gif_pop_step` entry point for workgroup `t` of the batch: advances one
/// replica by `cfg.n_steps` steps, writing binned activity to `rec` when the replica is traced.
/// The shader's phases run one after another, each over every population and chunk in order,
/// which is what the barriers between them make of the shader's invocations.
pub fn gif_pop_step(
    cfg: &MesoConfig,
    np: usize,
    tab: &MesoTables<'_>,
    t: u32,
    b: &mut ReplicaBuffers,
    mut rec: Option<RecSlot<'_>>,
) {
    let replica = cfg.replica0 + t;
    let row = if cfg.per_combo == 1 {
        (replica / cfg.replicas_per_combo - cfg.combo0) as usize
    } else {
        0
    };
    let seed = [cfg.seed_lo, cfg.seed_hi];
    let l_max = cfg.l_max as usize;
    let d_len = cfg.d_len;
    let traced = t < cfg.rec_replicas;

    if cfg.step0 == 0 {
        for p in 0..np {
            let c = &tab.coef[row * np + p];
            let base = p * l_max;
            b.hist_n[base..base + l_max].fill(0.0);
            b.hist[base..base + l_max].fill([0.0, 0.0, c.v_init_rel, 0.0]);
            b.nbuf[p * d_len as usize..(p + 1) * d_len as usize].fill(0.0);
            // All neurons have just fired: the newest slot of the ring holds N.
            b.hist_n[base + c.len as usize - 1] = c.n;
            b.hist[base + c.len as usize - 1] = [c.n, 0.0, c.v_init_rel, 0.0];
            b.state[p] = MesoState {
                v_rel: c.v_init_rel,
                ..MesoState::default()
            };
            for w in 0..MAX_WIN {
                b.wsum[p * MAX_WIN + w] = [0; 4];
            }
        }
    }

    let mut part = Partials {
        t: [0.0; 2 * MAX_POPS * GROUPS],
        x: [0.0; MAX_POPS * GROUPS],
        y: [0.0; MAX_POPS * GROUPS],
        z: [0.0; MAX_POPS * GROUPS],
        w: [0.0; MAX_POPS * GROUPS],
    };
    let mut sh_h = [0.0f32; MAX_POPS];
    let mut sh_theta = [0.0f32; MAX_POPS];
    let mut p_free = [0.0f32; MAX_POPS];
    for j in 0..cfg.n_steps {
        let k = cfg.step0 + j;
        // Phase A. Population p's input and free threshold.
        for p in 0..np {
            let c = tab.coef[row * np + p];
            let st = &mut b.state[p];
            // 1. Synaptic input arriving this step, split by sign.
            let mut s_ex = 0.0f32;
            let mut s_in = 0.0f32;
            for q in 0..cfg.n_proj as usize {
                let pr = tab.proj[row * cfg.n_proj as usize + q];
                if pr.tgt == p as u32 {
                    let slot = ((k + d_len - pr.delay) % d_len) as usize;
                    let sw = pr.weight * b.nbuf[pr.src as usize * d_len as usize + slot];
                    if sw > 0.0 {
                        s_ex += sw;
                    } else {
                        s_in += sw;
                    }
                }
            }
            let ja_ex = s_ex * c.jscale_ex;
            let ja_in = s_in * c.jscale_in;
            let h_ex = c.b_ex * ja_ex + c.k_ex * st.jy_ex;
            let h_in = c.b_in * ja_in + c.k_in * st.jy_in;
            let h_tot = (c.i_e + st.y0) * c.p20 + h_ex + h_in;
            st.jy_ex = c.p11_ex * st.jy_ex + c.q11_ex * ja_ex;
            st.jy_in = c.p11_in * st.jy_in + c.q11_in * ja_in;
            if cfg.has_stim == 1 {
                st.y0 = tab.stim[j as usize * np + p];
            }
            st.v_rel = c.p22 * st.v_rel + h_tot;
            // 2. Threshold of the free pool.
            let n_old = b.hist_n[p * l_max + (k % c.len) as usize];
            let mut theta_hat = c.v_t_star_rel;
            for jj in 0..c.n_sfa as usize {
                st.g[jj] = st.g[jj] * c.q[jj] + c.qn[jj] * n_old;
                theta_hat += c.qk[jj] * st.g[jj];
            }
            // 3. Free escape rate and its spike probability (trapezoid in time).
            let lam_free =
                c.lambda_0 * math::exp(((st.v_rel - theta_hat) * c.inv_delta_v).min(HAZARD_CLAMP));
            p_free[p] = 1.0 - math::exp(-c.half_h_ms * (st.lambda_free + lam_free));
            st.lambda_free = lam_free;
            // 4a. The oldest cohort's spikes are already in g_j.
            let tbase = (row * np + p) * l_max;
            sh_theta[p] = theta_hat - n_old * tab.theta[tbase][1];
            sh_h[p] = h_tot;
        }
        // Threshold-kernel totals of every chunk (active ages only): at the first step of a
        // call from the history, later ones formed by the walk of the step before.
        let cur = (j as usize & 1) * MAX_POPS * GROUPS;
        let nxt = MAX_POPS * GROUPS - cur;
        for p in 0..if j == 0 { np } else { 0 } {
            let c = &tab.coef[row * np + p];
            let len = c.len;
            let n_active = len - c.k_ref;
            let cw = len.div_ceil(GROUPS as u32);
            let base = p * l_max;
            let tbase = (row * np + p) * l_max;
            for g in 0..GROUPS as u32 {
                let a0 = (g * cw).min(n_active);
                let a1 = (a0 + cw).min(n_active);
                let mut slot = (k + a0) % len;
                let mut tot = 0.0f32;
                for a in a0..a1 {
                    tot += b.hist_n[base + slot as usize] * tab.theta[tbase + a as usize][1];
                    slot += 1;
                    if slot == len {
                        slot = 0;
                    }
                }
                part.t[cur + p * GROUPS + g as usize] = tot;
            }
        }

        // Phase B. 4b. Walk the ages of each chunk, oldest first, skipping refractory ones.
        for p in 0..np {
            let c = tab.coef[row * np + p];
            let len = c.len;
            let n_active = len - c.k_ref;
            let cw = len.div_ceil(GROUPS as u32);
            let base = p * l_max;
            let tbase = (row * np + p) * l_max;
            let h_tot = sh_h[p];
            let mut acc = sh_theta[p];
            for g in 0..GROUPS as u32 {
                let a0 = (g * cw).min(len);
                let a1 = (a0 + cw).min(len);
                let mut slot = (k + a0) % len;
                let mut theta_hat = acc;
                let (mut x_sum, mut y_sum, mut z_sum, mut w_sum) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
                // Next step's total of this chunk: n of age a + 1 now with theta_tilde[a].
                let mut t_next = 0.0f32;
                let mut th2_prev = 0.0f32;
                for a in a0..a1 {
                    let i = base + slot as usize;
                    let hs = b.hist[i];
                    let nk = b.hist_n[i];
                    if a > a0 && a <= n_active {
                        t_next += nk * th2_prev;
                    }
                    let mk = hs[0];
                    x_sum += mk;
                    if a < n_active {
                        let th = tab.theta[tbase + a as usize];
                        th2_prev = th[1];
                        let thr = th[0] + theta_hat;
                        theta_hat += nk * th[1];
                        let u = c.p22 * hs[2] + h_tot;
                        let lam =
                            c.lambda_0 * math::exp(((u - thr) * c.inv_delta_v).min(HAZARD_CLAMP));
                        let mut pl = c.half_h_ms * (lam + hs[3]);
                        if pl > 0.01 {
                            pl = 1.0 - math::exp(-pl);
                        }
                        let vk = hs[1];
                        y_sum += pl * vk;
                        z_sum += vk;
                        w_sum += pl * mk;
                        let om = 1.0 - pl;
                        b.hist[i] = [om * mk, om * om * vk + pl * mk, u, lam];
                    }
                    slot += 1;
                    if slot == len {
                        slot = 0;
                    }
                }
                // The first age of the next chunk; the newest age's term is added in phase C.
                if a0 < a1 && a1 < len && a1 <= n_active {
                    t_next += b.hist_n[base + slot as usize] * th2_prev;
                }
                let gi = p * GROUPS + g as usize;
                part.t[nxt + gi] = t_next;
                part.x[gi] = x_sum;
                part.y[gi] = y_sum;
                part.z[gi] = z_sum;
                part.w[gi] = w_sum;
                acc += part.t[cur + gi];
            }
        }

        // Phase C. Population p's spike count and new cohort.
        for p in 0..np {
            let c = tab.coef[row * np + p];
            let st = &mut b.state[p];
            let (mut x_sum, mut y_sum, mut z_sum, mut w_sum) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
            for g in 0..GROUPS {
                x_sum += part.x[p * GROUPS + g];
                y_sum += part.y[p * GROUPS + g];
                z_sum += part.z[p * GROUPS + g];
                w_sum += part.w[p * GROUPS + g];
            }
            let p_free = p_free[p];
            // 5. Expected spikes.
            let zz = z_sum + st.z;
            let p_lambda = if zz > 0.0 {
                (y_sum + p_free * st.z) / zz
            } else {
                0.0
            };
            let nbar = w_sum + p_free * st.x + p_lambda * (c.n - x_sum - st.x);
            // 6. The spike count.
            let mut r = spike_stream(seed, replica, k, p as u32);
            let nn = c.n as u32;
            let n = if c.bino == 1 {
                r.binomial(nn, (nbar / c.n).clamp(0.0, 1.0))
            } else if nbar > c.n {
                nn
            } else {
                r.poisson(nbar).min(nn)
            };
            let nf = n as f32;
            // 7. The oldest cohort joins the free pool; the new cohort takes its slot.
            let i0 = p * l_max + (k % c.len) as usize;
            let omf = 1.0 - p_free;
            let oldest = b.hist[i0];
            st.z = omf * omf * st.z + st.x * p_free + oldest[1];
            st.x = st.x * omf + oldest[0];
            b.hist_n[i0] = nf;
            b.hist[i0] = [nf, 0.0, c.v_reset_rel, 0.0];
            // The new cohort is next step's newest age, len - 1 (active when t_ref = 0).
            if c.k_ref == 0 {
                let gl = p * GROUPS + ((c.len - 1) / c.len.div_ceil(GROUPS as u32)) as usize;
                part.t[nxt + gl] += nf * tab.theta[(row * np + p) * l_max + c.len as usize - 1][1];
            }
            // 8. Send n (read by targets `delay` steps later).
            b.nbuf[p * d_len as usize + (k % d_len) as usize] = nf;
            // Recording: bins of bin_steps steps; window sums of n and n^2 in 64 bits.
            st.bin_n += n;
            st.bin_nbar += nbar;
            let k1 = k + 1;
            if k1.is_multiple_of(cfg.bin_steps) {
                let bin = k1 / cfg.bin_steps - 1;
                if traced {
                    if let Some(rs) = rec.as_mut() {
                        let i =
                            (((bin - cfg.rec_bin0) * rs.stride + rs.lane) as usize * np + p) * 2;
                        rs.buf[i] = st.bin_n as f32;
                        rs.buf[i + 1] = st.bin_nbar;
                    }
                }
                let sq = u64::from(st.bin_n) * u64::from(st.bin_n);
                for w in 0..cfg.n_win as usize {
                    if bin >= cfg.win_lo[w] && bin < cfg.win_hi[w] {
                        let ws = &mut b.wsum[p * MAX_WIN + w];
                        let (mut lo, mut hi) = (ws[0], ws[1]);
                        add64(&mut lo, &mut hi, st.bin_n, 0);
                        let (mut qlo, mut qhi) = (ws[2], ws[3]);
                        add64(&mut qlo, &mut qhi, sq as u32, (sq >> 32) as u32);
                        *ws = [lo, hi, qlo, qhi];
                    }
                }
                st.bin_n = 0;
                st.bin_nbar = 0.0;
            }
        }
    }
}
