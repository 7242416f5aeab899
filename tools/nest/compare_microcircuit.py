#!/usr/bin/env python3
"""neuropop's cortical microcircuit (examples/microcircuit.toml) against NEST's over seeds:
runs `neuropop run` for each seed (the example's scale, or --scale), reads each run's
per-population rate and CV of ISIs from meta.json, and prints mean +- sd over seeds next to
a NEST summary written by tools/nest/microcircuit.py runs (a JSON with per-population
rate_mean_hz, rate_sd_hz, cv_mean, cv_sd).

Usage: python3 tools/nest/compare_microcircuit.py --nest /tmp/nest_mc/summary_0.1.json \
           [--neuropop target/release/neuropop] [--seeds 1 2 3 4 5] [--backend cpu] \
           [--scale 0.1] [--json out.json]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
EXAMPLE = os.path.join(HERE, "..", "..", "examples", "microcircuit.toml")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nest", required=True)
    ap.add_argument("--neuropop", default="target/release/neuropop")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--scale", type=float, default=None, help="scale.neurons")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    nest = json.load(open(a.nest))["populations"]
    text = open(EXAMPLE).read()
    if a.scale is not None:
        text = re.sub(r"(?m)^neurons = .*$", f"neurons = {a.scale}", text)
    ours = {}
    secs = []
    with tempfile.TemporaryDirectory() as tmp:
        spec = os.path.join(tmp, "microcircuit.toml")
        open(spec, "w").write(text)
        for s in a.seeds:
            out = os.path.join(tmp, f"seed{s}")
            t0 = time.time()
            subprocess.run([a.neuropop, "run", spec, "--seed", str(s), "--backend", a.backend,
                            "--out", out, "--no-plots"], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            secs.append(time.time() - t0)
            meta = json.load(open(os.path.join(out, "meta.json")))
            stats = meta.get("model", meta)["spike_statistics"]
            for st in stats:
                ours.setdefault(st["population"], {"rate": [], "cv": []})
                ours[st["population"]]["rate"].append(st["rate_hz"][0])
                ours[st["population"]]["cv"].append(st["cv_isi"][0])
    rows = []
    print(f"{'pop':6} {'neuropop rate':>16} {'NEST rate':>16} {'diff':>7} "
          f"{'neuropop CV':>14} {'NEST CV':>14}")
    for p, v in ours.items():
        rm, rs = statistics.mean(v["rate"]), statistics.stdev(v["rate"])
        cm, cs = statistics.mean(v["cv"]), statistics.stdev(v["cv"])
        n = nest[p]
        d = rm / n["rate_mean_hz"] - 1.0
        print(f"{p:6} {rm:7.3f} +- {rs:5.3f} {n['rate_mean_hz']:7.3f} +- {n['rate_sd_hz']:5.3f} "
              f"{100 * d:+6.1f}% {cm:6.3f} +- {cs:5.3f} {n['cv_mean']:6.3f} +- {n['cv_sd']:5.3f}")
        rows.append({"population": p, "rate_mean_hz": rm, "rate_sd_hz": rs, "cv_mean": cm,
                     "cv_sd": cs, "nest": n})
    print(f"wall time per run (s): {', '.join(f'{x:.2f}' for x in secs)}")
    if a.json:
        json.dump({"seeds": a.seeds, "backend": a.backend, "rows": rows, "seconds": secs},
                  open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
