//! `gif_pop_step` (shaders/gif_pop_step.wgsl): descriptor, shared structs and the CPU twin,
//! which mirrors the shader statement by statement in f32 (docs/models.md, section 6).

// Loops over lanes index several arrays with the lane, as the shader's invocations do.
#![allow(clippy::needless_range_loop)]

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

/// One row of the CPU path's history: one value per age chunk.
pub type Row = [f32; GROUPS];

/// One population's history on the CPU path, age-ordered and chunk-interleaved: the value of
/// age `a` (0 = the oldest) sits in row `a % rows`, lane `a / rows`, where `rows` =
/// ceil(L / GROUPS) is the length of a chunk. Row `i` then holds the `i`-th age of every
/// chunk, so a loop over one row's lanes walks all chunks at once, each in age order, as the
/// shader's invocations do; and ages move one place per step (age a becomes a - 1), so every
/// row is read and written once per step instead of being addressed through a ring.
#[derive(Debug, Clone)]
pub struct PopHistory {
    /// Spike counts n.
    pub n: Vec<Row>,
    /// Expected survivors m.
    pub m: Vec<Row>,
    /// Their variance v.
    pub v: Vec<Row>,
    /// Membrane potential u relative to E_L, mV.
    pub u: Vec<Row>,
    /// Hazard lam, 1/s.
    pub lam: Vec<Row>,
}

impl PopHistory {
    fn new(rows: usize) -> Self {
        let z = vec![[0.0; GROUPS]; rows];
        Self {
            n: z.clone(),
            m: z.clone(),
            v: z.clone(),
            u: z.clone(),
            lam: z,
        }
    }
}

/// Row and lane of age `a` in a history of `rows` rows.
#[inline]
fn at(a: u32, rows: u32) -> (usize, usize) {
    ((a % rows) as usize, (a / rows) as usize)
}

/// One replica's buffers for the CPU twin: the history of each population, its delay ring
/// (`[p * d_len + slot]`), scalar state and window sums.
#[derive(Debug, Clone)]
pub struct ReplicaBuffers {
    /// History per population, `rows_for(l_max)` rows each.
    pub hist: Vec<PopHistory>,
    /// Delay ring of spike counts.
    pub nbuf: Vec<f32>,
    /// Scalar state per population.
    pub state: Vec<MesoState>,
    /// Window sums per population and window: (sum lo, sum hi, sum of squares lo, hi).
    pub wsum: Vec<[u32; 4]>,
}

/// Rows of a history of `len` ages (the chunk length of the shader's walk).
pub fn rows_for(len: usize) -> usize {
    len.div_ceil(GROUPS).max(1)
}

impl ReplicaBuffers {
    /// Zeroed buffers for `np` populations, `l_max` ages, a delay ring of `d_len`.
    pub fn new(np: usize, l_max: usize, d_len: usize) -> Self {
        Self {
            hist: (0..np).map(|_| PopHistory::new(rows_for(l_max))).collect(),
            nbuf: vec![0.0; d_len * np],
            state: vec![MesoState::default(); np],
            wsum: vec![[0; 4]; np * MAX_WIN],
        }
    }
}

/// The quasi-renewal kernels in the history's chunk-interleaved order:
/// `[(row * NP + p) * rows_for(l_max) + i]`, lane `g` of row `i` the kernels of age
/// `g * rows + i` (0 beyond L).
#[derive(Debug, Clone, Default)]
pub struct ChunkedTheta {
    /// theta_kernel.
    pub k: Vec<Row>,
    /// theta_tilde.
    pub tilde: Vec<Row>,
}

