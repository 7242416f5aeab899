#!/usr/bin/env python3
"""The Potjans & Diesmann (2014) cortical microcircuit in NEST 3.10, for neuropop's comparisons.

Builds the network as NEST's PyNEST example Potjans_2014 does (nest-simulator,
pynest/examples/Potjans_2014/, last present at commit e0a0745546eb, removed from the
repository before v3.10): 8 populations (L23E L23I L4E L4I L5E L5I L6E L6I) of iaf_psc_exp
(C_m 250 pF, tau_m 10 ms, E_L = V_reset = -65 mV, V_th -50 mV, t_ref 2 ms, tau_syn 0.5 ms),
N = round(full N x --scale), fixed_total_number connections with
round(N_syn_full x scale x k_scale) synapses, N_syn_full = ln(1 - p) / ln(1 - 1/(N_post N_pre)),
PSC weights from PSP 0.15 mV (x2 for L4E->L23E, x g = -4 from inhibitory sources), normal
weights (rel. sd 0.1, redrawn to keep their sign) and delays (1.5 / 0.75 ms, rel. sd 0.5,
redrawn >= 0.5 dt), Poisson background 8 Hz x round(K_ext x k_scale) with delay 1.5 ms,
weights / sqrt(k_scale) and a DC compensation from full_mean_rates when k_scale != 1,
per-population normal initial V_m ('optimized'), no thalamic or DC stimulus, dt 0.1 ms.
Simulates --t-presim (transient, discarded) then --t-sim ms and reports per population the
mean rate over all neurons (zeros included, spikes with t_presim <= t <= t_presim + t_sim, as
the example's helpers.firing_rates) and the mean CV of ISIs (std/mean, ddof 0, over neurons
with >= 2 ISIs in that window; the example computes no CV), the build (create + connect +
Prepare/Cleanup, as the example times it) and simulate wall times, the peak RSS and the number
of connections. --write-params dumps every number needed to rebuild the network elsewhere.

Usage: /tmp/venv-nest/bin/python tools/nest/microcircuit.py --scale 0.1 --k-scale 1.0 --seed 1 \
           --json /tmp/nest_mc/scale0.1_seed1.json
       /tmp/venv-nest/bin/python tools/nest/microcircuit.py --scale 1.0 --threads 4
       /tmp/venv-nest/bin/python tools/nest/microcircuit.py --write-params tools/nest/microcircuit_params.json
"""
import argparse
import json
import resource
import time

import numpy as np

POPS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
FULL_N = np.array([20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948])
FULL_MEAN_RATES = np.array([0.903, 2.965, 4.414, 5.876, 7.569, 8.633, 1.105, 7.829])
# connection probabilities, [target][source]
CONN_PROBS = np.array([
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.0, 0.0076, 0.0],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.0, 0.0042, 0.0],
    [0.0077, 0.0059, 0.0497, 0.135, 0.0067, 0.0003, 0.0453, 0.0],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.0, 0.1057, 0.0],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.0],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06, 0.3158, 0.0086, 0.0],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001, 0.0034, 0.0005, 0.0277, 0.008, 0.0658, 0.1443],
])
K_EXT = np.array([1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100])
BG_RATE = 8.0            # Hz per external input
DELAY_POISSON = 1.5      # ms
PSP_EXC_MEAN = 0.15      # mV
WEIGHT_REL_STD = 0.1
G = -4.0
DELAY_EXC_MEAN, DELAY_INH_MEAN, DELAY_REL_STD = 1.5, 0.75, 0.5
V0_MEAN = [-68.28, -63.16, -63.33, -63.45, -63.11, -61.66, -66.72, -61.43]
V0_STD = [5.36, 4.57, 4.74, 4.94, 4.94, 4.55, 5.46, 4.48]
C_M, TAU_M, TAU_SYN = 250.0, 10.0, 0.5
# The example sets only these on the neurons; C_m = 250 pF and tau_m = 10 ms are
# iaf_psc_exp's defaults, set here explicitly with the same values.
NEURON = {"C_m": C_M, "tau_m": TAU_M, "E_L": -65.0, "V_th": -50.0, "V_reset": -65.0,
          "t_ref": 2.0, "tau_syn_ex": TAU_SYN, "tau_syn_in": TAU_SYN}
DT = 0.1


def exc_inh_matrix(val_exc, val_inh):
    m = np.zeros((8, 8))
    m[:, 0::2] = val_exc
    m[:, 1::2] = val_inh
    return m


def psc_over_psp(c_m, tau_m, tau_syn):
    """helpers.postsynaptic_potential_to_current: PSC amplitude (pA) per PSP peak (mV)."""
    sub = 1.0 / (tau_syn - tau_m)
    pre = tau_m * tau_syn / c_m * sub
    frac = (tau_m / tau_syn) ** sub
    return 1.0 / (pre * (frac ** tau_m - frac ** tau_syn))


