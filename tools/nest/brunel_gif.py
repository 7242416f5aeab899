#!/usr/bin/env python3
"""The Brunel GIF network (examples/brunel_gif.toml) in NEST 3.10, for neuropop's comparisons.

Builds 800 E + 200 I GIF neurons (times --scale), two adaptation kernels, fixed in-degree
0.2 N_pre (times --scale), PSC amplitudes 25 pA (E) and -62.5 pA (I), delay 1 ms, I_e 300 pA
and a step of 250 pA (20 mV x g_L) at 1500 ms to both populations, dt 0.5 ms, 2000 ms, at
the microscopic level (gif_psc_exp) or the mesoscopic level (gif_pop_psc_exp, weight x 0.2
per spike of multiplicity n, as neuropop's --level meso). Prints per seed the build and
simulate wall times and the process's peak memory, then per population the mean (and
standard error over seeds) of the mean and variance of A_N (1 ms bins) in [500, 1500) ms and
[1600, 2000) ms, the windows of neuropop's example.

Usage: python3 -m venv /tmp/nestenv && /tmp/nestenv/bin/pip install nest-simulator numpy
       /tmp/nestenv/bin/python tools/nest/brunel_gif.py --level micro --seeds 10
       /tmp/nestenv/bin/python tools/nest/brunel_gif.py --level micro --scale 20 --threads 2 --seeds 1
       /tmp/nestenv/bin/python tools/nest/brunel_gif.py --level meso --seeds 10
"""
import argparse
import resource
import time

import numpy as np
import nest

DT, T_END = 0.5, 2000.0
C_M, TAU_M = 250.0, 20.0
PARAMS = {"C_m": C_M, "E_L": 0.0, "V_reset": 0.0, "V_T_star": 15.0, "Delta_V": 2.5,
          "lambda_0": 10.0, "t_ref": 4.0, "tau_sfa": [100.0, 1000.0], "q_sfa": [10.0, 1.0],
          "tau_syn_ex": 3.0, "tau_syn_in": 6.0, "I_e": 300.0}
WEIGHT = {"E": 25.0, "I": -62.5}
WINDOWS = [(500, 1500), (1600, 2000)]


def build(level, scale, seed, threads):
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.resolution = DT
    nest.local_num_threads = threads
    nest.rng_seed = seed
    sizes = {"E": 800 * scale, "I": 200 * scale}
    pops, recs = {}, {}
    for name, n in sizes.items():
        if level == "micro":
            pops[name] = nest.Create("gif_psc_exp", n, params=dict(PARAMS, g_L=C_M / TAU_M, V_m=0.0))
        else:
            pops[name] = nest.Create("gif_pop_psc_exp", params=dict(PARAMS, tau_m=TAU_M, N=n, len_kernel=-1))
        recs[name] = nest.Create("spike_recorder")
        nest.Connect(pops[name], recs[name])
        step = nest.Create("step_current_generator",
                           params={"amplitude_times": [1500.0], "amplitude_values": [250.0]})
        nest.Connect(step, pops[name])
    for src in pops:
        for tgt in pops:
            if level == "micro":
                nest.Connect(pops[src], pops[tgt],
                             {"rule": "fixed_indegree", "indegree": int(0.2 * sizes[src])},
                             {"weight": WEIGHT[src], "delay": 1.0})
            else:
                nest.Connect(pops[src], pops[tgt], syn_spec={"weight": WEIGHT[src] * 0.2, "delay": 1.0})
    return sizes, recs


def activity(rec, n):
    times = rec.get("events")["times"]
    counts = np.histogram(times, bins=np.arange(0.0, T_END + 1.0, 1.0))[0]
    return counts / n * 1000.0  # Hz, 1 ms bins


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--level", choices=["micro", "meso"], default="micro")
    ap.add_argument("--scale", type=int, default=1)
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    stats = {"E": [], "I": []}
    for seed in range(1, a.seeds + 1):
        t0 = time.time()
        sizes, recs = build(a.level, a.scale, seed, a.threads)
        t1 = time.time()
        nest.Simulate(T_END)
        t2 = time.time()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"seed {seed}: build {t1 - t0:.2f} s, simulate {t2 - t1:.2f} s, peak memory {peak:.2f} GiB")
        for name in stats:
            a_n = activity(recs[name], sizes[name])
            stats[name].append([f(a_n[lo:hi]) for lo, hi in WINDOWS for f in (np.mean, np.var)])
    for name, rows in stats.items():
        r = np.array(rows)
        se = r.std(axis=0, ddof=1) / np.sqrt(len(r)) if len(r) > 1 else np.zeros(r.shape[1])
        for w, (lo, hi) in enumerate(WINDOWS):
            m, v = r[:, 2 * w].mean(), r[:, 2 * w + 1].mean()
            print(f"{name} [{lo}, {hi}) ms: mean A_N {m:.3f} +- {se[2 * w]:.3f} Hz, "
                  f"var A_N {v:.2f} +- {se[2 * w + 1]:.2f} Hz^2")


if __name__ == "__main__":
    main()
