"""Correlation statistics of the clinical stage: (partial) Pearson / Spearman tests, Bonferroni, covariates.

Pure functions on numpy arrays / pandas frames (no files); the tables are built in
:mod:`fcect.clinical.correlations`.

Conventions
-----------
* Correlations are two-sided. Pearson p from the t distribution with n - 2 df (identical to
  ``scipy.stats.pearsonr``); Spearman = Pearson on average ranks, p from the t approximation
  (identical to ``scipy.stats.spearmanr``).
* Partial correlation (residual method): x and y are each regressed on [1, covariates] by least
  squares, r = corr(residual_x, residual_y), t = r * sqrt(df / (1 - r^2)) with df = n - 2 - k
  (k covariates). This equals the t test of x's coefficient in OLS y ~ 1 + x + covariates, and the
  precision-matrix formula r = -P_xy / sqrt(P_xx P_yy) (:func:`partial_corr_precision`).
* Listwise deletion of missing values; the n used is reported with every result.
* 95% CI of r by Fisher z with standard error 1 / sqrt(n - 3 - k).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

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

