"""The bistable rate population in Python: fixed points, noise-driven switching, a figure.

    pip install .  matplotlib        # from the repository root
    python examples/python/rate_tutorial.py

One excitatory population with strong self-coupling, tau dr/dt = -r + F(w r + I_ext), F a
sigmoid (a = 1.2, theta = 2.8): with w = 5 it has two stable states and an unstable one
between them. Driven by Ornstein-Uhlenbeck noise it switches between the two; 4096 replicas
run in one call and the figure shows two trajectories and how often each replica switched.
Writes rate_tutorial.png next to where it runs.
"""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import neuropop

# 1. Fixed points without noise (I_ext = 0.5): low, unstable middle, high.
for fp in neuropop.fixed_points(w=5.0, I_ext=0.5):
    kind = "stable" if fp["stable"] else "unstable"
    print(f"r* = {fp['r']:.4f}  eigenvalue {fp['eigenvalue']:+.3f} /ms  ({kind})")

# 2. The same population with OU noise, 4096 replicas, as a dict spec.
spec = {
    "simulation": {"dt": 0.1, "t_end": 1000.0, "seed": 2020, "replicas": 4096},
    "population": [
        {
            "name": "E",
            "model": "rate",
            "params": {"w": 5.0, "I_ext": 0.56, "sigma_ou": 0.7, "tau_ou": 1.0},
        }
    ],
    "record": {
        "traces": [{"population": "E", "variable": "r", "replicas": 2}],
        "summaries": ["mean", "above:0.5", "crossings:0.2:0.7"],
    },
}
res = neuropop.run(spec)
print(res)
high = res["summary_E_above"][0]
switches = res["summary_E_crossings"][0]
print(f"time in the high state: {high.mean():.2f} (mean over {high.size} replicas)")
print(f"switches per replica: {switches.mean():.1f}")

# 3. A figure: two trajectories, and the switches of every replica.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.5), width_ratios=[2, 1])
ax1.plot(res["trace_E_r_t"], res["trace_E_r"], lw=0.7)
ax1.set(xlabel="time (ms)", ylabel="r", title="two replicas")
ax2.hist(switches, bins=np.arange(switches.max() + 2) - 0.5)
ax2.set(xlabel="switches in 1 s", ylabel="replicas", title=f"{switches.size} replicas")
fig.tight_layout()
fig.savefig("rate_tutorial.png", dpi=120)
print("wrote rate_tutorial.png")
