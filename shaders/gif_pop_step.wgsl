// gif_pop_step: mesoscopic GIF populations (NEST's gif_pop_psc_exp; Schwalger, Deger &
// Gerstner 2017), the quasi-renewal update of docs/models.md, section 6 with finite-size variance
// terms and a binomial spike count per population and step. One workgroup per replica (a
// network of NP populations coupled through delayed spike counts); many steps per dispatch.
// CPU twin: models::gif_pop::kernel::gif_pop_step.
//
// The age walk of each population is split into GROUPS = 64 chunks of ceil(L / 64)
// consecutive ages, and every sum over ages is formed per chunk and then over the chunks in
// order. The quasi-renewal threshold is a prefix sum over ages: each chunk starts from the
// chunk totals of the older chunks, summed in order. That order is part of the algorithm, not
// of the dispatch: invocation i of a workgroup of WG walks chunks i * 64 / WG .. (i + 1) * 64
// / WG - 1, so any WG dividing 64 gives the same numbers (and the CPU twin walks the chunks
// one after another). One step runs in three phases separated by barriers:
//   A. invocation p < NP: input, free threshold and free hazard of population p;
//      at the first step of a dispatch, all invocations: the threshold-kernel total of each
//      of their chunks (later steps take the totals the walk formed one step before);
//   B. all invocations: the walk over their chunks (partial sums X, Y, Z, W per chunk, and
//      the next step's threshold-kernel totals);
//   C. invocation p < NP: the sums over chunks, nbar, the spike count, the new cohort.
//
// History arrays (hist_n, and hist = (m, v, u, lam)) are per replica and population, a ring
// of L slots at [(t * NP + p) * l_max + hpos(slot, cw)]: slot s sits at row s % cw, column
// s / cw (cw = ceil(L / GROUPS), l_max a multiple of GROUPS), so the invocations of a
// workgroup, each walking its own chunk of cw consecutive slots, touch consecutive words at
// every step of the walk (coalesced on GPUs). Slot k % L of population p holds the oldest
// cohort at step k (the ring starts with the newest cohort, all N neurons, in slot L - 1). Convention where
// NEST 3.10 and the paper differ: the oldest cohort's spikes are removed from theta_hat with
// n[k % L] (the paper), not n[0] (NEST).

// #import shared/math.wgsl
// #import shared/rng.wgsl
// #import shared/grid.wgsl

override NP: u32 = 2u;
// Invocations per workgroup (one workgroup per replica), a divisor of GROUPS and at least
// MAX_POPS: 64 on GPUs; the runtime picks 8 (one SIMD batch, no barrier switching) on CPU
// adapters such as lavapipe.
override WG: u32 = 64u;
const GROUPS: u32 = 64u;
const MAX_POPS: u32 = 8u;
const MAX_WIN: u32 = 4u;
const PURPOSE_SPIKE: u32 = 2u;
const HAZARD_CLAMP: f32 = 60.0;

// Keep in sync with models::gif_pop::kernel::MesoConfig.
struct MesoConfig {
    n_replicas: u32,
    replicas_per_combo: u32,
    replica0: u32,
    combo0: u32,
    step0: u32,
    n_steps: u32,
    seed_lo: u32,
    seed_hi: u32,
    l_max: u32,
    d_len: u32,
    n_proj: u32,
    per_combo: u32,
    bin_steps: u32,
    rec_replicas: u32,
    rec_bin0: u32,
    n_win: u32,
    win_lo: vec4<u32>,
    win_hi: vec4<u32>,
    has_stim: u32,
    zero: u32,
    _pad1: u32,
    _pad2: u32,
}

// Keep in sync with models::gif_pop::kernel::MesoPopCoef.
struct MesoPopCoef {
    n: f32,
    p22: f32,
    p20: f32,
    v_reset_rel: f32,
    v_t_star_rel: f32,
    v_init_rel: f32,
    lambda_0: f32,
    inv_delta_v: f32,
    half_h_ms: f32,
    i_e: f32,
    p11_ex: f32,
    q11_ex: f32,
    b_ex: f32,
    k_ex: f32,
    jscale_ex: f32,
    p11_in: f32,
    q11_in: f32,
    b_in: f32,
    k_in: f32,
    jscale_in: f32,
    q: array<f32, 4>,
    qn: array<f32, 4>,
    qk: array<f32, 4>,
    n_sfa: u32,
    k_ref: u32,
    len: u32,
    bino: u32,
}