def derive(scale, k_scale):
    """network.Network.__derive_parameters with poisson_input True, no thalamic input."""
    prod = np.outer(FULL_N, FULL_N)
    full_syn = np.log(1.0 - CONN_PROBS) / np.log((prod - 1.0) / prod)
    num_neurons = np.round(FULL_N * scale).astype(int)
    num_syn = np.round(full_syn * scale * k_scale).astype(int)
    ext_indeg = np.round(K_EXT * k_scale).astype(int)
    psp = exc_inh_matrix(PSP_EXC_MEAN, PSP_EXC_MEAN * G)
    psp[0, 2] = 2.0 * PSP_EXC_MEAN
    factor = psc_over_psp(C_M, TAU_M, TAU_SYN)
    psc_full = psp * factor
    psc_ext_full = PSP_EXC_MEAN * factor
    psc, psc_ext, dc = psc_full, psc_ext_full, np.zeros(8)
    if k_scale != 1:  # helpers.adjust_weights_and_input_to_synapse_scaling
        psc = psc_full / np.sqrt(k_scale)
        psc_ext = psc_ext_full / np.sqrt(k_scale)
        indeg = full_syn / FULL_N[:, np.newaxis]
        input_rec = np.sum(psc_full * indeg * FULL_MEAN_RATES, axis=1)
        input_ext = psc_ext_full * K_EXT * BG_RATE
        dc = 0.001 * TAU_SYN * (1.0 - np.sqrt(k_scale)) * (input_rec + input_ext)
    return {"num_neurons": num_neurons, "num_synapses": num_syn, "ext_indegrees": ext_indeg,
            "full_num_synapses": full_syn, "psc_over_psp": factor, "weight_matrix": psc,
            "weight_ext": psc_ext, "dc_amp": dc, "delay_matrix": exc_inh_matrix(DELAY_EXC_MEAN,
                                                                                DELAY_INH_MEAN)}


def quiet(nest):
    try:
        nest.verbosity = nest.VerbosityLevel.ERROR
    except AttributeError:
        nest.set_verbosity("M_ERROR")


def build(d, seed, threads, t_presim):
    import nest
    quiet(nest)
    nest.ResetKernel()
    nest.local_num_threads = threads
    nest.resolution = DT
    nest.rng_seed = seed
    pops = []
    for i in range(8):
        p = nest.Create("iaf_psc_exp", int(d["num_neurons"][i]))
        p.set(dict(NEURON, I_e=float(d["dc_amp"][i])))
        p.set(V_m=nest.random.normal(V0_MEAN[i], V0_STD[i]))
        pops.append(p)
    # the example records from t = 0 and analyses [t_presim, t_presim + t_sim] (both ends
    # included); a recorder records t > start, so start one step early
    recs = nest.Create("spike_recorder", 8, params={"start": max(t_presim - DT, 0.0)})
    bg = nest.Create("poisson_generator", 8)
    bg.rate = (BG_RATE * d["ext_indegrees"]).astype(float).tolist()
    for i, tgt in enumerate(pops):
        for j, src in enumerate(pops):
            w = d["weight_matrix"][i][j]
            wmin, wmax = (-np.inf, 0.0) if w < 0 else (0.0, np.inf)
            dl = d["delay_matrix"][i][j]
            syn = {"synapse_model": "static_synapse",
                   "weight": nest.math.redraw(nest.random.normal(mean=w, std=abs(w * WEIGHT_REL_STD)),
                                              min=wmin, max=wmax),
                   "delay": nest.math.redraw(nest.random.normal(mean=dl, std=dl * DELAY_REL_STD),
                                             min=nest.resolution - 0.5 * nest.resolution,
                                             max=np.inf)}
            nest.Connect(src, tgt, {"rule": "fixed_total_number", "N": int(d["num_synapses"][i][j])},
                         syn)
    for i, tgt in enumerate(pops):
        nest.Connect(tgt, recs[i])
        nest.Connect(bg[i], tgt, {"rule": "all_to_all"},
                     {"synapse_model": "static_synapse", "weight": float(d["weight_ext"]),
                      "delay": DELAY_POISSON})
    nest.Prepare()
    nest.Cleanup()
    return nest, pops, recs


