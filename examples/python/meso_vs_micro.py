"""The Brunel GIF network at two levels: 1000 GIF neurons against two mesoscopic populations.

    pip install .  matplotlib        # from the repository root
    python examples/python/meso_vs_micro.py

examples/brunel_gif.toml (800 excitatory and 200 inhibitory GIF neurons with two adaptation
kernels, a step of input at 1500 ms) runs as gif_psc_exp neurons and as gif_pop_psc_exp
populations (Schwalger, Deger & Gerstner 2017) over 10 seeds each; the figure overlays the
mean population activity of both levels with its spread, and prints meso minus micro per
window with standard errors. Writes meso_vs_micro.png next to where it runs.
"""

import pathlib

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

import neuropop

spec = pathlib.Path(__file__).resolve().parents[1] / "brunel_gif.toml"
c = neuropop.compare(spec, seeds=10)
for w in c["windows"]:
    m = w["mean_hz"]
    print(
        f"{w['population']}  [{w['window'][0]:.0f}, {w['window'][1]:.0f}) ms  "
        f"micro {m['micro']:6.2f} Hz  meso {m['meso']:6.2f} Hz  "
        f"meso - micro {m['diff']:+.2f} +- {m['se']:.2f}"
    )

fig, axes = plt.subplots(2, 1, figsize=(9, 5), sharex=True)
for ax, pop in zip(axes, ["E", "I"]):
    # columns: micro mean, micro sd, meso mean, meso sd, per 1 ms bin
    micro, micro_sd, meso, meso_sd = c["arrays"][f"trace_{pop}"].T
    t = np.arange(len(micro)) * 1.0
    ax.plot(t, micro, lw=0.6, label="micro (gif_psc_exp)")
    ax.fill_between(t, micro - micro_sd, micro + micro_sd, alpha=0.2, lw=0)
    ax.plot(t, meso, lw=0.6, label="meso (gif_pop_psc_exp)")
    ax.fill_between(t, meso - meso_sd, meso + meso_sd, alpha=0.2, lw=0)
    ax.set(ylabel=f"A_N of {pop} (Hz)")
axes[0].legend(loc="upper left", fontsize=8)
axes[1].set_xlabel("time (ms)")
fig.tight_layout()
fig.savefig("meso_vs_micro.png", dpi=120)
print("wrote meso_vs_micro.png")
