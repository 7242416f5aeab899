"""Print a table of results/*.json (wall time, A_N mean/sd per population)."""
import glob, json, os
HERE = os.path.dirname(os.path.abspath(__file__))
for f in sorted(glob.glob(os.path.join(HERE, "results", "*.json"))):
    r = json.load(open(f))
    line = "%-28s T=%5.2fs scale=%-4g wall=%7.2fs (%.3f s/bio-s)" % (
        os.path.basename(f), r["T_s"], r["scale"], r["wall_s"], r["wall_s_per_bio_s"])
    if "jit_warmup_wall_s" in r:
        line += " jit=%.1fs" % r["jit_warmup_wall_s"]
    print(line)
    if "A_N" in r:
        print("    A_N mean/sd Hz (t>=%gs): " % r["t_skip_s"] +
              " ".join("%s %.3f/%.3f" % (k, v["mean_Hz"], v["sd_Hz"]) for k, v in r["A_N"].items()))