impl ChunkedTheta {
    /// Rearranges the shader's `theta` table (`[(row * NP + p) * l_max + a]`).
    pub fn new(coef: &[MesoPopCoef], theta: &[[f32; 2]], l_max: usize) -> Self {
        let rows_max = rows_for(l_max);
        let mut out = Self {
            k: vec![[0.0; GROUPS]; coef.len() * rows_max],
            tilde: vec![[0.0; GROUPS]; coef.len() * rows_max],
        };
        for (rp, c) in coef.iter().enumerate() {
            let rows = rows_for(c.len as usize) as u32;
            for a in 0..c.len {
                let (i, g) = at(a, rows);
                let th = theta[rp * l_max + a as usize];
                out.k[rp * rows_max + i][g] = th[0];
                out.tilde[rp * rows_max + i][g] = th[1];
            }
        }
        out
    }
}

/// Read-only tables of one `gif_pop_step` call.
pub struct MesoTables<'a> {
    /// `coef`, `[row * NP + p]`.
    pub coef: &'a [MesoPopCoef],
    /// The kernels `theta` in the history's order.
    pub theta: &'a ChunkedTheta,
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

/// Chunk sums of one population's walk (the shader's workgroup arrays).
#[derive(Debug, Clone, Copy)]
struct ChunkSums {
    x: Row,
    y: Row,
    z: Row,
    w: Row,
    /// The next step's threshold-kernel totals.
    t_next: Row,
}

/// What phase C needs of a population's walk besides the chunk sums: the oldest cohort after
/// its update (m, v).
#[derive(Debug, Clone, Copy, Default)]
struct Oldest {
    m: f32,
    v: f32,
}

/// One row of each history array.
struct RowsOf<'a> {
    n: &'a Row,
    m: &'a Row,
    v: &'a Row,
    u: &'a Row,
    lam: &'a Row,
}

/// One row of each history array, to write.
struct RowsOfMut<'a> {
    n: &'a mut Row,
    m: &'a mut Row,
    v: &'a mut Row,
    u: &'a mut Row,
    lam: &'a mut Row,
}

/// The per-lane state of a walk: each chunk's threshold sum, the previous age's
/// theta_tilde, and the chunk sums.
struct WalkLanes {
    theta_hat: Row,
    th2_prev: Row,
    s: ChunkSums,
    /// Scratch: the spike probability of each lane.
    pl: Row,
}

/// Row `i` of a walk: reads the ages of `src`, writes them one step older to `dst`.
/// `g_valid`, `g_act` and `g_tn` count the lanes whose ages are valid (a < L), active
/// (a < L - k_ref), and part of the next step's totals (0 < a - a0, a <= L - k_ref); each is
/// a prefix of the row. Every lane computes everything and a select keeps what its
/// condition allows, always between a computed value and a loaded one (a select between two
/// loads would become a gather). `theta_hat` and `th2_prev` need no select: a lane's
/// inactive ages are its last ones, and `th2_prev` is read only after an active age.
/// In most rows only the last lanes can fail a condition, so the first [`SURE`] lanes skip
/// the selects (whose conditions hold there) when the row allows it.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn walk_row(
    c: &MesoPopCoef,
    cuts: (usize, usize, usize),
    src: RowsOf<'_>,
    mut dst: RowsOfMut<'_>,
    thk: &Row,
    tht: &Row,
    h_tot: f32,
    w: &mut WalkLanes,
) {
    let sure = cuts.0.min(cuts.1).min(cuts.2) >= SURE;
    if sure {
        hazard_lanes::<0, SURE, false>(c, cuts, &src, &mut dst, thk, h_tot, w);
        hazard_lanes::<SURE, GROUPS, true>(c, cuts, &src, &mut dst, thk, h_tot, w);
    } else {
        hazard_lanes::<0, GROUPS, true>(c, cuts, &src, &mut dst, thk, h_tot, w);
    }
    // The second exponential only in rows that need it (P > 0.01 in some lane; a row without
    // it computes the same bits), inside the second part's loop.
    if w.pl.iter().fold(false, |a, &p| a | (p > 0.01)) {
        if sure {
            survival_lanes::<0, SURE, false, true>(cuts, &src, &mut dst, tht, w);
            survival_lanes::<SURE, GROUPS, true, true>(cuts, &src, &mut dst, tht, w);
        } else {
            survival_lanes::<0, GROUPS, true, true>(cuts, &src, &mut dst, tht, w);
        }
    } else if sure {
        survival_lanes::<0, SURE, false, false>(cuts, &src, &mut dst, tht, w);
        survival_lanes::<SURE, GROUPS, true, false>(cuts, &src, &mut dst, tht, w);
    } else {
        survival_lanes::<0, GROUPS, true, false>(cuts, &src, &mut dst, tht, w);
    }
    *dst.n = *src.n;
}

