// gif_pop_step: mesoscopic GIF populations (NEST's gif_pop_psc_exp; Schwalger, Deger &
// Gerstner 2017), the quasi-renewal update of MODELS.md section 5 with finite-size variance
// terms and a binomial spike count per population and step. One thread per replica (a
// network of NP populations coupled through delayed spike counts); many steps per dispatch.
// CPU twin: models::gif_pop::kernel::gif_pop_step.
//
// History arrays are slot-major with the replica fastest, [(slot * NP + p) * n_replicas + t],
// so neighbouring threads touch neighbouring words. Slot k % L of population p holds the
// oldest cohort at step k (the ring starts with the newest cohort, all N neurons, in slot
// L - 1). Convention where NEST 3.10 and the paper differ: the oldest cohort's spikes are
// removed from theta_hat with n[k % L] (the paper), not n[0] (NEST).

// #import shared/math.wgsl
// #import shared/rng.wgsl
// #import shared/grid.wgsl

override NP: u32 = 2u;
// Threads per workgroup: 64 on GPUs; the runtime picks 8 (one SIMD batch) on CPU adapters
// such as lavapipe, where each workgroup runs on one core, so that few replicas still spread
// over every core.
override WG: u32 = 64u;
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
@group(0) @binding(2) var<storage, read> theta: array<f32>;
@group(0) @binding(3) var<storage, read> proj: array<Projection>;
@group(0) @binding(4) var<storage, read> stim: array<f32>;
@group(0) @binding(5) var<storage, read_write> state: array<MesoState>;
@group(0) @binding(6) var<storage, read_write> wsum: array<vec4<u32>>;
@group(0) @binding(7) var<storage, read_write> hist_n: array<f32>;
@group(0) @binding(8) var<storage, read_write> hist_m: array<f32>;
@group(0) @binding(9) var<storage, read_write> hist_v: array<f32>;
@group(0) @binding(10) var<storage, read_write> hist_u: array<f32>;
@group(0) @binding(11) var<storage, read_write> hist_lam: array<f32>;
@group(0) @binding(12) var<storage, read_write> nbuf: array<f32>;
@group(0) @binding(13) var<storage, read_write> rec: array<f32>;

