"""One prediction analysis of the stage: workflow files -> arrays -> LOO SVR, permutations, k-fold.

:func:`prediction_data` reads one seed's maps (baseline FC ``B``, post - pre differences ``D``)
inside the analysis mask, the HAMD reduction target and the group stage's cluster labels;
:func:`run_mode` runs one mode end to end (the rule script ``scripts/predict_svr.py`` is a thin
wrapper around both).

Modes
-----
* ``as_published``: the clusters are those found on the full sample (group ECT result), fixed for
  every fold (this leaks the left-out subject's data into feature selection, as in the paper).
* ``nested``: inside every fold, clusters are re-derived from the *training* subjects only
  (:mod:`fcect.prediction.selection`).

Model, cross-validation and permutation test: :mod:`fcect.prediction.svr`.
"""
from __future__ import annotations

import math
import time
import warnings

import numpy as np

from fcect.core.images import fc_map_of, load_labels, load_maps
from fcect.core.participants import as_bool, reduction_column
from fcect.prediction.selection import Geometry, features_from_labels, nested_features, select_clusters
from fcect.prediction.svr import (NULL_COLUMNS, cv_predict, fit_svr, kfold_splits, loo_splits, metrics,
                                  permutation_null, permutation_p, prepare_folds, standardize, summarise)

# --------------------------------------------------------------------------------------------
# from workflow files to the arrays of one prediction analysis
# --------------------------------------------------------------------------------------------
SAMPLES = {
    "completers": "TRD completers included in the ECT analysis (both scans pass QC) with a HAMD "
                  "reduction",
    "all_with_reduction": "every TRD patient included at baseline with a HAMD reduction (nested "
                          "selection uses only those of the training subjects with both scans)",
}


def prediction_data(part, fc_index: dict, mask_path, seed: str, sample: str = "completers",
                    ses_pre: str = "pre", ses_post: str = "post", reduction: str | None = None,
                    labels_path=None, need_diff: bool = True) -> dict:
    """Arrays for one seed: y, baseline maps B, difference maps D (post - pre), has_diff, geometry,
    and the full-sample cluster labels (in-mask vector) when ``labels_path`` is given."""
    import nibabel as nib

    if sample not in SAMPLES:
        raise ValueError(f"prediction sample must be one of {list(SAMPLES)}, not {sample!r}")
    trd = (part["group"].astype(str) == "TRD").to_numpy()
    inc_b = as_bool(part["included_baseline"])
    inc_e = as_bool(part["included_ect"]) & trd & inc_b
    red = reduction_column(part, reduction)
    keep = (inc_e if sample == "completers" else (trd & inc_b)) & np.isfinite(red)
    idx = np.flatnonzero(keep)
    if idx.size < 5:
        raise ValueError(f"prediction needs at least 5 subjects; the '{sample}' sample has "
                         f"{idx.size}")
    ids = part["participant_id"].astype(str).to_numpy()[idx]
    mimg = nib.load(str(mask_path))
    mask = np.asarray(mimg.dataobj) > 0
    geom = Geometry(mask, mimg.affine)
    vox = mask.ravel()

    def path(sub, ses):
        return fc_map_of(fc_index, sub, ses, seed)

    B = load_maps([path(s, ses_pre) for s in ids], mask.shape, mimg.affine, vox)
    has_diff = inc_e[idx]
    D = np.full_like(B, np.nan)
    if need_diff and has_diff.any():
        D[has_diff] = load_maps([path(s, ses_post) for s in ids[has_diff]], mask.shape,
                                mimg.affine, vox) - B[has_diff]
    out = dict(participant_id=ids, y=red[idx], B=B, D=D, has_diff=has_diff, geom=geom,
               sample=sample, sample_description=SAMPLES[sample], labels=None, cluster_ids=None)
    if labels_path is not None:
        lab, laff = load_labels(labels_path)
        if lab.shape != mask.shape or not np.allclose(laff, mimg.affine, atol=1e-4):
            raise ValueError(f"{labels_path}: grid differs from the analysis mask {mask_path}")
        outside = int(((lab > 0) & ~mask).sum())
        if outside:
            warnings.warn(f"{labels_path}: {outside} cluster voxels outside the analysis mask "
                          "are ignored")
        lv = lab.ravel()[vox]
        ids_c = np.unique(lv[lv > 0])
        # relabel to 1..K in the order of the group result's cluster ids
        relab = np.zeros_like(lv)
        for k, c in enumerate(ids_c, start=1):
            relab[lv == c] = k
        out["labels"] = relab
        out["cluster_ids"] = [int(c) for c in ids_c]
    return out