/// Lanes a row's conditions hold in whenever [`walk_row`] finds them all at least as large
/// (a multiple of every level's register width).
const SURE: usize = GROUPS / 4 * 3;

/// Lanes `LO..HI` of [`walk_row`]'s first part: the hazard, the new membrane potential and
/// the spike probability before its exponential. Without `SEL` every lane is active.
#[inline(always)]
fn hazard_lanes<const LO: usize, const HI: usize, const SEL: bool>(
    c: &MesoPopCoef,
    (_, g_act, _): (usize, usize, usize),
    src: &RowsOf<'_>,
    dst: &mut RowsOfMut<'_>,
    thk: &Row,
    h_tot: f32,
    w: &mut WalkLanes,
) {
    for g in LO..HI {
        let active = !SEL || g < g_act;
        let thr = thk[g] + w.theta_hat[g];
        let u1 = c.p22 * src.u[g] + h_tot;
        let lam1 = c.lambda_0 * math::exp(((u1 - thr) * c.inv_delta_v).min(HAZARD_CLAMP));
        dst.u[g] = if active { u1 } else { src.u[g] };
        dst.lam[g] = if active { lam1 } else { src.lam[g] };
        w.pl[g] = c.half_h_ms * (lam1 + src.lam[g]);
    }
}

/// Lanes `LO..HI` of [`walk_row`]'s second part: the chunk sums, the threshold sums and the
/// surviving cohorts. Without `SEL` every lane is valid, active and in the next totals;
/// with `EXP` the spike probability 1 - e^-p replaces p where p > 0.01.
#[inline(always)]
fn survival_lanes<const LO: usize, const HI: usize, const SEL: bool, const EXP: bool>(
    (g_valid, g_act, g_tn): (usize, usize, usize),
    src: &RowsOf<'_>,
    dst: &mut RowsOfMut<'_>,
    tht: &Row,
    w: &mut WalkLanes,
) {
    let s = &mut w.s;
    for g in LO..HI {
        let (valid, active, in_next) = (!SEL || g < g_valid, !SEL || g < g_act, !SEL || g < g_tn);
        let p = w.pl[g];
        let pl = if EXP && p > 0.01 {
            1.0 - math::exp(-p)
        } else {
            p
        };
        let (nk, mk, vk) = (src.n[g], src.m[g], src.v[g]);
        let t1 = s.t_next[g] + nk * w.th2_prev[g];
        s.t_next[g] = if in_next { t1 } else { s.t_next[g] };
        let x1 = s.x[g] + mk;
        s.x[g] = if valid { x1 } else { s.x[g] };
        w.th2_prev[g] = tht[g];
        w.theta_hat[g] += nk * tht[g];
        let (y1, z1, w1) = (s.y[g] + pl * vk, s.z[g] + vk, s.w[g] + pl * mk);
        s.y[g] = if active { y1 } else { s.y[g] };
        s.z[g] = if active { z1 } else { s.z[g] };
        s.w[g] = if active { w1 } else { s.w[g] };
        let om = 1.0 - pl;
        let (m1, v1) = (om * mk, om * om * vk + pl * mk);
        dst.m[g] = if active { m1 } else { mk };
        dst.v[g] = if active { v1 } else { vk };
    }
}

