"""Write tools/gif_column/params.json from the repo's params_PDmodel.mat plus the
facts in column_params.py.   /tmp/venv-mc/bin/python tools/gif_column/make_params.py"""
import json, os, sys
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import column_params as cp

m = cp.load_mat()
assert cp.check_against_mat(m) < 1e-9
assert np.allclose(m["mu"].ravel(), np.array(cp.MU_MV)[[cp.POPS.index(p) for p in cp.POPS_EFIRST]])


def r(x, n=10):
    return (np.round(np.asarray(x, dtype=float), n) + 0.0).tolist()


raw = {
    "_order": cp.POPS_EFIRST,
    "_note": "values exactly as stored in benchmarking/params_PDmodel.mat (identical numbers in single_run/); "
             "written by benchmarking/save_params_for_julia.py; matrices are [target][source]",
    "mu": {"value": r(m["mu"].ravel()), "unit": "mV (R*I, constant input potential; relative to rest)"},
    "hazard_c": {"value": float(m["hazard_c"].item()), "unit": "Hz (escape rate at threshold)"},
    "hazard_Delta_u": {"value": r(m["hazard_Delta_u"].ravel()), "unit": "mV"},
    "vth": {"value": float(m["vth"].item()), "unit": "mV (relative to rest)"},
    "vreset": {"value": float(m["vreset"].item()), "unit": "mV (relative to rest)"},
    "taum_e": {"value": float(m["taum_e"].item()), "unit": "s"},
    "taum_i": {"value": float(m["taum_i"].item()), "unit": "s"},
    "delay": {"value": float(m["delay"].item()), "unit": "s (all projections)"},
    "tref": {"value": float(m["tref"].item()), "unit": "s"},
    "taus_e": {"value": float(m["taus_e"].item()), "unit": "s"},
    "taus_i": {"value": float(m["taus_i"].item()), "unit": "s"},
    "M": int(m["M"].item()), "Me": int(m["Me"].item()),
    "N": [int(x) for x in m["N"].ravel()],
    "weights": {"value": r(m["weights"], 8),
                "unit": "mV; weights[i][j] = J_ij * p_ij * N_j, J_ij = PSC_ij*tau_s/C_m (mean-field 'w'); "
                        "sim: dh_i/dt = (mu_i - h_i)/tau_m + sum_j weights_ij * y_j, y_j = exp-filtered (tau_s) delayed A_j in Hz"},
    "steps_normalized": {"value": r(m["steps_normalized"].ravel()),
                         "unit": "1; thalamic drive C_th*n_th*rate_th normalised to L4e; step = B * this (mV)"},
}

psc = cp.psc_pA()
J = cp.J_mV()
P = cp.CONN_PROBS
CmpF = cp.CM_NF * 1e3
R = cp.TAU_M_MS / CmpF   # GOhm = mV/pA
pops = {}
for k, p in enumerate(cp.POPS):
    pops[p] = {
        "N": cp.N_FULL[k],
        "C_m": CmpF, "tau_m": cp.TAU_M_MS, "g_L": CmpF / cp.TAU_M_MS,
        "E_L": 0.0, "V_reset": 0.0, "V_T_star": cp.V_TH - cp.V_REST,
        "Delta_V": cp.DELTA_U_MV, "lambda_0": cp.C_HZ, "t_ref": cp.T_REF_MS,
        "tau_syn_ex": cp.TAU_SYN_MS, "tau_syn_in": cp.TAU_SYN_MS,
        "tau_sfa": [100.0], "q_sfa": [0.0],
        "I_e": round(cp.MU_MV[k] / R, 8),
        "mu_mV": cp.MU_MV[k],
        "len_kernel": -1,
    }
