"""The general linear model of one contrast: OLS t maps, effect sizes, residuals, and the design's rearrangements.

For data ``y`` (n subjects at one voxel), tested regressor ``x`` and nuisance matrix ``Z`` (n x q),
let ``Q`` be an orthonormal basis of ``span(Z)``, ``R = I - QQ'`` the residual-forming matrix,
``x_r = Rx`` and ``y_r = Ry``. The OLS t statistic of ``x`` in ``y ~ x + Z`` is::

    t = a * sqrt(dof / (|y_r|^2 - a^2 - |Q' y_r|^2)),   a = (x_r / |x_r|)' y_r,   dof = n - 1 - rank(Z)

(the last term is zero for the unpermuted data). :class:`GLM` holds ``g = x_r / |x_r|`` and ``Q`` (intercept
column first when the intercept lies in ``span(Z)``), :func:`residualise` the unit-norm ``y_r`` of every voxel
and :func:`t_from_products` the t statistic from the products ``a`` and ``|b|^2`` (the permutation engine,
:mod:`fcect.group.permutation`, evaluates it for permuted designs).

Rearrangements of the design (Freedman & Lane 1983 permutations of the rows, or Winkler et al. 2014 sign flips
for a one-sample / paired test): :func:`make_rearrangements` draws them at random or, when there are fewer
distinct ones than asked, enumerates every distinct one but the identity; :func:`nilearn_rearrangements`
reproduces nilearn's draws (tests and benchmark).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


# --------------------------------------------------------------------------------------------- model

def _orth(m, tol=1e-10, scale=None):
    """Orthonormal basis of the column space (singular values below tol * scale are dropped; scale defaults
    to the largest singular value)."""
    if m is None or m.size == 0:
        return np.zeros((m.shape[0] if m is not None else 0, 0))
    u, s, _ = np.linalg.svd(m, full_matrices=False)
    ref = s[0] if scale is None else scale
    if s.size == 0 or ref <= 0:
        return np.zeros((m.shape[0], 0))
    return u[:, s > tol * ref]


@dataclass
class GLM:
    """A tested regressor with nuisance regressors, prepared for fast (permuted) t statistics."""

    n: int
    dof: int
    g: np.ndarray            # x_r / |x_r|, (n,)
    Q: np.ndarray            # orthonormal basis of span(Z), (n, q); intercept column first if in span
    intercept_in_Z: bool
    x_norm: float            # |x_r|
    x_rows: np.ndarray       # design rows [x, Z] (for counting distinct permutations)


def make_glm(tested, confounds=None):
    """Prepare the design. ``tested``: (n,) regressor of interest; ``confounds``: (n, q) or None (include the
    intercept in ``confounds`` for a two-group or regression design; a one-sample test has ``tested`` = ones)."""
    x = np.asarray(tested, dtype=float).ravel()
    n = x.size
    Z = None if confounds is None else np.asarray(confounds, dtype=float).reshape(n, -1)
    if Z is not None and Z.shape[1] == 0:
        Z = None
    if Z is not None and not np.all(np.isfinite(Z)):
        raise ValueError("confounds contain NaN or infinite values")
    if not np.all(np.isfinite(x)):
        raise ValueError("tested regressor contains NaN or infinite values")
    one = np.ones((n, 1)) / math.sqrt(n)
    intercept_in_Z = False
    if Z is None:
        Q = np.zeros((n, 0))
    else:
        zscale = float(np.linalg.norm(Z, 2))
        Qz = _orth(Z, scale=zscale)
        res1 = one - Qz @ (Qz.T @ one)
        intercept_in_Z = bool(np.linalg.norm(res1) < 1e-8)
        if intercept_in_Z:
            rest = Z - one @ (one.T @ Z)
            Qr = _orth(rest, scale=zscale)
            Q = np.hstack([one, Qr])
        else:
            Q = Qz
    xr = x - Q @ (Q.T @ x)
    xn = float(np.linalg.norm(xr))
    if xn < 1e-8 * max(1.0, float(np.linalg.norm(x))):
        raise ValueError("the tested regressor is collinear with the confounds")
    dof = n - 1 - Q.shape[1]
    if dof < 1:
        raise ValueError(f"not enough subjects: n={n}, {Q.shape[1] + 1} regressors")
    rows = x[:, None] if Z is None else np.hstack([x[:, None], Z])
    return GLM(n=n, dof=dof, g=xr / xn, Q=Q, intercept_in_Z=intercept_in_Z, x_norm=xn, x_rows=rows)


def residualise(Y, glm, block=8192):
    """Residual-forming projection of the data, column normalisation, validity mask (in voxel blocks, so the
    only large allocation is the output).

    Returns (Yr normalised to unit column norm, float64 (n, V); valid mask; column norms)."""
    Y = np.asarray(Y)
    n, V = Y.shape
    Q = glm.Q
    Yr = np.empty((n, V), dtype=float)
    valid = np.zeros(V, dtype=bool)
    norm = np.ones(V)
    for s0 in range(0, V, block):
        yb = np.asarray(Y[:, s0:s0 + block], dtype=float)
        fin = np.all(np.isfinite(yb), axis=0)
        if not fin.all():
            yb = np.where(fin[None, :], yb, 0.0)
        scale = np.einsum("ij,ij->j", yb, yb)
        rb = yb - Q @ (Q.T @ yb) if Q.shape[1] else yb.copy()
        ss = np.einsum("ij,ij->j", rb, rb)
        ok = fin & (ss > 1e-20 * np.maximum(scale, 1e-300)) & (ss > 0)
        nb = np.sqrt(np.where(ok, ss, 1.0))
        rb /= nb[None, :]
        rb[:, ~ok] = 0.0
        Yr[:, s0:s0 + block] = rb
        valid[s0:s0 + block] = ok
        norm[s0:s0 + block] = nb
    return Yr, valid, norm


def t_from_products(a, bb, dof):
    """t = a sqrt(dof / (1 - a^2 - |b|^2)) for unit-norm residual data (``bb`` = |b|^2)."""
    rss = 1.0 - a * a - bb
    rss = np.maximum(rss, np.finfo(a.dtype).tiny if np.issubdtype(np.asarray(a).dtype, np.floating) else 1e-300)
    return a * np.sqrt(dof / rss)


def fit(Y, glm):
    """Observed statistics of the tested regressor: dict(Yr, valid, norm (of :func:`residualise`), t, beta,
    sigma, cohens_d, hedges_g). Invalid voxels get t = 0 and effect sizes 0 (beta and sigma are not masked)."""
    Yr, valid, norm = residualise(Y, glm)
    a = glm.g @ Yr
    t = np.where(valid, t_from_products(a, np.zeros_like(a), glm.dof), 0.0)
    # beta = x_r'y / |x_r|^2 ; sigma^2 = rss / dof
    beta = a * norm / glm.x_norm
    sigma = norm * np.sqrt(np.maximum(1.0 - a * a, 0.0) / glm.dof)
    d = np.where(valid & (sigma > 0), beta / np.where(sigma > 0, sigma, 1.0), 0.0)
    J = 1.0 - 3.0 / (4.0 * glm.dof - 1.0)
    return {"Yr": Yr, "valid": valid, "norm": norm, "t": t, "beta": beta, "sigma": sigma, "cohens_d": d,
            "hedges_g": d * J}


def ols_t(Y, tested, confounds=None):
    """OLS t map of the tested regressor. Returns dict with t, beta, sigma, effect sizes, dof, valid.

    Invalid voxels (NaN in any subject, or zero residual variance) get t = 0, effect size 0, beta 0."""
    glm = make_glm(tested, confounds)
    f = fit(Y, glm)
    valid = f["valid"]
    return {
        "t": f["t"],
        "beta": np.where(valid, f["beta"], 0.0),
        "sigma": np.where(valid, f["sigma"], 0.0),
        "cohens_d": f["cohens_d"],
        "hedges_g": f["hedges_g"],
        "dof": glm.dof,
        "valid": valid,
        "glm": glm,
    }


def residuals(Y, tested, confounds=None):
    """Residuals of the full model y ~ x + Z (n x V), zeros at invalid voxels (for smoothness estimation)."""
    glm = make_glm(tested, confounds)
    Y = np.asarray(Y, dtype=float)
    finite = np.all(np.isfinite(Y), axis=0)
    Yf = np.where(finite[None, :], Y, 0.0)
    B = np.hstack([glm.g[:, None], glm.Q])
    return Yf - B @ (B.T @ Yf)


# --------------------------------------------------------------------------------------------- rearrangements

def _multiset_permutations(labels):
    """All distinct arrangements of an integer sequence, lexicographic (starting from sorted)."""
    a = sorted(labels)
    n = len(a)
    while True:
        yield list(a)
        i = n - 2
        while i >= 0 and a[i] >= a[i + 1]:
            i -= 1
        if i < 0:
            return
        j = n - 1
        while a[j] <= a[i]:
            j -= 1
        a[i], a[j] = a[j], a[i]
        a[i + 1:] = reversed(a[i + 1:])


def n_distinct_rearrangements(glm, scheme, limit=None):
    """Number of distinct permutations (rows of [x, Z] up to identical rows) or sign flips (2^n).

    Returns a Python int; with ``limit`` it stops counting (returns limit + 1) once larger."""
    if scheme == "signflip":
        return 2 ** glm.n
    _, counts = np.unique(glm.x_rows, axis=0, return_counts=True)
    total = math.factorial(glm.n)
    for c in counts:
        total //= math.factorial(int(c))
    return total if limit is None else min(total, limit + 1)


def make_rearrangements(glm, scheme, n_perm, rng, exact=True):
    """Permutation index arrays (n_perm, n) or sign matrices (n_perm, n) of +-1.

    Returns (array, exact_flag). Exact: every distinct rearrangement but the identity."""
    n = glm.n
    n_distinct = n_distinct_rearrangements(glm, scheme, limit=max(n_perm, 1) + 1)
    if exact and n_distinct - 1 <= n_perm:
        if scheme == "signflip":
            codes = np.arange(1, 2 ** n, dtype=np.int64)  # 0 = all +1 (identity) excluded
            bits = (codes[:, None] >> np.arange(n)[None, :]) & 1
            return (1 - 2 * bits).astype(np.int8), True
        _, cls = np.unique(glm.x_rows, axis=0, return_inverse=True)
        cls = np.asarray(cls).ravel()
        members = [list(np.flatnonzero(cls == c)) for c in range(cls.max() + 1)]
        out = []
        ident = list(cls)
        for arr in _multiset_permutations(list(cls)):
            if arr == ident:
                continue
            pools = [list(m) for m in members]
            perm = [pools[c].pop() for c in arr]  # any member of the class: rows of a class are identical
            out.append(perm)
        return np.asarray(out, dtype=np.intp).reshape(-1, n), True
    if scheme == "signflip":
        return (1 - 2 * rng.integers(0, 2, size=(n_perm, n))).astype(np.int8), False
    return np.asarray([rng.permutation(n) for _ in range(n_perm)], dtype=np.intp).reshape(-1, n), False


def nilearn_rearrangements(n, n_perm, random_state, signflip):
    """The rearrangements drawn by ``nilearn.mass_univariate.permuted_ols(..., n_jobs=1)`` (nilearn 0.13).

    nilearn re-seeds a RandomState with one randint draw and applies each new permutation (or sign flip) to the
    previous one, so the k-th design is the composition of the first k draws. Used to compare with identical
    permutations (tests and benchmark)."""
    rs0 = np.random.RandomState(random_state) if not isinstance(random_state, np.random.RandomState) \
        else random_state
    seed = rs0.randint(1, np.iinfo(np.int32).max - 1)
    rs = np.random.RandomState(seed)
    out = np.empty((n_perm, n), dtype=np.int8 if signflip else np.intp)
    if signflip:
        cur = np.ones(n, dtype=np.int8)
        for k in range(n_perm):
            cur = cur * (rs.randint(2, size=(n, 1)) * 2 - 1).ravel().astype(np.int8)
            out[k] = cur
    else:
        cur = np.arange(n)
        for k in range(n_perm):
            cur = cur[rs.permutation(n)]
            out[k] = cur
    return out