// x, unchanged (cfg.zero is 0), but opaque to the compiler: the driver cannot merge the sum
// that produced x into the next one (Mesa's lavapipe reassociates float sums), so the shader
// rounds exactly as its CPU twin, which has no such rewriting.
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
fn gif_pop_step(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
    let t = linear_index(gid, nwg, WG);
    if (t >= cfg.n_replicas) {
        return;
    }
    let replica = cfg.replica0 + t;
    let row = select(0u, replica / cfg.replicas_per_combo - cfg.combo0, cfg.per_combo == 1u);
    let seed = vec2<u32>(cfg.seed_lo, cfg.seed_hi);
    let l_max = cfg.l_max;
    let d_len = cfg.d_len;
    let stride = cfg.n_replicas;
    let traced = t < cfg.rec_replicas;

    if (cfg.step0 == 0u) {
        for (var p = 0u; p < NP; p = p + 1u) {
            let len = coef[row * NP + p].len;
            let n0 = coef[row * NP + p].n;
            for (var s = 0u; s < l_max; s = s + 1u) {
                let i = (s * NP + p) * stride + t;
                hist_n[i] = 0.0;
                hist_m[i] = 0.0;
                hist_v[i] = 0.0;
                hist_lam[i] = 0.0;
            }
            // All neurons have just fired: the newest slot of the ring holds N.
            let newest = ((len - 1u) * NP + p) * stride + t;
            hist_n[newest] = n0;
            hist_m[newest] = n0;
            for (var s = 0u; s < d_len; s = s + 1u) {
                nbuf[(s * NP + p) * stride + t] = 0.0;
            }
            let v0 = coef[row * NP + p].v_init_rel;
            for (var s = 0u; s < l_max; s = s + 1u) {
                hist_u[(s * NP + p) * stride + t] = v0;
            }
            state[t * NP + p] = MesoState(v0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, array<f32, 4>(0.0, 0.0, 0.0, 0.0), 0u, 0.0);
            for (var w = 0u; w < MAX_WIN; w = w + 1u) {
                wsum[(t * NP + p) * MAX_WIN + w] = vec4<u32>(0u);
            }
        }
    }

    for (var j = 0u; j < cfg.n_steps; j = j + 1u) {
        let k = cfg.step0 + j;
        for (var p = 0u; p < NP; p = p + 1u) {
            let c = coef[row * NP + p];
            var st = state[t * NP + p];
            // 1. Synaptic input arriving this step, split by sign.
            var s_ex = 0.0;
            var s_in = 0.0;
            for (var q = 0u; q < cfg.n_proj; q = q + 1u) {
                let pr = proj[row * cfg.n_proj + q];
                if (pr.tgt == p) {
                    let slot = (k + d_len - pr.delay) % d_len;
                    let sw = pr.weight * nbuf[(slot * NP + pr.src) * stride + t];
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
                st.y0 = stim[j * NP + p];
            }
            st.v_rel = c.p22 * st.v_rel + h_tot;
            // 2. Threshold of the free pool.
            let len = c.len;
            let k0 = k % len;
            let i0 = (k0 * NP + p) * stride + t;
            let n_old = hist_n[i0];
            var theta_hat = c.v_t_star_rel;
            for (var jj = 0u; jj < c.n_sfa; jj = jj + 1u) {
                st.g[jj] = st.g[jj] * c.q[jj] + c.qn[jj] * n_old;
                theta_hat = theta_hat + c.qk[jj] * st.g[jj];
            }
            // 3. Free escape rate and its spike probability (trapezoid in time).
            let lam_free = c.lambda_0 * npm_exp(min((st.v_rel - theta_hat) * c.inv_delta_v, HAZARD_CLAMP));
            let p_free = 1.0 - npm_exp(-c.half_h_ms * (st.lambda_free + lam_free));
            st.lambda_free = lam_free;
            // 4. Walk the ages, oldest first, skipping the refractory ones.
            let tbase = (row * NP + p) * l_max;
            theta_hat = theta_hat - n_old * theta[tbase * 2u + 1u];
            var x_sum = 0.0;
            var y_sum = 0.0;
            var z_sum = 0.0;
            var w_sum = 0.0;
            let n_active = len - c.k_ref;
            var slot = k0;
            for (var a = 0u; a < len; a = a + 1u) {
                let i = (slot * NP + p) * stride + t;
                let mk = hist_m[i];
                x_sum = x_sum + mk;
                if (a < n_active) {
                    let thr = keep(theta[(tbase + a) * 2u] + theta_hat);
                    theta_hat = theta_hat + hist_n[i] * theta[(tbase + a) * 2u + 1u];
                    let u = c.p22 * hist_u[i] + h_tot;
                    hist_u[i] = u;
                    let lam = c.lambda_0 * npm_exp(min((u - thr) * c.inv_delta_v, HAZARD_CLAMP));
                    var pl = c.half_h_ms * (lam + hist_lam[i]);
                    if (pl > 0.01) {
                        pl = 1.0 - npm_exp(-pl);
                    }
                    hist_lam[i] = lam;
                    let vk = hist_v[i];
                    y_sum = y_sum + pl * vk;
                    z_sum = z_sum + vk;
                    w_sum = w_sum + pl * mk;
                    let om = 1.0 - pl;
                    hist_v[i] = keep(keep(om * om) * vk) + pl * mk;
                    hist_m[i] = om * mk;
                }
                slot = slot + 1u;
                if (slot == len) {
                    slot = 0u;
                }
            }
            // 5. Expected spikes.
            let zz = z_sum + st.z;
            var p_lambda = 0.0;
            if (zz > 0.0) {
                p_lambda = (y_sum + p_free * st.z) / zz;
            }
            let nbar = keep(w_sum + p_free * st.x) + p_lambda * keep(keep(c.n - x_sum) - st.x);
            // 6. The spike count.
            var r = rng_init(seed, replica, k, PURPOSE_SPIKE + 256u * p);
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
            let omf = 1.0 - p_free;
            st.z = keep(keep(keep(omf * omf) * st.z) + st.x * p_free) + hist_v[i0];
            st.x = st.x * omf + hist_m[i0];
            hist_n[i0] = nf;
            hist_m[i0] = nf;
            hist_v[i0] = 0.0;
            hist_u[i0] = c.v_reset_rel;
            hist_lam[i0] = 0.0;
            // 8. Send n (read by targets `delay` steps later).
            nbuf[((k % d_len) * NP + p) * stride + t] = nf;
            // Recording: bins of bin_steps steps; window sums of n and n^2 in 64 bits.
            st.bin_n = st.bin_n + n;
            st.bin_nbar = st.bin_nbar + nbar;
            let k1 = k + 1u;
            if (k1 % cfg.bin_steps == 0u) {
                let bin = k1 / cfg.bin_steps - 1u;
                if (traced) {
                    let i = (((bin - cfg.rec_bin0) * cfg.rec_replicas + t) * NP + p) * 2u;
                    rec[i] = f32(st.bin_n);
                    rec[i + 1u] = st.bin_nbar;
                }
                let sq = mul_hilo(st.bin_n, st.bin_n);
                for (var w = 0u; w < cfg.n_win; w = w + 1u) {
                    if (bin >= cfg.win_lo[w] && bin < cfg.win_hi[w]) {
                        let wi = (t * NP + p) * MAX_WIN + w;
                        let old = wsum[wi];
                        let s = add64(old.xy, st.bin_n, 0u);
                        let q = add64(old.zw, sq.y, sq.x);
                        wsum[wi] = vec4<u32>(s, q);
                    }
                }
                st.bin_n = 0u;
                st.bin_nbar = 0.0;
            }
            state[t * NP + p] = st;
        }
    }
}
