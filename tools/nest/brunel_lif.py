#!/usr/bin/env python3
"""Brunel's (2000) network in NEST 3.10, as examples/brunel_lif.toml, for neuropop's
comparisons: 10000 E + 2500 I iaf_psc_delta (C_m 1, tau_m 20 ms, t_ref 2 ms, V_th 20 mV,
V_reset 10 mV, E_L 0, V_m 0), fixed in-degree C_E = 1000, C_I = 250, J = 0.1 mV, g = 5,
delay 1.5 ms, Poisson drive eta = 1.5 (rate eta nu_th C_E), dt 0.1 ms, 1000 ms. Prints the
build and simulate wall times and the mean rate.

Usage: /tmp/nestenv/bin/python tools/nest/brunel_lif.py [--threads 2] [--seed 1]
"""
import argparse
import time

import nest

NE, NI, CE, CI = 10000, 2500, 1000, 250
J, G, DELAY, ETA = 0.1, 5.0, 1.5, 1.5
TAU_M, THETA = 20.0, 20.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.resolution = 0.1
    nest.local_num_threads = a.threads
    nest.rng_seed = a.seed
    nu_th = THETA / (J * CE * TAU_M)
    t0 = time.time()
    nest.SetDefaults("iaf_psc_delta", {"C_m": 1.0, "tau_m": TAU_M, "t_ref": 2.0, "E_L": 0.0,
                                       "V_reset": 10.0, "V_m": 0.0, "V_th": THETA})
    exc = nest.Create("iaf_psc_delta", NE)
    inh = nest.Create("iaf_psc_delta", NI)
    noise = nest.Create("poisson_generator", params={"rate": 1000.0 * ETA * nu_th * CE})
    rec = nest.Create("spike_recorder")
    nest.Connect(noise, exc + inh, syn_spec={"weight": J, "delay": DELAY})
    nest.Connect(exc + inh, rec)
    nest.Connect(exc, exc + inh, {"rule": "fixed_indegree", "indegree": CE},
                 {"weight": J, "delay": DELAY})
    nest.Connect(inh, exc + inh, {"rule": "fixed_indegree", "indegree": CI},
                 {"weight": -G * J, "delay": DELAY})
    t1 = time.time()
    nest.Simulate(1000.0)
    t2 = time.time()
    rate = rec.get("n_events") / (NE + NI)
    print(f"build {t1 - t0:.2f} s, simulate {t2 - t1:.2f} s, total {t2 - t0:.2f} s, "
          f"mean rate {rate:.2f} Hz")


if __name__ == "__main__":
    main()
