"""Imaging transcriptomics: PLS regression, spatial-null refits and bootstrapped gene weights (the regional
response itself: :mod:`fcect.transcriptomics.regions`; the null responses: :mod:`fcect.transcriptomics.nulls`).

PLS here is the NIPALS PLS regression of scikit-learn's ``PLSRegression(scale=True)`` for a single response
(X = regions x genes, y = regional response, both z-scored with ddof=1), written so that thousands of refits are
cheap:

* for one y the NIPALS weight is exact in one step, w_k = X_k' y_k / ||X_k' y_k||, and because X_k = (I - P_<k) X
  (P_<k projects on the previous score vectors, which are mutually orthogonal), X_k' y_k = X' y_k;
* scores therefore live in region space: t_k = (I - P_<k) K y_k / sqrt(y_k' K y_k) with K = X X' (n x n), so a
  null refit costs O(n^2) per component instead of O(n p): spatial nulls are refitted by the thousand in
  milliseconds (:func:`pls_null_r2`);
* the bootstrap over regions is computed from resampling counts with three (B x n) @ (n x p) products per chunk
  (:func:`pls_bootstrap`), no per-sample loop.

Variance explained in Y by component k is ||t_k q_k||^2 / ||y||^2 (= corr(t_k, y)^2), the quantity reported by
MATLAB's plsregress (PCTVAR(2, k)) and used in the imaging-transcriptomics literature (Whitaker et al. 2016,
Morgan et al. 2019). Signs: every component is oriented so that its scores correlate positively with y.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


# ----------------------------------------------------------------------------------------------------------------
# PLS
# ----------------------------------------------------------------------------------------------------------------
def zscore(a, axis=0, ddof=1):
    a = np.asarray(a, dtype=float)
    mu = a.mean(axis=axis, keepdims=True)
    sd = a.std(axis=axis, ddof=ddof, keepdims=True)
    if np.any(sd == 0):
        raise ValueError("cannot z-score: zero variance along the given axis")
    return (a - mu) / sd


@dataclass
class PLSResult:
    x_weights: np.ndarray        # (p, k) unit-norm gene weights
    x_scores: np.ndarray         # (n, k) region scores
    x_loadings: np.ndarray       # (p, k)
    y_loadings: np.ndarray       # (k,)
    var_explained: np.ndarray    # (k,) fraction of var(y) explained by each component
    extra: dict = field(default_factory=dict)

    @property
    def cum_var_explained(self):
        return np.cumsum(self.var_explained)


def pls_fit(X, y, n_components: int = 2, standardize: bool = True) -> PLSResult:
    """PLS regression of one response on X (NIPALS, = sklearn PLSRegression(scale=True) up to component sign)."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float).ravel()
    n, p = X.shape
    if y.shape[0] != n:
        raise ValueError(f"X has {n} rows but y has {y.shape[0]} values")
    if not 1 <= n_components <= min(n - 1, p):
        raise ValueError(f"n_components must be in [1, {min(n - 1, p)}], got {n_components}")
    Xk = zscore(X) if standardize else X - X.mean(0)
    yz = zscore(y) if standardize else y - y.mean()
    yk = yz.copy()
    W = np.empty((p, n_components)); T = np.empty((n, n_components)); P = np.empty((p, n_components))
    Q = np.empty(n_components); R2 = np.empty(n_components)
    ss_y = yz @ yz
    for k in range(n_components):
        w = Xk.T @ yk
        nw = np.linalg.norm(w)
        if nw == 0:
            raise ValueError(f"component {k + 1}: y is orthogonal to X (nothing left to explain)")
        w /= nw
        t = Xk @ w
        tt = t @ t
        if (t @ yz) < 0:               # orient: scores correlate positively with y
            w, t = -w, -t
        pk = Xk.T @ t / tt
        q = (yk @ t) / tt
        Xk = Xk - np.outer(t, pk)
        yk = yk - q * t
        W[:, k], T[:, k], P[:, k], Q[k] = w, t, pk, q
        R2[k] = q * q * tt / ss_y
    return PLSResult(W, T, P, Q, R2)


