"""Clinical associations: cluster values, HAMD reduction, (partial) correlations, Bonferroni.

Pure functions on numpy arrays / pandas frames, plus small nibabel readers for cluster
label images and FC maps. No Snakemake here; ``scripts/clinical_*.py`` are the wrappers.

Conventions
-----------
* HAMD reduction: ``rate`` = (pre - post) / pre (DESIGN.md 4.7, default) or ``absolute`` = pre - post.
* Correlations are two-sided. Pearson p from the t distribution with n - 2 df (identical to
  ``scipy.stats.pearsonr``); Spearman = Pearson on average ranks, p from the t approximation
  (identical to ``scipy.stats.spearmanr``).
* Partial correlation (residual method): x and y are each regressed on [1, covariates] by least
  squares, r = corr(residual_x, residual_y), t = r * sqrt(df / (1 - r^2)) with df = n - 2 - k
  (k covariates). This equals the t test of x's coefficient in OLS y ~ 1 + x + covariates, and the
  precision-matrix formula r = -P_xy / sqrt(P_xx P_yy) (:func:`partial_corr_precision`).
* Listwise deletion of missing values; the n used is reported on every row.
* 95% CI of r by Fisher z with standard error 1 / sqrt(n - 3 - k).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from fcect.core.images import fc_map_of, load_labels, load_maps
from fcect.core.participants import as_bool, reduction_column

MEASURES = ("pearson", "spearman", "partial", "partial_spearman")


# --------------------------------------------------------------------------------------------
# covariates
# --------------------------------------------------------------------------------------------
def covariate_matrix(df: pd.DataFrame, covariates: Sequence[str]) -> np.ndarray:
    """Numeric (n, k) matrix of covariates; ``sex`` (M/F) coded M = 1, F = 0.

    Derived names: ``mean_fd_delta`` = mean_fd_post - mean_fd_pre; ``mean_fd_mean`` = their mean.
    Other categorical columns with two levels are coded 0/1 (sorted levels); more levels -> error.
    """
    cols = []
    for c in covariates:
        if c == "mean_fd_delta":
            v = pd.to_numeric(df["mean_fd_post"], errors="coerce") - pd.to_numeric(
                df["mean_fd_pre"], errors="coerce")
        elif c == "mean_fd_mean":
            v = (pd.to_numeric(df["mean_fd_post"], errors="coerce") + pd.to_numeric(
                df["mean_fd_pre"], errors="coerce")) / 2.0
        elif c not in df.columns:
            raise KeyError(f"covariate {c!r} is not a column of the participants table "
                           f"(columns: {', '.join(map(str, df.columns))})")
        elif c == "sex":
            s = df[c].astype(str).str.strip().str.upper()
            v = pd.Series(np.where(s == "M", 1.0, np.where(s == "F", 0.0, np.nan)), index=df.index)
        else:
            v = pd.to_numeric(df[c], errors="coerce")
            if v.isna().all() and df[c].notna().any():
                levels = sorted(df[c].dropna().astype(str).unique())
                if len(levels) != 2:
                    raise ValueError(f"covariate {c!r} is categorical with {len(levels)} levels")
                v = (df[c].astype(str) == levels[1]).astype(float).where(df[c].notna())
        cols.append(np.asarray(v, dtype=float))
    if not cols:
        return np.empty((len(df), 0))
    return np.column_stack(cols)


# --------------------------------------------------------------------------------------------
# correlation statistics
# --------------------------------------------------------------------------------------------
@dataclass
class CorrResult:
    r: float
    p: float
    n: int
    df: int
    ci_low: float
    ci_high: float
    k: int = 0

    def as_dict(self) -> dict:
        return dict(r=self.r, p=self.p, n=self.n, df=self.df, ci_low=self.ci_low,
                    ci_high=self.ci_high, n_covariates=self.k)


def _fisher_ci(r: float, n: int, k: int, level: float = 0.95) -> tuple[float, float]:
    se_df = n - 3 - k
    if not np.isfinite(r) or se_df <= 0:
        return (np.nan, np.nan)
    z = np.arctanh(np.clip(r, -1 + 1e-15, 1 - 1e-15))
    h = stats.norm.isf((1 - level) / 2) / np.sqrt(se_df)
    return (float(np.tanh(z - h)), float(np.tanh(z + h)))


def _r_to_p(r: float, dof: int) -> float:
    """Two-sided p of a (partial) correlation with ``dof`` residual degrees of freedom."""
    if not np.isfinite(r) or dof <= 0:
        return np.nan
    if abs(r) >= 1.0:
        return 0.0
    # identical to scipy.stats.pearsonr: beta distribution form of the t test
    dist = stats.beta(dof / 2.0, dof / 2.0, loc=-1, scale=2)
    return float(2 * dist.sf(abs(r)))


def _pearson_r(x: np.ndarray, y: np.ndarray) -> float:
    xm = x - x.mean()
    ym = y - y.mean()
    den = np.sqrt(np.dot(xm, xm) * np.dot(ym, ym))
    if den == 0:
        return np.nan
    return float(np.clip(np.dot(xm, ym) / den, -1.0, 1.0))


def _complete(*arrays: np.ndarray) -> np.ndarray:
    ok = np.ones(len(arrays[0]), dtype=bool)
    for a in arrays:
        a = np.asarray(a, dtype=float)
        ok &= np.all(np.isfinite(a.reshape(len(a), -1)), axis=1)
    return ok


def residualize(v: np.ndarray, covars: np.ndarray) -> np.ndarray:
    """Residuals of least-squares regression of v on [1, covars]."""
    n = len(v)
    design = np.column_stack([np.ones(n), covars]) if covars.size else np.ones((n, 1))
    beta, *_ = np.linalg.lstsq(design, v, rcond=None)
    return v - design @ beta


def corr_test(x, y, covars=None, method: str = "pearson") -> CorrResult:
    """Correlation test between x and y (two-sided).

    method: ``pearson`` | ``spearman`` | ``partial`` (Pearson on covariate residuals) |
    ``partial_spearman`` (ranks of x, y and every covariate, then partial Pearson).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    Z = np.empty((len(x), 0)) if covars is None else np.asarray(covars, dtype=float)
    if Z.ndim == 1:
        Z = Z[:, None]
    if method in ("pearson", "spearman"):
        Z = Z[:, :0]
    elif method not in ("partial", "partial_spearman"):
        raise ValueError(f"unknown correlation measure {method!r}; choose from {MEASURES}")
    ok = _complete(x, y, Z)
    x, y, Z = x[ok], y[ok], Z[ok]
    n, k = len(x), Z.shape[1]
    if method in ("spearman", "partial_spearman"):
        x = stats.rankdata(x)
        y = stats.rankdata(y)
        Z = np.column_stack([stats.rankdata(z) for z in Z.T]) if k else Z
    dof = n - 2 - k
    if n < 3 or dof < 1:
        return CorrResult(np.nan, np.nan, n, dof, np.nan, np.nan, k)
    if k:
        x = residualize(x, Z)
        y = residualize(y, Z)
    r = _pearson_r(x, y)
    lo, hi = _fisher_ci(r, n, k)
    return CorrResult(r, _r_to_p(r, dof), n, dof, lo, hi, k)