/// Phase B of one population (4b of the update): walks the ages of every chunk, oldest first,
/// skipping refractory ones, in lanes (chunk g in lane g), and moves every age one place
/// older. `theta0[g]` is the threshold sum each chunk starts from. Mirrors the shader's walk
/// statement by statement; each lane's sums run in the shader's order, so no result depends
/// on the vector width.
#[inline(always)]
fn walk(
    c: &MesoPopCoef,
    h: &mut PopHistory,
    tk: &[Row],
    tt: &[Row],
    h_tot: f32,
    theta0: &Row,
) -> (ChunkSums, Oldest) {
    let len = c.len;
    let n_active = len - c.k_ref;
    let rows = rows_for(len as usize);
    let cw = rows as u32;
    let mut w = WalkLanes {
        theta_hat: *theta0,
        th2_prev: [0.0; GROUPS],
        s: ChunkSums {
            x: [0.0; GROUPS],
            y: [0.0; GROUPS],
            z: [0.0; GROUPS],
            w: [0.0; GROUPS],
            t_next: [0.0; GROUPS],
        },
        pl: [0.0; GROUPS],
    };
    // The lanes of row i whose age a = g * rows + i is below `bound`.
    let cut = |bound: u32, i: u32| -> usize {
        if bound <= i {
            0
        } else {
            ((bound - i).div_ceil(cw) as usize).min(GROUPS)
        }
    };
    // Row 0 before the walk: its ages move to the last row of the lane before (and the
    // oldest out), after the walk has read that row; its spike counts close the chunks'
    // next-step totals.
    let n0 = h.n[0];
    let (mut r0n, mut r0m, mut r0v, mut r0u, mut r0l) = (
        [0.0f32; GROUPS],
        [0.0; GROUPS],
        [0.0; GROUPS],
        [0.0; GROUPS],
        [0.0; GROUPS],
    );
    for i in 0..rows {
        let row = i as u32;
        let cuts = (
            cut(len, row),
            cut(n_active, row),
            if row == 0 { 0 } else { cut(n_active + 1, row) },
        );
        if i == 0 {
            let src = RowsOf {
                n: &h.n[0],
                m: &h.m[0],
                v: &h.v[0],
                u: &h.u[0],
                lam: &h.lam[0],
            };
            let dst = RowsOfMut {
                n: &mut r0n,
                m: &mut r0m,
                v: &mut r0v,
                u: &mut r0u,
                lam: &mut r0l,
            };
            walk_row(c, cuts, src, dst, &tk[0], &tt[0], h_tot, &mut w);
        } else {
            let (n_lo, n_hi) = h.n.split_at_mut(i);
            let (m_lo, m_hi) = h.m.split_at_mut(i);
            let (v_lo, v_hi) = h.v.split_at_mut(i);
            let (u_lo, u_hi) = h.u.split_at_mut(i);
            let (l_lo, l_hi) = h.lam.split_at_mut(i);
            let src = RowsOf {
                n: &n_hi[0],
                m: &m_hi[0],
                v: &v_hi[0],
                u: &u_hi[0],
                lam: &l_hi[0],
            };
            let dst = RowsOfMut {
                n: &mut n_lo[i - 1],
                m: &mut m_lo[i - 1],
                v: &mut v_lo[i - 1],
                u: &mut u_lo[i - 1],
                lam: &mut l_lo[i - 1],
            };
            walk_row(c, cuts, src, dst, &tk[i], &tt[i], h_tot, &mut w);
        }
    }
    let mut s = w.s;
    let th2_prev = w.th2_prev;
    // Row 0's ages g * rows become the last row's ages of lane g - 1; age 0 leaves.
    let last = rows - 1;
    h.n[last][..GROUPS - 1].copy_from_slice(&r0n[1..]);
    h.m[last][..GROUPS - 1].copy_from_slice(&r0m[1..]);
    h.v[last][..GROUPS - 1].copy_from_slice(&r0v[1..]);
    h.u[last][..GROUPS - 1].copy_from_slice(&r0u[1..]);
    h.lam[last][..GROUPS - 1].copy_from_slice(&r0l[1..]);
    // The first age of the next chunk; the newest age's term is added in phase C.
    for g in 0..GROUPS - 1 {
        let a1 = (g as u32 + 1) * cw;
        if a1 < len && a1 <= n_active {
            s.t_next[g] += n0[g + 1] * th2_prev[g];
        }
    }
    (
        s,
        Oldest {
            m: r0m[0],
            v: r0v[0],
        },
    )
}

