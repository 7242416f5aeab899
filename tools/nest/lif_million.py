#!/usr/bin/env python3
"""10^6 independent LIF neurons in NEST 3.10, the peer of neuropop's `lif` benchmark.

The neuron of neuropop's `lif` model with its defaults (tau_m 10 ms, E_L = V_reset = -75 mV,
V_th = -50 mV, R_m 10 MOhm, no refractory period) and I = 3 nA, as NEST's iaf_psc_delta:
C_m = tau_m / R_m = 1000 pF, I_e = 3000 pA. No connections, no noise, 100 ms at dt 0.1 ms
(10^9 neuron-steps), the same as

    printf '[simulation]\\ndt = 0.1\\nt_end = 100.0\\n[[population]]\\nname = "N"\\nmodel = "lif"\\nsize = 1000000\\nparams = { I = 3.0 }\\n[record]\\nplots = false\\n' > /tmp/lif_million.toml
    neuropop run /tmp/lif_million.toml --backend cpu

Prints build and simulate times, neuron-steps per second, and the mean rate (spike counts of
the first 1000 neurons) next to the analytic rate 1 / (tau_m ln(30 / 5)) = 55.8 Hz.

Usage: /tmp/nestenv/bin/python tools/nest/lif_million.py --threads 2
"""
import argparse
import math
import time

import nest

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--neurons", type=int, default=1_000_000)
ap.add_argument("--t-end", type=float, default=100.0)
args = ap.parse_args()

nest.set_verbosity("M_ERROR")
nest.ResetKernel()
nest.resolution = 0.1
nest.local_num_threads = args.threads
t0 = time.time()
n = nest.Create("iaf_psc_delta", args.neurons, params={
    "tau_m": 10.0, "C_m": 1000.0, "E_L": -75.0, "V_reset": -75.0, "V_th": -50.0,
    "V_m": -75.0, "t_ref": 0.0, "I_e": 3000.0})
rec = nest.Create("spike_recorder")
nest.Connect(n[:1000], rec)
t1 = time.time()
nest.Simulate(args.t_end)
t2 = time.time()
steps = args.neurons * round(args.t_end / 0.1)
rate = rec.n_events / 1000 / (args.t_end / 1000.0)
print(f"build {t1 - t0:.2f} s, simulate {t2 - t1:.2f} s, {steps / (t2 - t1):.2e} neuron-steps/s "
      f"({args.threads} threads)")
print(f"mean rate {rate:.1f} Hz (analytic {1000.0 / (10.0 * math.log(30.0 / 5.0)):.1f} Hz)")
