"""Selection rules applied alike on the full sample (as_published) and inside each fold (nested).

A rule turns a set of post - pre difference maps (rows = subjects) into clusters. The same function
selects the clusters of the full sample (``as_published``: every subject, the left-out one included)
and of each leave-one-out fold (``nested``: the training subjects only), so the difference between
the two modes of one rule measures the leakage alone, not a change of selection rule.

Rules (``prediction.selection_rules``; the one-sample t test of :func:`selection.one_sample_t`,
two-sided, 26-connectivity by default, df = n - 1):

* ``uncorrected``: supra-threshold clusters (|t| above the two-sided ``voxel_p`` threshold) of at
  least ``min_cluster_voxels`` voxels (:func:`selection.select_clusters`, the nested mode's rule);
* ``grf``: Gaussian random field cluster correction as the group stage runs it
  (:func:`fcect.group.grf.grf_cluster_inference`: smoothness of the one-sample residuals, two-tailed
  ``voxel_p``, two-tailed ``cluster_p``);
* ``cluster_extent``: permutation (sign-flip) cluster-extent FWE as the group stage runs it
  (:func:`fcect.group.permutation.permutation_inference`, cluster-forming ``voxel_p``, clusters with
  p_FWE < ``alpha``), with the rule's own ``n_perm`` sign flips in every fold and on the full sample.

The surviving clusters are kept and numbered by decreasing size (:func:`fcect.group.tables.significant_clusters`
for the corrected rules); when none survives, every rule falls back alike to a sphere of
``fallback_radius_mm`` around the largest |t| (or stops, ``fallback: error``).
"""
from __future__ import annotations

import numpy as np
from scipy import stats

from fcect.prediction.selection import (Geometry, dice, features_from_labels, labels_from_components,
                                        one_sample_t, select_clusters)

RULE_METHODS = ("uncorrected", "grf", "cluster_extent")
RULE_DEFAULTS = dict(voxel_p=0.001, min_cluster_voxels=20, cluster_p=0.05, alpha=0.05, n_perm=1000,
                     connectivity=26, fallback="peak_sphere", fallback_radius_mm=6.0)


def rule_spec(rule: dict) -> dict:
    """The rule with every default filled in and a name (``<method>`` plus its thresholds when unnamed)."""
    r = {**RULE_DEFAULTS, **dict(rule)}
    if r.get("method") not in RULE_METHODS:
        raise ValueError(f"selection rule method must be one of {RULE_METHODS}, not {r.get('method')!r}")
    if not r.get("name"):
        extra = {"uncorrected": f"_k{r['min_cluster_voxels']}", "grf": f"_c{r['cluster_p']:g}",
                 "cluster_extent": f"_a{r['alpha']:g}"}[r["method"]]
        r["name"] = f"{r['method']}_p{r['voxel_p']:g}{extra}"
    return r


def select_by_rule(D_rows: np.ndarray, geom: Geometry, rule: dict, seed: int = 0):
    """Clusters of the difference maps ``D_rows`` (n, n_vox) under ``rule``: (labels (n_vox,), info)."""
    from fcect.group import tables

    r = rule_spec(rule)
    D_rows = np.asarray(D_rows, float)
    n = D_rows.shape[0]
    if r["method"] == "uncorrected":
        return select_clusters(D_rows, geom, voxel_p=r["voxel_p"], min_cluster_voxels=r["min_cluster_voxels"],
                               connectivity=r["connectivity"], fallback=r["fallback"],
                               fallback_radius_mm=r["fallback_radius_mm"])
    if n < 3:
        raise ValueError(f"selection needs >= 3 subjects with both sessions, got {n}")
    t = one_sample_t(D_rows)
    info = dict(threshold_t=float(stats.t.isf(r["voxel_p"] / 2.0, n - 1)), df=n - 1,
                n_train_selection=n, fallback=False, clusters=[])
    if r["method"] == "grf":
        from fcect.group.grf import grf_cluster_inference

        voxel_size = tuple(np.sqrt((geom.affine[:3, :3] ** 2).sum(axis=0)))
        grf = grf_cluster_inference(t, n - 1, D_rows - D_rows.mean(0), geom.mask, voxel_p=r["voxel_p"],
                                    cluster_p=r["cluster_p"], two_tailed=True,
                                    connectivity=r["connectivity"], voxel_size=voxel_size)
        labv, found = tables.significant_clusters("grf", geom.mask, np.nan_to_num(t), r["cluster_p"], grf=grf,
                                                  connectivity=r["connectivity"])
        info.update(k_min=int(grf["k_min"]), dLh=float(grf["smoothness"]["dLh"]))
    else:
        from fcect.group.permutation import permutation_inference

        res = permutation_inference(D_rows, np.ones(n), None, mask=geom.mask, methods=("cluster_extent",),
                                    n_perm=int(r["n_perm"]), cluster_forming_p=r["voxel_p"], random_state=seed,
                                    connectivity=r["connectivity"])
        labv, found = tables.significant_clusters("cluster_extent", geom.mask, res.t, r["alpha"], result=res,
                                                  connectivity=r["connectivity"])
        info.update(n_perm=int(res.n_perm))
    comps = [(int(np.sum(labv == c["label"])), int(c["sign"]), np.flatnonzero(labv == c["label"]))
             for c in found]
    comps.sort(key=lambda c: (-c[0], c[2][0]))
    return labels_from_components(t, comps, geom, info, r["fallback"], r["fallback_radius_mm"])


def rule_features(B, D, has_diff, splits, geom, rule, seed=0, reference_labels=None, selector=None):
    """Features of one rule in both modes (``selector(rows, seed) -> (labels, info)``, rows = the subjects
    selection may read, replaces the rule's selection; the tests use it for a positive control that selects
    with the target).

    Returns (as_published features (n, K), full-sample labels, full-sample info, nested per-fold feature
    list, nested per-fold infos). The full-sample selection reads every row of ``D`` with a difference map;
    fold f's selection reads only its training rows with one (never the left-out subject's map)."""
    has_diff = np.asarray(has_diff, bool)
    rows = np.flatnonzero(has_diff)
    select = selector or (lambda sub, s: select_by_rule(D[sub], geom, rule, s))
    full_labels, full_info = select(rows, seed)
    full_info["n_features"] = int(full_labels.max())
    full_info["n_voxels_selected"] = int((full_labels > 0).sum())
    feats, infos = [], []
    for f, (tr, _te) in enumerate(splits):
        tr = np.asarray(tr)
        lab, info = select(tr[has_diff[tr]], seed + 1 + f)
        info["n_features"] = int(lab.max())
        info["n_voxels_selected"] = int((lab > 0).sum())
        info["dice_with_full_sample"] = dice(lab, full_labels)
        if reference_labels is not None:
            info["dice_with_group_result"] = dice(lab, reference_labels)
        info["_labels"] = lab
        feats.append(features_from_labels(B, lab))
        infos.append(info)
    return features_from_labels(B, full_labels), full_labels, full_info, feats, infos
