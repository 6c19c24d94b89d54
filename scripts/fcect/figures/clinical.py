"""Clinical stage figures: FC change vs HAMD reduction per significant cluster (Figure 4a) and HAMD before and
after ECT with the HAMD reduction (Figure 4b). Axis labels of the reduction: fcect.core.vocabulary."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from fcect.core.participants import as_bool, hamd_reduction
from fcect.core.vocabulary import CONTRAST_CATEGORY, contrast_label, reduction_label
from fcect.figures.style import GROUP_COLOURS, HALF_WIDTH_IN, WIDTH_IN, fmt_p, message_figure, style, text_panel

MEASURE_LABEL = {"pearson": "r", "spearman": "rho", "partial": "partial r", "partial_spearman": "partial rho"}


def clinical_scatter_figure(values: pd.DataFrame, correlations: pd.DataFrame, measure="pearson",
                            analysis="delta_fc_vs_reduction", max_panels=6, reduction="rate"):
    """Figure 4a: per cluster, FC change (post - pre) vs HAMD reduction in completers, OLS line with 95% CI; the
    chosen correlation, its p and the Bonferroni-corrected p in the panel. Panels ordered by p (at most
    ``max_panels``). ``reduction``: the HAMD reduction formula of the ``hamd_reduction`` column (axis label)."""
    import seaborn as sns

    style()
    c = correlations[(correlations["analysis"] == analysis) & (correlations["measure"] == measure)]
    c = c.sort_values("p", kind="stable")
    if c.empty:
        return message_figure("FC change vs clinical improvement",
                              "No cluster was available for the clinical correlation (no significant cluster of the "
                              "contrasts in clinical.analyses, or the analysis is disabled).", height=1.6)
    shown = c.head(max_panels)
    n = len(shown)
    ncol = 3
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(WIDTH_IN, 2.35 * nrow + 0.45), squeeze=False)
    fig.subplots_adjust(left=0.09, right=0.98, top=1 - 0.5 / fig.get_figheight(), bottom=0.5 / fig.get_figheight(),
                        wspace=0.38, hspace=0.62)
    xcol = "delta_fc" if analysis == "delta_fc_vs_reduction" else "fc_pre"
    ycol = "hamd_reduction" if analysis == "delta_fc_vs_reduction" else "hamd_pre"
    for ax, r in zip(axes.flat, shown.itertuples(index=False)):
        v = values[(values["seed"] == r.seed) & (values["cluster_contrast"] == r.cluster_contrast)
                   & (values["cluster_id"] == r.cluster_id)]
        if analysis == "delta_fc_vs_reduction":
            v = v[v["included_ect"].astype(str).str.lower().isin(["true", "1"]) & (v["group"] == "TRD")]
        else:
            v = v[v["group"] == "TRD"]
        v = v[[xcol, ycol]].apply(pd.to_numeric, errors="coerce").dropna()
        sns.regplot(data=v, x=xcol, y=ycol, ax=ax, ci=95, scatter_kws=dict(s=12, color="#009E73", alpha=0.85,
                                                                        edgecolor="none"),
                    line_kws=dict(color="black", lw=1.0), n_boot=1000, seed=0, truncate=False)
        lab = getattr(r, "group_aal_peak", None)
        peak = ""
        if hasattr(r, "group_peak_x") and pd.notna(getattr(r, "group_peak_x", np.nan)):
            peak = f" ({r.group_peak_x:.0f}, {r.group_peak_y:.0f}, {r.group_peak_z:.0f})"
        con = contrast_label(str(r.cluster_contrast), CONTRAST_CATEGORY)
        title = f"{r.seed}, {con} cluster {int(r.cluster_id)}{peak}"
        ax.set_title(title, fontsize=7.5, loc="left")
        if isinstance(lab, str) and lab not in ("n/a", ""):
            ax.text(0.0, 1.01, lab.replace("_", " "), transform=ax.transAxes, fontsize=6.5, color="0.35",
                    va="bottom")
            ax.set_title(title, fontsize=7.5, loc="left", pad=11)
        ml = MEASURE_LABEL.get(measure, measure)
        loso = getattr(r, "r_loso", np.nan)  # leave-one-subject-out estimate (fcect.clinical.loso)
        loso = (f"\nLOSO {ml} = {loso:.2f}, p {fmt_p(r.p_loso)}, n = {int(r.n_loso)}"
                if pd.notna(loso) and pd.notna(getattr(r, "n_loso", np.nan)) else "")
        ax.text(0.03, 0.97, f"{ml} = {r.r:.2f}, p {fmt_p(r.p)}\np(Bonferroni ×{int(r.n_tests)}) "
                            f"{fmt_p(r.p_bonferroni)}\nn = {int(r.n)}{loso}",
                transform=ax.transAxes, va="top", fontsize=6.8,
                bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=1.5))
        ax.set_xlabel("FC change, post - pre (Fisher z)" if xcol == "delta_fc" else "baseline FC (Fisher z)")
        ax.set_ylabel(reduction_label(reduction) if ycol == "hamd_reduction" else "baseline HAMD")
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + (0.5 if loso else 0.35) * (hi - lo))
    for ax in list(axes.flat)[n:]:
        ax.set_axis_off()
    more = f" (the {n} with the smallest p of {len(c)})" if len(c) > n else ""
    what = ("FC change (post - pre) vs HAMD reduction, completers" if analysis == "delta_fc_vs_reduction"
            else "baseline FC vs baseline HAMD, patients")
    fig.suptitle(f"{what}: significant clusters{more}",
                 y=1 - 0.08 / fig.get_figheight(), va="top")
    return fig


def hamd_paired_figure(participants: pd.DataFrame, reduction="rate"):
    """Figure 4b: HAMD before and after ECT in completers included in the ECT analysis (one line per patient),
    with the paired t test, and the HAMD reduction (``reduction``: ``rate`` or ``difference``)."""
    from scipy import stats

    style()
    p = participants[(participants["group"] == "TRD") & as_bool(participants["included_ect"])]
    pre = pd.to_numeric(p["hamd_pre"], errors="coerce")
    post = pd.to_numeric(p["hamd_post"], errors="coerce")
    ok = pre.notna() & post.notna()
    pre, post = pre[ok].to_numpy(float), post[ok].to_numpy(float)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(HALF_WIDTH_IN, 2.8), gridspec_kw=dict(width_ratios=[1.3, 1]))
    fig.subplots_adjust(left=0.16, right=0.97, bottom=0.25, top=0.8, wspace=0.65)
    if len(pre) == 0:
        text_panel(ax, "No completer with both HAMD scores.")
        ax2.set_axis_off()
        return fig
    rng = np.random.default_rng(0)
    jit = rng.uniform(-0.06, 0.06, len(pre))
    for a, b, j in zip(pre, post, jit):
        ax.plot([0 + j, 1 + j], [a, b], color="0.6", lw=0.6, alpha=0.8)
    ax.scatter(np.zeros(len(pre)) + jit, pre, color=GROUP_COLOURS["TRD pre"], s=10, zorder=3, edgecolor="none")
    ax.scatter(np.ones(len(post)) + jit, post, color=GROUP_COLOURS["TRD post"], s=10, zorder=3, edgecolor="none")
    for x, d, col in ((0, pre, GROUP_COLOURS["TRD pre"]), (1, post, GROUP_COLOURS["TRD post"])):
        ax.errorbar(x + (-0.22 if x == 0 else 0.22), d.mean(), yerr=d.std(ddof=1) if len(d) > 1 else 0,
                    fmt="o", color=col, ms=4.5, capsize=2.5, lw=1.1, mec="black", mew=0.5)
    ax.set_xticks([0, 1], ["before ECT", "after ECT"])
    ax.set_xlim(-0.45, 1.45)
    ax.set_ylabel("HAMD total score")
    if len(pre) > 1:
        t, pv = stats.ttest_rel(pre, post)
        ax.set_title(f"paired t({len(pre) - 1}) = {t:.2f}\np {fmt_p(pv)}, n = {len(pre)}", fontsize=7)
    ax.set_ylim(0, max(pre.max(), post.max()) * 1.08 + 1)
    red = hamd_reduction(pre, post, reduction)
    red = red[np.isfinite(red)]
    ax2.boxplot([red], widths=0.5, showfliers=False, medianprops=dict(color="black"),
                boxprops=dict(color="0.4"), whiskerprops=dict(color="0.4"), capprops=dict(color="0.4"))
    ax2.scatter(1 + rng.uniform(-0.12, 0.12, len(red)), red, color=GROUP_COLOURS["TRD post"], s=10, zorder=3,
                edgecolor="none")
    if reduction == "rate":
        ax2.axhline(0.5, color="0.3", ls="--", lw=0.7)
    ax2.set_ylabel(reduction_label(reduction))
    ax2.set_xticks([1], ["completers\n(dashed: 50%\nresponse)" if reduction == "rate" else "completers"])
    ax2.set_xlim(0.5, 1.5)
    fig.suptitle("Depression severity before and after ECT", y=0.97, fontsize=8.5)
    return fig