/// CPU twin of the `gif_pop_step` entry point for workgroup `t` of the batch: advances one
/// replica by `cfg.n_steps` steps, writing binned activity to `rec` when the replica is traced.
/// The shader's phases run one after another; phase B walks all chunks of a population at
/// once in lanes (see [`PopHistory`]), compiled for the CPU's widest vectors
/// ([`crate::simd`]): the same bits at every width.
pub fn gif_pop_step(
    cfg: &MesoConfig,
    np: usize,
    tab: &MesoTables<'_>,
    t: u32,
    b: &mut ReplicaBuffers,
    rec: Option<RecSlot<'_>>,
) {
    gif_pop_step_on(crate::simd::level(), 1, cfg, np, tab, t, b, rec);
}

/// [`gif_pop_step`] at SIMD `level`, with the populations split over `threads` threads (one
/// network on several cores): each thread updates its populations, and after every step the
/// threads exchange their spike counts, which no population reads before the next step
/// (delays are at least one step). The bits do not depend on the level or the threads.
#[allow(clippy::too_many_arguments)]
pub fn gif_pop_step_on(
    level: crate::simd::Level,
    threads: usize,
    cfg: &MesoConfig,
    np: usize,
    tab: &MesoTables<'_>,
    t: u32,
    b: &mut ReplicaBuffers,
    mut rec: Option<RecSlot<'_>>,
) {
    let threads = threads.clamp(1, np.max(1));
    if threads == 1 {
        let step = Step {
            cfg,
            np,
            tab,
            t,
            b,
            rec,
            part: None,
        };
        crate::simd::dispatch_at(level, step);
        return;
    }
    // Populations to threads round-robin; each thread works on a copy of the buffers and
    // its own recording buffer, merged below.
    let exch = Exchange {
        n: std::array::from_fn(|_| std::sync::atomic::AtomicU32::new(0)),
        barrier: crate::cpu::SpinBarrier::new(threads),
    };
    let rec_len = rec.as_ref().map_or(0, |r| r.buf.len());
    let (stride, lane) = rec.as_ref().map_or((1, 0), |r| (r.stride, r.lane));
    let mut parts: Vec<(ReplicaBuffers, Vec<f32>)> = (0..threads)
        .map(|_| {
            (
                b.clone(),
                rec.as_ref().map_or(Vec::new(), |r| r.buf.to_vec()),
            )
        })
        .collect();
    std::thread::scope(|s| {
        for (th, (pb, pr)) in parts.iter_mut().enumerate() {
            let exch = &exch;
            s.spawn(move || {
                let own: [bool; MAX_POPS] = std::array::from_fn(|p| p < np && p % threads == th);
                let step = Step {
                    cfg,
                    np,
                    tab,
                    t,
                    b: pb,
                    rec: (rec_len > 0).then_some(RecSlot {
                        buf: pr.as_mut_slice(),
                        stride,
                        lane,
                    }),
                    part: Some(Part { own, exch }),
                };
                crate::simd::dispatch_at(level, step);
            });
        }
    });
    for p in 0..np {
        let (pb, pr) = &mut parts[p % threads];
        std::mem::swap(&mut b.hist[p], &mut pb.hist[p]);
        b.state[p] = pb.state[p];
        b.wsum[p * MAX_WIN..(p + 1) * MAX_WIN]
            .copy_from_slice(&pb.wsum[p * MAX_WIN..(p + 1) * MAX_WIN]);
        if let Some(r) = rec.as_mut() {
            // Population p's values of every bin row.
            for (i, v) in r.buf.iter_mut().enumerate() {
                if (i / 2) % np == p {
                    *v = pr[i];
                }
            }
        }
    }
    // Every thread's delay ring holds every population's counts.
    b.nbuf.copy_from_slice(&parts[0].0.nbuf);
}