def partial_corr_precision(x, y, covars) -> float:
    """Partial correlation from the inverse covariance matrix: r = -P_xy / sqrt(P_xx P_yy).

    Independent formula (no regression) used to cross-check :func:`corr_test` ``partial``.
    """
    data = np.column_stack([np.asarray(x, float), np.asarray(y, float),
                            np.asarray(covars, float).reshape(len(x), -1)])
    data = data[np.all(np.isfinite(data), axis=1)]
    prec = np.linalg.pinv(np.cov(data, rowvar=False))
    return float(-prec[0, 1] / np.sqrt(prec[0, 0] * prec[1, 1]))


def bonferroni(p: np.ndarray, m: int | None = None) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    m = int(np.sum(np.isfinite(p))) if m is None else int(m)
    return np.minimum(p * max(m, 1), 1.0)


# --------------------------------------------------------------------------------------------
# cluster values
# --------------------------------------------------------------------------------------------
def label_ids(labels: np.ndarray) -> np.ndarray:
    lab = np.asarray(labels)
    ids = np.unique(lab[np.isfinite(lab)] if lab.dtype.kind == "f" else lab)
    ids = ids[ids > 0]
    return ids.astype(int)


def cluster_means(data: np.ndarray, labels: np.ndarray, ids: Sequence[int] | None = None
                  ) -> np.ndarray:
    """Mean of each labelled cluster per row.

    data: (n_rows, *spatial) or (n_rows, n_vox) matching ``labels`` (spatial or flat).
    Returns (n_rows, n_clusters) in the order of ``ids`` (default: sorted positive labels).
    NaN voxels are ignored; a cluster with no finite voxel gives NaN.
    """
    lab = np.rint(np.asarray(labels, dtype=float)).astype(np.int64).ravel()
    data = np.asarray(data, dtype=float).reshape(data.shape[0], -1)
    if data.shape[1] != lab.size:
        raise ValueError(f"data has {data.shape[1]} voxels per row, labels have {lab.size}")
    ids = label_ids(lab) if ids is None else np.asarray(ids, dtype=int)
    sel = np.isin(lab, ids) & (lab > 0)
    sub = data[:, sel]
    code = np.searchsorted(ids, lab[sel]) if np.all(np.diff(ids) > 0) else \
        np.array([int(np.where(ids == v)[0][0]) for v in lab[sel]])
    onehot = np.zeros((sel.sum(), len(ids)))
    onehot[np.arange(sel.sum()), code] = 1.0
    finite = np.isfinite(sub)
    sums = np.where(finite, sub, 0.0) @ onehot
    counts = finite.astype(float) @ onehot
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.where(counts > 0, counts, 1.0), np.nan)


