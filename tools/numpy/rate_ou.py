#!/usr/bin/env python3
"""Vectorised NumPy peer of neuropop's rate benchmark (`neuropop bench rate`).

N independent rate populations with Ornstein-Uhlenbeck input, exactly as the Neuromatch
Academy tutorial "Neural Rate Models" (bonus section: noise-driven switching) writes them,
with every population one element of a NumPy array:

    F(x)      = 1 / (1 + exp(-a (x - theta))) - 1 / (1 + exp(a theta))      (so F(0) = 0)
    r[k+1]    = r[k] + dt/tau * (-r[k] + F(w r[k] + I_ext + eta[k]))         (forward Euler)
    eta[0]    = sigma xi[0]
    eta[k+1]  = eta[k] - dt/tau_ou * eta[k] + sqrt(2 dt/tau_ou) sigma xi[k+1]

with the tutorial's a = 1.2, theta = 2.8, tau = 1 ms, w = 5, I_ext = 0.56, sigma = 0.7,
tau_ou = 1 ms, dt = 0.1 ms, r_init = 0.2: the workload of `neuropop bench rate` (a, theta,
tau and r_init are also neuropop's `rate` defaults). The normal draws (NumPy's default
generator, PCG64 + ziggurat) are part of the timed loop, as the Philox draws are part of
neuropop's. NumPy's elementwise operations and its generator run on one thread.

Two forms of the same loop: `--form inplace` (default) updates preallocated arrays in place
(no temporaries); `--form tutorial` applies the tutorial's expressions to whole arrays as
written, allocating temporaries each step, as a notebook user would.

Prints the population-steps per second and, as a check that the dynamics are the tutorial's,
the fraction of populations in the high state (r > 0.5) at the end and the variance of eta
across populations (stationary value of the Euler scheme: sigma^2 / (1 - dt / (2 tau_ou))).

Usage: python3 -m venv /tmp/venv-np && /tmp/venv-np/bin/pip install numpy
       /tmp/venv-np/bin/python tools/numpy/rate_ou.py [--n 1000000] [--steps 1000]
           [--dtype float32|float64] [--form inplace|tutorial] [--seed 2020] [--json]
"""
import argparse
import json
import math
import time

import numpy as np

A, THETA, TAU, W, I_EXT = 1.2, 2.8, 1.0, 5.0, 0.56
SIGMA, TAU_OU, DT, R_INIT = 0.7, 1.0, 0.1, 0.2


def F(x, a, theta):
    """The tutorial's sigmoid, shifted so that F(0) = 0."""
    return (1 + np.exp(-a * (x - theta))) ** -1 - (1 + math.exp(a * theta)) ** -1


def tutorial_loop(r, eta, rng, steps, dt):
    """The tutorial's simulate_single and my_OU updates, one array element per population
    (Python float constants keep the arrays' dtype)."""
    kick = math.sqrt(2 * DT / TAU_OU) * SIGMA
    for _ in range(steps):
        r = r + DT / TAU * (-r + F(W * r + I_EXT + eta, A, THETA))
        eta = eta + DT / TAU_OU * (0.0 - eta) + kick * rng.standard_normal(r.size, dtype=dt)
    return r, eta


def coef(dt):
    """The constants in the working precision (neuropop likewise uploads f32 coefficients
    computed on the host)."""
    return {k: dt.type(v) for k, v in {
        "a": A, "theta": THETA, "w": W, "i_ext": I_EXT,
        "f0": 1.0 / (1.0 + math.exp(A * THETA)),
        "dt_tau": DT / TAU,
        "ou_decay": 1.0 - DT / TAU_OU,
        "ou_kick": math.sqrt(2.0 * DT / TAU_OU) * SIGMA,
    }.items()}


def inplace_loop(r, eta, rng, steps, c):
    """The same updates on preallocated arrays, in place (r and eta are updated)."""
    x = np.empty_like(r)
    xi = np.empty_like(r)
    for _ in range(steps):
        # x = F(w r + I_ext + eta)
        np.multiply(r, c["w"], out=x)
        x += c["i_ext"]
        x += eta
        x -= c["theta"]
        x *= -c["a"]
        np.exp(x, out=x)
        x += 1
        np.reciprocal(x, out=x)
        x -= c["f0"]
        # r += dt/tau (-r + F)
        x -= r
        x *= c["dt_tau"]
        r += x
        # eta[k+1] = (1 - dt/tau_ou) eta[k] + sqrt(2 dt/tau_ou) sigma xi[k+1]
        rng.standard_normal(out=xi, dtype=r.dtype)
        xi *= c["ou_kick"]
        eta *= c["ou_decay"]
        eta += xi


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=1_000_000, help="independent populations")
    ap.add_argument("--steps", type=int, default=1000, help="Euler steps (dt = 0.1 ms)")
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--form", choices=["inplace", "tutorial"], default="inplace",
                    help="in-place updates of preallocated arrays, or the tutorial's expressions")
    ap.add_argument("--seed", type=int, default=2020)
    ap.add_argument("--json", action="store_true", help="also print one JSON line")
    a = ap.parse_args()
    if a.n < 1 or a.steps < 1:
        ap.error("--n and --steps must be >= 1")

    dt = np.dtype(a.dtype)
    rng = np.random.default_rng(a.seed)
    r = np.full(a.n, R_INIT, dtype=dt)
    eta = rng.standard_normal(a.n, dtype=dt)
    eta *= dt.type(SIGMA)

    t0 = time.perf_counter()
    if a.form == "tutorial":
        r, eta = tutorial_loop(r, eta, rng, a.steps, dt)
    else:
        inplace_loop(r, eta, rng, a.steps, coef(dt))
    seconds = time.perf_counter() - t0

    rate = a.n * a.steps / seconds
    high = float(np.mean(r > 0.5))
    eta_var = float(np.var(eta, dtype=np.float64))
    eta_var_want = SIGMA**2 / (1.0 - DT / (2.0 * TAU_OU))
    print(f"{a.n} populations x {a.steps} steps ({a.dtype}, {a.form}) in {seconds:.3f} s: "
          f"{rate:.3e} population-steps/s (numpy {np.__version__})")
    print(f"end: {100 * high:.1f} % of populations in the high state (r > 0.5); "
          f"var(eta) {eta_var:.4f} (Euler stationary value {eta_var_want:.4f})")
    if a.json:
        print(json.dumps({
            "peer": "numpy", "numpy": np.__version__, "dtype": a.dtype, "form": a.form,
            "populations": a.n, "steps": a.steps, "seconds": seconds,
            "population_steps_per_s": rate, "fraction_high_at_end": high,
            "eta_variance": eta_var,
        }))


if __name__ == "__main__":
    main()
