"""Facts of the GIF cortical column (Schwalger, Deger & Gerstner 2017, Figs. 1/8),
as used in github.com/schwalger/mesopopdyn_microcircuit (commit 934d0d9).

Only numbers/procedure are taken from the repository; nothing here is the author's code.
Run with a Python that has numpy+scipy (e.g. /tmp/venv-mc/bin/python).

Population order used here ("layer order", as in the author's C/NEST script):
    L2/3e, L2/3i, L4e, L4i, L5e, L5i, L6e, L6i
The repository's params_PDmodel.mat uses "E-first order":
    L2/3e, L4e, L5e, L6e, L2/3i, L4i, L5i, L6i
"""
import os
import numpy as np

REPO = "schwalger/mesopopdyn_microcircuit"
COMMIT = "934d0d94bba75e62d853aef2c82f16e6d5de9f4c"
MESOPOP_DIR = os.environ.get("MESOPOP_DIR", "/tmp/mesopop")

POPS = ["L2/3e", "L2/3i", "L4e", "L4i", "L5e", "L5i", "L6e", "L6i"]
POPS_EFIRST = ["L2/3e", "L4e", "L5e", "L6e", "L2/3i", "L4i", "L5i", "L6i"]
# index into E-first arrays for each layer-order population
EFIRST_OF_LAYER = [POPS_EFIRST.index(p) for p in POPS]

# ---- Potjans & Diesmann (2014) facts quoted in the repo's potjans.py -------------
CM_NF = 0.25            # nF  (C_m = 250 pF)
TAU_M_MS = 10.0
T_REF_MS = 2.0
TAU_SYN_MS = 0.5        # tau_syn_E = tau_syn_I
V_REST, V_RESET, V_TH = -65.0, -65.0, -50.0   # mV (Potjans); GIF uses them relative to rest
N_FULL = [20683, 5834, 21915, 5479, 4850, 1065, 14395, 2948]      # layer order
# conn_probs[target][source], layer order
CONN_PROBS = np.array([
    [0.1009, 0.1689, 0.0437, 0.0818, 0.0323, 0.,     0.0076, 0.],
    [0.1346, 0.1371, 0.0316, 0.0515, 0.0755, 0.,     0.0042, 0.],
    [0.0077, 0.0059, 0.0497, 0.135,  0.0067, 0.0003, 0.0453, 0.],
    [0.0691, 0.0029, 0.0794, 0.1597, 0.0033, 0.,     0.1057, 0.],
    [0.1004, 0.0622, 0.0505, 0.0057, 0.0831, 0.3726, 0.0204, 0.],
    [0.0548, 0.0269, 0.0257, 0.0022, 0.06,   0.3158, 0.0086, 0.],
    [0.0156, 0.0066, 0.0211, 0.0166, 0.0572, 0.0197, 0.0396, 0.2252],
    [0.0364, 0.001,  0.0034, 0.0005, 0.0277, 0.008,  0.0658, 0.1443]])
W_MEAN_PA = 87.8        # PSC amplitude, all E projections
W_234_PA = 2 * W_MEAN_PA  # L4e -> L2/3e
G = -4.0                # inhibitory PSC = g * w_mean
D_MEAN_E_MS = 1.5       # the meso/micro GIF sims use this single delay for ALL projections
# thalamic drive (used only to shape the Fig.1/8 step stimulus)
THAL_N, THAL_RATE = 902, 120.0
THAL_C = [0., 0., 0.0983, 0.0619, 0., 0., 0.0512, 0.0196]        # layer order
K_EXT = [1600, 1500, 2100, 1900, 2000, 1900, 2900, 2100]          # layer order
BG_RATE = 8.0
FULL_MEAN_RATES = [0.971, 2.868, 4.746, 5.396, 8.142, 9.078, 0.991, 7.523]

# ---- GIF-specific values hard-coded in the repo's driver scripts ----------------
MU_MV = [19.14942021, 20.36247192, 30.80455243, 28.06868188,
         29.43680143, 29.32954448, 34.93225564, 32.08123423]      # layer order
DELTA_U_MV = 5.0
C_HZ = 10.0
TARGET_RATES_HZ = [0.9736411, 2.86068612, 4.67324687, 5.64983048,
                   8.1409982, 9.01281818, 0.98813263, 7.53034027]   # 'rates' in the C/NEST script


def psc_pA():
    """PSC amplitude per synapse (pA), [target, source], layer order."""
    w = np.zeros((8, 8))
    for t in range(8):
        for s in range(8):
            if s % 2 == 0:
                w[t, s] = W_234_PA if (s == 2 and t == 0) else W_MEAN_PA
            else:
                w[t, s] = G * W_MEAN_PA
    return w


def J_mV():
    """Author's PSP 'J' per synapse in mV: J = w_PSC * tau_s / C_m (charge / C)."""
    return psc_pA() * TAU_SYN_MS / (CM_NF * 1e3)


def step_normalized():
    d = np.array(THAL_C) * THAL_N * THAL_RATE
    return d / d.max()


def load_mat(path=None):
    from scipy.io import loadmat
    path = path or os.path.join(MESOPOP_DIR, "benchmarking", "params_PDmodel.mat")
    m = loadmat(path)
    return {k: v for k, v in m.items() if not k.startswith("__")}


def check_against_mat(m):
    """Recompute the .mat 'weights' (E-first, J*p*N in mV) from the facts above."""
    w_layer = J_mV() * CONN_PROBS * np.array(N_FULL)[None, :]
    idx = EFIRST_OF_LAYER
    w_efirst = np.zeros((8, 8))
    for a, ia in enumerate(idx):
        for b, ib in enumerate(idx):
            w_efirst[ia, ib] = w_layer[a, b]
    return np.max(np.abs(w_efirst - m["weights"]))


def population_stats(A, dt_rec, t_skip):
    """A: (T_bins, 8) layer order, Hz. Mean/sd over bins with t >= t_skip."""
    i0 = int(round(t_skip / dt_rec))
    X = np.asarray(A, dtype=float)[i0:]
    return {p: {"mean_Hz": float(X[:, k].mean()), "sd_Hz": float(X[:, k].std())}
            for k, p in enumerate(POPS)}