def cluster_descriptors(labels: np.ndarray, affine: np.ndarray, ids=None) -> pd.DataFrame:
    """Size (voxels, mm3) and centre of mass (MNI mm) of each cluster of a label image."""
    lab = np.rint(np.asarray(labels, dtype=float)).astype(np.int64)
    ids = label_ids(lab) if ids is None else np.asarray(ids, dtype=int)
    vox_mm3 = float(abs(np.linalg.det(affine[:3, :3])))
    rows = []
    for c in ids:
        ijk = np.argwhere(lab == c)
        xyz = (affine[:3, :3] @ ijk.mean(0)) + affine[:3, 3] if len(ijk) else [np.nan] * 3
        rows.append(dict(cluster_id=int(c), size_voxels=len(ijk), size_mm3=len(ijk) * vox_mm3,
                         com_x=float(xyz[0]), com_y=float(xyz[1]), com_z=float(xyz[2])))
    return pd.DataFrame(rows, columns=["cluster_id", "size_voxels", "size_mm3", "com_x", "com_y",
                                       "com_z"])


# --------------------------------------------------------------------------------------------
# correlation tables
# --------------------------------------------------------------------------------------------
def correlate_clusters(values: np.ndarray, target: np.ndarray, covars: np.ndarray | None,
                       measures: Iterable[str]) -> list[dict]:
    """One dict per (cluster column, measure)."""
    rows = []
    values = np.asarray(values, float)
    for j in range(values.shape[1]):
        for m in measures:
            res = corr_test(values[:, j], target, covars if m.startswith("partial") else None,
                            method=m)
            d = res.as_dict()
            d.update(cluster_index=j, measure=m)
            rows.append(d)
    return rows


CORR_COLUMNS = [
    "analysis", "seed", "cluster_contrast", "cluster_id", "size_voxels", "com_x", "com_y",
    "com_z", "x_variable", "y_variable", "sample", "measure", "covariates", "n", "df", "r",
    "ci_low", "ci_high", "p", "family", "n_tests", "p_bonferroni", "significant_bonferroni",
    "mean_x", "sd_x", "mean_y", "sd_y",
]


