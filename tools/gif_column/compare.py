#!/usr/bin/env python3
"""neuropop's GIF column (examples/gif_column.toml, mesoscopic level) against the authors'
mesoscopic implementations (traces written by run_meso_python.py / run_meso_c_nest.py into
/tmp/mesopop/traces): per-population mean and sd of A_N (1 ms bins, t >= 1 s) and Welch
power spectra averaged over frequency bands, and the wall time of neuropop for one network
and for many replicas next to the authors' timings in results/*.json (measured on the same
machine by run_all.sh).

Usage: python tools/gif_column/compare.py [--neuropop target/release/neuropop]
           [--replicas 10] [--traces /tmp/mesopop/traces] [--json out.json]
Needs numpy.
"""
import argparse
import glob
import json
import os
import re
import subprocess
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "..", "examples", "gif_column.toml")
POPS = ["L23E", "L23I", "L4E", "L4I", "L5E", "L5I", "L6E", "L6I"]
BANDS = [(1, 5), (5, 20), (20, 60), (60, 200), (200, 500)]


def welch(x, dt=0.001, seg=1000):
    """Mean periodogram over half-overlapping Hann segments of `seg` bins."""
    w = np.hanning(seg)
    out = []
    for s in range(0, len(x) - seg + 1, seg // 2):
        y = x[s:s + seg] - x[s:s + seg].mean()
        out.append(np.abs(np.fft.rfft(y * w)) ** 2 * dt / (w ** 2).sum())
    return np.fft.rfftfreq(seg, dt), np.mean(out, axis=0)


def bands(f, p):
    return [float(p[(f >= a) & (f < b)].mean()) for a, b in BANDS]


def stats(a):
    """a: [bins, pops] in Hz from t = 0, 1 ms bins."""
    a = a[1000:]
    res = {}
    for i, p in enumerate(POPS):
        f, pw = welch(a[:, i])
        res[p] = {"mean": float(a[:, i].mean()), "sd": float(a[:, i].std(ddof=1)),
                  "bands": bands(f, pw)}
    return res


def run(bin_, text, replicas, out):
    text = text.replace("seed = 1", f"seed = 1\nreplicas = {replicas}")
    text = text.replace("activity_replicas = 1", f"activity_replicas = {replicas}")
    spec = out + ".toml"
    open(spec, "w").write(text)
    t0 = time.time()
    subprocess.run([bin_, "run", spec, "--backend", "cpu", "--out", out, "--no-plots"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.time() - t0
    acts = np.stack([np.load(os.path.join(out, f"activity_{p}.npy")) for p in POPS], axis=-1)
    return wall, acts  # [bins, replica, pop]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--neuropop", default="target/release/neuropop")
    ap.add_argument("--replicas", type=int, default=10)
    ap.add_argument("--traces", default="/tmp/mesopop/traces")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    text = open(EXAMPLE).read()
    with tempfile.TemporaryDirectory() as tmp:
        wall1, act1 = run(a.neuropop, text, 1, os.path.join(tmp, "one"))
        wallr, actr = run(a.neuropop, text, a.replicas, os.path.join(tmp, "many"))
    ours = [stats(actr[:, r, :]) for r in range(actr.shape[1])]
    refs = {}
    for name in ["python-numba", "meso-c_scale1", "meso-nest_scale1"]:
        f = os.path.join(a.traces, name + ".npz")
        if os.path.exists(f):
            refs[name] = stats(np.load(f)["A"])
    print(f"{'pop':5} {'neuropop mean (se)':>20} {'sd (se)':>16} " +
          " ".join(f"{n:>13}" for n in refs))
    table = {}
    for p in POPS:
        m = np.array([o[p]["mean"] for o in ours])
        s = np.array([o[p]["sd"] for o in ours])
        se = lambda x: x.std(ddof=1) / np.sqrt(len(x))
        row = f"{p:5} {m.mean():9.3f} ({se(m):.3f})   {s.mean():7.3f} ({se(s):.3f}) "
        row += " ".join(f"{r[p]['mean']:6.3f}/{r[p]['sd']:5.3f}" for r in refs.values())
        print(row)
        bo = np.array([o[p]["bands"] for o in ours])
        table[p] = {"mean": m.mean(), "mean_se": se(m), "sd": s.mean(), "sd_se": se(s),
                    "bands": bo.mean(0).tolist(), "bands_se": (bo.std(0, ddof=1) /
                                                              np.sqrt(len(bo))).tolist(),
                    "refs": {n: r[p] for n, r in refs.items()}}
    print("\nPower spectral density of A_N (Hz^2/Hz) averaged over bands " +
          ", ".join(f"{a}-{b} Hz" for a, b in BANDS) + ": neuropop (mean of replicas) / refs")
    for p in POPS:
        t = table[p]
        print(f"{p:5} " + " ".join(f"{x:8.2e}" for x in t["bands"]) + "  | " +
              " | ".join(" ".join(f"{x:8.2e}" for x in r["bands"]) for r in t["refs"].values()))
    timings = {}
    for f in sorted(glob.glob(os.path.join(HERE, "results", "*.json"))):
        r = json.load(open(f))
        if r.get("scale") == 1.0 and r.get("T_s") == 10.0:
            timings[r["impl"]] = r["wall_s"]
    print(f"\nwall time for 10 s: neuropop one network {wall1:.2f} s, {a.replicas} replicas "
          f"{wallr:.2f} s ({wallr / a.replicas:.3f} s each); authors': " +
          ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()))
    if a.json:
        json.dump({"table": table, "wall_one_s": wall1, "wall_replicas_s": wallr,
                   "replicas": a.replicas, "authors_wall_s": timings},
                  open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
