"""Clinical associations from workflow files: cluster values per participant and correlation tables.

Mean FC within every group cluster (before / after ECT and the change) per participant, the
HAMD reduction, and one correlation row per analysis x seed x cluster x measure with its
Bonferroni correction. Statistics: :mod:`fcect.clinical.stats`. No Snakemake here;
``scripts/clinical_*.py`` are the wrappers.

Conventions
-----------
* HAMD reduction: ``rate`` = (pre - post) / pre (the default; config clinical.hamd_reduction) or ``difference`` = pre - post.
* Correlations are two-sided, with listwise deletion of missing values; the n used is reported on
  every row (details of the tests: :mod:`fcect.clinical.stats`).
* Bonferroni family: every cluster tested within one analysis, cluster source and measure (across
  seeds), or also within one seed (``bonferroni_scope='seed'``).
"""
from __future__ import annotations

from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from fcect.clinical.stats import corr_test, covariate_matrix
from fcect.core.images import fc_map_of, load_labels, load_maps
from fcect.core.participants import as_bool, reduction_column


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


LOSO_COLUMNS = ["r_loso", "p_loso", "n_loso"]
_KEY = ["participant_id", "seed", "cluster_contrast", "cluster_id"]


def add_loso(table: pd.DataFrame, values: pd.DataFrame, loso: pd.DataFrame | None,
             clusters: pd.DataFrame, part: pd.DataFrame, measures: Sequence[str],
             covariates: Sequence[str] = ()) -> pd.DataFrame:
    """``r_loso``, ``p_loso``, ``n_loso`` next to ``p``: the same correlation (same measure, covariates and
    sample) with each completer's leave-one-subject-out cluster value (:mod:`fcect.clinical.loso`) in place
    of the circular one, on the rows of the ``delta_fc_vs_reduction`` analysis whose clusters have LOSO
    values (ECT clusters); NaN elsewhere."""
    out = table.drop(columns=[c for c in LOSO_COLUMNS if c in table.columns])
    key = ["analysis", "seed", "cluster_contrast", "cluster_id", "measure"]
    lt = pd.DataFrame(columns=key + LOSO_COLUMNS)
    if loso is not None and len(loso) and len(table):
        v = values.drop(columns=["delta_fc"]).merge(loso.rename(columns={"delta_fc_loso": "delta_fc"}),
                                                    on=_KEY, how="inner")
        contrasts = sorted(set(loso["cluster_contrast"]))
        lt = correlations_from_values(v, clusters, part, {"delta_fc_vs_reduction": contrasts}, measures,
                                      covariates)
        lt = lt[key + ["r", "p", "n"]].rename(columns=dict(r="r_loso", p="p_loso", n="n_loso"))
    out = out.merge(lt, on=key, how="left")
    out["n_loso"] = pd.to_numeric(out["n_loso"]).astype("Int64")
    cols = [c for c in out.columns if c not in LOSO_COLUMNS]
    at = cols.index("p") + 1
    return out[cols[:at] + LOSO_COLUMNS + cols[at:]]


def values_with_loso(values: pd.DataFrame, loso: pd.DataFrame | None) -> pd.DataFrame:
    """cluster_values.tsv with the ``delta_fc_loso`` column (NaN where not computed)."""
    if loso is None or not len(loso):
        return values.assign(delta_fc_loso=np.nan)
    return values.merge(loso, on=_KEY, how="left")