def correlation_table(blocks: Sequence[Mapping], measures: Sequence[str],
                      covariates: Sequence[str], bonferroni_scope: str = "analysis",
                      alpha: float = 0.05) -> pd.DataFrame:
    """Build the correlation table from blocks of cluster values.

    Each block is a mapping with keys ``analysis``, ``seed``, ``cluster_contrast``,
    ``x_variable``, ``y_variable``, ``sample`` (str), ``values`` (n, n_clusters), ``target`` (n,),
    ``covars`` (n, k) or None, ``clusters`` (DataFrame from :func:`cluster_descriptors`).

    Bonferroni: the family is every cluster tested within one analysis, cluster source and
    measure (``bonferroni_scope='analysis'``, across seeds) or within one analysis, cluster
    source, seed and measure (``'seed'``). The factor is the number of clusters in the family with
    a finite p.
    """
    rows = []
    for b in blocks:
        vals = np.asarray(b["values"], float)
        clus = b["clusters"].reset_index(drop=True)
        tgt = np.asarray(b["target"], float)
        for d in correlate_clusters(vals, tgt, b.get("covars"), measures):
            j = d.pop("cluster_index")
            c = clus.iloc[j]
            x = vals[:, j]
            ok = np.isfinite(x) & np.isfinite(tgt)
            rows.append(dict(
                analysis=b["analysis"], seed=b["seed"], cluster_contrast=b["cluster_contrast"],
                cluster_id=int(c["cluster_id"]), size_voxels=int(c["size_voxels"]),
                com_x=c["com_x"], com_y=c["com_y"], com_z=c["com_z"],
                x_variable=b["x_variable"], y_variable=b["y_variable"], sample=b["sample"],
                covariates=",".join(covariates) if d["measure"].startswith("partial") else "",
                mean_x=float(np.mean(x[ok])) if ok.any() else np.nan,
                sd_x=float(np.std(x[ok], ddof=1)) if ok.sum() > 1 else np.nan,
                mean_y=float(np.mean(tgt[ok])) if ok.any() else np.nan,
                sd_y=float(np.std(tgt[ok], ddof=1)) if ok.sum() > 1 else np.nan,
                **{k: d[k] for k in ("measure", "n", "df", "r", "ci_low", "ci_high", "p")}))
    df = pd.DataFrame(rows, columns=[c for c in CORR_COLUMNS if c not in
                                     ("family", "n_tests", "p_bonferroni",
                                      "significant_bonferroni")])
    if df.empty:
        return pd.DataFrame(columns=CORR_COLUMNS)
    if bonferroni_scope == "analysis":
        keys = ["analysis", "cluster_contrast", "measure"]
    elif bonferroni_scope == "seed":
        keys = ["analysis", "cluster_contrast", "seed", "measure"]
    else:
        raise ValueError(f"bonferroni_scope must be 'analysis' or 'seed', not {bonferroni_scope!r}")
    df["family"] = df[keys].astype(str).agg("|".join, axis=1)
    df["n_tests"] = df.groupby("family")["p"].transform(lambda s: int(np.isfinite(s).sum()))
    df["p_bonferroni"] = np.minimum(df["p"] * df["n_tests"].clip(lower=1), 1.0)
    df["significant_bonferroni"] = df["p_bonferroni"] < alpha
    return df[CORR_COLUMNS]


