"""Demographic and clinical characteristics table (the paper's Table 1) and the exclusion list.

Input: ``results/qc/participants_included.tsv`` (participants.tsv + has_pre, has_post,
included_baseline, included_ect, mean_fd_pre, mean_fd_post, hamd_reduction) and optionally
``results/qc/motion.tsv`` (one row per scan).

Samples
-------
* Group comparisons (TRD vs HC): participants with ``included_baseline`` (``sample='included'``,
  default) or every participant listed (``sample='all'``).
* ECT rows (HAMD pre vs post, reduction, FD pre vs post): TRD completers with ``included_ect``
  (or, with ``sample='all'``, every TRD patient with both HAMD scores / both FD values).

Tests: two-sample Student t (``ttest='student'``, default) or Welch (``'welch'``) for continuous
variables; Pearson chi-square for sex (``yates=False`` default, i.e. no continuity correction, as
SPSS reports it); paired t for HAMD pre vs post and mean FD pre vs post. Every test equals the
corresponding scipy.stats function.

HAMD reduction (``reduction``): ``rate`` = (pre - post) / pre (default) or ``difference`` = pre - post
(:func:`fcect.core.participants.hamd_reduction`); its row is labelled by
:func:`fcect.core.vocabulary.reduction_label` with the formula, e.g. "HAMD reduction rate, (pre - post) / pre".
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from fcect.core.participants import as_bool, hamd_reduction
from fcect.core.vocabulary import reduction_label

TABLE_COLUMNS = ["section", "variable", "summary", "TRD", "HC", "test", "statistic", "df", "p",
                 "n_TRD", "n_HC", "TRD_mean", "TRD_sd", "HC_mean", "HC_sd", "note"]
EXCLUSION_COLUMNS = ["participant_id", "group", "session", "stage", "reason", "mean_fd",
                     "max_translation_mm", "max_rotation_deg"]


def _num(s) -> np.ndarray:
    return pd.to_numeric(pd.Series(s), errors="coerce").to_numpy(dtype=float)


def _fmt(m: float, sd: float, digits: int = 2) -> str:
    if not np.isfinite(m):
        return "n/a"
    return f"{m:.{digits}f} ({sd:.{digits}f})" if np.isfinite(sd) else f"{m:.{digits}f}"


def _msd(x: np.ndarray) -> tuple[float, float, int]:
    x = x[np.isfinite(x)]
    if x.size == 0:
        return np.nan, np.nan, 0
    return float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else np.nan, int(x.size)


def two_sample_test(a, b, ttest: str = "student") -> dict:
    """Student or Welch t test (two-sided) with its df, matching scipy.stats.ttest_ind."""
    a = np.asarray(a, float)
    b = np.asarray(b, float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if ttest not in ("student", "welch"):
        raise ValueError(f"ttest must be 'student' or 'welch', not {ttest!r}")
    if a.size < 2 or b.size < 2:
        return dict(test=f"{ttest} t", statistic=np.nan, df=np.nan, p=np.nan)
    res = stats.ttest_ind(a, b, equal_var=(ttest == "student"))
    return dict(test="two-sample t" if ttest == "student" else "Welch t",
                statistic=float(res.statistic), df=float(res.df), p=float(res.pvalue))


def paired_test(pre, post) -> dict:
    pre = np.asarray(pre, float)
    post = np.asarray(post, float)
    ok = np.isfinite(pre) & np.isfinite(post)
    if ok.sum() < 2:
        return dict(test="paired t", statistic=np.nan, df=np.nan, p=np.nan, n=int(ok.sum()))
    res = stats.ttest_rel(pre[ok], post[ok])
    return dict(test="paired t", statistic=float(res.statistic), df=float(res.df),
                p=float(res.pvalue), n=int(ok.sum()))


def chi2_test(table: np.ndarray, yates: bool = False) -> dict:
    table = np.asarray(table, float)
    table = table[table.sum(1) > 0][:, table.sum(0) > 0]
    if table.shape[0] < 2 or table.shape[1] < 2:
        return dict(test="chi-square", statistic=np.nan, df=np.nan, p=np.nan)
    chi2, p, dof, _ = stats.chi2_contingency(table, correction=yates)
    return dict(test="chi-square" + (" (Yates)" if yates else ""), statistic=float(chi2),
                df=float(dof), p=float(p))


def _flags(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    for c in ("has_pre", "has_post", "included_baseline", "included_ect"):
        if c in df.columns:
            df[c] = as_bool(df[c])
        elif c == "has_pre":
            df[c] = True
        elif c == "has_post":
            df[c] = df["hamd_post"].notna() if "hamd_post" in df else False
        elif c == "included_baseline":
            df[c] = df["has_pre"]
        elif c == "included_ect":
            df[c] = df["has_post"] & (df["group"] == "TRD")
    return df


def demographics_table(participants: pd.DataFrame, ttest: str = "student", yates: bool = False,
                       sample: str = "included", reduction: str = "rate",
                       digits: int = 2) -> pd.DataFrame:
    """Table 1 as a tidy frame (one row per variable), see the module docstring."""
    df = _flags(participants)
    df["group"] = df["group"].astype(str).str.strip()
    trd_all = df["group"] == "TRD"
    hc_all = df["group"] == "HC"
    rows: list[dict] = []

    def add(section, variable, summary, trd, hc, test=None, n_trd=np.nan, n_hc=np.nan,
            trd_ms=(np.nan, np.nan), hc_ms=(np.nan, np.nan), note=""):
        test = test or {}
        rows.append(dict(section=section, variable=variable, summary=summary, TRD=trd, HC=hc,
                         test=test.get("test", ""), statistic=test.get("statistic", np.nan),
                         df=test.get("df", np.nan), p=test.get("p", np.nan), n_TRD=n_trd,
                         n_HC=n_hc, TRD_mean=trd_ms[0], TRD_sd=trd_ms[1], HC_mean=hc_ms[0],
                         HC_sd=hc_ms[1], note=note))

    # ---- sample sizes per group and session
    for label, col in (("enrolled (participants.tsv)", None), ("scanned ses-pre", "has_pre"),
                       ("scanned ses-post", "has_post"),
                       ("included baseline (ses-pre passes QC)", "included_baseline"),
                       ("included ECT (both sessions pass QC)", "included_ect")):
        sel = np.ones(len(df), bool) if col is None else df[col].to_numpy()
        nt, nh = int((sel & trd_all).sum()), int((sel & hc_all).sum())
        add("sample", f"n {label}", "n", str(nt), str(nh), n_trd=nt, n_hc=nh)

    if sample == "included":
        base = df["included_baseline"].to_numpy()
        ect = (df["included_ect"].to_numpy()) & trd_all.to_numpy()
        base_note = "participants included at baseline"
        ect_note = "ECT completers included in the ECT analysis"
    elif sample == "all":
        base = np.ones(len(df), bool)
        ect = trd_all.to_numpy()
        base_note = "all participants listed"
        ect_note = "all TRD patients with both values"
    else:
        raise ValueError(f"demographics sample must be 'included' or 'all', not {sample!r}")
    trd = base & trd_all.to_numpy()
    hc = base & hc_all.to_numpy()

    # ---- group comparisons at baseline
    for col, label in (("age", "age (years)"), ("education", "education (years)"),
                       ("hamd_pre", "HAMD baseline"), ("mean_fd_pre", "mean FD ses-pre (mm)")):
        if col not in df.columns:
            continue
        v = _num(df[col])
        mt, st, nt = _msd(v[trd])
        mh, sh, nh = _msd(v[hc])
        test = two_sample_test(v[trd], v[hc], ttest) if nt > 1 and nh > 1 else None
        add("baseline", label, "mean (SD)", _fmt(mt, st, digits), _fmt(mh, sh, digits), test,
            nt, nh, (mt, st), (mh, sh), base_note)
    if "sex" in df.columns:
        s = df["sex"].astype(str).str.strip().str.upper()
        ct = np.array([[int(((s == lv).to_numpy() & g).sum()) for lv in ("M", "F")]
                       for g in (trd, hc)])
        add("baseline", "sex (M/F)", "n M / n F", f"{ct[0, 0]}/{ct[0, 1]}",
            f"{ct[1, 0]}/{ct[1, 1]}", chi2_test(ct, yates), int(ct[0].sum()), int(ct[1].sum()),
            note=base_note)

    # ---- ECT: within-patient changes
    pre, post = _num(df["hamd_pre"]), _num(df["hamd_post"]) if "hamd_post" in df else None
    if post is not None:
        red = hamd_reduction(pre, post, reduction)
        ok = ect & np.isfinite(pre) & np.isfinite(post)
        mp, sp, n = _msd(pre[ok])
        mq, sq, _ = _msd(post[ok])
        add("ect", "HAMD pre vs post (completers)", "mean (SD) pre / post",
            f"{_fmt(mp, sp, digits)} / {_fmt(mq, sq, digits)}", "", paired_test(pre[ok], post[ok]),
            n, np.nan, (mp, sp), note=ect_note)
        mr, sr, nr = _msd(red[ok])
        rlabel = reduction_label(reduction, with_formula=True)
        rng = f"range {np.nanmin(red[ok]):.{digits}f} to {np.nanmax(red[ok]):.{digits}f}" \
            if nr else ""
        add("ect", rlabel, "mean (SD)", _fmt(mr, sr, digits), "", None, nr, np.nan, (mr, sr),
            note="; ".join(x for x in (ect_note, rng) if x))
    if {"mean_fd_pre", "mean_fd_post"} <= set(df.columns):
        a, b = _num(df["mean_fd_pre"]), _num(df["mean_fd_post"])
        ok = ect & np.isfinite(a) & np.isfinite(b)
        ma, sa, n = _msd(a[ok])
        mb, sb, _ = _msd(b[ok])
        add("ect", "mean FD pre vs post (completers, mm)", "mean (SD) pre / post",
            f"{_fmt(ma, sa, 3)} / {_fmt(mb, sb, 3)}", "", paired_test(a[ok], b[ok]), n, np.nan,
            (ma, sa), note=ect_note)
    return pd.DataFrame(rows, columns=TABLE_COLUMNS)


def exclusions_table(participants: pd.DataFrame, motion: pd.DataFrame | None = None,
                     sessions: Sequence[str] = ("pre", "post")) -> pd.DataFrame:
    """Every scan excluded by QC (with the reason from motion.tsv) and every missing scan."""
    df = _flags(participants)
    group = dict(zip(df["participant_id"], df["group"]))
    rows = []
    if motion is not None and len(motion):
        m = motion.copy()
        inc = as_bool(m["included"]) if "included" in m else np.ones(len(m), bool)
        for _, r in m[~inc].iterrows():
            ses = str(r.get("session", "")).removeprefix("ses-")
            rows.append(dict(participant_id=r["participant_id"],
                             group=group.get(r["participant_id"], ""), session=ses,
                             stage="qc", reason=r.get("reason", "") if pd.notna(
                                 r.get("reason", "")) else "excluded by QC",
                             mean_fd=r.get("mean_fd", np.nan),
                             max_translation_mm=r.get("max_translation_mm", np.nan),
                             max_rotation_deg=r.get("max_rotation_deg", np.nan)))
    pre_s, post_s = sessions[0], sessions[1] if len(sessions) > 1 else None
    for _, r in df.iterrows():
        if not r["has_pre"]:
            rows.append(dict(participant_id=r["participant_id"], group=r["group"], session=pre_s,
                             stage="missing", reason=f"no ses-{pre_s} scan"))
        if post_s and r["group"] == "TRD" and not r["has_post"]:
            rows.append(dict(participant_id=r["participant_id"], group=r["group"],
                             session=post_s, stage="missing",
                             reason=f"no ses-{post_s} scan (no post-ECT follow-up scan)"))
    out = pd.DataFrame(rows, columns=EXCLUSION_COLUMNS)
    return out.sort_values(["stage", "participant_id", "session"], kind="stable",
                           ignore_index=True)


def _md_cell(v) -> str:
    if isinstance(v, float):
        if not np.isfinite(v):
            return ""
        if abs(v) < 1e-3 and v != 0:
            return f"{v:.2e}"
        return f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v).replace("|", "\\|")


def to_markdown(df: pd.DataFrame, columns: Sequence[str] | None = None) -> str:
    cols = list(columns or df.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df[cols].iterrows():
        lines.append("| " + " | ".join(_md_cell(r[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def render_markdown(table: pd.DataFrame, exclusions: pd.DataFrame, ttest: str = "student",
                    yates: bool = False) -> str:
    """Human-readable Table 1 + exclusion list (for the report)."""
    t = table.copy()
    t["p"] = t["p"].map(lambda v: "" if not np.isfinite(v) else
                        ("< 0.001" if v < 0.001 else f"{v:.3f}"))
    t["statistic"] = t["statistic"].map(lambda v: "" if not np.isfinite(v) else f"{v:.2f}")
    t["df"] = t["df"].map(lambda v: "" if not np.isfinite(v) else f"{v:.4g}")
    parts = ["# Demographic and clinical characteristics\n",
             to_markdown(t, ["variable", "summary", "TRD", "HC", "test", "statistic", "df", "p"]),
             "\nTests: "
             + ("two-sample Student t" if ttest == "student" else "Welch t")
             + " for continuous variables; Pearson chi-square"
             + (" with Yates correction" if yates else " (no continuity correction)")
             + " for sex; paired t for HAMD and mean FD pre vs post. Two-sided.\n",
             f"\n## Exclusions and missing scans ({len(exclusions)})\n"]
    if len(exclusions):
        parts.append(to_markdown(exclusions, ["participant_id", "group", "session", "stage",
                                              "reason"]))
    else:
        parts.append("None.\n")
    return "".join(parts)