/// The spike counts of one step, shared by the threads of one network: two sets (the step's
/// parity), so a thread can publish step k + 1 while another still reads step k.
struct Exchange {
    n: [std::sync::atomic::AtomicU32; 2 * MAX_POPS],
    barrier: crate::cpu::SpinBarrier,
}

/// One thread's share of a network: its populations and the exchange.
#[derive(Clone, Copy)]
struct Part<'a> {
    own: [bool; MAX_POPS],
    exch: &'a Exchange,
}

struct Step<'a, 'b> {
    cfg: &'a MesoConfig,
    np: usize,
    tab: &'a MesoTables<'a>,
    t: u32,
    b: &'a mut ReplicaBuffers,
    rec: Option<RecSlot<'b>>,
    part: Option<Part<'a>>,
}

impl crate::simd::Lanes for Step<'_, '_> {
    type Output = ();

    #[inline(always)]
    fn run<const W: usize>(self) {
        step_replica::<W>(
            self.cfg, self.np, self.tab, self.t, self.b, self.rec, self.part,
        );
    }
}

#[inline(always)]
fn step_replica<const W: usize>(
    cfg: &MesoConfig,
    np: usize,
    tab: &MesoTables<'_>,
    t: u32,
    b: &mut ReplicaBuffers,
    mut rec: Option<RecSlot<'_>>,
    part: Option<Part<'_>>,
) {
    // The populations this call updates (all, unless a thread has a share of them).
    let mine = |p: usize| part.is_none_or(|q| q.own[p]);
    let replica = cfg.replica0 + t;
    let row = if cfg.per_combo == 1 {
        (replica / cfg.replicas_per_combo - cfg.combo0) as usize
    } else {
        0
    };
    let seed = [cfg.seed_lo, cfg.seed_hi];
    let rows_max = rows_for(cfg.l_max as usize);
    let d_len = cfg.d_len;
    let traced = t < cfg.rec_replicas;

    if cfg.step0 == 0 {
        for p in 0..np {
            let c = &tab.coef[row * np + p];
            b.nbuf[p * d_len as usize..(p + 1) * d_len as usize].fill(0.0);
            if !mine(p) {
                continue;
            }
            let h = &mut b.hist[p];
            for r in [&mut h.n, &mut h.m, &mut h.v, &mut h.lam] {
                r.iter_mut().for_each(|x| *x = [0.0; GROUPS]);
            }
            h.u.iter_mut().for_each(|x| *x = [c.v_init_rel; GROUPS]);
            // All neurons have just fired: the newest age holds N.
            let (i, g) = at(c.len - 1, rows_for(c.len as usize) as u32);
            h.n[i][g] = c.n;
            h.m[i][g] = c.n;
            b.state[p] = MesoState {
                v_rel: c.v_init_rel,
                ..MesoState::default()
            };
            for w in 0..MAX_WIN {
                b.wsum[p * MAX_WIN + w] = [0; 4];
            }
        }
    }

    // Threshold-kernel totals of every chunk: this step's and the next step's.
    let mut t_cur = [[0.0f32; GROUPS]; MAX_POPS];
    let mut sh_h = [0.0f32; MAX_POPS];
    let mut sh_theta = [0.0f32; MAX_POPS];
    let mut p_free = [0.0f32; MAX_POPS];
    for j in 0..cfg.n_steps {
        let k = cfg.step0 + j;
        // Phase A. Population p's input and free threshold.
        for p in (0..np).filter(|&p| mine(p)) {
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
            // 2. Threshold of the free pool (the oldest age is row 0, lane 0).
            let n_old = b.hist[p].n[0][0];
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
            let tt0 = tab.theta.tilde[(row * np + p) * rows_max][0];
            sh_theta[p] = theta_hat - n_old * tt0;
            sh_h[p] = h_tot;
        }
        // At the first step of a call, the chunks' threshold-kernel totals from the history
        // (active ages only); later ones were formed by the walk of the step before.
        if j == 0 {
            for p in (0..np).filter(|&p| mine(p)) {
                let c = &tab.coef[row * np + p];
                let (len, n_active) = (c.len, c.len - c.k_ref);
                let rows = rows_for(len as usize);
                let tt = &tab.theta.tilde[(row * np + p) * rows_max..];
                let h = &b.hist[p];
                let mut tot = [0.0f32; GROUPS];
                for (i, (nr, tr)) in h.n.iter().zip(tt).take(rows).enumerate() {
                    for g in 0..GROUPS {
                        let a = g as u32 * rows as u32 + i as u32;
                        if a < n_active {
                            tot[g] += nr[g] * tr[g];
                        }
                    }
                }
                t_cur[p] = tot;
            }
        }

        // Phase B. 4b. Walk the ages of each chunk, oldest first, skipping refractory ones.
        let mut sums = [None; MAX_POPS];
        for p in (0..np).filter(|&p| mine(p)) {
            let c = tab.coef[row * np + p];
            let base = (row * np + p) * rows_max;
            let mut theta0 = [0.0f32; GROUPS];
            let mut acc = sh_theta[p];
            for g in 0..GROUPS {
                theta0[g] = acc;
                acc += t_cur[p][g];
            }
            sums[p] = Some(walk(
                &c,
                &mut b.hist[p],
                &tab.theta.k[base..],
                &tab.theta.tilde[base..],
                sh_h[p],
                &theta0,
            ));
        }

        // Phase C. Population p's spike count and new cohort.
        for (p, sp) in sums.iter().enumerate().take(np) {
            let Some((cs, oldest)) = sp else { continue };
            let c = tab.coef[row * np + p];
            let st = &mut b.state[p];
            let (mut x_sum, mut y_sum, mut z_sum, mut w_sum) = (0.0f32, 0.0f32, 0.0f32, 0.0f32);
            for g in 0..GROUPS {
                x_sum += cs.x[g];
                y_sum += cs.y[g];
                z_sum += cs.z[g];
                w_sum += cs.w[g];
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
            // 7. The oldest cohort joins the free pool; the new cohort is the newest age.
            let omf = 1.0 - p_free;
            st.z = omf * omf * st.z + st.x * p_free + oldest.v;
            st.x = st.x * omf + oldest.m;
            let rows = rows_for(c.len as usize) as u32;
            let (i, g) = at(c.len - 1, rows);
            let h = &mut b.hist[p];
            h.n[i][g] = nf;
            h.m[i][g] = nf;
            h.v[i][g] = 0.0;
            h.u[i][g] = c.v_reset_rel;
            h.lam[i][g] = 0.0;
            t_cur[p] = cs.t_next;
            // The new cohort is next step's newest age, len - 1 (active when t_ref = 0).
            if c.k_ref == 0 {
                let tt = tab.theta.tilde[(row * np + p) * rows_max + i][g];
                t_cur[p][g] += nf * tt;
            }
            // 8. Send n (read by targets `delay` steps later).
            b.nbuf[p * d_len as usize + (k % d_len) as usize] = nf;
            if let Some(q) = part {
                q.exch.n[(k as usize & 1) * MAX_POPS + p]
                    .store(nf.to_bits(), std::sync::atomic::Ordering::Relaxed);
            }
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
        // The other threads' counts of this step (the barrier orders the stores above).
        if let Some(q) = part {
            q.exch.barrier.wait();
            for p in (0..np).filter(|&p| !q.own[p]) {
                let bits = q.exch.n[(k as usize & 1) * MAX_POPS + p]
                    .load(std::sync::atomic::Ordering::Relaxed);
                b.nbuf[p * d_len as usize + (k % d_len) as usize] = f32::from_bits(bits);
            }
        }
    }
}