# --------------------------------------------------------------------------------------------
# one complete analysis
def _kfold_repeats(repeats, y, features, B, D, has_diff, geom, nested, n_splits, seed, C,
                   epsilon) -> list[dict]:
    """Repeated shuffled k-fold CV; repeat r uses KFold(random_state=seed + 1 + r)."""
    out = []
    n = len(y)
    for r_i in repeats:
        sp = kfold_splits(n, n_splits, seed + 1 + r_i)
        if features is None:
            f_k, _ = nested_features(B, D, has_diff, sp, geom, None, **(nested or {}))
        else:
            f_k = features
        m = metrics(y, cv_predict(prepare_folds(f_k, sp), y, C, epsilon))
        out.append(dict(repeat=r_i, r=m["r"], mae=m["mae"], rmse=m["rmse"], r2=m["r2"]))
    return out


# --------------------------------------------------------------------------------------------
def run_mode(y: np.ndarray, *, features=None, B=None, D=None, has_diff=None, geom=None,
             reference_labels=None, nested: dict | None = None, C: float = 1.0,
             epsilon: float = 0.1, n_perm: int = 5000, n_splits: int = 10, n_repeats: int = 100,
             seed: int = 0, n_jobs: int = 1, log=print) -> dict:
    """Run LOO + permutation + repeated k-fold for one mode.

    as_published: pass ``features`` (n, p). nested: pass B, D, has_diff, geom and ``nested``
    (selection keyword arguments). Returns a dict with metrics, predictions, null, folds.
    """
    y = np.asarray(y, float)
    n = len(y)
    is_nested = features is None
    if not np.all(np.isfinite(y)):
        raise ValueError("the prediction target has missing values")
    if is_nested:
        bad_b = np.flatnonzero(~np.all(np.isfinite(B), axis=1))
        bad_d = np.flatnonzero(np.asarray(has_diff, bool) & ~np.all(np.isfinite(D), axis=1))
        if bad_b.size or bad_d.size:
            raise ValueError(f"non-finite FC values inside the mask: baseline rows {bad_b.tolist()}"
                             f", difference rows {bad_d.tolist()}")
    t0 = time.perf_counter()
    splits = loo_splits(n)
    if is_nested:
        feats, infos = nested_features(B, D, has_diff, splits, geom, reference_labels,
                                       **(nested or {}))
    else:
        features = np.asarray(features, float)
        if features.ndim != 2 or features.shape[1] == 0:
            raise ValueError("as_published mode needs at least one cluster feature")
        feats, infos = features, [dict(n_features=features.shape[1]) for _ in splits]
    folds = prepare_folds(feats, splits)
    t_sel = time.perf_counter() - t0
    pred = cv_predict(folds, y, C, epsilon)
    obs = metrics(y, pred)
    log(f"LOO: r = {obs['r']:.3f}, MAE = {obs['mae']:.4f} (n = {n})")
    t1 = time.perf_counter()
    null = permutation_null(folds, y, n_perm, seed, n_jobs, C, epsilon)
    t_perm = time.perf_counter() - t1
    pperm = permutation_p(obs, null) if n_perm else {k: np.nan for k in NULL_COLUMNS}
    log(f"{n_perm} permutations in {t_perm:.1f} s: p(r) = {pperm['r']:.4g}")
    # repeated k-fold (repeats are independent: spread over processes when nested)
    t2 = time.perf_counter()
    if is_nested and n_jobs > 1 and n_repeats > 1:
        from joblib import Parallel, delayed

        bounds = np.linspace(0, n_repeats, min(n_repeats, n_jobs * 2) + 1).astype(int)
        parts = Parallel(n_jobs=n_jobs)(
            delayed(_kfold_repeats)(range(a, b), y, features, B, D, has_diff, geom, nested,
                                    n_splits, seed, C, epsilon)
            for a, b in zip(bounds[:-1], bounds[1:]) if b > a)
        rep = [r for part in parts for r in part]
    else:
        rep = _kfold_repeats(range(n_repeats), y, features, B, D, has_diff, geom, nested,
                             n_splits, seed, C, epsilon)
    t_rep = time.perf_counter() - t2
    # full-sample model (weights, for interpretation only)
    if is_nested:
        all_rows = np.flatnonzero(np.asarray(has_diff, bool))
        full_labels, full_info = select_clusters(D[all_rows], geom, **(nested or {}))
        Xfull = features_from_labels(B, full_labels)
    else:
        Xfull, full_info = features, {}
    Xs, _ = standardize(Xfull, Xfull[:1])
    w, b = fit_svr(Xs, y, C, epsilon)
    fold_rows = []
    for (tr, te), info in zip(splits, infos):
        row = {k: v for k, v in info.items() if not k.startswith("_") and k != "clusters"}
        row["left_out"] = int(te[0])
        if "clusters" in info:
            row["cluster_sizes"] = ",".join(str(c["size_voxels"]) for c in info["clusters"])
        fold_rows.append(row)
    return dict(
        n=n, loo=obs, p_permutation=pperm, predictions=pred, null=null,
        repeated_kfold=rep,
        repeated_kfold_summary={k: summarise([r[k] for r in rep]) for k in NULL_COLUMNS},
        full_sample_model=dict(weights_standardised=[float(v) for v in w], intercept=b,
                               n_features=int(Xfull.shape[1])),
        full_sample_selection={k: v for k, v in full_info.items() if not k.startswith("_")},
        folds=fold_rows, fold_infos=infos,
        timings_s=dict(selection_and_scaling=t_sel, permutations=t_perm, repeated_kfold=t_rep,
                       total=time.perf_counter() - t0),
    )


