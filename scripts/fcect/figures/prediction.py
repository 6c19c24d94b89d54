"""Prediction stage figure: per prediction mode, LOO-predicted vs observed HAMD reduction and the permutation null
of r (Figure 5). Mode titles and the reduction label: fcect.core.vocabulary."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fcect.core.vocabulary import MODE_TITLE, reduction_label
from fcect.figures.style import WIDTH_IN, fmt_p, style, text_panel


def prediction_figure(modes: list, reduction="rate"):
    """Figure 5: per mode, (left) LOO-predicted vs observed HAMD reduction with r, permutation p and MAE;
    (right) the permutation null distribution of r with the observed r.

    ``modes``: list of dicts(mode, summary (svr.json mode entry), predictions (DataFrame), null (DataFrame)).
    ``reduction``: the HAMD reduction formula of the target (``rate`` or ``difference``; axis label)."""
    style()
    target_label = reduction_label(reduction)
    ok = [m.get("summary", {}).get("status", "ok") == "ok" and m.get("predictions") is not None
          and not m["predictions"].empty for m in modes]
    heights = [2.45 if o else 0.45 for o in ok] or [0.45]
    H = sum(heights) + 0.35 * len(heights) + 0.65
    fig = plt.figure(figsize=(WIDTH_IN, H))
    gs = fig.add_gridspec(len(heights), 2, height_ratios=heights, width_ratios=[1, 1.15], left=0.09, right=0.98,
                          top=1 - 0.62 / H, bottom=0.45 / H, wspace=0.3, hspace=0.35 * len(heights) / sum(heights) * 2)
    letters = iter("abcdefgh")
    for i, (m, good) in enumerate(zip(modes, ok)):
        s = m.get("summary") or {}
        if not good:
            ax = fig.add_subplot(gs[i, :])
            text_panel(ax, f"{MODE_TITLE.get(m['mode'], m['mode'])}: {s.get('status', 'not run')}")
            continue
        ax, axn = fig.add_subplot(gs[i, 0]), fig.add_subplot(gs[i, 1])
        pr = m["predictions"]
        obs, pred = pr["observed"].to_numpy(float), pr["predicted"].to_numpy(float)
        loo = s.get("loo", {})
        pp = s.get("p_permutation", {})
        ax.scatter(obs, pred, s=14, color="#0072B2", edgecolor="white", lw=0.4, zorder=3)
        lo = float(np.nanmin(np.r_[obs, pred]))
        hi = float(np.nanmax(np.r_[obs, pred]))
        pad = 0.08 * (hi - lo + 1e-9)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.6", ls="--", lw=0.8)
        if len(obs) > 2 and np.std(obs) > 0:
            b, a = np.polyfit(obs, pred, 1)
            xx = np.array([lo - pad, hi + pad])
            ax.plot(xx, a + b * xx, color="black", lw=1.0)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad + 0.45 * (hi - lo))
        ax.set_xlabel(f"observed {target_label}")
        ax.set_ylabel("predicted (LOO)")
        ax.text(0.03, 0.97, f"r = {loo.get('r', np.nan):.2f}, p(perm) {fmt_p(pp.get('r'))}\n"
                            f"MAE = {loo.get('mae', np.nan):.3f}, p(perm) {fmt_p(pp.get('mae'))}\n"
                            f"n = {int(s.get('n', len(obs)))}; solid: least squares, dashed: identity",
                transform=ax.transAxes, va="top", fontsize=6.6)
        ax.set_title(f"{next(letters)}  {MODE_TITLE.get(m['mode'], m['mode'])}", loc="left", fontsize=8)
        null = m.get("null")
        r0 = loo.get("r", np.nan)
        if null is not None and len(null) and "r" in null:
            nr = pd.to_numeric(null["r"], errors="coerce").dropna().to_numpy()
            axn.hist(nr, bins=min(50, max(10, len(nr) // 20)), color="0.75", edgecolor="white", lw=0.3)
            axn.axvline(r0, color="#D55E00", lw=1.5)
            axn.set_xlabel("r (predicted, observed) with permuted targets")
            axn.set_ylabel("permutations")
            axn.text(0.02, 0.97, f"observed r = {r0:.2f} (orange)\np(perm) {fmt_p(pp.get('r'))}, "
                                 f"{len(nr):,} permutations", transform=axn.transAxes, va="top", fontsize=6.6,
                     bbox=dict(facecolor="white", edgecolor="none", alpha=0.85, pad=1.0))
            lo_, hi_ = axn.get_ylim()
            axn.set_ylim(lo_, hi_ * 1.3)
        else:
            text_panel(axn, "No permutation null (prediction.n_permutations = 0).")
        axn.set_title(f"{next(letters)}  permutation null", loc="left", fontsize=8)
    fig.suptitle("Prediction of the HAMD reduction from baseline FC (linear SVR, leave-one-out)",
                 y=1 - 0.08 / H, va="top")
    return fig