def analyse(pop, rec, t0, t1):
    ev = rec.get("events")
    s, t = np.asarray(ev["senders"]), np.asarray(ev["times"])
    keep = (t >= t0) & (t <= t1)
    s, t = s[keep], t[keep]
    first, n = pop[0].global_id, len(pop)
    counts = np.bincount(s - first, minlength=n)
    rates = counts * 1000.0 / (t1 - t0)
    order = np.lexsort((t, s))
    s, t = s[order], t[order]
    isi = np.diff(t)
    same = s[1:] == s[:-1]
    isi, owner = isi[same], s[1:][same] - first
    n_isi = np.bincount(owner, minlength=n)
    sums = np.bincount(owner, weights=isi, minlength=n)
    sq = np.bincount(owner, weights=isi * isi, minlength=n)
    ok = n_isi >= 2
    mean = sums[ok] / n_isi[ok]
    var = np.maximum(sq[ok] / n_isi[ok] - mean * mean, 0.0)
    cv = np.sqrt(var) / mean
    return {"N": n, "rate_hz": float(rates.mean()), "rate_sd_hz": float(rates.std()),
            "n_spikes": int(counts.sum()),
            "cv_isi": float(cv.mean()) if cv.size else None, "n_cv_neurons": int(ok.sum())}


def params_json(path):
    d = derive(1.0, 1.0)
    try:
        import nest
        quiet(nest)
        defaults = nest.GetDefaults("iaf_psc_exp")
        other = {k: defaults[k] for k in ("rho", "delta", "I_e") if k in defaults}
    except Exception:  # noqa: BLE001
        other = {}
    out = {
        "source": "nest-simulator pynest/examples/Potjans_2014 (network_params.py, sim_params.py, "
                  "stimulus_params.py, network.py, helpers.py) at commit "
                  "e0a0745546eb75f7d50a7e433c32d0c2b7376513 (removed from the repo before v3.10)",
        "populations": POPS,
        "matrix_convention": "[target][source], populations in the order above",
        "full_num_neurons": FULL_N.tolist(),
        "full_mean_rates_hz": FULL_MEAN_RATES.tolist(),
        "conn_probs": CONN_PROBS.tolist(),
        "synapse_number_formula": "N_syn_full[i][j] = ln(1 - p[i][j]) / ln((N_i N_j - 1) / (N_i N_j)), "
                                  "N = full_num_neurons (i target, j source); scaled: "
                                  "round(N_syn_full * N_scaling * K_scaling); connect with "
                                  "fixed_total_number (sources and targets drawn uniformly with "
                                  "replacement, autapses and multapses allowed); "
                                  "num_neurons = round(full_num_neurons * N_scaling)",
        "full_num_synapses_unrounded": d["full_num_synapses"].tolist(),
        "full_num_synapses": np.round(d["full_num_synapses"]).astype(int).tolist(),
        "full_num_synapses_total": int(np.round(d["full_num_synapses"]).sum()),
        "K_ext": K_EXT.tolist(),
        "K_ext_scaled": "round(K_ext * K_scaling)",
        "bg_rate_hz": BG_RATE,
        "poisson_input": "one poisson_generator per population with rate bg_rate * K_ext_scaled, "
                         "all_to_all to the population (independent train per neuron), static "
                         "weight PSC_ext, delay delay_poisson",
        "delay_poisson_ms": DELAY_POISSON,
        "PSP_exc_mean_mV": PSP_EXC_MEAN,
        "g": G,
        "PSP_L4E_to_L23E_mV": 2 * PSP_EXC_MEAN,
        "PSC_over_PSP_formula": "sub = 1/(tau_syn - tau_m); pre = tau_m tau_syn / C_m * sub; "
                                "frac = (tau_m/tau_syn)**sub; PSC/PSP = 1/(pre (frac**tau_m - "
                                "frac**tau_syn)) [pA/mV], C_m 250 pF, tau_m 10 ms, tau_syn 0.5 ms",
        "PSC_over_PSP_pA_per_mV": d["psc_over_psp"],
        "PSC_exc_mean_pA": d["weight_ext"],
        "PSC_ext_pA": d["weight_ext"],
        "weight_matrix_pA": d["weight_matrix"].tolist(),
        "weight_rel_std": WEIGHT_REL_STD,
        "weight_distribution": "normal(mean w, std |w| * weight_rel_std) redrawn into [0, inf) for "
                               "w >= 0 and (-inf, 0] for w < 0 (nest.math.redraw); external "
                               "(Poisson) weight is fixed, not drawn",
        "delay_exc_mean_ms": DELAY_EXC_MEAN,
        "delay_inh_mean_ms": DELAY_INH_MEAN,
        "delay_rel_std": DELAY_REL_STD,
        "delay_matrix_ms": d["delay_matrix"].tolist(),
        "delay_distribution": "normal(mean d, std d * delay_rel_std) redrawn into [0.5 dt, inf) "
                              "(nest.math.redraw min = resolution - 0.5 resolution); NEST then "
                              "rounds to the dt grid, so the minimum delay is dt",
        "neuron_model": "iaf_psc_exp",
        "neuron_params": dict(NEURON, **other),
        "neuron_params_note": "the example sets E_L, V_th, V_reset, t_ref, tau_syn_ex/in and I_e; "
                              "C_m and tau_m are iaf_psc_exp defaults (250 pF, 10 ms)",
        "V0_type": "optimized",
        "V0_mean_mV": V0_MEAN,
        "V0_std_mV": V0_STD,
        "V0_distribution": "V_m(0) ~ normal(V0_mean[pop], V0_std[pop]), not truncated",
        "K_scaling_compensation": "if K_scaling != 1: W = W_full / sqrt(K_scaling), PSC_ext = "
                                  "PSC_ext_full / sqrt(K_scaling), I_e[i] = 0.001 * tau_syn * "
                                  "(1 - sqrt(K_scaling)) * (sum_j W_full[i][j] * "
                                  "(N_syn_full[i][j] / full_num_neurons[i]) * full_mean_rates[j] "
                                  "+ PSC_ext_full * K_ext[i] * bg_rate) [pA] (unrounded full "
                                  "synapse numbers, full K_ext); else I_e = 0",
        "thalamic_input": False,
        "dc_stimulus": False,
        "sim_resolution_ms": DT,
        "t_presim_ms": 500.0,
        "t_sim_ms": 1000.0,
        "analysis": "rates: spikes with t_presim <= t <= t_presim + t_sim, count * 1000 / t_sim per "
                    "neuron, mean over all neurons of the population (zeros included); CV: per "
                    "neuron std/mean (ddof 0) of its ISIs in that window, neurons with >= 2 ISIs, "
                    "mean over those neurons (not in the example)",
    }
    with open(path, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    print(f"wrote {path}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--scale", type=float, default=0.1, help="N_scaling (example default 0.1)")
    ap.add_argument("--k-scale", type=float, default=1.0,
                    help="K_scaling (the example's default is 0.1; 1.0 keeps full in-degrees)")
    ap.add_argument("--t-presim", type=float, default=500.0)
    ap.add_argument("--t-sim", type=float, default=1000.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--json", help="write the results here")
    ap.add_argument("--write-params", help="write the network parameters here and exit")
    a = ap.parse_args()
    if a.write_params:
        params_json(a.write_params)
        return
    d = derive(a.scale, a.k_scale)
    if d["num_synapses"].sum() / a.threads > 1.3e8:
        # NEST allows at most 134217726 connections per virtual process and synapse model
        # (the full-scale network, 2.99e8 synapses, needs >= 3 threads; the example uses 4)
        print(f"warning: {d['num_synapses'].sum()} synapses on {a.threads} threads will likely "
              "exceed NEST's per-thread connection limit; use more --threads")
    t0 = time.time()
    nest, pops, recs = build(d, a.seed, a.threads, a.t_presim)
    t1 = time.time()
    rss_build = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    n_conn = int(nest.num_connections)
    if a.t_presim > 0:
        nest.Simulate(a.t_presim)
    t2 = time.time()
    nest.Simulate(a.t_sim)
    t3 = time.time()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    res = {"scale": a.scale, "k_scale": a.k_scale, "t_presim_ms": a.t_presim, "t_sim_ms": a.t_sim,
           "seed": a.seed, "threads": a.threads, "nest_version": nest.__version__,
           "build_s": t1 - t0, "presim_s": t2 - t1, "sim_s": t3 - t2, "simulate_s": t3 - t1,
           "peak_rss_after_build_gib": rss_build, "peak_rss_gib": rss,
           "n_synapses": n_conn,
           "n_synapses_note": "nest.num_connections: recurrent + Poisson->neuron + neuron->recorder",
           "n_recurrent_synapses": int(d["num_synapses"].sum()),
           "dc_amp_pA": d["dc_amp"].tolist(), "weight_ext_pA": float(d["weight_ext"]),
           "populations": {}}
    w0, w1 = a.t_presim, a.t_presim + a.t_sim
    for name, pop, rec in zip(POPS, pops, recs):
        res["populations"][name] = analyse(pop, rec, w0, w1)
    print(f"scale {a.scale} k_scale {a.k_scale} seed {a.seed} threads {a.threads}: build "
          f"{res['build_s']:.1f} s, presim {res['presim_s']:.1f} s, sim {res['sim_s']:.1f} s, "
          f"peak RSS {rss:.2f} GiB, {n_conn} connections")
    for name, p in res["populations"].items():
        print(f"  {name:5s} N {p['N']:6d}  rate {p['rate_hz']:7.3f} Hz  CV "
              f"{'  n/a' if p['cv_isi'] is None else format(p['cv_isi'], '.3f')} "
              f"({p['n_cv_neurons']} neurons)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)
            f.write("\n")


if __name__ == "__main__":
    main()
