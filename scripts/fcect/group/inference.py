"""Voxel-wise group inference: OLS t maps, effect sizes, permutation FWE and GRF cluster correction.

One vectorised engine serves every contrast of the workflow:

* two-group comparison with covariates (baseline TRD vs HC): the tested regressor is a group indicator and the
  nuisance regressors are the intercept and covariates; permutations follow Freedman & Lane (1983);
* one-sample test on per-subject difference maps (ECT post - pre, i.e. a paired test): the tested regressor is the
  constant; null draws flip the signs of the subjects (Winkler et al. 2014), optionally with covariates (then
  Freedman-Lane with sign flips).

Model and statistic
-------------------
For data ``y`` (n subjects at one voxel), tested regressor ``x`` and nuisance matrix ``Z`` (n x q),
let ``Q`` be an orthonormal basis of ``span(Z)``, ``R = I - QQ'`` the residual-forming matrix,
``x_r = Rx`` and ``y_r = Ry``. The OLS t statistic of ``x`` in ``y ~ x + Z`` is::

    t = a * sqrt(dof / (|y_r|^2 - a^2 - |Q' y_r|^2)),   a = (x_r / |x_r|)' y_r,   dof = n - 1 - rank(Z)

(the last term is zero for the unpermuted data). Freedman-Lane permutes the reduced-model residuals ``y_r``
(equivalently, the rows of the design) and refits the full model, so that for a permutation P::

    a_P = (P g)' y_r,   b_P = (P Q)' y_r,   t_P = a_P * sqrt(dof / (|y_r|^2 - a_P^2 - |b_P|^2))

with ``g = x_r / |x_r|``. For a chunk of B permutations these are one matrix product
``[Pg, PQ]' (B*(1+q) x n) @ Y_r (n x V)`` computed in float32 (BLAS), which is the whole cost of max-T. When
the intercept lies in ``span(Z)`` its column of ``Q`` is invariant under permutation and orthogonal to ``Y_r`` and
is dropped (``b`` has q-1 columns). Sign flips use ``D g`` and ``D Q`` instead (D = diag(+-1)).

Null maxima are computed from the float32 products; the max-T maximum of each permutation is then recomputed in
float64 at its arg-max voxel, so max-T null distributions equal a float64 computation (nilearn's) to ~1e-12.
FWE p-values: ``p = (1 + #{null max >= observed}) / (1 + n_perm)`` (comparison with a relative tolerance of 1e-6,
which can only make p larger). With ``exact=True`` and fewer distinct rearrangements of the design than asked,
every distinct rearrangement except the identity is used (then ``n_perm`` = number of distinct - 1 and the p
values are exact).

Cluster statistics
------------------
Two-sided: the positive tail (t > u) and the negative tail (t < -u) are labelled separately, with
``u = t.isf(p_cf / 2, dof)`` (a two-sided voxel p ``p_cf``, default 0.001) and 26-connectivity; the null
statistic of a permutation is the maximum over both tails. Cluster extent = number of voxels; cluster mass =
sum over the cluster of (|t| - u) (nilearn's definition). Observed maps are labelled with ``scipy.ndimage.label``;
null maps with an equivalent sparse-graph labelling restricted to the analysis mask
(``scipy.sparse.csgraph.connected_components`` on supra-threshold voxels only), batched over permutations, which
is ~50x faster than labelling each permuted volume.

TFCE
----
``TFCE(v) = sum_{k : h_k <= |t_v|} size(cluster of v at h_k)^E * h_k^H``, E = 0.5, H = 2, thresholds
``h_k = k * max|t| / 100`` (k = 1..100, ``numpy.linspace``), both tails with the thresholds of max|t|, the
result is *not* multiplied by dh: exactly nilearn 0.13's ``calculate_tfce`` (which follows fslmaths), but with
26-connectivity. :func:`tfce_map` computes the voxel map (observed data). For the null only the maximum over
voxels is needed; :func:`tfce_max_batch` computes it exactly by an incremental union-find over the thresholds
(descending): at threshold k only the voxels entering at k and their active neighbours are touched, the
components are merged with ``connected_components`` on that small graph, and every component carries the
maximum TFCE accumulated by its voxels so far (the TFCE maximum of a component at threshold k is the size term
plus the largest maximum among the components it merges, because all voxels of a component receive the same
contributions from then on).

GRF cluster correction (DPABI's y_GRF_Threshold, FSL's easythresh)
-------------------------------------------------------------------
See :func:`grf_cluster_inference`, :func:`estimate_smoothness` and :func:`grf_cluster_p`.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage, sparse, stats
from scipy.sparse.csgraph import connected_components

from fcect.core.clusters import label_clusters, neighbor_table, offsets, structure
from fcect.core.vocabulary import PERMUTATION_METHODS

_RTOL = 1e-6


# --------------------------------------------------------------------------------------------- GLM

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


def _residualise(Y, glm, block=8192):
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


def _t_from_products(a, bb, dof):
    rss = 1.0 - a * a - bb
    rss = np.maximum(rss, np.finfo(a.dtype).tiny if np.issubdtype(np.asarray(a).dtype, np.floating) else 1e-300)
    return a * np.sqrt(dof / rss)


def ols_t(Y, tested, confounds=None):
    """OLS t map of the tested regressor. Returns dict with t, beta, sigma, effect sizes, dof, valid.

    Invalid voxels (NaN in any subject, or zero residual variance) get t = 0, effect size 0, beta 0."""
    glm = make_glm(tested, confounds)
    Yr, valid, norm = _residualise(Y, glm)
    a = glm.g @ Yr
    t = _t_from_products(a, np.zeros_like(a), glm.dof)
    t = np.where(valid, t, 0.0)
    # beta = x_r'y / |x_r|^2 ; sigma^2 = rss / dof
    beta = a * norm / glm.x_norm
    sigma = norm * np.sqrt(np.maximum(1.0 - a * a, 0.0) / glm.dof)
    d = np.where(valid & (sigma > 0), beta / np.where(sigma > 0, sigma, 1.0), 0.0)
    J = 1.0 - 3.0 / (4.0 * glm.dof - 1.0)
    return {
        "t": t,
        "beta": np.where(valid, beta, 0.0),
        "sigma": np.where(valid, sigma, 0.0),
        "cohens_d": d,
        "hedges_g": d * J,
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


# --------------------------------------------------------------------------------------------- permutations

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


# --------------------------------------------------------------------------------------------- TFCE

def _tfce_thresholds(max_abs, n_steps=100):
    """numpy.linspace(0, max_abs, n_steps + 1)[1:] row-wise (exactly as linspace computes it)."""
    max_abs = np.asarray(max_abs, dtype=float)
    step = max_abs / n_steps
    h = np.arange(n_steps + 1)[None, :] * step[..., None]
    h[..., -1] = max_abs
    return h[..., 1:]


def tfce_map(stat3d, connectivity=26, E=0.5, H=2.0, dh="auto", two_sided=True):
    """TFCE map of a 3-D statistic image, identical to nilearn 0.13 ``calculate_tfce`` for the same structure.

    ``dh='auto'`` uses 100 steps up to max|stat|; a float sets the step (10..1000 steps, as nilearn)."""
    arr = np.asarray(stat3d, dtype=float)
    bin_struct = structure(connectivity)
    out = np.zeros_like(arr)
    max_score = np.nanmax(np.abs(arr)) if two_sided else np.nanmax(arr)
    if not np.isfinite(max_score) or max_score <= 0:
        return out
    n_steps = 100 if dh == "auto" else int(min(1000, max(10, round(max_score / dh))))
    threshs = np.linspace(0, max_score, n_steps + 1)[1:]
    out_flat = out.reshape(-1)
    for sign in ([-1, 1] if two_sided else [1]):
        temp = arr * sign
        temp[~np.isfinite(temp)] = 0
        for thr in threshs:
            temp[temp < thr] = 0
            lab, nlab = ndimage.label(temp, bin_struct)
            if nlab == 0:
                break
            flat = lab.ravel()
            nz = np.flatnonzero(flat)
            ln = flat[nz]
            counts = np.bincount(ln)
            vals = sign * (counts ** E) * (thr ** H)
            out_flat[nz] += vals[ln]
    return out


try:  # scipy's Cython kernel without the public wrapper's validation and transposition (~100 us per call)
    from scipy.sparse.csgraph._traversal import _connected_components_undirected as _cc_undirected
except Exception:  # pragma: no cover - other scipy versions
    _cc_undirected = None


def _components(indices, indptr, n):
    """Connected components of a symmetric CSR graph (int32 indices/indptr). Returns (n_components, labels)."""
    if _cc_undirected is not None:
        labels = np.empty(n, dtype=np.int32)
        ncomp = _cc_undirected(indices, indptr, indices, indptr, labels)
        return int(ncomp), labels
    graph = sparse.csr_matrix((np.ones(indices.size, dtype=np.int8), indices, indptr), shape=(n, n))
    return connected_components(graph, directed=False)


def _levels(T, n_steps=100):
    """Threshold index of every voxel of both tails: lev = #{k : h_k <= u}, h = linspace(0, max|t|, n+1)[1:].

    Returns (lev (2B, V) int16 [rows b: +t, rows B+b: -t], mx (B,))."""
    T = np.asarray(T, dtype=float)
    B, V = T.shape
    mx = np.max(np.abs(T), axis=1) if V else np.zeros(B)
    step = mx / n_steps
    scale = np.where(step > 0, n_steps / np.where(mx > 0, mx, 1.0), 0.0)
    lev = np.zeros((2 * B, V), dtype=np.int16)
    for tail, sgn in ((0, 1.0), (1, -1.0)):
        U = T * sgn if sgn < 0 else T
        k = np.floor(U * scale[:, None])
        np.clip(k, 0, n_steps, out=k)
        h = k * step[:, None]
        h = np.where(k >= n_steps, mx[:, None], h)
        k -= (k > 0) & (U < h)
        h1 = (k + 1) * step[:, None]
        h1 = np.where(k + 1 >= n_steps, mx[:, None], h1)
        k += (k < n_steps) & (U >= h1)
        k[mx <= 0] = 0
        lev[tail * B:(tail + 1) * B] = k
    return lev, mx


class Grid:
    """Index helpers for statistics on the voxels of a 3-D mask (C order), used by the null-distribution code.

    The mask's bounding box is padded by one voxel; neighbours are constant offsets in the padded box, so that
    neighbour look-ups are arithmetic instead of table gathers."""

    def __init__(self, mask, connectivity=26):
        mask = np.asarray(mask, dtype=bool)
        self.mask = mask
        self.connectivity = int(connectivity)
        self.n_voxels = int(mask.sum())
        ijk = np.argwhere(mask)
        lo = ijk.min(axis=0) if len(ijk) else np.zeros(3, int)
        hi = ijk.max(axis=0) if len(ijk) else np.zeros(3, int)
        self.box_shape = tuple(int(v) for v in (hi - lo + 3))
        loc = ijk - lo + 1
        self.box_index = np.ravel_multi_index(loc.T, self.box_shape).astype(np.int64) if len(ijk) else \
            np.zeros(0, np.int64)
        self.box_size = int(np.prod(self.box_shape))
        strides = np.array([self.box_shape[1] * self.box_shape[2], self.box_shape[2], 1])
        offs = np.array(offsets(connectivity))
        self.shifts = (offs @ strides).astype(np.int64)             # all neighbours (forward half first)
        self.nbr = None

    def neighbor_table(self):
        if self.nbr is None:
            self.nbr = neighbor_table(self.mask, self.connectivity)
        return self.nbr


def tfce_max_batch(T, grid, E=0.5, H=2.0, n_steps=100, voxelwise=False):
    """Maximum |TFCE| over voxels of each row of ``T`` (B x V statistic maps on the mask, 0 = invalid).

    Equal to ``np.abs(tfce_map(unmask(T[b]))).max()`` with the grid's connectivity, computed by incremental
    union-find over the thresholds, from the highest down: at threshold k only the voxels entering at k and
    their active neighbours are touched. ``grid``: a :class:`Grid` (or the 3-D mask).

    ``voxelwise=True`` also returns the signed TFCE maps (B x V), equal to :func:`tfce_map`: every node keeps
    the contributions it received while it was a root (``cum``), a voxel the value of its node when it joined
    (``base``), and a merged node the contributions of its new root after the merge (``offset``); then
    TFCE(v) = cum[c] - base[v] + tail[c] with tail[c] = cum[p] - offset[c] + tail[p] along the merge tree."""
    if not isinstance(grid, Grid):
        grid = Grid(grid)
    T = np.asarray(T)
    B, V = T.shape
    out = np.zeros(B)
    if B == 0 or V == 0:
        return (out, np.zeros((B, V))) if voxelwise else out
    lev2, mx = _levels(T, n_steps)
    M = 2 * B
    W = grid.box_size
    lev = np.zeros((M, W), dtype=np.int16)
    lev[:, grid.box_index] = lev2
    lev = lev.ravel()
    del lev2
    shifts = grid.shifts
    nnb = shifts.size
    active = np.flatnonzero(lev > 0)
    if active.size == 0:
        return (out, np.zeros((B, V))) if voxelwise else out
    la = lev[active]
    order = np.argsort(la, kind="stable")
    act_sorted = active[order]
    del order
    counts = np.bincount(la, minlength=n_steps + 1)
    ends = np.cumsum(counts)
    starts = ends - counts
    mx2 = np.concatenate([mx, mx])
    hH = _tfce_thresholds(mx2, n_steps) ** H     # (M, n_steps)

    cap = active.size + 1
    parent = np.arange(cap, dtype=np.int32)
    size = np.zeros(cap, dtype=np.int64)
    best = np.zeros(cap)
    mapid = np.zeros(cap, dtype=np.int32)
    scratch = np.zeros(cap, dtype=np.int32)
    comp = np.zeros(M * W, dtype=np.int32)
    pos = np.zeros(M * W, dtype=np.int32)
    n_nodes = 0
    alive = np.zeros(0, dtype=np.int32)
    big = np.iinfo(np.int32).max
    if voxelwise:
        cum = np.zeros(cap)
        base = np.zeros(M * W)
        merges = []
    for kk in range(n_steps, 0, -1):
        S = act_sorted[starts[kk]:ends[kk]]
        m = S.size
        if m:
            # invariant: every node's parent is a root (compressed at the end of each level)
            g2 = S[:, None] + shifts[None, :]
            l2 = lev[g2]
            flat = np.flatnonzero(l2 >= kk)
            gg = g2.ravel()[flat]
            src = flat // nnb
            isnew = l2.ravel()[flat] == kk
            pos[S] = np.arange(m, dtype=np.int32)
            dst = np.empty(flat.size, dtype=np.int32)
            dst[isnew] = pos[gg[isnew]]
            isold = ~isnew
            if isold.any():
                roots = parent[comp[gg[isold]]]
                scratch[roots] = np.arange(roots.size, dtype=np.int32)
                first = scratch[roots] == np.arange(roots.size, dtype=np.int32)
                uroots = roots[first]
                scratch[uroots] = np.arange(uroots.size, dtype=np.int32)
                dst[isold] = m + scratch[roots]
            else:
                uroots = np.zeros(0, dtype=np.int32)
            nloc = m + uroots.size
            # symmetric CSR: rows of new voxels (edges in row order already), then old roots (reversed edges)
            nu = uroots.size
            cnt = np.bincount(src, minlength=m)
            if nu:
                osrc = src[isold]
                odst = dst[isold] - m
                oorder = np.argsort(odst, kind="stable")
                cnt = np.concatenate([cnt, np.bincount(odst, minlength=nu)])
                indices = np.concatenate([dst, osrc[oorder].astype(np.int32)])
            else:
                indices = dst
            indptr = np.zeros(nloc + 1, dtype=np.int32)
            np.cumsum(cnt, out=indptr[1:])
            ncomp, lab = _components(indices, indptr, nloc)
            lab_new = lab[:m]
            lab_old = lab[m:]
            rep = np.full(ncomp, big, dtype=np.int32)
            best_c = np.zeros(ncomp)
            old_sum = np.zeros(ncomp, dtype=np.int64)
            if uroots.size:
                np.minimum.at(rep, lab_old, uroots)
                np.maximum.at(best_c, lab_old, best[uroots])
                old_sum = np.bincount(lab_old, weights=size[uroots], minlength=ncomp).astype(np.int64)
            fresh = rep == big
            nf = int(np.count_nonzero(fresh))
            newids = np.arange(n_nodes, n_nodes + nf, dtype=np.int32)
            rep[fresh] = newids
            mapc = np.zeros(ncomp, dtype=np.int32)
            mapc[lab_new] = S // W
            mapid[newids] = mapc[fresh]
            n_nodes += nf
            if uroots.size:
                merged = uroots != rep[lab_old]
                parent[uroots[merged]] = rep[lab_old[merged]]
                if voxelwise and merged.any():
                    um, pm = uroots[merged], rep[lab_old[merged]]
                    merges.append((um, pm, cum[pm].copy()))
            size[rep] = old_sum + np.bincount(lab_new, minlength=ncomp)
            best[rep] = best_c
            comp[S] = rep[lab_new]
            if voxelwise:
                base[S] = cum[comp[S]]
            alive = np.concatenate([alive[parent[alive] == alive], newids])
            parent[:n_nodes] = parent[parent[:n_nodes]]
        if alive.size:
            sz = np.sqrt(size[alive]) if E == 0.5 else size[alive] ** E
            inc = sz * hH[mapid[alive], kk - 1]
            best[alive] += inc
            if voxelwise:
                cum[alive] += inc
    res = np.zeros(M)
    if alive.size:
        np.maximum.at(res, mapid[alive], best[alive])
    out = np.maximum(res[:B], res[B:])
    if not voxelwise:
        return out
    tail = np.zeros(cap)
    for um, pm, off in reversed(merges):     # reverse chronological: a parent's tail is known
        tail[um] = cum[pm] - off + tail[pm]
    vals = np.zeros(M * W)
    c = comp[active]
    vals[active] = cum[c] - base[active] + tail[c]
    vals = vals.reshape(M, W)[:, grid.box_index]
    return out, vals[:B] - vals[B:]


# --------------------------------------------------------------------------------------------- clusters

def cluster_max_batch(T, thr, nbr_fwd):
    """Max cluster extent and mass (over both tails) of each row of ``T`` (B x V) at |t| > thr.

    ``nbr_fwd``: forward half of :func:`neighbor_table` (each undirected edge once)."""
    T = np.asarray(T)
    B, V = T.shape
    max_size = np.zeros(B, dtype=np.int64)
    max_mass = np.zeros(B)
    supra = np.concatenate([T > thr, T < -thr], axis=0).ravel()   # 2B maps
    act = np.flatnonzero(supra)
    if act.size == 0:
        return max_size, max_mass
    absT = np.abs(np.concatenate([T, T], axis=0)).ravel()
    w = absT[act] - thr
    mA = act // V
    vA = act - mA * V
    pos = np.full(supra.size, -1, dtype=np.int64)
    pos[act] = np.arange(act.size)
    nb = nbr_fwd[vA]
    ok = nb >= 0
    g2 = np.where(ok, nb + (mA * V)[:, None], 0)
    ok &= supra[g2]
    r_, c_ = np.nonzero(ok)
    dst = pos[g2[r_, c_]]
    na = act.size
    graph = sparse.csr_matrix((np.ones(r_.size, dtype=np.int8), (r_, dst)), shape=(na, na))
    ncomp, lab = connected_components(graph, directed=True, connection="weak")
    sizes = np.bincount(lab, minlength=ncomp)
    masses = np.bincount(lab, weights=w, minlength=ncomp)
    cmap = np.zeros(ncomp, dtype=np.int64)
    cmap[lab] = mA
    perm_of = cmap % B
    np.maximum.at(max_size, perm_of, sizes)
    np.maximum.at(max_mass, perm_of, masses)
    return max_size, max_mass


# --------------------------------------------------------------------------------------------- engine

@dataclass
class InferenceResult:
    """Output of :func:`permutation_inference`. Maps are 1-D over the mask voxels (C order)."""

    t: np.ndarray
    effsize: np.ndarray
    effsize_kind: str
    dof: int
    valid: np.ndarray
    scheme: str
    n_perm: int
    exact: bool
    cluster_threshold_t: float | None
    cluster_forming_p: float | None
    p_fwe: dict = field(default_factory=dict)       # method -> (V,) voxel-wise FWE p (cluster p for cluster methods)
    null: dict = field(default_factory=dict)        # method -> (n_perm,) null maxima
    clusters: dict = field(default_factory=dict)    # method -> list of cluster dicts (observed, with p)
    tfce: np.ndarray | None = None
    cluster_labels: np.ndarray | None = None        # (V,) labels of supra-threshold clusters (cluster methods)
    timings: dict = field(default_factory=dict)


def fwe_p(observed, null, rtol=_RTOL):
    """p = (1 + #{null >= observed}) / (1 + n_null), vectorised over ``observed`` (two-sided stats: pass |.|)."""
    null = np.sort(np.asarray(null, dtype=float))
    obs = np.asarray(observed, dtype=float)
    thr = obs - rtol * np.abs(obs)
    ge = null.size - np.searchsorted(null, thr, side="left")
    return (1.0 + ge) / (1.0 + null.size)


def _auto_chunk(V, ncols, budget_bytes=128 * 2**20):
    return int(max(1, min(256, budget_bytes // max(1, 4 * V * max(ncols, 1) * 2))))


def permutation_inference(
    Y,
    tested,
    confounds=None,
    *,
    mask=None,
    methods=("maxt", "cluster_extent", "cluster_mass", "tfce"),
    n_perm=5000,
    scheme="auto",
    cluster_forming_p=0.001,
    random_state=0,
    rearrangements=None,
    exact=True,
    chunk_size=None,
    dtype=np.float32,
    tfce_E=0.5,
    tfce_H=2.0,
    connectivity=26,
    n_threads=None,
    effect_size="auto",
    tfce_batch=32,
):
    """Two-sided permutation inference for one contrast over the voxels of ``mask``.

    Parameters
    ----------
    Y : (n, V) data, V = number of mask voxels in C order (``img.get_fdata()[mask]`` per subject).
    tested : (n,) regressor of interest (group indicator, or ones for a one-sample / paired test).
    confounds : (n, q) nuisance regressors; include an intercept column for two-group designs.
    mask : 3-D boolean array (required for cluster and TFCE methods).
    methods : subset of ``PERMUTATION_METHODS``.
    scheme : 'permute' (Freedman-Lane), 'signflip', or 'auto' (sign flips when ``tested`` is constant).
    rearrangements : explicit (n_perm, n) permutation indices (design rows reordered as ``design[p]``) or signs.
    random_state : int or numpy Generator (``numpy.random.default_rng``).
    n_threads : BLAS threads, and threads computing TFCE null maxima in parallel (None: library defaults, serial).
    dtype : float32 (default) or float64 for the permuted statistics.
    """
    import time

    from threadpoolctl import threadpool_limits

    t_start = time.perf_counter()
    methods = tuple(methods)
    bad = set(methods) - set(PERMUTATION_METHODS)
    if bad:
        raise ValueError(f"unknown permutation methods {sorted(bad)}")
    need_space = any(m in methods for m in ("cluster_extent", "cluster_mass", "tfce"))
    Y = np.asarray(Y)
    if Y.ndim != 2:
        raise ValueError("Y must be (n_subjects, n_voxels)")
    n, V = Y.shape
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if int(mask.sum()) != V:
            raise ValueError(f"mask has {int(mask.sum())} voxels but Y has {V} columns")
    elif need_space:
        raise ValueError("a 3-D mask is needed for cluster and TFCE inference")
    x = np.asarray(tested, dtype=float).ravel()
    if x.size != n:
        raise ValueError("tested regressor length differs from the number of subjects")
    if scheme == "auto":
        scheme = "signflip" if np.ptp(x) == 0 else "permute"
    if scheme not in ("permute", "signflip"):
        raise ValueError(f"unknown scheme {scheme!r}")

    glm = make_glm(x, confounds)
    Yr64, valid, norm = _residualise(Y, glm)
    a0 = glm.g @ Yr64
    t_obs = np.where(valid, _t_from_products(a0, np.zeros_like(a0), glm.dof), 0.0)
    beta = a0 * norm / glm.x_norm
    sigma = norm * np.sqrt(np.maximum(1.0 - a0 * a0, 0.0) / glm.dof)
    d = np.where(valid & (sigma > 0), beta / np.where(sigma > 0, sigma, 1.0), 0.0)
    if effect_size == "auto":
        effect_size = "cohens_d" if scheme == "signflip" else "hedges_g"
    eff = d * (1.0 - 3.0 / (4.0 * glm.dof - 1.0)) if effect_size == "hedges_g" else d

    # rearrangements
    if rearrangements is not None:
        R = np.asarray(rearrangements)
        is_exact = False
    else:
        rng = random_state if isinstance(random_state, np.random.Generator) else np.random.default_rng(random_state)
        R, is_exact = make_rearrangements(glm, scheme, int(n_perm), rng, exact=exact)
    n_done = R.shape[0]

    # columns that vary under the rearrangement
    Qp = glm.Q[:, 1:] if (scheme == "permute" and glm.intercept_in_Z) else glm.Q
    G = np.hstack([glm.g[:, None], Qp])                 # (n, c)
    c = G.shape[1]
    Yr = np.ascontiguousarray(Yr64, dtype=dtype)
    Gd = G.astype(dtype)

    thr_t = None
    if any(m in methods for m in ("cluster_extent", "cluster_mass")):
        thr_t = float(stats.t.isf(cluster_forming_p / 2.0, glm.dof))
    grid = nbr_fwd = None
    if need_space:
        grid = Grid(mask, connectivity)
        nbr = grid.neighbor_table()
        nbr_fwd = np.ascontiguousarray(nbr[:, : nbr.shape[1] // 2])

    null = {m: np.zeros(n_done) for m in methods}
    chunk_size_auto = chunk_size is None
    if chunk_size is None:
        chunk_size = _auto_chunk(V, c)
    timings = {"gemm_t": 0.0, "maxt_refine": 0.0, "cluster": 0.0, "tfce": 0.0}
    pool = None
    if n_threads and n_threads > 1 and "tfce" in methods:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(int(n_threads))
        chunk_size = max(chunk_size, int(n_threads) * tfce_batch) if chunk_size_auto else chunk_size
    with threadpool_limits(limits=n_threads, user_api="blas") if n_threads else _nullcontext():
        for s0 in range(0, n_done, chunk_size):
            t0 = time.perf_counter()
            Rb = R[s0:s0 + chunk_size]
            B = Rb.shape[0]
            if scheme == "permute":
                Gb = Gd[Rb]                                 # (B, n, c) design rows reordered
            else:
                Gb = Gd[None, :, :] * Rb[:, :, None].astype(dtype)
            Mt = np.ascontiguousarray(Gb.transpose(0, 2, 1).reshape(B * c, n))
            C = (Mt @ Yr).reshape(B, c, V)
            # t = a sqrt(dof / (1 - a^2 - |b|^2)), in place (invalid voxels have Yr = 0, hence t = 0)
            a = C[:, 0, :]
            T = np.multiply(a, a)
            for jc in range(1, c):
                T += C[:, jc, :] * C[:, jc, :]
            np.subtract(1.0, T, out=T)
            np.maximum(T, np.finfo(dtype).tiny, out=T)
            np.divide(dtype(glm.dof), T, out=T)
            np.sqrt(T, out=T)
            T *= a
            del C, a
            timings["gemm_t"] += time.perf_counter() - t0
            if "maxt" in methods:
                t0 = time.perf_counter()
                j = np.argmax(np.abs(T), axis=1)
                # float64 refinement at the arg-max voxel
                if scheme == "permute":
                    G64 = G[Rb]
                else:
                    G64 = G[None] * Rb[:, :, None]
                cols = Yr64[:, j].T                          # (B, n)
                prod = np.einsum("bnc,bn->bc", G64, cols)
                a64 = prod[:, 0]
                bb64 = np.sum(prod[:, 1:] ** 2, axis=1)
                null["maxt"][s0:s0 + B] = np.abs(_t_from_products(a64, bb64, glm.dof))
                timings["maxt_refine"] += time.perf_counter() - t0
            if thr_t is not None:
                t0 = time.perf_counter()
                ms, mm = cluster_max_batch(T, thr_t, nbr_fwd)
                if "cluster_extent" in methods:
                    null["cluster_extent"][s0:s0 + B] = ms
                if "cluster_mass" in methods:
                    null["cluster_mass"][s0:s0 + B] = mm
                timings["cluster"] += time.perf_counter() - t0
            if "tfce" in methods:
                t0 = time.perf_counter()
                sub = max(1, min(B, tfce_batch))
                starts_q = list(range(0, B, sub))

                def _one(q0, T=T, B=B, sub=sub):
                    return tfce_max_batch(T[q0:min(B, q0 + sub)], grid, tfce_E, tfce_H)

                if pool is not None and len(starts_q) > 1:   # numpy releases the GIL in the gathers
                    outs = list(pool.map(_one, starts_q))
                else:
                    outs = [_one(q0) for q0 in starts_q]
                for q0, o in zip(starts_q, outs):
                    null["tfce"][s0 + q0:s0 + q0 + o.size] = o
                timings["tfce"] += time.perf_counter() - t0

    if pool is not None:
        pool.shutdown()
    res = InferenceResult(
        t=t_obs, effsize=eff, effsize_kind=effect_size, dof=glm.dof, valid=valid, scheme=scheme,
        n_perm=n_done, exact=is_exact, cluster_threshold_t=thr_t,
        cluster_forming_p=cluster_forming_p if thr_t is not None else None, null=null, timings=timings,
    )
    if n_done == 0:
        for m in methods:
            res.p_fwe[m] = np.ones(V)
        return res
    if "maxt" in methods:
        res.p_fwe["maxt"] = np.where(valid, fwe_p(np.abs(t_obs), null["maxt"]), 1.0)
        # voxel-wise method: clusters = connected significant voxels, reported later by the caller
    if need_space:
        t3 = np.zeros(mask.shape)
        t3[mask] = t_obs
    if thr_t is not None:
        lab3, cl = label_clusters(t3, thr_t, connectivity)
        labv = lab3[mask]
        res.cluster_labels = labv
        for m, key in (("cluster_extent", "size"), ("cluster_mass", "mass")):
            if m not in methods:
                continue
            pv = np.ones(V)
            out = []
            for cinfo in cl:
                p = float(fwe_p(cinfo[key], null[m]))
                pv[labv == cinfo["label"]] = p
                out.append(dict(cinfo, p=p))
            res.p_fwe[m] = pv
            res.clusters[m] = out
    if "tfce" in methods:
        # same values as tfce_map (dense, nilearn's algorithm), ~15x faster
        _, tfm = tfce_max_batch(t_obs[None, :], grid, tfce_E, tfce_H, voxelwise=True)
        tfv = tfm[0]
        res.tfce = tfv
        res.p_fwe["tfce"] = np.where(valid, fwe_p(np.abs(tfv), null["tfce"]), 1.0)
    res.timings["total"] = time.perf_counter() - t_start
    return res


class _nullcontext:
    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


# --------------------------------------------------------------------------------------------- GRF (DPABI)

# FSL smoothest / DPABI y_Smoothest look-up table: correction of dLh for the residual degrees of freedom.
_SMOOTHEST_LUT = {
    6: 1.5423138, 7: 1.3757105, 8: 1.2842680, 9: 1.2272151, 10: 1.1885232, 11: 1.1606988, 12: 1.1398000,
    13: 1.1235677, 14: 1.1106196, 15: 1.1000651, 16: 1.0913060, 17: 1.0839261, 18: 1.0776276, 19: 1.0721920,
    20: 1.0674553, 21: 1.0632924, 26: 1.0483053, 31: 1.0390117, 41: 1.0281339, 51: 1.0219834, 61: 1.0180339,
    71: 1.0152850, 81: 1.0132621, 91: 1.0117115, 101: 1.0104851, 151: 1.0068808, 201: 1.0051200,
    301: 1.0033865, 501: 1.0020191,
}


def _dof_correction(dof):
    """DPABI y_Smoothest's DOF correction factor ``retval`` (dLh is multiplied by sqrt(retval)).

    Reproduces DPABI's code literally: linear interpolation of the table over 1..501 and
    ``retval = (lut[f+1] - lut[f]) * (dof - f + 1) + lut[f+1]`` with f = floor(dof);
    dof < 6: retval = 1.21 (dLh * 1.1); dof > 500: retval = 1 + 1.0321 / dof."""
    if dof < 6:
        return 1.1 ** 2
    if dof > 500:
        return 1.0321 / dof + 1.0
    xs = np.array(sorted(_SMOOTHEST_LUT))
    ys = np.array([_SMOOTHEST_LUT[k] for k in xs])
    lut = lambda i: float(np.interp(i, xs, ys))  # noqa: E731
    f = math.floor(dof)
    return (lut(f + 1) - lut(f)) * (dof - f + 1) + lut(f + 1)


def estimate_smoothness(resid, mask, dof=None, voxel_size=(1.0, 1.0, 1.0)):
    """Smoothness of a 4-D residual image as DPABI's y_Smoothest (FSL smoothest, Flitney & Jenkinson 2000).

    ``resid``: (n, V) residuals over the mask voxels (or (V,) for a single Z image). Each voxel's series is
    standardised over subjects; with voxels c whose x-, y- and z-predecessors are all in the mask::

        SSminus_d = sum_{c,t} r(c) r(c - e_d),  S2_d = sum_{c,t} (r(c)^2 + r(c - e_d)^2) / 2
        sigma_d^2 = -1 / (4 ln(SSminus_d / S2_d))          (voxels^2)
        dLh = (sigma_x^2 sigma_y^2 sigma_z^2)^(-1/2) * 8^(-1/2)  [= sqrt(det Lambda)],  * sqrt(retval(dof))
        FWHM_d = sqrt(8 ln 2 sigma_d^2)  (voxels; times voxel size for mm), resels = FWHMx FWHMy FWHMz

    Returns dict(dLh, fwhm_vox, fwhm_mm, resels, n_voxels, dof)."""
    mask = np.asarray(mask, dtype=bool)
    R = np.atleast_2d(np.asarray(resid, dtype=float))
    if R.shape[1] != int(mask.sum()):
        R = R.T
    nt = R.shape[0]
    if nt > 2:
        R = (R - R.mean(axis=0)) / R.std(axis=0, ddof=1)
        R[~np.isfinite(R)] = 0
    idx = np.full(mask.shape, -1, dtype=np.int64)
    idx[mask] = np.arange(int(mask.sum()))
    core = mask.copy()
    core[0, :, :] = core[:, 0, :] = core[:, :, 0] = False
    sh = np.zeros_like(mask)
    for ax in range(3):
        sl = [slice(None)] * 3
        sl_prev = [slice(None)] * 3
        sl[ax] = slice(1, None)
        sl_prev[ax] = slice(0, -1)
        sh[:] = False
        sh[tuple(sl)] = mask[tuple(sl_prev)]
        core &= sh
    c = idx[core]
    ijk = np.argwhere(core)
    ssm = np.zeros(3)
    s2 = np.zeros(3)
    for ax in range(3):
        prev = ijk.copy()
        prev[:, ax] -= 1
        p = idx[prev[:, 0], prev[:, 1], prev[:, 2]]
        a = R[:, c]
        b = R[:, p]
        ssm[ax] = np.sum(a * b)
        s2[ax] = np.sum(0.5 * (a * a + b * b))
    if np.any(s2 <= 0):
        raise ValueError("smoothness cannot be estimated: no pair of neighbouring mask voxels with signal")
    ssm = np.minimum(ssm, 0.99999999 * s2)
    sigmasq = -1.0 / (4.0 * np.log(np.abs(ssm / s2)))
    dLh = float(np.prod(sigmasq) ** -0.5 * 8 ** -0.5)
    if nt > 1:
        dLh *= math.sqrt(_dof_correction(dof if dof is not None else 100))
    fwhm = np.sqrt(8 * math.log(2) * sigmasq)
    return {
        "dLh": dLh,
        "fwhm_vox": fwhm.tolist(),
        "fwhm_mm": (fwhm * np.asarray(voxel_size, dtype=float)).tolist(),
        "resels": float(np.prod(fwhm)),
        "n_voxels": int(mask.sum()),
        "dof": dof,
    }


def grf_params(n_voxels, dLh, z_thr, D=3):
    """Friston et al. (1994) / FSL cluster parameters: expected number of clusters Em, of voxels EN, and Beta.

    ``Em = V (2 pi)^(-(D+1)/2) dLh (z^2 - 1)^((D-1)/2) exp(-z^2/2)``, ``EN = V (1 - Phi(z))``,
    ``Beta = (Gamma(D/2 + 1) Em / EN)^(2/D)``."""
    z = float(z_thr)
    Em = n_voxels * (2 * math.pi) ** (-(D + 1) / 2) * dLh * (z * z - 1) ** ((D - 1) / 2) * math.exp(-z * z / 2)
    EN = n_voxels * stats.norm.sf(z)
    beta = (math.gamma(D / 2 + 1) * Em / EN) ** (2 / D)
    return Em, EN, beta


def grf_cluster_p(k, n_voxels, dLh, z_thr, D=3):
    """P(largest cluster >= k voxels) = 1 - exp(-Em exp(-Beta k^(2/D))) (one tail)."""
    Em, _, beta = grf_params(n_voxels, dLh, z_thr, D)
    k = np.asarray(k, dtype=float)
    return -np.expm1(-Em * np.exp(-beta * k ** (2.0 / D)))


def grf_min_cluster_size(n_voxels, dLh, z_thr, cluster_p, D=3, max_k=10**7):
    """Smallest k with one-tailed cluster p < ``cluster_p`` (DPABI's loop: k = 1, 2, ... while p >= cluster_p)."""
    Em, _, beta = grf_params(n_voxels, dLh, z_thr, D)
    if Em <= 0:
        return 1
    # p(k) < cp  <=>  k^(2/D) > -ln(-ln(1-cp)/Em) / beta
    target = -math.log1p(-cluster_p)
    bound = -math.log(target / Em) / beta
    k0 = 1 if bound <= 0 else max(1, int(math.floor(bound ** (D / 2))) - 2)
    k = k0
    while k < max_k and float(grf_cluster_p(k, n_voxels, dLh, z_thr, D)) >= cluster_p:
        k += 1
    while k > 1 and float(grf_cluster_p(k - 1, n_voxels, dLh, z_thr, D)) < cluster_p:
        k -= 1
    return int(k)


def t_to_z(t, dof):
    """Signed Z with the same one-tailed p as |t| (DPABI y_TFRtoZ), computed from log p for extreme values."""
    t = np.asarray(t, dtype=float)
    logp = stats.t.logsf(np.abs(t), dof)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        z = stats.norm.isf(np.exp(logp))
        tiny = logp < -700   # exp underflows: asymptotic inverse of the normal tail
        if np.any(tiny):
            lp = -logp[tiny]
            zz = np.sqrt(2 * lp)
            for _ in range(3):  # Newton on log(sf(z)) = logp with sf(z) ~ phi(z)/z
                zz = np.sqrt(2 * lp - np.log(2 * np.pi) - 2 * np.log(zz))
            z = np.array(z, dtype=float)
            z[tiny] = zz
    return np.sign(t) * z


def grf_cluster_inference(t, dof, resid, mask, voxel_p=0.001, cluster_p=0.05, two_tailed=True,
                          connectivity=26, voxel_size=(1.0, 1.0, 1.0), resid_dof=None):
    """DPABI-style GRF cluster correction of a t map (over the mask voxels).

    t -> Z (same tail p); smoothness (dLh) from the residuals (:func:`estimate_smoothness`, DOF = n - rank);
    z threshold = Phi^-1(1 - voxel_p/2) two-tailed (Phi^-1(1 - voxel_p) one-tailed); cluster threshold per tail
    = cluster_p / 2 two-tailed; the minimal size k_min is the smallest k with 1 - exp(-Em exp(-Beta k^(2/3)))
    < cluster threshold (Friston et al. 1994 with Em, Beta of :func:`grf_params`, V = number of mask voxels);
    clusters (26-connectivity, Z >= z_thr and Z <= -z_thr separately) with >= k_min voxels survive. The
    reported cluster p is two-tailed: min(1, 2 * p_tail) (one-tailed: p_tail), so it is < cluster_p exactly
    for the surviving clusters.

    Returns dict(z, labels (V,), clusters (list with p), k_min, z_thr, smoothness, p (V,))."""
    mask = np.asarray(mask, dtype=bool)
    z = t_to_z(t, dof)
    sm = estimate_smoothness(resid, mask, dof=resid_dof if resid_dof is not None else dof, voxel_size=voxel_size)
    nvox = sm["n_voxels"]
    z_thr = float(stats.norm.isf(voxel_p / 2 if two_tailed else voxel_p))
    cp_tail = cluster_p / 2 if two_tailed else cluster_p
    kmin = grf_min_cluster_size(nvox, sm["dLh"], z_thr, cp_tail)
    z3 = np.zeros(mask.shape)
    z3[mask] = z
    st = structure(connectivity)
    labels = np.zeros(mask.shape, dtype=np.int32)
    clusters = []
    signs = (1, -1) if two_tailed else (1,)
    raw = []
    for sign in signs:
        lab, nlab = ndimage.label(sign * z3 >= z_thr, st)
        if nlab == 0:
            continue
        sizes = np.bincount(lab.ravel(), minlength=nlab + 1)
        for lb in range(1, nlab + 1):
            raw.append((sign, int(sizes[lb]), lab, lb))
    raw.sort(key=lambda r: (-r[0], -r[1]))
    i = 0
    p3 = np.ones(mask.shape)
    for sign, k, lab, lb in raw:
        p_tail = float(grf_cluster_p(k, nvox, sm["dLh"], z_thr))
        p = min(1.0, 2 * p_tail) if two_tailed else p_tail
        vox = lab == lb
        p3[vox] = p                    # p of every supra-threshold cluster (the p map); survivors are listed
        if k < kmin:
            continue
        i += 1
        labels[vox] = i
        ijk = np.argwhere(vox)
        vals = z3[vox]
        j = int(np.argmax(np.abs(vals)))
        clusters.append({"label": i, "sign": sign, "size": k, "p": p, "p_tail": p_tail,
                         "peak_ijk": tuple(int(v) for v in ijk[j])})
    pv = p3[mask]
    return {"z": z, "labels": labels[mask], "clusters": clusters, "k_min": kmin, "z_thr": z_thr,
            "cluster_p_tail": cp_tail, "smoothness": sm, "p": pv}