// Keep in sync with models::gif_pop::kernel::Projection.
struct Projection {
    src: u32,
    tgt: u32,
    delay: u32,
    weight: f32,
}

// Keep in sync with models::gif_pop::kernel::MesoState.
struct MesoState {
    v_rel: f32,
    jy_ex: f32,
    jy_in: f32,
    y0: f32,
    lambda_free: f32,
    x: f32,
    z: f32,
    g: array<f32, 4>,
    bin_n: u32,
    bin_nbar: f32,
}

@group(0) @binding(0) var<uniform> cfg: MesoConfig;
@group(0) @binding(1) var<storage, read> coef: array<MesoPopCoef>;
// (theta_kernel[a], theta_tilde[a]) per row, population and age.
@group(0) @binding(2) var<storage, read> theta: array<vec2<f32>>;
@group(0) @binding(3) var<storage, read> proj: array<Projection>;
@group(0) @binding(4) var<storage, read> stim: array<f32>;
@group(0) @binding(5) var<storage, read_write> state: array<MesoState>;
@group(0) @binding(6) var<storage, read_write> wsum: array<vec4<u32>>;
@group(0) @binding(7) var<storage, read_write> hist_n: array<f32>;
// (m, v, u, lam) of each age slot in one word group: one load and one store per age (on
// lavapipe every storage access is a loop over the SIMD lanes, so fewer, wider accesses pay).
@group(0) @binding(8) var<storage, read_write> hist: array<vec4<f32>>;
@group(0) @binding(9) var<storage, read_write> nbuf: array<f32>;
@group(0) @binding(10) var<storage, read_write> rec: array<f32>;

// Chunk partial sums, [p * GROUPS + g]: threshold-kernel totals (two sets: this step's, read
// in phase B, and the next step's, formed during the walk), and X, Y, Z, W of the walk.
var<workgroup> part_t: array<f32, 1024>;
var<workgroup> part_x: array<f32, 512>;
var<workgroup> part_y: array<f32, 512>;
var<workgroup> part_z: array<f32, 512>;
var<workgroup> part_w: array<f32, 512>;
// Per population, from phase A to B: the input h_tot and theta_hat before the walk.
var<workgroup> sh_h: array<f32, MAX_POPS>;
var<workgroup> sh_theta: array<f32, MAX_POPS>;

// x, unchanged (cfg.zero is 0), but opaque to the compiler: the driver cannot merge the sum
// that produced x into the next one (Mesa's lavapipe reassociates float sums), so the shader
// rounds exactly as its CPU twin, which has no such rewriting.
// Where slot `slot` of a history of chunk length `cw` is stored (see the header).
fn hpos(slot: u32, cw: u32) -> u32 {
    return (slot % cw) * GROUPS + slot / cw;
}

fn keep(x: f32) -> f32 {
    return bitcast<f32>(bitcast<u32>(x) ^ cfg.zero);
}

// (lo, hi) + (x_lo, x_hi) as 64-bit numbers.
fn add64(a: vec2<u32>, x_lo: u32, x_hi: u32) -> vec2<u32> {
    let lo = a.x + x_lo;
    let carry = select(0u, 1u, lo < x_lo);
    return vec2<u32>(lo, a.y + x_hi + carry);
}