def pls_null_r2(X, Y, n_components: int = 2, K=None, chunk: int = 2000) -> np.ndarray:
    """Variance explained in each column of Y (n x B) by PLS components 1..k, computed in region space.

    Returns (B, k). Equivalent to ``pls_fit(X, Y[:, b], k).var_explained`` for every b, at O(n^2 k) per column.
    """
    Y = np.asarray(Y, dtype=float)
    if Y.ndim == 1:
        Y = Y[:, None]
    if K is None:
        Xz = zscore(X)
        K = Xz @ Xz.T
    n, B = Y.shape
    out = np.empty((B, n_components))
    for s in range(0, B, chunk):
        Yc = zscore(Y[:, s:s + chunk])            # (n, b)
        yk = Yc.copy()
        Ts = []
        ss = np.einsum("ij,ij->j", Yc, Yc)
        for k in range(n_components):
            v = K @ yk                            # (n, b)
            for t in Ts:                          # project out previous scores (Gram-Schmidt)
                v -= t * (np.einsum("ij,ij->j", t, v) / np.einsum("ij,ij->j", t, t))
            norm = np.sqrt(np.maximum(np.einsum("ij,ij->j", yk, K @ yk), 1e-300))
            t = v / norm
            tt = np.einsum("ij,ij->j", t, t)
            ty = np.einsum("ij,ij->j", t, yk)
            q = ty / tt
            out[s:s + chunk, k] = q * q * tt / ss
            yk = yk - q * t
            Ts.append(t)
    return out


def null_pvalue(observed, null, tail: str = "greater"):
    """Permutation p = (1 + #{null >= observed}) / (1 + B), per column."""
    null = np.asarray(null, dtype=float)
    obs = np.asarray(observed, dtype=float)
    if tail == "greater":
        c = (null >= obs - 1e-12 * np.abs(obs)).sum(0)
    elif tail == "two-sided":
        c = (np.abs(null) >= np.abs(obs) - 1e-12 * np.abs(obs)).sum(0)
    else:
        raise ValueError(tail)
    return (1.0 + c) / (1.0 + null.shape[0])


# ----------------------------------------------------------------------------------------------------------------
# bootstrap over regions
# ----------------------------------------------------------------------------------------------------------------
def bootstrap_indices(n: int, n_boot: int, rng) -> np.ndarray:
    """(n_boot, n) region indices drawn with replacement; resamples with < 3 distinct regions are redrawn."""
    rng = np.random.default_rng(rng)
    idx = rng.integers(0, n, size=(n_boot, n))
    for b in range(n_boot):
        while np.unique(idx[b]).size < 3:
            idx[b] = rng.integers(0, n, size=n)
    return idx


class BootstrapPlan:
    """Resampling indices plus per-resample gene means/SDs of X, reused for every y (common random numbers)."""

    def __init__(self, X, idx):
        self.Xz = zscore(X)
        self.idx = np.asarray(idx)
        self.n_boot, self.n = self.idx.shape
        self.mu, self.sd = _gene_stats(self.Xz, _counts(self.idx, self.Xz.shape[0]), self.n)


def _gene_stats(Xz, counts, m):
    """Mean and SD (ddof=1) of every gene in each resample, from the (B, n_regions) count matrix."""
    mu = counts @ Xz / m
    ex2 = counts @ (Xz * Xz) / m
    var = np.maximum(ex2 - mu * mu, 0.0) * m / (m - 1)
    sd = np.sqrt(var)
    sd[sd < 1e-10] = 0.0                                  # numerically constant within the resample
    return mu, sd


def _counts(idx, n_regions):
    B = idx.shape[0]
    C = np.zeros((B, n_regions))
    np.add.at(C, (np.repeat(np.arange(B), idx.shape[1]), idx.ravel()), 1.0)
    return C


def _aggregate(idx, vals, n_regions):
    """R[b, j] = sum of vals[b, i] over samples i with idx[b, i] == j."""
    B = idx.shape[0]
    R = np.zeros((B, n_regions))
    np.add.at(R, (np.repeat(np.arange(B), idx.shape[1]), idx.ravel()), vals.ravel())
    return R


def _resampled_response(y, idx):
    """The z-scored response in each resample ``idx`` (B, m), and which resamples have a non-constant one (y is
    z-scored: a constant resample has an SD of ~1e-16, not 0)."""
    Yb = y[idx]
    ysd = Yb.std(axis=1, ddof=1, keepdims=True)
    ok = ysd[:, 0] > 1e-8
    return (Yb - Yb.mean(axis=1, keepdims=True)) / np.where(ysd > 0, ysd, 1.0), ok


