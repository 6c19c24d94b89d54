"""Prediction of ECT response (HAMD reduction) from baseline FC: linear epsilon-SVR.

Model: ``Pipeline(StandardScaler(), SVR(kernel='linear', C, epsilon))`` (scikit-learn defaults
C = 1, epsilon = 0.1, tol = 1e-3). Features: mean baseline (ses-pre) FC of one seed within each
selected cluster (one feature per cluster).

Cross-validation
----------------
* Leave-one-out (LOO): predictions for every subject; metrics Pearson r(predicted, observed)
  with its parametric p (one-sided, r > 0, and two-sided), MAE, RMSE, R2 (1 - SS_res / SS_tot).
* Permutation test: the whole CV is rerun on permuted targets (default 5000 permutations,
  seeded; the permutation index matrix is drawn once in the parent so results do not depend on the
  number of workers). p = (1 + #{null >= observed}) / (1 + n_perm) for r and R2,
  (1 + #{null <= observed}) / (1 + n_perm) for MAE and RMSE.
* Repeated k-fold (default 10 folds x 100 repeats, shuffled, seeded) as a sensitivity analysis:
  metrics per repeat, summarised by mean, SD, median and 2.5 / 97.5 percentiles.

Modes
-----
* ``as_published``: the clusters are those found on the full sample (group ECT result), fixed for
  every fold (this leaks the left-out subject's data into feature selection, as in the paper).
* ``nested``: inside every fold, clusters are re-derived from the *training* subjects only:
  one-sample t test of their post - pre difference maps, two-sided voxel threshold p < voxel_p,
  positive and negative supra-threshold voxels labelled separately with 26-connectivity
  (``scipy.ndimage.label``), clusters of at least ``min_cluster_voxels`` kept. Features are mean
  baseline FC within these clusters. Fallback when no cluster survives: a sphere of
  ``fallback_radius_mm`` around the voxel with the largest |t| (restricted to the mask), recorded
  per fold. The left-out subject's difference map is never read by the selection.

Because neither mode uses the target for feature selection, the per-fold features are computed
once and reused for every permutation: this is exactly the same as rerunning the whole CV
(selection included) on permuted targets.

Speed: each fold is one small libsvm problem. We call scikit-learn's own libsvm binding with
exactly the arguments ``SVR.fit`` uses (checked at run time to give identical predictions; falls
back to the public ``SVR`` otherwise), standardise each fold once (the scaler depends on X only),
and spread the permutations over processes with joblib.
"""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy import ndimage, stats

from fcect.core.clusters import structure
from fcect.core.images import fc_map_of, load_labels, load_maps
from fcect.core.participants import as_bool, reduction_column

# --------------------------------------------------------------------------------------------
# SVR fitting: fast path through sklearn's libsvm binding, verified against sklearn.svm.SVR
# --------------------------------------------------------------------------------------------
try:  # private module, pinned scikit-learn; verified at run time by _fast_path_ok()
    from sklearn.svm import _libsvm

    _libsvm.set_verbosity_wrap(0)
except Exception:  # pragma: no cover - depends on the installed scikit-learn
    _libsvm = None

_FAST_OK: bool | None = None
_EMPTY = np.empty(0, dtype=np.float64)