@compute @workgroup_size(WG)
fn gif_pop_step(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let t = wid.x + wid.y * nwg.x;
    if (t >= cfg.n_replicas) {
        return;
    }
    let replica = cfg.replica0 + t;
    let row = select(0u, replica / cfg.replicas_per_combo - cfg.combo0, cfg.per_combo == 1u);
    let seed = vec2<u32>(cfg.seed_lo, cfg.seed_hi);
    let l_max = cfg.l_max;
    let d_len = cfg.d_len;
    let traced = t < cfg.rec_replicas;
    // Chunks of this invocation: g0 .. g0 + per - 1.
    let per = GROUPS / WG;
    let g0 = lid * per;
    // Invocation p < NP leads population p in phases A and C.
    let lead = lid < NP;
    let pl = min(lid, NP - 1u);
    let hb = (t * NP + pl) * l_max;
    let db = (t * NP + pl) * d_len;

    if (cfg.step0 == 0u) {
        for (var p = 0u; p < NP; p = p + 1u) {
            let c = coef[row * NP + p];
            let base = (t * NP + p) * l_max;
            for (var s = lid; s < l_max; s = s + WG) {
                hist_n[base + s] = 0.0;
                hist[base + s] = vec4<f32>(0.0, 0.0, c.v_init_rel, 0.0);
            }
            for (var s = lid; s < d_len; s = s + WG) {
                nbuf[(t * NP + p) * d_len + s] = 0.0;
            }
        }
        storageBarrier();
        workgroupBarrier();
        if (lead) {
            // All neurons have just fired: the newest slot of the ring holds N.
            let c = coef[row * NP + pl];
            let newest = hb + hpos(c.len - 1u, (c.len + GROUPS - 1u) / GROUPS);
            hist_n[newest] = c.n;
            hist[newest] = vec4<f32>(c.n, 0.0, c.v_init_rel, 0.0);
            state[t * NP + pl] = MesoState(c.v_init_rel, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, array<f32, 4>(0.0, 0.0, 0.0, 0.0), 0u, 0.0);
            for (var w = 0u; w < MAX_WIN; w = w + 1u) {
                wsum[(t * NP + pl) * MAX_WIN + w] = vec4<u32>(0u);
            }
        }
        storageBarrier();
        workgroupBarrier();
    }

    let cl = coef[row * NP + pl];
    var st = state[t * NP + pl];
    var p_free = 0.0;
    for (var j = 0u; j < cfg.n_steps; j = j + 1u) {
        let k = cfg.step0 + j;
        // Phase A. The leading invocation of population p: input and free threshold.
        if (lead) {
            let c = cl;
            // 1. Synaptic input arriving this step, split by sign.
            var s_ex = 0.0;
            var s_in = 0.0;
            for (var q = 0u; q < cfg.n_proj; q = q + 1u) {
                let pr = proj[row * cfg.n_proj + q];
                if (pr.tgt == pl) {
                    let slot = (k + d_len - pr.delay) % d_len;
                    let sw = pr.weight * nbuf[(t * NP + pr.src) * d_len + slot];
                    if (sw > 0.0) {
                        s_ex = s_ex + sw;
                    } else {
                        s_in = s_in + sw;
                    }
                }
            }
            let ja_ex = s_ex * c.jscale_ex;
            let ja_in = s_in * c.jscale_in;
            let h_ex = keep(c.b_ex * ja_ex) + keep(c.k_ex * st.jy_ex);
            let h_in = keep(c.b_in * ja_in) + keep(c.k_in * st.jy_in);
            let h_tot = keep(keep(keep((c.i_e + st.y0) * c.p20) + h_ex) + h_in);
            st.jy_ex = c.p11_ex * st.jy_ex + c.q11_ex * ja_ex;
            st.jy_in = c.p11_in * st.jy_in + c.q11_in * ja_in;
            if (cfg.has_stim == 1u) {
                st.y0 = stim[j * NP + pl];
            }
            st.v_rel = c.p22 * st.v_rel + h_tot;
            // 2. Threshold of the free pool.
            let n_old = hist_n[hb + hpos(k % c.len, (c.len + GROUPS - 1u) / GROUPS)];
            var theta_hat = c.v_t_star_rel;
            for (var jj = 0u; jj < c.n_sfa; jj = jj + 1u) {
                st.g[jj] = st.g[jj] * c.q[jj] + c.qn[jj] * n_old;
                theta_hat = theta_hat + c.qk[jj] * st.g[jj];
            }
            // 3. Free escape rate and its spike probability (trapezoid in time).
            let lam_free = c.lambda_0 * npm_exp(min((st.v_rel - theta_hat) * c.inv_delta_v, HAZARD_CLAMP));
            p_free = 1.0 - npm_exp(-c.half_h_ms * (st.lambda_free + lam_free));
            st.lambda_free = lam_free;
            // 4a. The oldest cohort's spikes are already in g_j.
            let tbase = (row * NP + pl) * l_max;
            sh_theta[pl] = theta_hat - n_old * theta[tbase].y;
            sh_h[pl] = h_tot;
        }
        // Threshold-kernel totals sum n[a] theta_tilde[a] of each chunk (active ages only): at
        // the first step of a dispatch from the history; later ones were formed by the walk of
        // the step before (the same terms in the same order: age a now is age a + 1 then).
        let cur = (j & 1u) * 512u;
        let nxt = 512u - cur;
        for (var p = 0u; p < select(0u, NP, j == 0u); p = p + 1u) {
            let len = coef[row * NP + p].len;
            let n_active = len - coef[row * NP + p].k_ref;
            let cw = (len + GROUPS - 1u) / GROUPS;
            let base = (t * NP + p) * l_max;
            let tbase = (row * NP + p) * l_max;
            for (var g = g0; g < g0 + per; g = g + 1u) {
                let a0 = min(g * cw, n_active);
                let a1 = min(a0 + cw, n_active);
                var slot = (k + a0) % len;
                var tot = 0.0;
                for (var a = a0; a < a1; a = a + 1u) {
                    tot = tot + hist_n[base + hpos(slot, cw)] * theta[tbase + a].y;
                    slot = slot + 1u;
                    if (slot == len) {
                        slot = 0u;
                    }
                }
                part_t[cur + p * GROUPS + g] = tot;
            }
        }
        workgroupBarrier();

        // Phase B. 4b. Walk the ages of each chunk, oldest first, skipping refractory ones.
        for (var p = 0u; p < NP; p = p + 1u) {
            let c = coef[row * NP + p];
            let len = c.len;
            let n_active = len - c.k_ref;
            let cw = (len + GROUPS - 1u) / GROUPS;
            let base = (t * NP + p) * l_max;
            let tbase = (row * NP + p) * l_max;
            let h_tot = sh_h[p];
            // theta_hat at the start of chunk g0: the chunk totals of the older chunks.
            var acc = sh_theta[p];
            for (var g = 0u; g < g0; g = g + 1u) {
                acc = acc + part_t[cur + p * GROUPS + g];
            }
            for (var g = g0; g < g0 + per; g = g + 1u) {
                let a0 = min(g * cw, len);
                let a1 = min(a0 + cw, len);
                var slot = (k + a0) % len;
                var theta_hat = acc;
                var x_sum = 0.0;
                var y_sum = 0.0;
                var z_sum = 0.0;
                var w_sum = 0.0;
                // Next step's total of this chunk: n of age a + 1 now with theta_tilde[a].
                var t_next = 0.0;
                var th2_prev = 0.0;
                for (var a = a0; a < a1; a = a + 1u) {
                    let i = base + hpos(slot, cw);
                    let hs = hist[i];
                    let nk = hist_n[i];
                    if (a > a0 && a <= n_active) {
                        t_next = t_next + nk * th2_prev;
                    }
                    let mk = hs.x;
                    x_sum = x_sum + mk;
                    if (a < n_active) {
                        let th = theta[tbase + a];
                        th2_prev = th.y;
                        let thr = keep(th.x + theta_hat);
                        theta_hat = theta_hat + nk * th.y;
                        let u = c.p22 * hs.z + h_tot;
                        let lam = c.lambda_0 * npm_exp(min((u - thr) * c.inv_delta_v, HAZARD_CLAMP));
                        var pl_a = c.half_h_ms * (lam + hs.w);
                        if (pl_a > 0.01) {
                            pl_a = 1.0 - npm_exp(-pl_a);
                        }
                        let vk = hs.y;
                        y_sum = y_sum + pl_a * vk;
                        z_sum = z_sum + vk;
                        w_sum = w_sum + pl_a * mk;
                        let om = 1.0 - pl_a;
                        hist[i] = vec4<f32>(om * mk, keep(keep(om * om) * vk) + pl_a * mk, u, lam);
                    }
                    slot = slot + 1u;
                    if (slot == len) {
                        slot = 0u;
                    }
                }
                // The first age of the next chunk (its n does not change in this phase); the
                // newest age's term, for len - 1 < n_active, is added in phase C.
                if (a0 < a1 && a1 < len && a1 <= n_active) {
                    t_next = t_next + hist_n[base + hpos(slot, cw)] * th2_prev;
                }
                part_t[nxt + p * GROUPS + g] = t_next;
                part_x[p * GROUPS + g] = x_sum;
                part_y[p * GROUPS + g] = y_sum;
                part_z[p * GROUPS + g] = z_sum;
                part_w[p * GROUPS + g] = w_sum;
                acc = acc + part_t[cur + p * GROUPS + g];
            }
        }
        storageBarrier();
        workgroupBarrier();

        // Phase C. The leading invocation of population p.
        if (lead) {
            let c = cl;
            var x_sum = 0.0;
            var y_sum = 0.0;
            var z_sum = 0.0;
            var w_sum = 0.0;
            for (var g = 0u; g < GROUPS; g = g + 1u) {
                x_sum = x_sum + part_x[pl * GROUPS + g];
                y_sum = y_sum + part_y[pl * GROUPS + g];
                z_sum = z_sum + part_z[pl * GROUPS + g];
                w_sum = w_sum + part_w[pl * GROUPS + g];
            }
            // 5. Expected spikes.
            let zz = z_sum + st.z;
            var p_lambda = 0.0;
            if (zz > 0.0) {
                p_lambda = (y_sum + p_free * st.z) / zz;
            }
            let nbar = keep(w_sum + p_free * st.x) + p_lambda * keep(keep(c.n - x_sum) - st.x);
            // 6. The spike count.
            var r = rng_init(seed, replica, k, PURPOSE_SPIKE + 256u * pl);
            let nn = u32(c.n);
            var n: u32;
            if (c.bino == 1u) {
                n = rng_binomial(&r, nn, clamp(nbar / c.n, 0.0, 1.0));
            } else if (nbar > c.n) {
                n = nn;
            } else {
                n = min(rng_poisson(&r, nbar), nn);
            }
            let nf = f32(n);
            // 7. The oldest cohort joins the free pool; the new cohort takes its slot.
            let i0 = hb + hpos(k % c.len, (c.len + GROUPS - 1u) / GROUPS);
            let omf = 1.0 - p_free;
            let oldest = hist[i0];
            st.z = keep(keep(keep(omf * omf) * st.z) + st.x * p_free) + oldest.y;
            st.x = st.x * omf + oldest.x;
            hist_n[i0] = nf;
            hist[i0] = vec4<f32>(nf, 0.0, c.v_reset_rel, 0.0);
            // The new cohort is next step's newest age, len - 1: its threshold-kernel term
            // when that age is active (t_ref = 0).
            if (c.k_ref == 0u) {
                let gl = pl * GROUPS + (c.len - 1u) / ((c.len + GROUPS - 1u) / GROUPS);
                part_t[nxt + gl] = part_t[nxt + gl] + nf * theta[(row * NP + pl) * l_max + c.len - 1u].y;
            }
            // 8. Send n (read by targets `delay` steps later).
            nbuf[db + k % d_len] = nf;
            // Recording: bins of bin_steps steps; window sums of n and n^2 in 64 bits.
            st.bin_n = st.bin_n + n;
            st.bin_nbar = st.bin_nbar + nbar;
            let k1 = k + 1u;
            if (k1 % cfg.bin_steps == 0u) {
                let bin = k1 / cfg.bin_steps - 1u;
                if (traced) {
                    let ri = (((bin - cfg.rec_bin0) * cfg.rec_replicas + t) * NP + pl) * 2u;
                    rec[ri] = f32(st.bin_n);
                    rec[ri + 1u] = st.bin_nbar;
                }
                let sq = mul_hilo(st.bin_n, st.bin_n);
                for (var w = 0u; w < cfg.n_win; w = w + 1u) {
                    if (bin >= cfg.win_lo[w] && bin < cfg.win_hi[w]) {
                        let wi = (t * NP + pl) * MAX_WIN + w;
                        let old = wsum[wi];
                        let s = add64(old.xy, st.bin_n, 0u);
                        let q = add64(old.zw, sq.y, sq.x);
                        wsum[wi] = vec4<u32>(s, q);
                    }
                }
                st.bin_n = 0u;
                st.bin_nbar = 0.0;
            }
        }
        storageBarrier();
        workgroupBarrier();
    }
    if (lead) {
        state[t * NP + pl] = st;
    }
}