def _inverse_sd(sd):
    """1 / SD, with 0 where a gene is constant in a resample (it contributes nothing)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sd > 0, 1.0 / sd, 0.0)


def boot_weights(Xz, y, idx, mu, sd, n_components=1, ref=None):
    """PLS weights (k, B, p) for each bootstrap resample ``idx`` (B, n) of (Xz, y), vectorised.

    ``mu``/``sd``: per-resample gene means and SDs (B, p) of Xz. Weights are sign-aligned to ``ref`` (p, k) when
    given. Resamples in which y is constant get NaN weights.
    """
    B, m = idx.shape
    nreg, p = Xz.shape
    yb, ok = _resampled_response(y, idx)
    inv_sd = _inverse_sd(sd)
    out = np.empty((n_components, B, p))
    Ts = []
    yk = yb
    for k in range(n_components):
        R = _aggregate(idx, yk, nreg)                     # (B, nreg)
        A = (R @ Xz) * inv_sd                             # X_b' y_k (centering irrelevant: sum(yk) = 0)
        nrm = np.linalg.norm(A, axis=1, keepdims=True)
        w = A / np.where(nrm > 0, nrm, 1.0)
        # scores in sample space: t = X_b w = (X[idx] - mu) / sd . w, then project out previous t's
        V = w * inv_sd
        M = V @ Xz.T                                       # (B, nreg)
        t = np.take_along_axis(M, idx, axis=1) - np.einsum("bp,bp->b", mu, V)[:, None]
        for tp in Ts:
            t = t - tp * (np.einsum("bi,bi->b", tp, t) / np.einsum("bi,bi->b", tp, tp))[:, None]
        tt = np.einsum("bi,bi->b", t, t)
        ty = np.einsum("bi,bi->b", t, yk)
        q = ty / np.where(tt > 0, tt, 1.0)
        yk = yk - q[:, None] * t
        Ts.append(t)
        if ref is not None:
            s = np.sign(w @ ref[:, k])
            s[s == 0] = 1.0
            w = w * s[:, None]
        w[~ok] = np.nan
        out[k] = w
    return out


def pls_bootstrap(X, y, n_boot: int = 5000, n_components: int = 1, rng=None, ref=None, chunk: int = 250,
                  idx=None):
    """Bootstrap SD (k, p) of sign-aligned PLS gene weights, resampling regions with replacement.

    ``ref`` (p, k): weights to align to (default: the full-sample fit). Returns (sd, n_valid).
    """
    Xz = zscore(X)
    y = zscore(np.asarray(y, float).ravel())
    n, p = Xz.shape
    if ref is None:
        ref = pls_fit(Xz, y, n_components).x_weights
    if idx is None:
        idx = bootstrap_indices(n, n_boot, rng)
    s1 = np.zeros((n_components, p)); s2 = np.zeros((n_components, p)); cnt = np.zeros(n_components)
    for s in range(0, idx.shape[0], chunk):
        ii = idx[s:s + chunk]
        mu, sd = _gene_stats(Xz, _counts(ii, n), ii.shape[1])
        w = boot_weights(Xz, y, ii, mu, sd, n_components, ref)
        good = np.isfinite(w[:, :, 0])
        for k in range(n_components):
            wk = w[k][good[k]]
            s1[k] += wk.sum(0); s2[k] += (wk * wk).sum(0); cnt[k] += wk.shape[0]
    mean = s1 / cnt[:, None]
    var = (s2 - cnt[:, None] * mean * mean) / (cnt[:, None] - 1)
    return np.sqrt(np.maximum(var, 0)), cnt


def bh_fdr(p) -> np.ndarray:
    """Benjamini-Hochberg q values (NaN kept)."""
    p = np.asarray(p, dtype=float)
    q = np.full_like(p, np.nan)
    ok = np.isfinite(p)
    pv = p[ok]
    m = pv.size
    if m == 0:
        return q
    o = np.argsort(pv)
    r = pv[o] * m / np.arange(1, m + 1)
    r = np.minimum.accumulate(r[::-1])[::-1]
    qq = np.empty(m)
    qq[o] = np.minimum(r, 1.0)
    q[ok] = qq
    return q


def gene_weight_table(genes, weights, sd, fdr_alpha=0.05, component_names=None) -> pd.DataFrame:
    """Per-gene weights, bootstrap SD, Z = weight / SD, two-sided normal p, BH q and list membership (PLS1)."""
    from scipy.stats import norm
    k = weights.shape[1]
    names = component_names or [f"PLS{i + 1}" for i in range(k)]
    df = pd.DataFrame(index=pd.Index(list(genes), name="gene"))
    for i, nm in enumerate(names):
        w = weights[:, i]
        with np.errstate(divide="ignore", invalid="ignore"):
            z = np.where(sd[i] > 0, w / sd[i], np.nan)
        pz = 2 * norm.sf(np.abs(z))
        df[f"{nm}_weight"] = w
        df[f"{nm}_boot_sd"] = sd[i]
        df[f"{nm}_z"] = z
        df[f"{nm}_p"] = pz
        df[f"{nm}_q"] = bh_fdr(pz)
    z1, q1 = df[f"{names[0]}_z"], df[f"{names[0]}_q"]
    df["list"] = np.where((q1 < fdr_alpha) & (z1 > 0), "PLS1+", np.where((q1 < fdr_alpha) & (z1 < 0), "PLS1-", ""))
    df = df.sort_values(f"{names[0]}_z", ascending=False)
    df["rank_PLS1pos"] = np.arange(1, len(df) + 1)
    df["rank_PLS1neg"] = df[f"{names[0]}_z"].rank(ascending=True, method="first").astype(int)
    return df


def z_lists(z, alpha=0.05):
    """Boolean masks (pos, neg) of genes with BH q < alpha on the normal p of Z, by sign of Z."""
    from scipy.stats import norm
    z = np.asarray(z, float)
    q = bh_fdr(2 * norm.sf(np.abs(z)))
    sig = q < alpha
    return sig & (z > 0), sig & (z < 0)


def null_gene_z(plan: BootstrapPlan, Ynull, ref_sign=True):
    """PLS1 bootstrap Z (B_null, p) for each column of Ynull (n, B_null) using the shared resampling plan.

    For each response: Z = w0 / SD over resamples of the PLS1 weights, each resample's weights sign-aligned to
    the full-sample weights w0 (:func:`boot_weights` with one component, which this equals to rounding:
    ``tests/unit/transcriptomics``). One component needs neither scores nor deflation, so per response this is one
    (B, n_regions) x (n_regions, p) product and a few passes over its result, about a third of the work of
    :func:`boot_weights` (the calibration runs it for every spatial null)."""
    Xz, idx = plan.Xz, plan.idx
    nreg, p = Xz.shape
    inv_sd = _inverse_sd(plan.sd)
    out = np.empty((Ynull.shape[1], p))
    for b in range(Ynull.shape[1]):
        yz = zscore(Ynull[:, b])
        w0 = Xz.T @ yz
        w0 /= np.linalg.norm(w0)
        yb, ok = _resampled_response(yz, idx)                # resamples with a constant y give no weights
        A = _aggregate(idx, yb, nreg) @ Xz                   # X_b' y_b
        A *= inv_sd
        nrm = np.sqrt(np.einsum("bp,bp->b", A, A))
        sign = np.sign(A @ w0)
        sign[sign == 0] = 1.0
        c = np.where(ok, sign / np.where(nrm > 0, nrm, 1.0), 0.0)   # w_b = c_b A_b
        k = int(ok.sum())
        mean = (c @ A) / k
        A *= c[:, None]
        A -= mean
        A[~ok] = 0.0
        s = np.sqrt(np.einsum("bp,bp->p", A, A) / (k - 1))
        with np.errstate(divide="ignore", invalid="ignore"):
            out[b] = np.where(s > 0, w0 / s, 0.0)
    return out


# ----------------------------------------------------------------------------------------------------------------
# the analysis of one response
# ----------------------------------------------------------------------------------------------------------------
def pls_analysis(X, y, Ynull, n_components=2, n_boot=5000, rng=None, fdr_alpha=0.05, genes=None, chunk=250):
    """PLS on (X, y), spatial-null p per component from Ynull (B, n), bootstrap gene table."""
    rng = np.random.default_rng(rng)
    res = pls_fit(X, y, n_components)
    Xz = zscore(X)
    K = Xz @ Xz.T
    null_r2 = pls_null_r2(Xz, np.asarray(Ynull).T, n_components, K=K)
    p_null = null_pvalue(res.var_explained, null_r2)
    cum_null = np.cumsum(null_r2, axis=1)
    p_cum = null_pvalue(res.cum_var_explained, cum_null)
    sd, nvalid = pls_bootstrap(X, y, n_boot, n_components, rng, ref=res.x_weights, chunk=chunk)
    genes = genes if genes is not None else [f"g{i}" for i in range(X.shape[1])]
    table = gene_weight_table(genes, res.x_weights, sd, fdr_alpha)
    return {"fit": res, "null_r2": null_r2, "p_null": p_null, "p_null_cumulative": p_cum,
            "boot_sd": sd, "n_boot_valid": nvalid, "genes": table}