def make_pipeline(C: float = 1.0, epsilon: float = 0.1):
    """The reference model: StandardScaler + linear epsilon-SVR."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVR

    return Pipeline([("scale", StandardScaler()),
                     ("svr", SVR(kernel="linear", C=C, epsilon=epsilon))])


def _fit_libsvm(X: np.ndarray, y: np.ndarray, C: float, epsilon: float):
    """(w, b) of a linear epsilon-SVR fitted with the exact arguments of ``SVR.fit``."""
    out = _libsvm.fit(X, y, svm_type=3, sample_weight=_EMPTY, class_weight=_EMPTY,
                      kernel="linear", C=float(C), nu=0.5, probability=0, degree=3,
                      shrinking=True, tol=1e-3, cache_size=200.0, coef0=0.0, gamma=0.0,
                      epsilon=float(epsilon), max_iter=-1, random_seed=0)
    sv, coef, intercept = out[1], out[3], out[4]
    w = (coef @ sv).ravel() if sv.size else np.zeros(X.shape[1])
    return w, float(intercept[0])


def _fit_public(X, y, C, epsilon):
    from sklearn.svm import SVR

    m = SVR(kernel="linear", C=C, epsilon=epsilon).fit(X, y)
    return np.asarray(m.coef_).ravel(), float(m.intercept_[0])


def _fast_path_ok() -> bool:
    global _FAST_OK
    if _FAST_OK is None:
        _FAST_OK = False
        if _libsvm is not None:
            try:
                rng = np.random.default_rng(12345)
                X = rng.standard_normal((23, 3))
                y = X @ np.array([0.3, -0.2, 0.1]) + 0.2 * rng.standard_normal(23)
                for C, eps in ((1.0, 0.1), (0.3, 0.01)):
                    w1, b1 = _fit_libsvm(X, y, C, eps)
                    w2, b2 = _fit_public(X, y, C, eps)
                    if not (np.allclose(w1, w2, rtol=0, atol=1e-12) and abs(b1 - b2) < 1e-12):
                        raise AssertionError("libsvm fast path differs from SVR")
                _FAST_OK = True
            except Exception as exc:  # pragma: no cover
                warnings.warn(f"SVR fast path disabled ({exc}); using sklearn.svm.SVR")
    return _FAST_OK


def fit_svr(X: np.ndarray, y: np.ndarray, C: float = 1.0, epsilon: float = 0.1):
    """Fit a linear epsilon-SVR on (already scaled) X; returns (w, b)."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    y = np.ascontiguousarray(y, dtype=np.float64)
    if _fast_path_ok():
        return _fit_libsvm(X, y, C, epsilon)
    return _fit_public(X, y, C, epsilon)


def solver_name() -> str:
    return ("sklearn libsvm binding (verified identical to sklearn.svm.SVR)" if _fast_path_ok()
            else "sklearn.svm.SVR")


# --------------------------------------------------------------------------------------------
# folds and cross-validated predictions
# --------------------------------------------------------------------------------------------
@dataclass
class Fold:
    """One CV fold with its standardised training and test features (scaler fitted on train)."""
    train: np.ndarray
    test: np.ndarray
    Xtr: np.ndarray
    Xte: np.ndarray
    info: dict = field(default_factory=dict)


def standardize(Xtr: np.ndarray, Xte: np.ndarray):
    """As sklearn's StandardScaler: mean and population SD of the training rows; SD 0 -> 1."""
    mu = Xtr.mean(axis=0)
    sd = Xtr.std(axis=0)
    sd = np.where(sd < 10 * np.finfo(float).eps * np.maximum(np.abs(mu), 1.0), 1.0, sd)
    return (Xtr - mu) / sd, (Xte - mu) / sd


def loo_splits(n: int):
    idx = np.arange(n)
    return [(np.delete(idx, i), np.array([i])) for i in range(n)]


def kfold_splits(n: int, n_splits: int, rng_seed: int):
    from sklearn.model_selection import KFold

    kf = KFold(n_splits=min(n_splits, n), shuffle=True, random_state=rng_seed)
    return [(tr, te) for tr, te in kf.split(np.zeros(n))]


def prepare_folds(features, splits) -> list[Fold]:
    """``features``: (n, p) array shared by all folds, or a list of per-fold (n, p_f) arrays."""
    folds = []
    for f, (tr, te) in enumerate(splits):
        X = features[f] if isinstance(features, (list, tuple)) else features
        X = np.asarray(X, dtype=np.float64)
        Xtr, Xte = standardize(X[tr], X[te])
        folds.append(Fold(np.asarray(tr), np.asarray(te), np.ascontiguousarray(Xtr),
                          np.ascontiguousarray(Xte)))
    return folds


def cv_predict(folds: Sequence[Fold], y: np.ndarray, C: float = 1.0, epsilon: float = 0.1,
               n: int | None = None) -> np.ndarray:
    """Out-of-fold predictions (NaN for subjects in no test fold)."""
    y = np.asarray(y, dtype=np.float64)
    pred = np.full(n or len(y), np.nan)
    for f in folds:
        w, b = fit_svr(f.Xtr, y[f.train], C, epsilon)
        pred[f.test] = f.Xte @ w + b
    return pred


