"""Leave-one-subject-out (LOSO) cluster values: each completer's value from clusters defined without them.

The circular estimate correlates each completer's mean FC change in the full-sample ECT cluster with the
HAMD reduction, although that completer's own change map took part in defining the cluster. The LOSO
estimate removes that: for completer i,

1. the paired post - pre test is re-run without i: the one-sample t map of the other completers' difference
   maps (df = n - 2), for every i at once from running sums (:func:`loso_t`);
2. it is thresholded at the cluster-forming threshold of the group stage (two-sided p = ``group.grf.voxel_p``
   when the feed method is ``grf``, else ``group.cluster_forming_p``), and its supra-threshold clusters of
   the full-sample cluster's sign are labelled (26-connectivity by default, :func:`fcect.core.clusters.label_clusters`);
3. the LOSO cluster of i is the one that overlaps the full-sample cluster most (ties: the larger); when none
   overlaps, the one whose centre of mass is nearest to the full-sample cluster's; when no voxel of that sign
   passes the threshold, i has no LOSO value (and the LOSO n is smaller);
4. i's value is the mean of i's own difference map over that cluster.

No FWE correction is re-run inside the LOSO loop (the permutation null would cost n times the group job):
the matched cluster is the supra-threshold component, as the cluster-forming step defines it. The test is the
plain one-sample t test of the change maps (``group.ect_covariates`` are not used) over the analysis mask.
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from fcect.core.clusters import label_clusters


def loso_t(D: np.ndarray) -> np.ndarray:
    """(n, V) t maps: row i is the one-sample t of every row of ``D`` except row i (df = n - 2).

    From running sums of the centred data: mean_i = (S1 - d_i) / (n - 1), SS_i = S2 - d_i^2 - (n - 1) mean_i^2.
    Zero-variance voxels give NaN."""
    D = np.asarray(D, dtype=float)
    n = D.shape[0]
    if n < 3:
        raise ValueError(f"leave-one-out t maps need >= 3 subjects, got {n}")
    mu = D.mean(axis=0)
    Dc = D - mu
    S1 = Dc.sum(axis=0)
    S2 = np.einsum("ij,ij->j", Dc, Dc)
    m = (S1 - Dc) / (n - 1)
    ss = S2 - Dc * Dc - (n - 1) * m * m
    scale = np.maximum(S2, np.finfo(float).tiny)
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(ss / ((n - 2) * (n - 1)))
        t = (m + mu) / se
    return np.where(ss > 1e-12 * scale, t, np.nan)


def _centre(ijk: np.ndarray) -> np.ndarray:
    return ijk.mean(axis=0) if len(ijk) else np.full(3, np.nan)


def loso_values(D: np.ndarray, mask: np.ndarray, full_labels: np.ndarray, ids, voxel_p: float = 0.001,
                connectivity: int = 26, t_loso: np.ndarray | None = None):
    """LOSO cluster values of every subject (rows of ``D``, (n, V) over the mask voxels in C order) for every
    full-sample cluster ``ids`` of ``full_labels`` (V,).

    Returns (values (n, K) with NaN where no cluster was found, info dict per cluster: the sign, matched
    sizes, overlaps (Dice with the full-sample cluster) and the number of subjects without a value)."""
    mask = np.asarray(mask, dtype=bool)
    D = np.asarray(D, dtype=float)
    n = D.shape[0]
    full_labels = np.asarray(full_labels)
    ids = [int(c) for c in ids]
    t_full = stats.ttest_1samp(D, 0.0, axis=0).statistic if n > 2 else np.zeros(D.shape[1])
    tl = loso_t(D) if t_loso is None else t_loso
    thr = float(stats.t.isf(voxel_p / 2.0, n - 2))
    ijk = np.argwhere(mask)
    cl_vox = [np.flatnonzero(full_labels == c) for c in ids]
    signs = [1 if np.nanmean(t_full[v]) >= 0 else -1 for v in cl_vox]
    centres = [_centre(ijk[v]) for v in cl_vox]
    vals = np.full((n, len(ids)), np.nan)
    sizes = [[] for _ in ids]
    dices = [[] for _ in ids]
    vol = np.zeros(mask.shape)
    for i in range(n):
        vol[mask] = np.nan_to_num(tl[i])
        lab3, found = label_clusters(vol, thr, connectivity)
        lab = lab3[mask]
        for k, (vox, sign, cen) in enumerate(zip(cl_vox, signs, centres)):
            cand = [c for c in found if c["sign"] == sign]
            if not cand:
                continue
            labs = np.array([c["label"] for c in cand])
            sz = np.array([c["size"] for c in cand])
            ov = np.array([np.count_nonzero(lab[vox] == lb) for lb in labs])
            if ov.max() > 0:
                j = int(np.lexsort((-sz, -ov))[0])
            else:
                d = [np.linalg.norm(_centre(ijk[lab == lb]) - cen) for lb in labs]
                j = int(np.argmin(d))
            sel = lab == labs[j]
            vals[i, k] = D[i, sel].mean()
            sizes[k].append(int(sz[j]))
            dices[k].append(2.0 * ov[j] / (sz[j] + vox.size))
    info = [dict(cluster_id=c, sign=s, n_without_value=int(np.sum(~np.isfinite(vals[:, k]))),
                 loso_size_median=float(np.median(sizes[k])) if sizes[k] else np.nan,
                 loso_dice_median=float(np.median(dices[k])) if dices[k] else np.nan,
                 threshold_t=thr)
            for k, (c, s) in enumerate(zip(ids, signs))]
    return vals, info


def loso_table(part, fc_index: dict, mask_path, label_paths: dict, voxel_p: float = 0.001,
               connectivity: int = 26, ses_pre: str = "pre", ses_post: str = "post"):
    """LOSO values from workflow files for the ECT clusters: ``label_paths`` {("ect", seed): cluster_labels}.

    The paired test's subjects are the group stage's: TRD completers with ``included_ect``. Returns (DataFrame
    participant_id, seed, cluster_contrast, cluster_id, delta_fc_loso; list of per-cluster info dicts)."""
    import nibabel as nib
    import pandas as pd

    from fcect.core.images import fc_map_of, load_labels, load_maps
    from fcect.core.participants import as_bool

    mimg = nib.load(str(mask_path))
    mask = np.asarray(mimg.dataobj).reshape(mimg.shape[:3]) > 0
    use = as_bool(part["included_ect"]) & (part["group"].astype(str) == "TRD").to_numpy()
    pids = part["participant_id"].astype(str).to_numpy()[use]
    rows, infos = [], []
    for (contrast, seed), lpath in label_paths.items():
        labels, laff = load_labels(lpath)
        if labels.shape != mask.shape or not np.allclose(laff, mimg.affine, atol=1e-4):
            raise ValueError(f"{lpath}: grid differs from the analysis mask {mask_path}")
        lv = labels[mask]
        ids = [int(c) for c in np.unique(lv[lv > 0])]
        if not ids or len(pids) < 3:
            continue

        def load(ses):
            return load_maps([fc_map_of(fc_index, s, ses, seed) for s in pids], mask.shape, mimg.affine,
                             mask.ravel())

        D = load(ses_post) - load(ses_pre)
        vals, info = loso_values(D, mask, lv, ids, voxel_p, connectivity)
        for k, c in enumerate(ids):
            infos.append(dict(info[k], seed=seed, cluster_contrast=contrast, n=len(pids)))
            rows += [dict(participant_id=p, seed=seed, cluster_contrast=contrast, cluster_id=c,
                          delta_fc_loso=vals[i, k]) for i, p in enumerate(pids)]
    cols = ["participant_id", "seed", "cluster_contrast", "cluster_id", "delta_fc_loso"]
    return pd.DataFrame(rows, columns=cols), infos
