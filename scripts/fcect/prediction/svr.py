"""Linear epsilon-SVR, cross-validated predictions, metrics and the permutation null.

Model: ``Pipeline(StandardScaler(), SVR(kernel='linear', C, epsilon))`` (scikit-learn defaults
C = 1, epsilon = 0.1, tol = 1e-3). The features (one column per cluster) come from
:mod:`fcect.prediction.selection`; one complete analysis is :func:`fcect.prediction.run.run_mode`.

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

Because feature selection never uses the target, the per-fold features are computed once and
reused for every permutation: this is exactly the same as rerunning the whole CV (selection
included) on permuted targets.

Speed: each fold is one small libsvm problem. We call scikit-learn's own libsvm binding with
exactly the arguments ``SVR.fit`` uses (checked at run time to give identical predictions; falls
back to the public ``SVR`` otherwise), standardise each fold once (the scaler depends on X only),
and spread the permutations over processes with joblib.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from scipy import stats

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

