"""Time the author's mesoscopic Python implementation (benchmarking/sim4.py, with or
without Numba) on the GIF column, 10 s biological time, dt = 0.1 ms, dt_rec = 1 ms,
no stimulus (B = 0), as in benchmarking/PDmodel_mesopython.py.

The author's code is imported from $MESOPOP_DIR/benchmarking (default /tmp/mesopop);
parameters are read from its params_PDmodel.mat.

  /tmp/venv-mc/bin/python tools/gif_column/run_meso_python.py                 # Numba
  /tmp/venv-mc/bin/python tools/gif_column/run_meso_python.py --pure --T 0.2  # no Numba
"""
import argparse, json, os, sys, time, platform
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import column_params as cp

ap = argparse.ArgumentParser()
ap.add_argument("--T", type=float, default=10.0, help="biological time (s)")
ap.add_argument("--dt", type=float, default=1e-4)
ap.add_argument("--dt-rec", type=float, default=1e-3)
ap.add_argument("--seed", type=int, default=12345)
ap.add_argument("--scale", type=float, default=1.0, help="N scaling (weights J*p*N kept fixed, as in the repo)")
ap.add_argument("--t-skip", type=float, default=1.0, help="transient excluded from stats (s)")
ap.add_argument("--pure", action="store_true", help="run sim.py_func (no Numba)")
ap.add_argument("--out", default=None)
args = ap.parse_args()

sys.path.insert(0, os.path.join(cp.MESOPOP_DIR, "benchmarking"))
import sim4  # author's implementation (not part of this project)

m = cp.load_mat()
M = 8


def make_params(T):
    nbin = int(round(T / args.dt_rec))
    return {
        "mu": m["mu"].ravel().astype(float),
        "hazard_c": float(m["hazard_c"].item()),
        "hazard_Delta_u": m["hazard_Delta_u"].ravel().astype(float),
        "vth": float(m["vth"].item()), "vreset": float(m["vreset"].item()),
        "taum_e": float(m["taum_e"].item()), "taum_i": float(m["taum_i"].item()),
        "delay": float(m["delay"].item()), "tref": float(m["tref"].item()),
        "taus_e": float(m["taus_e"].item()), "taus_i": float(m["taus_i"].item()),
        "M": M, "Me": int(m["Me"].item()),
        "N": np.round(m["N"].ravel() * args.scale).astype(np.int64),
        "weights": m["weights"].astype(float),
        "Iext": np.zeros((nbin, M), dtype=np.float32),   # B = 0 (benchmark setting)
    }


res = {"impl": "python-pure" if args.pure else "python-numba", "T_s": args.T,
       "dt_s": args.dt, "dt_rec_s": args.dt_rec, "seed": args.seed, "scale": args.scale,
       "t_skip_s": args.t_skip, "host": platform.node(), "nproc": os.cpu_count()}
if not args.pure:
    import numba
    res["numba"] = numba.__version__
    t0 = time.time()
    sim4.simulate(0.01, args.dt, args.dt_rec, make_params(0.01), M, args.seed)
    res["jit_warmup_wall_s"] = time.time() - t0   # compile + 10 ms of simulation

p = make_params(args.T)
t0 = time.time()
rate, A = sim4.simulate(args.T, args.dt, args.dt_rec, p, M, args.seed, with_numba=not args.pure)
res["wall_s"] = time.time() - t0
res["wall_s_per_bio_s"] = res["wall_s"] / args.T
# author's arrays are E-first; reorder to layer order
A_layer = np.asarray(A)[cp.EFIRST_OF_LAYER].T
rate_layer = np.asarray(rate)[cp.EFIRST_OF_LAYER].T
if args.T > args.t_skip:
    res["A_N"] = cp.population_stats(A_layer, args.dt_rec, args.t_skip)
    res["Abar_mean_Hz"] = {k: v["mean_Hz"] for k, v in cp.population_stats(rate_layer, args.dt_rec, args.t_skip).items()}
print(json.dumps(res, indent=1))
out = args.out or os.path.join(HERE, "results", res["impl"] + ".json")
with open(out, "w") as f:
    json.dump(res, f, indent=1)
tdir = os.environ.get("GIFCOL_TRACES", "/tmp/mesopop/traces")  # traces kept out of the repo
os.makedirs(tdir, exist_ok=True)
np.savez_compressed(os.path.join(tdir, os.path.splitext(os.path.basename(out))[0] + ".npz"), A=A_layer.astype(np.float32),
                    Abar=rate_layer.astype(np.float32), pops=cp.POPS, dt_rec=args.dt_rec)