# --------------------------------------------------------------------------------------------
# from workflow files to tables
# --------------------------------------------------------------------------------------------
def cluster_values_table(part: pd.DataFrame, fc_index: dict, label_paths: Mapping,
                         ses_pre: str = "pre", ses_post: str = "post",
                         reduction: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per participant x seed x cluster: mean FC in the cluster before / after ECT and the change.

    ``label_paths``: {(cluster_contrast, seed): cluster_labels.nii.gz}. Participants included at
    baseline contribute ses-pre values; completers included in the ECT analysis also ses-post
    values and delta_fc = post - pre. Returns (values, clusters) where clusters describes every
    cluster (size, centre of mass).
    """
    part = part.copy()
    inc_b = as_bool(part["included_baseline"])
    inc_e = as_bool(part["included_ect"]) & (part["group"].astype(str) == "TRD").to_numpy()
    red = reduction_column(part, reduction)
    rows, crow = [], []
    for (contrast, seed), lpath in label_paths.items():
        labels, affine = load_labels(lpath)
        ids = label_ids(labels)
        desc = cluster_descriptors(labels, affine, ids)
        desc.insert(0, "seed", seed)
        desc.insert(0, "cluster_contrast", contrast)
        crow.append(desc)
        if ids.size == 0:
            continue
        sel = labels.ravel() > 0
        lab_sel = labels.ravel()[sel]
        subs_b = np.flatnonzero(inc_b)
        pre = cluster_means(load_maps([fc_map_of(fc_index, *(part["participant_id"].iloc[i], ses_pre,
                                                        seed)) for i in subs_b],
                                      labels.shape, affine, sel), lab_sel, ids)
        subs_e = np.flatnonzero(inc_e & inc_b)
        post_all = np.full((len(part), len(ids)), np.nan)
        if subs_e.size:
            post_all[subs_e] = cluster_means(
                load_maps([fc_map_of(fc_index, *(part["participant_id"].iloc[i], ses_post, seed))
                           for i in subs_e], labels.shape, affine, sel), lab_sel, ids)
        pre_all = np.full((len(part), len(ids)), np.nan)
        pre_all[subs_b] = pre
        for i in subs_b:
            for j, c in enumerate(ids):
                rows.append(dict(
                    participant_id=part["participant_id"].iloc[i], group=part["group"].iloc[i],
                    seed=seed, cluster_contrast=contrast, cluster_id=int(c),
                    fc_pre=pre_all[i, j], fc_post=post_all[i, j],
                    delta_fc=post_all[i, j] - pre_all[i, j], included_ect=bool(inc_e[i]),
                    hamd_pre=pd.to_numeric(part["hamd_pre"], errors="coerce").iloc[i],
                    hamd_reduction=red[i]))
    cols = ["participant_id", "group", "seed", "cluster_contrast", "cluster_id", "fc_pre",
            "fc_post", "delta_fc", "included_ect", "hamd_pre", "hamd_reduction"]
    clusters = pd.concat(crow, ignore_index=True) if crow else pd.DataFrame(
        columns=["cluster_contrast", "seed", "cluster_id", "size_voxels", "size_mm3", "com_x",
                 "com_y", "com_z"])
    return pd.DataFrame(rows, columns=cols), clusters


ANALYSES = {
    # name: (x column, y column, subject filter, exploratory)
    "delta_fc_vs_reduction": ("delta_fc", "hamd_reduction", "completers", False),
    "baseline_fc_vs_hamd_pre": ("fc_pre", "hamd_pre", "trd_baseline", True),
}


def correlations_from_values(values: pd.DataFrame, clusters: pd.DataFrame, part: pd.DataFrame,
                             analyses: Mapping[str, Sequence[str]], measures: Sequence[str],
                             covariates: Sequence[str] = (), bonferroni_scope: str = "analysis",
                             alpha: float = 0.05) -> pd.DataFrame:
    """Correlation table (one row per analysis x seed x cluster x measure).

    ``analyses``: {analysis name (a key of ANALYSES): [cluster contrasts to use]}.
    """
    blocks = []
    cov_df = part.set_index("participant_id")
    for name, contrasts in analyses.items():
        if name not in ANALYSES:
            raise ValueError(f"unknown clinical analysis {name!r}; choose from {list(ANALYSES)}")
        xcol, ycol, subset, _ = ANALYSES[name]
        for contrast in contrasts:
            v = values[values["cluster_contrast"] == contrast]
            if subset == "completers":
                v = v[v["included_ect"].astype(bool) & (v["group"] == "TRD")]
                sample = "TRD completers included in the ECT analysis"
            else:
                v = v[v["group"] == "TRD"]
                sample = "TRD patients included at baseline"
            for seed, vs in v.groupby("seed", sort=False):
                wide = vs.pivot(index="participant_id", columns="cluster_id", values=xcol)
                ids = list(wide.columns)
                tgt = vs.drop_duplicates("participant_id").set_index("participant_id")[ycol]
                tgt = tgt.loc[wide.index].to_numpy(float)
                Z = covariate_matrix(cov_df.loc[wide.index].reset_index(), covariates)
                cl = clusters[(clusters["cluster_contrast"] == contrast)
                              & (clusters["seed"] == seed)].set_index("cluster_id").loc[ids]
                blocks.append(dict(analysis=name, seed=seed, cluster_contrast=contrast,
                                   x_variable=xcol, y_variable=ycol, sample=sample,
                                   values=wide.to_numpy(float), target=tgt, covars=Z,
                                   clusters=cl.reset_index()))
    t = correlation_table(blocks, measures, covariates, bonferroni_scope, alpha)
    t.insert(1, "exploratory", t["analysis"].map(lambda a: ANALYSES[a][3]).astype(bool))
    extra = [c for c in clusters.columns if c.startswith("group_")]
    if extra and len(t):
        t = t.merge(clusters[["cluster_contrast", "seed", "cluster_id", *extra]],
                    on=["cluster_contrast", "seed", "cluster_id"], how="left")
    return t


GROUP_INFO_COLUMNS = ("method", "direction", "peak_x", "peak_y", "peak_z", "peak_t", "p_fwe",
                      "aal_peak")


def attach_group_info(clusters: pd.DataFrame, tables: Mapping) -> pd.DataFrame:
    """Add the group stage's cluster description (clusters.tsv: method, direction, peak MNI,
    peak t, FWE p, AAL label of the peak) as ``group_*`` columns, matched on cluster_id.

    ``tables``: {(cluster_contrast, seed): DataFrame read from clusters.tsv}.
    """
    rows = []
    for (contrast, seed), tab in tables.items():
        if tab is None or not len(tab) or "cluster_id" not in tab.columns:
            continue
        tab = tab.copy()
        if "feed" in tab.columns:
            tab = tab[as_bool(tab["feed"])]
        keep = [c for c in GROUP_INFO_COLUMNS if c in tab.columns]
        tab = tab[["cluster_id", *keep]].rename(columns={c: f"group_{c}" for c in keep})
        tab["cluster_contrast"], tab["seed"] = contrast, seed
        rows.append(tab.drop_duplicates("cluster_id"))
    if not rows:
        return clusters
    info = pd.concat(rows, ignore_index=True)
    info["cluster_id"] = info["cluster_id"].astype(int)
    return clusters.merge(info, on=["cluster_contrast", "seed", "cluster_id"], how="left")