stepB = 15.0
nest = {
    "_order": cp.POPS,
    "_units": "C_m pF, tau_m/t_ref/tau_syn/tau_sfa/delay ms, g_L nS, E_L/V_reset/V_T_star/Delta_V/q_sfa mV, lambda_0 1/s, I_e pA, weights pA",
    "_models": "gif_pop_psc_exp (meso; uses C_m,tau_m,N,len_kernel) / gif_psc_exp (micro; uses g_L=C_m/tau_m instead of tau_m, V_m=0 initially)",
    "populations": pops,
    "projections": {
        "_index": "[target][source], layer order",
        "psc_amplitude_pA_per_synapse": r(psc, 6),
        "pconn": r(P, 6),
        "delay_ms": cp.D_MEAN_E_MS,
        "receptor": "source e -> excitatory (tau_syn_ex), source i -> inhibitory (tau_syn_in), by sign of weight",
        "J_mV_per_synapse": r(J, 8),
        "gif_pop_psc_exp_weight_pA": r(psc * P, 8),
        "_gif_pop_weight_note": "author's NEST meso connects pop j -> pop i with static_synapse weight = J_ij*(C_m/tau_s)*p_ij "
                                "= PSC*p (pA) and delay 1.5 ms (one connection; multiplicity = spike count of pop j)",
        "_gif_psc_exp_note": "author's NEST micro: weight = J*C_m/tau_s = PSC pA; pairwise_bernoulli p=pconn "
                             "(sparse) or, with meanfield_connectivity=True (script default), all_to_all with weight PSC*p",
    },
    "step_stimulus_fig1_fig8": {
        "B_mV": stepB,
        "amplitude_mV_RI": r(cp.step_normalized() * stepB, 6),
        "amplitude_pA": r(cp.step_normalized() * stepB / R, 6),
        "onset_s_after_t0": 0.06, "duration_s": 0.03,
        "t0_s": "1.0 (single_run/PDmodel_mesopython.py, PDmodel_mesojulia.jl) or 0.1 (single_run/PDmodel_C-code-tilo_NEST.py)",
        "note": "NEST: step_current_generator with amplitude step_mV / (tau_m/C_m); targets L4e,L4i,L6e,L6i only. run_times.ods also times B=10 and B=15 with the step lasting the whole 10 s run",
    },
}
conv = {
    "R": "R = tau_m / C_m = 10 ms / 250 pF = 0.04 GOhm (C_m = 250 pF is Potjans' cm; author's NEST wrapper says it is divided out)",
    "I_e": "I_e [pA] = mu [mV] / R = mu * C_m / tau_m = 25 * mu",
    "weights": "PSC [pA] = J [mV] * C_m [pF] / tau_s [ms] (J = PSC*tau_s/C_m = 0.1756 mV for 87.8 pA); gif_pop weight = PSC * pconn",
    "threshold": "V_T_star = vth = v_thresh - v_rest = 15 mV; E_L = V_reset = 0 (potentials relative to rest -65 mV)",
    "hazard": "lambda = lambda_0 * exp((V - V_T)/Delta_V), lambda_0 = c = 10/s, Delta_V = Delta_u = 5 mV",
    "adaptation": "none in this repo (J_theta = 0, tau_theta = 0.1 s placeholder); author's NEST mapping q_sfa = J_theta[mV s]/tau_sfa[s]",
    "stimulus": "step current [pA] = step [mV] * C_m / tau_m",
}
repo_facts = {
    "from_potjans.py": {
        "neuron_params": {"cm_nF": cp.CM_NF, "tau_m_ms": cp.TAU_M_MS, "tau_refrac_ms": cp.T_REF_MS,
                          "tau_syn_E_ms": cp.TAU_SYN_MS, "tau_syn_I_ms": cp.TAU_SYN_MS,
                          "v_reset_mV": cp.V_RESET, "v_rest_mV": cp.V_REST, "v_thresh_mV": cp.V_TH},
        "N_full": dict(zip(cp.POPS, cp.N_FULL)),
        "conn_probs_target_source": r(P, 6),
        "w_mean_nA": 0.0878, "w_234_nA": 0.1756, "g": cp.G,
        "d_mean_ms": {"E": 1.5, "I": 0.75}, "d_sd_ms": {"E": 0.75, "I": 0.375},
        "w_rel": 0.1, "w_rel_234": 0.05,
        "K_ext": dict(zip(cp.POPS, cp.K_EXT)), "bg_rate_Hz": cp.BG_RATE,
        "full_mean_rates_Hz": dict(zip(cp.POPS, cp.FULL_MEAN_RATES)),
        "thal": {"n_thal": cp.THAL_N, "rate_Hz": cp.THAL_RATE, "C": dict(zip(cp.POPS, cp.THAL_C)),
                 "start_ms": 700.0, "duration_ms": 10.0},
        "_used_by_GIF_model": "cm, tau_m, tau_refrac, tau_syn, v_* (relative), N_full, conn_probs, w_mean/w_234/g, d_mean['E'], thal C (stim shape). "
                              "NOT used: d_mean['I'], d_sd, w_rel, K_ext/bg_rate (replaced by mu), Poisson background.",
    },
    "from_driver_scripts": {
        "mu_mV_layer_order": dict(zip(cp.POPS, cp.MU_MV)),
        "mu_source_comment": "'parameter values taken from corrected potjans_noadap_trajec3_mdopt.py' (file not in repo)",
        "target_rates_Hz_layer_order": dict(zip(cp.POPS, cp.TARGET_RATES_HZ)),
        "DeltaV_mV": cp.DELTA_U_MV, "c_Hz": cp.C_HZ,
        "dt_s": 1e-4, "dt_record_s": 1e-3,
        "benchmark": {"T_s": 10.0, "t0_s": 0.0, "B": 0.0,
                      "scaling_factor": {"python/julia": 1.0, "C/NEST script": 0.1},
                      "seeds": {"python": 12345, "julia": 30, "C/NEST": 123},
                      "scaling_rule": "N -> round(N*s); meso python keeps weights=J*p*N_full fixed; C/NEST script uses J/s so J*N fixed"},
        "single_run_fig1_fig8": {"T_s": "t0 + 0.15", "B_mV": 15.0, "tstart_s": "t0 + 0.06", "duration_s": 0.03,
                                 "scaling_factor": 0.1},
        "meanfield_connectivity": True,
    },
    "get_mu_DeltaV_reference": "potjans.get_mu_DeltaV() (diffusion estimate from Poisson background) is defined but NOT used; mu/DeltaV above are hard-coded",
}
out = {
    "source": {"repository": "https://github.com/schwalger/mesopopdyn_microcircuit", "commit": cp.COMMIT,
               "files": ["benchmarking/params_PDmodel.mat", "benchmarking/potjans.py", "benchmarking/PDmodel_mesopython.py",
                         "benchmarking/PDmodel_C-code-tilo_NEST.py", "mesopopdyngif_C_v18_Py3/multipop18.py",
                         "mesopopdyngif_C_v18_Py3/glm_popdyn_intensiv_no_lookuptbl.c"],
               "paper": "Schwalger T, Deger M, Gerstner W (2017) PLoS Comput Biol 13(4): e1005507, Figs. 1 and 8",
               "caveat": "repo README: setting as in Fig. 1 and Fig. 8 'but without adaptation'"},
    "raw_mat": raw,
    "repo_facts": repo_facts,
    "nest": nest,
    "conversion": conv,
}
with open(os.path.join(HERE, "params.json"), "w") as f:
    json.dump(out, f, indent=1)
print("wrote params.json")