def metrics(y: np.ndarray, pred: np.ndarray) -> dict:
    y = np.asarray(y, float)
    pred = np.asarray(pred, float)
    ok = np.isfinite(y) & np.isfinite(pred)
    y, pred = y[ok], pred[ok]
    n = len(y)
    err = pred - y
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    if n > 2 and np.std(pred) > 0 and np.std(y) > 0:
        r = float(np.corrcoef(pred, y)[0, 1])
        dist = stats.beta(n / 2 - 1, n / 2 - 1, loc=-1, scale=2)
        p2 = float(2 * dist.sf(abs(r)))
        p1 = float(dist.sf(r))
    else:
        r, p1, p2 = np.nan, np.nan, np.nan
    return dict(n=n, r=r, p_parametric_one_sided=p1, p_parametric_two_sided=p2,
                mae=float(np.mean(np.abs(err))), rmse=float(np.sqrt(np.mean(err ** 2))),
                r2=float(1 - np.sum(err ** 2) / ss_tot) if ss_tot > 0 else np.nan)


def _metric_matrix(y: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Vectorised (r, mae, rmse, r2) of each row of P (n_rep, n) against the matching row of y."""
    y = np.atleast_2d(y)
    err = P - y
    yc = y - y.mean(1, keepdims=True)
    pc = P - P.mean(1, keepdims=True)
    den = np.sqrt((yc ** 2).sum(1) * (pc ** 2).sum(1))
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.where(den > 0, (yc * pc).sum(1) / den, np.nan)
        r2 = 1 - (err ** 2).sum(1) / (yc ** 2).sum(1)
    return np.column_stack([r, np.abs(err).mean(1), np.sqrt((err ** 2).mean(1)), r2])


NULL_COLUMNS = ("r", "mae", "rmse", "r2")


def _null_chunk(folds, y, perms, C, epsilon):
    n = len(y)
    P = np.empty((len(perms), n))
    Y = y[perms]
    for i in range(len(perms)):
        yp = Y[i]
        for f in folds:
            w, b = fit_svr(f.Xtr, yp[f.train], C, epsilon)
            P[i, f.test] = f.Xte @ w + b
    return _metric_matrix(Y, P)


def permutation_null(folds: Sequence[Fold], y: np.ndarray, n_perm: int = 5000,
                     seed: int = 0, n_jobs: int = 1, C: float = 1.0, epsilon: float = 0.1,
                     chunks_per_job: int = 4, min_parallel_fits: int = 20000) -> np.ndarray:
    """Null distribution of (r, mae, rmse, r2): the whole CV rerun on permuted targets.

    Returns an (n_perm, 4) array; the permutations are drawn from ``np.random.default_rng(seed)``
    in the parent process, so the result is independent of ``n_jobs``.
    """
    y = np.asarray(y, dtype=np.float64)
    rng = np.random.default_rng(seed)
    perms = np.argsort(rng.random((n_perm, len(y))), axis=1)
    if n_perm == 0:
        return np.empty((0, 4))
    n_jobs = max(1, int(n_jobs))
    if n_perm * len(folds) < min_parallel_fits:  # seconds of work: not worth starting workers
        n_jobs = 1
    n_chunks = min(n_perm, n_jobs * chunks_per_job) if n_jobs > 1 else 1
    bounds = np.linspace(0, n_perm, n_chunks + 1).astype(int)
    if n_jobs == 1:
        return _null_chunk(folds, y, perms, C, epsilon)
    from joblib import Parallel, delayed

    res = Parallel(n_jobs=n_jobs)(
        delayed(_null_chunk)(folds, y, perms[a:b], C, epsilon)
        for a, b in zip(bounds[:-1], bounds[1:]) if b > a)
    return np.vstack(res)


def permutation_p(observed: dict, null: np.ndarray) -> dict:
    n = len(null)
    out = {}
    for j, k in enumerate(NULL_COLUMNS):
        obs = observed[k]
        col = null[:, j]
        if not np.isfinite(obs):
            out[k] = np.nan
            continue
        col = np.where(np.isfinite(col), col, -np.inf if k in ("r", "r2") else np.inf)
        worse = col >= obs - 1e-12 if k in ("r", "r2") else col <= obs + 1e-12
        out[k] = float((1 + np.sum(worse)) / (1 + n))
    return out


def summarise(values: np.ndarray) -> dict:
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return dict(mean=np.nan, sd=np.nan, median=np.nan, q025=np.nan, q975=np.nan, n=0)
    return dict(mean=float(v.mean()), sd=float(v.std(ddof=1)) if v.size > 1 else np.nan,
                median=float(np.median(v)), q025=float(np.quantile(v, 0.025)),
                q975=float(np.quantile(v, 0.975)), n=int(v.size))


# --------------------------------------------------------------------------------------------
# nested cluster selection (vectorised; training subjects only)
# --------------------------------------------------------------------------------------------
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
    (largest first); info with the threshold, sizes, signs, peaks and whether the fallback was used.
    """
    n = D_train.shape[0]
    if n < 3:
        raise ValueError(f"nested selection needs >= 3 training subjects with both sessions, got {n}")
    t = one_sample_t(D_train)
    df = n - 1
    thr = float(stats.t.isf(voxel_p / 2.0, df))  # two-sided
    labels = np.zeros(geom.n_vox, dtype=np.int64)
    comps = []
    for sign in (1, -1):
        supra = np.nan_to_num(sign * t, nan=-np.inf) > thr
        if not supra.any():
            continue
        lab, k = ndimage.label(geom.to_box(supra, False), structure=structure(connectivity))
        lv = geom.from_box(lab)
        sizes = np.bincount(lv, minlength=k + 1)
        for c in range(1, k + 1):
            if sizes[c] >= min_cluster_voxels:
                comps.append((int(sizes[c]), sign, np.flatnonzero(lv == c)))
    comps.sort(key=lambda c: (-c[0], c[2][0]))
    info = dict(threshold_t=thr, df=df, n_train_selection=n, fallback=False, clusters=[])
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
# a small synthetic cohort (tests and benchmarks)
# --------------------------------------------------------------------------------------------
def synthetic_cohort(n: int = 40, shape=(14, 16, 12), effect: float = 0.15,
                     coupling: float = 0.6, noise: float = 0.1, seed: int = 0,
                     box=((4, 7), (5, 8), (4, 7))) -> dict:
    """Voxel data with a planted ECT cluster whose change and baseline value track the target.

    y ~ U(0.1, 0.9) (a HAMD reduction rate). In the planted box (27 voxels by default):
    post - pre = effect + coupling * noise * z(y) + noise * e (mean rise -> a one-sample cluster;
    the rise correlates with y) and baseline = 0.3 + coupling * noise * z(y) + noise * e (baseline
    FC predicts y). Elsewhere pure spatially smooth noise. 3 mm voxels.
    """
    rng = np.random.default_rng(seed)
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    affine[:3, 3] = -np.array(shape) * 1.5
    mask = np.zeros(shape, bool)
    mask[1:-1, 1:-1, 1:-1] = True
    geom = Geometry(mask, affine)
    planted = np.zeros(shape, bool)
    planted[box[0][0]:box[0][1], box[1][0]:box[1][1], box[2][0]:box[2][1]] = True
    pv = planted[mask]
    y = rng.uniform(0.1, 0.9, n)
    zy = (y - y.mean()) / y.std()

    def smooth_noise():
        e = ndimage.gaussian_filter(rng.standard_normal((n,) + tuple(shape)), (0, 1, 1, 1))
        e /= e.std()
        return e.reshape(n, -1)[:, mask.ravel()]

    D = noise * smooth_noise()
    B = 0.3 + noise * smooth_noise()
    D[:, pv] += effect + coupling * noise * zy[:, None]
    B[:, pv] += coupling * noise * zy[:, None]
    return dict(y=y, B=B, D=D, has_diff=np.ones(n, bool), geom=geom, planted=pv.astype(int))


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
