"""QC stage figure: head motion per scan, the exclusion thresholds, and the scans kept per group and session."""
from __future__ import annotations

import contextlib

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import colors as mcolors

from fcect.core.participants import as_bool
from fcect.figures.style import GROUP_COLOURS, WIDTH_IN, style

# seed of the strip plot's jitter (figure only: the same input draws the same figure from run to run)
JITTER_SEED = 0


@contextlib.contextmanager
def _seeded_numpy_global(seed):
    """Seed numpy's global generator for the block (seaborn's strip-plot jitter draws from it and takes no seed),
    then restore its state, so that the caller's random stream is untouched."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def qc_figure(motion: pd.DataFrame, participants: pd.DataFrame, max_translation=2.0, max_rotation=2.0,
              max_mean_fd=None, fd_method="power", sessions=("pre", "post")):
    """QC: (a) mean FD per group and session (every scan, excluded ones marked), (b) maximum translation vs
    rotation with the exclusion thresholds, (c) included / excluded scans per group and session."""
    import seaborn as sns

    style()
    m = motion.copy()
    grp = dict(zip(participants["participant_id"], participants["group"]))
    m["group"] = m["participant_id"].map(grp).fillna("?")
    m["session"] = m["session"].astype(str).str.removeprefix("ses-")
    m["included"] = as_bool(m["included"]) if "included" in m else True
    m["cell"] = m["group"] + " " + m["session"]
    order = [c for c in (f"HC {sessions[0]}", f"TRD {sessions[0]}", f"TRD {sessions[1]}", f"HC {sessions[1]}")
             if c in set(m["cell"])] + sorted(set(m["cell"]) - {f"HC {sessions[0]}", f"TRD {sessions[0]}",
                                                                 f"TRD {sessions[1]}", f"HC {sessions[1]}"})
    pal = {c: GROUP_COLOURS.get(c.replace(sessions[0], "pre").replace(sessions[1], "post"), "0.5")
           for c in order}
    fig, axes = plt.subplots(1, 3, figsize=(WIDTH_IN, 2.6), gridspec_kw=dict(width_ratios=[1.15, 1.1, 1.0]))
    fig.subplots_adjust(left=0.075, right=0.99, bottom=0.2, top=0.83, wspace=0.45)
    ax = axes[0]
    inc_m = m[m["included"]]
    data = [inc_m.loc[inc_m["cell"] == c, "mean_fd"].dropna().to_numpy(float) for c in order]
    keep = [i for i, d in enumerate(data) if len(d)]
    bp = ax.boxplot([data[i] for i in keep], positions=keep, widths=0.55, showfliers=False, patch_artist=True,
                    medianprops=dict(color="0.15", lw=0.9), whiskerprops=dict(color="0.35", lw=0.8),
                    capprops=dict(color="0.35", lw=0.8), boxprops=dict(lw=0.8, color="0.35"))
    for patch, i in zip(bp["boxes"], keep):
        patch.set_facecolor(mcolors.to_rgba(pal[order[i]], 0.35))
    with _seeded_numpy_global(JITTER_SEED):
        sns.stripplot(data=m[m["included"]], x="cell", y="mean_fd", order=order, hue="cell", palette=pal,
                      legend=False, ax=ax, size=2.6, jitter=0.18, alpha=0.9)
    ex = m[~m["included"]]
    if len(ex):
        xs = [order.index(c) for c in ex["cell"]]
        ax.scatter(xs, ex["mean_fd"], marker="x", color="black", s=18, lw=1.0, zorder=5, label="excluded scan")
    lo, hi = float(m["mean_fd"].min()), float(m["mean_fd"].max())
    ax.set_ylim(max(0.0, lo - 0.05 * (hi - lo)), hi + 0.3 * (hi - lo) + 1e-6)
    if len(ex):
        ax.text(0.02, 0.98, "× excluded scan", transform=ax.transAxes, va="top", ha="left", fontsize=6.8)
    if max_mean_fd:
        ax.axhline(max_mean_fd, color="0.3", ls="--", lw=0.8)
    ax.set_xticks(range(len(order)), order)
    ax.set_xlim(-0.6, len(order) - 0.4)
    ax.set_xlabel("")
    ax.set_ylabel(f"mean FD ({'Power' if fd_method == 'power' else 'Jenkinson'}), mm")
    ax.tick_params(axis="x", rotation=0)
    ax.set_title("a  Head motion per scan", loc="left")
    ax = axes[1]
    for c in order:
        s = m[m["cell"] == c]
        ax.scatter(s["max_translation_mm"], s["max_rotation_deg"], s=10, color=pal[c],
                   marker="o", alpha=0.85, label=c, edgecolor="none")
    if len(ex):
        ax.scatter(ex["max_translation_mm"], ex["max_rotation_deg"], marker="x", color="black", s=22, lw=1.0,
                   zorder=5, label="excluded")
    ax.axvline(max_translation, color="0.3", ls="--", lw=0.8,
               label=f"threshold ({max_translation:g} mm, {max_rotation:g}°)")
    ax.axhline(max_rotation, color="0.3", ls="--", lw=0.8)
    ax.set_xlabel("max |translation|, mm")
    ax.set_ylabel("max |rotation|, degrees")
    ax.set_xlim(0, max(max_translation * 1.6, float(m["max_translation_mm"].max()) * 1.08))
    ax.set_ylim(0, max(max_rotation * 1.6, float(m["max_rotation_deg"].max()) * 1.08))
    leg = ax.legend(loc="lower right", frameon=True, framealpha=1.0, edgecolor="none", fontsize=6.5,
              handletextpad=0.3, borderaxespad=0.1)
    leg.set_zorder(10)
    ax.set_title("b  Exclusion thresholds", loc="left")
    ax = axes[2]
    counts = m.groupby(["cell", "included"]).size().unstack(fill_value=0).reindex(order, fill_value=0)
    inc = counts.get(True, pd.Series(0, index=order))
    exc = counts.get(False, pd.Series(0, index=order))
    x = np.arange(len(order))
    ax.bar(x, inc, color=[pal[c] for c in order], width=0.6, label="included")
    has = np.asarray(exc) > 0
    ax.bar(x[has], np.asarray(exc)[has], bottom=np.asarray(inc)[has], color="white", edgecolor="black",
           hatch="///", width=0.6, lw=0.6, label="excluded")
    for xi, a, b in zip(x, inc, exc):
        ax.text(xi, a / 2, str(int(a)), ha="center", va="center", color="white", fontsize=7.5, fontweight="bold")
        if b:
            ax.text(xi, a + b + 0.01 * max(1, (inc + exc).max()), f"+{int(b)}", ha="center", va="bottom",
                    fontsize=7)
    ax.set_xticks(x, order)
    ax.set_ylabel("scans")
    ax.set_ylim(0, (inc + exc).max() * 1.4 + 0.5)
    ax.legend(loc="upper center", frameon=False, ncol=2, borderaxespad=0.0, handlelength=1.5)
    ax.set_title("c  Scans after QC", loc="left")
    for a in axes:
        for lab in a.get_xticklabels():
            lab.set_fontsize(6.8)
    return fig