def json_safe(o):
    """Recursively convert numpy scalars/arrays and NaN to JSON-friendly values."""
    if isinstance(o, dict):
        return {str(k): json_safe(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [json_safe(v) for v in o]
    if isinstance(o, np.ndarray):
        return json_safe(o.tolist())
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (float, np.floating)):
        return None if not math.isfinite(float(o)) else float(o)
    if isinstance(o, (np.bool_,)):
        return bool(o)
    return o


# --------------------------------------------------------------------------------------------
def run_rule(y: np.ndarray, B: np.ndarray, D: np.ndarray, has_diff: np.ndarray, geom, rule: dict, *,
             reference_labels=None, C: float = 1.0, epsilon: float = 0.1, n_perm: int = 5000,
             seed: int = 0, n_jobs: int = 1, log=print, selector=None) -> dict:
    """One selection rule in both modes: as_published (rule on the full sample) and nested (the same
    rule inside each LOO fold), each with its LOO metrics and permutation p; ``difference`` =
    as_published - nested (the leakage alone). Both modes use the same permutations of the target
    (``seed``); selection seeds (cluster_extent sign flips) are ``seed`` (full sample) and
    ``seed + 1 + fold``. No repeated k-fold here (a corrected rule re-selected n_splits x n_repeats
    times would cost more than the rest of the stage)."""
    from fcect.prediction.rules import rule_features, rule_spec

    spec = rule_spec(rule)
    y = np.asarray(y, float)
    if not np.all(np.isfinite(y)):
        raise ValueError("the prediction target has missing values")
    t0 = time.perf_counter()
    splits = loo_splits(len(y))
    X_pub, _, full_info, feats, infos = rule_features(B, D, has_diff, splits, geom, spec, seed,
                                                      reference_labels, selector)
    t_sel = time.perf_counter() - t0
    out = dict(rule={k: v for k, v in spec.items()}, n=len(y))
    preds = {}
    for mode, fx in (("as_published", X_pub), ("nested", feats)):
        folds = prepare_folds(fx, splits)
        pred = cv_predict(folds, y, C, epsilon)
        obs = metrics(y, pred)
        null = permutation_null(folds, y, n_perm, seed, n_jobs, C, epsilon)
        pp = permutation_p(obs, null) if n_perm else {k: np.nan for k in NULL_COLUMNS}
        preds[mode] = pred
        out[mode] = dict(loo=obs, p_permutation=pp)
        log(f"rule {spec['name']} {mode}: LOO r = {obs['r']:.3f} (perm p = {pp['r']:.4g}), "
            f"MAE = {obs['mae']:.4f}")
    out["as_published"]["selection"] = {k: v for k, v in full_info.items() if not k.startswith("_")}
    nf = [i["n_features"] for i in infos]
    out["nested"]["selection"] = dict(
        n_fallback=int(sum(bool(i["fallback"]) for i in infos)), n_features=summarise(nf),
        dice_with_full_sample=summarise([i["dice_with_full_sample"] for i in infos]))
    out["difference"] = {k: out["as_published"]["loo"][k] - out["nested"]["loo"][k]
                         for k in ("r", "mae", "rmse", "r2")}
    out["predictions"] = preds
    out["folds"] = [dict(left_out=int(te[0]), n_train_selection=i["n_train_selection"],
                         fallback=bool(i["fallback"]), n_features=i["n_features"],
                         n_voxels_selected=i["n_voxels_selected"],
                         dice_with_full_sample=i["dice_with_full_sample"],
                         cluster_sizes=",".join(str(c["size_voxels"]) for c in i["clusters"]))
                    for (_tr, te), i in zip(splits, infos)]
    out["fold_infos"] = infos
    out["timings_s"] = dict(selection=t_sel, total=time.perf_counter() - t0)
    return out
