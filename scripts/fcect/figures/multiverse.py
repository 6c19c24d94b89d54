"""Specification curve of the multiverse (Simonsohn, Simmons & Nelson 2020, Nat Hum Behav 4:1208): per headline
effect, the estimate of every specification sorted from smallest to largest (filled: the effect holds; open: it
does not; grey cross: undefined, drawn at 0), and below it the choice indicator panel (one row per value of each choice, a mark
where the specification uses it)."""

from __future__ import annotations

import textwrap

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from fcect.figures.style import WIDTH_IN, style  # noqa: E402
from fcect.multiverse.specs import CHOICES  # noqa: E402

YLABELS = {"baseline_clusters": "seeds with a baseline cluster", "ect_cluster": "ECT cluster size (voxels)",
           "clinical_r": "clinical r (delta FC vs HAMD reduction)", "svr_r": "SVR leave-one-out r",
           "pls1": "PLS1 variance explained"}


def curve_panels(table: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """One (title, per-spec frame with estimate and holds) per effect: the baseline rows collapse to the number of
    seeds with a significant cluster (holds: at least one); the others are their own rows."""
    out = []
    base = table[table["result"] == "baseline_clusters"]
    if len(base):
        g = base.groupby("spec", sort=False)
        b = pd.DataFrame({"estimate": g["holds"].apply(lambda h: float((h == True).sum())),  # noqa: E712
                          "holds": g["holds"].apply(lambda h: bool((h == True).any()))})  # noqa: E712
        out.append(("baseline_clusters", b))
    for res in ("ect_cluster", "clinical_r", "svr_r", "pls1"):
        sub = table[table["result"] == res]
        if len(sub):
            out.append((res, sub.set_index("spec")[["estimate", "holds"]]))
    return out


def spec_curve_figure(table: pd.DataFrame, title: str = "Multiverse: specification curves"):
    """The figure (matplotlib Figure) from the specification table."""
    style()
    specs = table.drop_duplicates("spec").set_index("spec")
    levels = [(c, v) for c in CHOICES for v in sorted({str(x) for x in specs[c].astype(object).where(
        specs[c].notna(), "main")})]
    panels = curve_panels(table)
    n = max(len(panels), 1)
    fig, axes = plt.subplots(2, n, figsize=(WIDTH_IN, 2.2 + 0.16 * len(levels)), squeeze=False,
                             gridspec_kw=dict(height_ratios=[1.3, 0.16 * len(levels) + 0.2]), sharex="col")
    for j, (res, d) in enumerate(panels):
        d = d.assign(estimate=pd.to_numeric(d["estimate"], errors="coerce"))
        d = d.sort_values("estimate", na_position="first")
        x = np.arange(len(d))
        ax, ind = axes[0, j], axes[1, j]
        holds = d["holds"].astype(object)
        for xi, (sid, row) in zip(x, d.iterrows()):
            h = holds.loc[sid]
            y = row["estimate"] if np.isfinite(row["estimate"]) else 0.0
            if h is None or h is pd.NA or (isinstance(h, float) and np.isnan(h)) or not np.isfinite(row["estimate"]):
                ax.plot(xi, y, "x", color="0.5", ms=5)
            else:
                ax.plot(xi, y, "o", ms=5, color="C0", mfc="C0" if bool(h) else "white")
            if specs.loc[sid, "is_main"]:
                ax.axvline(xi, color="C3", lw=0.8, ls=":")
        ax.axhline(0, color="0.7", lw=0.6)
        ax.set_title(textwrap.fill(YLABELS.get(res, res), 22), fontsize=6)  # five panels share 7 in
        ax.tick_params(labelsize=6)
        for xi, sid in zip(x, d.index):
            for k, (c, v) in enumerate(levels):
                val = specs.loc[sid, c]
                val = "main" if val is None or (isinstance(val, float) and np.isnan(val)) else str(val)
                ind.plot(xi, k, "s", ms=4, color="0.15" if val == v else "0.9")
        ind.set_yticks(range(len(levels)))
        ind.set_yticklabels([f"{c}: {v}" for c, v in levels] if j == 0 else [], fontsize=6)
        ind.set_ylim(len(levels) - 0.5, -0.5)
        ind.set_xticks(x)
        ind.set_xticklabels([str(i + 1) for i in x], fontsize=5)
        ind.set_xlabel("specification (sorted)", fontsize=6)
    fig.suptitle(title, fontsize=8)
    fig.tight_layout()
    return fig
