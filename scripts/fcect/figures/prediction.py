"""Prediction stage figure: per prediction mode, LOO-predicted vs observed HAMD reduction and the permutation null
of r (Figure 5). Mode titles and the reduction label: fcect.core.vocabulary."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fcect.core.vocabulary import MODE_TITLE, reduction_label
from fcect.figures.style import WIDTH_IN, fmt_p, style, text_panel


def rules_panel(ax, rules: dict):
    """Like-for-like selection rules (svr.json ``rules``): per rule, LOO r with the rule applied on the full sample
    (as_published, orange) and inside each fold (nested, blue), joined by a line; the gap is the leakage alone."""
    names = list(rules)
    for i, name in enumerate(names):
        res = rules[name]
        ra = (res.get("as_published") or {}).get("loo", {}).get("r", np.nan)
        rn = (res.get("nested") or {}).get("loo", {}).get("r", np.nan)
        pa = (res.get("as_published") or {}).get("p_permutation", {}).get("r")
        pn = (res.get("nested") or {}).get("p_permutation", {}).get("r")
        ax.plot([ra, rn], [i, i], color="0.6", lw=1.0, zorder=1)
        ax.scatter([ra], [i], color="#D55E00", s=28, zorder=3, label="full-sample selection" if i == 0 else None)
        ax.scatter([rn], [i], color="#0072B2", s=28, zorder=3, label="selection inside each fold" if i == 0 else None)
        ax.text(1.02, i, ", ".join(fmt_p(x, 2).removeprefix("= ") for x in (pa, pn)), transform=ax.get_yaxis_transform(),
                va="center", fontsize=6.2, color="0.3")
    ax.axvline(0, color="0.8", lw=0.8, zorder=0)
    ax.set_yticks(range(len(names)), [n.replace("_", " ") for n in names], fontsize=6.8)
    ax.set_ylim(len(names) - 0.5, -0.5)
    ax.set_xlim(-1.05, 1.05)
    ax.set_xlabel("r (LOO predicted, observed)")
    ax.legend(loc="upper right", fontsize=6.2, frameon=True, framealpha=0.9, edgecolor="none", ncol=1)


def prediction_figure(modes: list, reduction="rate", rules: dict | None = None):
    """Figure 5: per mode, (left) LOO-predicted vs observed HAMD reduction with r, permutation p and MAE;
    (right) the permutation null distribution of r with the observed r; with ``rules`` (svr.json ``rules``), a last
    panel compares each selection rule applied on the full sample and inside the folds (:func:`rules_panel`).

    ``modes``: list of dicts(mode, summary (svr.json mode entry), predictions (DataFrame), null (DataFrame)).
    ``reduction``: the HAMD reduction formula of the target (``rate`` or ``difference``; axis label)."""
    style()
    target_label = reduction_label(reduction)
    ok = [m.get("summary", {}).get("status", "ok") == "ok" and m.get("predictions") is not None
          and not m["predictions"].empty for m in modes]
    heights = [2.45 if o else 0.45 for o in ok] or [0.45]
    if rules:  # a spacer row for the axis label above, then the rules panel
        heights += [0.05, 0.5 + 0.28 * len(rules)]
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
    if rules:
        ax = fig.add_subplot(gs[len(heights) - 1, :])
        pos = ax.get_position()  # room for the rule names (left) and the permutation p (right)
        ax.set_position([pos.x0 + 0.13, pos.y0, pos.width - 0.13 - 0.17, pos.height])
        rules_panel(ax, rules)
        ax.text(-0.3, 1.0, f"{next(letters)}  one selection rule, on the full sample and inside the folds: the gap is "
                           f"the leakage alone", transform=ax.transAxes, fontsize=8, va="bottom")
        ax.text(1.02, 1.0, "p(perm): full, folds", transform=ax.transAxes, fontsize=6.2, color="0.3",
                va="bottom")
    fig.suptitle("Prediction of the HAMD reduction from baseline FC (linear SVR, leave-one-out)",
                 y=1 - 0.08 / H, va="top")
    return fig
