"""Time the author's mesoscopic C library (glm_popdyn_18.so) or NEST's gif_pop_psc_exp,
both driven through the author's wrapper multipop18.MultiPop, on the GIF column, exactly
as benchmarking/PDmodel_C-code-tilo_NEST.py sets them up (mean-field connectivity:
J*pconn with pconn=1; one delay 1.5 ms; no adaptation; dt = dt_rec_pop... see below).

Needs: the author's C libs built in $MESOPOP_DIR/mesopopdyngif_C_v18_Py3 (make all;
libgsl-dev, libfftw3-dev), and a Python with numpy + nest + matplotlib
(multipop18 imports nest and pylab even for the C path): /tmp/venv-nest/bin/python.

  /tmp/venv-nest/bin/python tools/gif_column/run_meso_c_nest.py --impl c
  /tmp/venv-nest/bin/python tools/gif_column/run_meso_c_nest.py --impl nest
  (--scale 0.1 reproduces the repo's benchmark default N*0.1, J/0.1)
"""
import argparse, json, os, sys, time, platform, tempfile
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import column_params as cp

ap = argparse.ArgumentParser()
ap.add_argument("--impl", choices=["c", "nest"], required=True)
ap.add_argument("--T", type=float, default=10.0)
ap.add_argument("--dt", type=float, default=1e-4)
ap.add_argument("--dt-rec", type=float, default=1e-3)
ap.add_argument("--seed", type=int, default=123)
ap.add_argument("--scale", type=float, default=1.0)
ap.add_argument("--B", type=float, default=0.0, help="step amplitude (mV, R*I) for L4e; 15 in Fig.1/8")
ap.add_argument("--tstart", type=float, default=None, help="step onset (s); default 0.001 (benchmark)")
ap.add_argument("--duration", type=float, default=None, help="step duration (s); default T-0.001")
ap.add_argument("--t-skip", type=float, default=1.0)
ap.add_argument("--out", default=None)
args = ap.parse_args()

sys.path.insert(0, os.path.join(cp.MESOPOP_DIR, "mesopopdyngif_C_v18_Py3"))
os.chdir(tempfile.mkdtemp(prefix="gifcol_"))   # multipop18 looks for cached data/ files in cwd
import multipop18 as mp   # author's wrapper (imports nest)

K = 8
N = np.round(np.array(cp.N_FULL) * args.scale).astype(int)
Js = cp.J_mV() / args.scale * cp.CONN_PROBS          # mean-field connectivity, mV
pconn = np.ones((K, K))
taus1 = [[cp.TAU_SYN_MS * 1e-3] * K for _ in range(K)]
tau_theta = [[0.1]] * K       # adaptation off (J_theta = 0), as in the repo
# the repo passes np.array([[0.]]*8); with numpy>=2 its wrapper (multipop_c_18: `if L==[]`)
# then raises 'truth value of an empty array is ambiguous', so pass plain lists (same values)
J_theta = [[0.] for _ in range(K)]
kw = dict(dt=args.dt, N=N, rho_0=np.ones(K) * cp.C_HZ, tau_m=np.ones(K) * cp.TAU_M_MS * 1e-3,
          tau_sfa=tau_theta, J_syn=Js, taus1=taus1, delay=np.ones((K, K)) * cp.D_MEAN_E_MS * 1e-3,
          t_ref=np.ones(K) * cp.T_REF_MS * 1e-3, V_reset=np.zeros(K), J_a=J_theta, pconn=pconn,
          mu=np.array(cp.MU_MV), delta_u=cp.DELTA_U_MV * np.ones(K),
          V_th=(cp.V_TH - cp.V_REST) * np.ones(K), sigma=np.zeros(K), mode="glif")

tstart = 0.001 if args.tstart is None else args.tstart
duration = args.T - 0.001 if args.duration is None else args.duration
step = np.hstack((cp.step_normalized()[:, None] * args.B, np.zeros((K, 1))))
tstep = np.array([[tstart, tstart + duration] for _ in range(K)])

p = mp.MultiPop(**kw)
p.dt_rec = args.dt_rec
if args.impl == "c":
    p.build_network_tilo_populations()
else:
    p.build_network_populations()
t0 = time.time()
p.simulate(args.T, step=step, tstep=tstep, seed=args.seed)
wall = time.time() - t0

res = {"impl": "meso-" + args.impl, "T_s": args.T, "dt_s": args.dt, "dt_rec_s": args.dt_rec,
       "seed": args.seed, "scale": args.scale, "N": N.tolist(), "B_mV": args.B,
       "t_skip_s": args.t_skip, "host": platform.node(), "nproc": os.cpu_count(),
       "wall_s": wall, "wall_s_per_bio_s": wall / args.T}
if args.impl == "nest":
    import nest
    res["nest"] = nest.__version__
A = np.asarray(p.sim_A, dtype=float)       # (bins, 8) layer order, Hz
a = np.asarray(p.sim_a, dtype=float)
if args.T > args.t_skip:
    res["A_N"] = cp.population_stats(A, args.dt_rec, args.t_skip)
    res["Abar_mean_Hz"] = {k: v["mean_Hz"] for k, v in cp.population_stats(a, args.dt_rec, args.t_skip).items()}
print(json.dumps(res, indent=1))
tag = "meso-%s_scale%g" % (args.impl, args.scale) + ("_B%g" % args.B if args.B else "")
out = args.out or os.path.join(HERE, "results", tag + ".json")
with open(out, "w") as f:
    json.dump(res, f, indent=1)
tdir = os.environ.get("GIFCOL_TRACES", "/tmp/mesopop/traces")  # traces kept out of the repo
os.makedirs(tdir, exist_ok=True)
np.savez_compressed(os.path.join(tdir, os.path.splitext(os.path.basename(out))[0] + ".npz"), A=A.astype(np.float32), Abar=a.astype(np.float32),
                    pops=cp.POPS, dt_rec=args.dt_rec)
