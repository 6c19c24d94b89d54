"""Nested cluster selection: clusters re-derived inside every fold from the training subjects only.

Inside every fold, a one-sample t test of the training subjects' post - pre difference maps,
two-sided voxel threshold p < voxel_p; positive and negative supra-threshold voxels are labelled
separately with 26-connectivity (:func:`fcect.core.clusters.label_clusters`, the group stage's
labelling); clusters of at least ``min_cluster_voxels`` are kept, numbered by decreasing size
(ties: the cluster whose first voxel comes first in mask order). Features are the mean baseline FC
within these clusters. Fallback when no cluster survives: a sphere of ``fallback_radius_mm`` around
the voxel with the largest |t| (restricted to the mask), recorded per fold. The left-out subject's
difference map is never read by the selection.

Data are vectors of in-mask voxels (mask order, :class:`Geometry`); labelling runs on the mask's
bounding box only.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from fcect.core.clusters import label_clusters


@dataclass
class Geometry:
    """Analysis mask geometry: boolean 3-D mask and its affine; voxels are in mask order."""
    mask: np.ndarray
    affine: np.ndarray

    def __post_init__(self):
        self.mask = np.asarray(self.mask, bool)
        self.ijk = np.argwhere(self.mask)  # C order == order of data[mask]
        lo = self.ijk.min(0) if len(self.ijk) else np.zeros(3, int)
        hi = self.ijk.max(0) + 1 if len(self.ijk) else np.ones(3, int)
        self._lo, self._shape = lo, tuple(hi - lo)
        self._local = tuple((self.ijk - lo).T)
        self.xyz = self.ijk @ self.affine[:3, :3].T + self.affine[:3, 3]

    @property
    def n_vox(self) -> int:
        return len(self.ijk)

    def to_box(self, v: np.ndarray, fill=0):
        box = np.full(self._shape, fill, dtype=v.dtype)
        box[self._local] = v
        return box

    def from_box(self, box: np.ndarray) -> np.ndarray:
        return box[self._local]


def one_sample_t(D: np.ndarray) -> np.ndarray:
    """Voxel-wise one-sample t of rows of D (n, n_vox); zero-variance voxels -> NaN."""
    n = D.shape[0]
    m = D.mean(0)
    sd = D.std(0, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sd > 0, m / (sd / np.sqrt(n)), np.nan)


def select_clusters(D_train: np.ndarray, geom: Geometry, voxel_p: float = 0.001,
                    min_cluster_voxels: int = 20, connectivity: int = 26,
                    fallback: str = "peak_sphere", fallback_radius_mm: float = 6.0):
    """Clusters from training difference maps only.

    Returns (labels, info): labels (n_vox,) int, 0 = not selected, 1..K clusters ordered by size
    (largest first; ties by first voxel in mask order); info with the threshold, sizes, signs, peaks
    and whether the fallback was used. NaN t values (zero-variance voxels) are never
    supra-threshold.
    """
    n = D_train.shape[0]
    if n < 3:
        raise ValueError(f"nested selection needs >= 3 training subjects with both sessions, got {n}")
    t = one_sample_t(D_train)
    df = n - 1
    thr = float(stats.t.isf(voxel_p / 2.0, df))  # two-sided
    if thr <= 0:  # label_clusters reads NaN and voxels outside the mask as 0: keep them below thr
        raise ValueError(f"voxel_p must be below 1, got {voxel_p}")
    lab_box, found = label_clusters(geom.to_box(t), thr, connectivity)
    lv = geom.from_box(lab_box)
    comps = []
    for c in found:
        if c["size"] >= min_cluster_voxels:
            comps.append((int(c["size"]), int(c["sign"]), np.flatnonzero(lv == c["label"])))
    comps.sort(key=lambda c: (-c[0], c[2][0]))
    info = dict(threshold_t=thr, df=df, n_train_selection=n, fallback=False, clusters=[])
    return labels_from_components(t, comps, geom, info, fallback, fallback_radius_mm)


def labels_from_components(t: np.ndarray, comps, geom: Geometry, info: dict,
                           fallback: str = "peak_sphere", fallback_radius_mm: float = 6.0):
    """Labels 1..K of the selected components ``[(size, sign, voxel indices), ...]`` (in that order)
    and their description in ``info["clusters"]``; no component: the peak-sphere fallback (or an
    error). Shared by :func:`select_clusters` and the selection rules (:mod:`fcect.prediction.rules`)."""
    labels = np.zeros(geom.n_vox, dtype=np.int64)
    for j, (size, sign, vox) in enumerate(comps, start=1):
        labels[vox] = j
        pk = vox[np.nanargmax(np.abs(t[vox]))]
        info["clusters"].append(dict(size_voxels=size, sign=int(sign),
                                     peak_xyz=[float(v) for v in geom.xyz[pk]],
                                     peak_t=float(t[pk])))
    if not comps:
        if fallback != "peak_sphere":
            raise RuntimeError("no cluster survived in a fold and fallback is disabled")
        absn = np.nan_to_num(np.abs(t), nan=-1.0)
        pk = int(np.argmax(absn))
        d = np.linalg.norm(geom.xyz - geom.xyz[pk], axis=1)
        vox = np.flatnonzero(d <= fallback_radius_mm + 1e-6)
        labels[vox] = 1
        info["fallback"] = True
        sgn = np.sign(t[pk]) if np.isfinite(t[pk]) else 0.0
        info["clusters"].append(dict(size_voxels=int(vox.size), sign=int(sgn) or 1,
                                     peak_xyz=[float(v) for v in geom.xyz[pk]],
                                     peak_t=float(t[pk])))
    return labels, info


def features_from_labels(B: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Mean of each row of B (n, n_vox) within each label 1..K -> (n, K)."""
    K = int(labels.max()) if labels.size else 0
    if K == 0:
        return np.empty((B.shape[0], 0))
    sel = labels > 0
    onehot = np.zeros((int(sel.sum()), K))
    onehot[np.arange(onehot.shape[0]), labels[sel] - 1] = 1.0
    return (B[:, sel] @ onehot) / onehot.sum(0)


def dice(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a) > 0, np.asarray(b) > 0
    s = a.sum() + b.sum()
    return float(2 * np.sum(a & b) / s) if s else np.nan


def nested_features(B: np.ndarray, D: np.ndarray, has_diff: np.ndarray, splits, geom: Geometry,
                    reference_labels: np.ndarray | None = None, **sel_kw):
    """Per-fold feature matrices: clusters chosen on training subjects with a difference map.

    B: (n, n_vox) baseline FC; D: (n, n_vox) post - pre (rows of subjects without a post scan are
    ignored; mark them with ``has_diff`` False). Only ``D[train & has_diff]`` is read per fold.
    Returns (list of (n, K_f) arrays, list of fold info dicts).
    """
    has_diff = np.asarray(has_diff, bool)
    feats, infos = [], []
    for tr, te in splits:
        tr = np.asarray(tr)
        rows = tr[has_diff[tr]]
        labels, info = select_clusters(D[rows], geom, **sel_kw)
        info["n_features"] = int(labels.max())
        info["n_voxels_selected"] = int((labels > 0).sum())
        if reference_labels is not None:
            info["dice_with_full_sample"] = dice(labels, reference_labels)
        info["_labels"] = labels
        feats.append(features_from_labels(B, labels))
        infos.append(info)
    return feats, infos
