#!/usr/bin/env python3
"""Reference values of the LIF moment activation (docs/models.md, section 3) at 40 digits.

Writes tests/data/moments_reference.csv: mu_bar, sigma_bar, rate, std, fano, chi with the
defaults L = 0.05 /ms, V_th = 20 mV, V_res = 0 mV, T_ref = 5 ms, each value computed with
mpmath at mp.dps = 40 and written with 17 significant digits.

The route is independent of neuropop's f64 reference (src/models/moments/reference.rs):
    G = int_lb^ub g(x) dx                      (tanh-sinh quadrature with break points)
    H = int_lb^ub h(x) dx, with the order of integration swapped so that the inner integral
        is closed-form: int_c^ub exp(x^2) dx = sqrt(pi)/2 (erfi(ub) - erfi(c)), giving
    H = sqrt(pi)/2 [ (erfi(ub) - erfi(lb)) K(lb) + int_lb^ub exp(-u^2) g(u)^2 (erfi(ub) - erfi(u)) du ]
        where K(lb) = int_{-inf}^lb exp(-u^2) g(u)^2 du = exp(-lb^2) h(lb).

Usage: python3 -m venv /tmp/mpenv && /tmp/mpenv/bin/pip install mpmath
       /tmp/mpenv/bin/python tools/moments_reference.py [out.csv]
"""
import sys
from mpmath import mp, mpf, sqrt, exp, erfc, erfi, quad, pi, log, inf

mp.dps = 40
L, VTH, VRES, TREF = mpf("0.05"), mpf(20), mpf(0), mpf(5)


def g(x):
    return sqrt(pi) / 2 * exp(x * x) * erfc(-x)


def breaks(a, b):
    """Break points for integrands with structure near b (scale 1/|b|), near 0 and over
    decades of |x| (the 1/|x| tails)."""
    pts = {a, b}
    s = 1 / max(mpf(1), abs(b))
    for k in range(-3, 6):
        p = b - mpf(10) ** k * s
        if a < p < b:
            pts.add(p)
    for p in [0, 1, -1, 3, -3]:
        if a < p < b:
            pts.add(mpf(p))
    for k in range(0, 7):
        for m in (1, 3):
            p = -mpf(m) * mpf(10) ** k
            if a < p < b:
                pts.add(p)
    return sorted(pts)


def h_at(x):
    """h(x) = int_0^inf exp(2 x v - v^2) g(x - v)^2 dv for x <= 0 (or any x, slower)."""
    s = 1 / (1 + abs(x))
    pts = [mpf(0)] + [mpf(10) ** k * s for k in range(-3, 3)] + [inf]
    return quad(lambda v: exp(2 * x * v - v * v) * g(x - v) ** 2, pts)


def moments(mu_bar, sigma_bar):
    ub = (VTH * L - mu_bar) / (sqrt(L) * sigma_bar)
    lb = (VRES * L - mu_bar) / (sqrt(L) * sigma_bar)
    pts = breaks(lb, ub)
    G = quad(g, pts)
    K_lb = exp(-lb * lb) * h_at(lb)
    inner = quad(lambda u: exp(-u * u) * g(u) ** 2 * (erfi(ub) - erfi(u)), pts)
    H = sqrt(pi) / 2 * ((erfi(ub) - erfi(lb)) * K_lb + inner)
    mu = 1 / (TREF + 2 / L * G)
    var_t = 8 / L**2 * H
    fano = var_t * mu**2
    std = sqrt(var_t * mu**3)
    chi = 2 * mu**2 * (g(ub) - g(lb)) / (L ** mpf(1.5) * std)
    return mu, std, fano, chi


def grid():
    mus = [mpf(i) / 2 for i in range(-20, 21)] + [mpf("0.999"), mpf("1.001"), mpf("0.9"), mpf("1.1")]
    sigmas = ["0.001", "0.01", "0.05", "0.1", "0.2", "0.35", "0.5", "0.75", "1", "1.5", "2",
              "3", "5", "7", "10", "15", "20"]
    out = []
    for m in mus:
        for s in sigmas:
            out.append((m, mpf(s)))
    return out


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/data/moments_reference.csv"
    rows = []
    pts = grid()
    for i, (m, s) in enumerate(pts):
        ub = (VTH * L - m) / (sqrt(L) * s)
        if ub > 6:
            # Rate below 1e-16 /ms: far subthreshold, nothing to test against.
            continue
        vals = moments(m, s)
        rows.append((m, s) + vals)
        if i % 50 == 0:
            print(f"{i}/{len(pts)}", file=sys.stderr, flush=True)
    with open(path, "w") as f:
        f.write("# LIF moment activation, mpmath dps=40 (tools/moments_reference.py); "
                "L=0.05/ms V_th=20mV V_res=0mV T_ref=5ms; rate and std in spikes/ms (std per sqrt(ms))\n")
        f.write("mu_bar,sigma_bar,rate,std,fano,chi\n")
        for r in rows:
            f.write(",".join(mp.nstr(v, 17, strip_zeros=False, min_fixed=-5, max_fixed=5) if i > 1
                             else mp.nstr(v, 17) for i, v in enumerate(r)) + "\n")


if __name__ == "__main__":
    main()
