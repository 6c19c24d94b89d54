"""Permutation inference engine: two-sided FWE p values of max-T, cluster extent, cluster mass and TFCE.

One vectorised engine serves every contrast of the workflow:

* two-group comparison with covariates (baseline TRD vs HC): the tested regressor is a group indicator and the
  nuisance regressors are the intercept and covariates; permutations follow Freedman & Lane (1983);
* one-sample test on per-subject difference maps (ECT post - pre, i.e. a paired test): the tested regressor is the
  constant; null draws flip the signs of the subjects (Winkler et al. 2014), optionally with covariates (then
  Freedman-Lane with sign flips).

Permuted statistics (model and notation in :mod:`fcect.group.glm`): Freedman-Lane permutes the reduced-model
residuals ``y_r`` (equivalently, the rows of the design) and refits the full model, so that for a permutation P::

    a_P = (P g)' y_r,   b_P = (P Q)' y_r,   t_P = a_P * sqrt(dof / (|y_r|^2 - a_P^2 - |b_P|^2))

For a chunk of B permutations these are one matrix product ``[Pg, PQ]' (B*(1+q) x n) @ Y_r (n x V)`` computed in
float32 (BLAS), which is the whole cost of max-T. When the intercept lies in ``span(Z)`` its column of ``Q`` is
invariant under permutation and orthogonal to ``Y_r`` and is dropped (``b`` has q-1 columns). Sign flips use
``D g`` and ``D Q`` instead (D = diag(+-1)). Null maxima are computed from the float32 products; the max-T maximum
of each permutation is then recomputed in float64 at its arg-max voxel, so max-T null distributions equal a
float64 computation (nilearn's) to ~1e-12. FWE p-values: ``p = (1 + #{null max >= observed}) / (1 + n_perm)``
(comparison with a relative tolerance of 1e-6, which can only make p larger). With ``exact=True`` and fewer
distinct rearrangements of the design than asked, every distinct rearrangement except the identity is used (then
``n_perm`` = number of distinct - 1 and the p values are exact).

Cluster statistics: the positive tail (t > u) and the negative tail (t < -u) are labelled separately, with
``u = t.isf(p_cf / 2, dof)`` (a two-sided voxel p ``p_cf``, default 0.001) and 26-connectivity; the null
statistic of a permutation is the maximum over both tails. Cluster extent = number of voxels; cluster mass = sum
over the cluster of (|t| - u) (nilearn's definition). Observed maps are labelled with ``scipy.ndimage.label``;
null maps by :func:`fcect.group.tfce.cluster_max`, a compiled union-find over the supra-threshold voxels of the
analysis mask (same clusters). TFCE (:mod:`fcect.group.tfce`; ``tfce_steps`` chooses the definition): the observed
map first, then the null maxima of every permuted map by :func:`fcect.group.tfce.tfce_batch`. The cluster and
TFCE kernels run on sub-batches of ``tfce_batch`` permuted maps, in ``n_threads`` threads.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field

import numba
import numpy as np
from scipy import stats
from threadpoolctl import threadpool_limits

from fcect.core.clusters import label_clusters
from fcect.core.vocabulary import PERMUTATION_METHODS
from fcect.group.glm import fit, make_glm, make_rearrangements, t_from_products
from fcect.group.tfce import TFCE_STEPS, Grid, cluster_max
from fcect.group.tfce import tfce_batch as _tfce_batch

_RTOL = 1e-6


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


def _products(Gd, Rb, Yr, scheme, dtype):
    """C = [R g, R Q]' Y_r (B x c x V, ``dtype``) for a chunk of rearrangements ``Rb`` of the varying design
    columns ``Gd``: one BLAS matrix product."""
    B = Rb.shape[0]
    n, c = Gd.shape
    if scheme == "permute":
        Gb = Gd[Rb]                                 # (B, n, c) design rows reordered
    else:
        Gb = Gd[None, :, :] * Rb[:, :, None].astype(dtype)
    Mt = np.ascontiguousarray(Gb.transpose(0, 2, 1).reshape(B * c, n))
    return (Mt @ Yr).reshape(B, c, Yr.shape[1])


@numba.njit(cache=True, nogil=True)
def _t_rows(C, dof, one, tiny, T, jmax):
    """t = a sqrt(dof / max(1 - a^2 - |b|^2, tiny)) of every row (a = C[:, 0], b = C[:, 1:]) into ``T``, and the
    first arg-max of |t| of each row into ``jmax``. The operations of :func:`_permuted_t` in the same order and
    precision (``dof``, ``one``, ``tiny``: scalars of C's dtype), so the values are the same bit for bit."""
    B, c, V = C.shape
    for b in range(B):
        best = -1.0
        jb = 0
        for v in range(V):
            a = C[b, 0, v]
            s = a * a
            for jc in range(1, c):
                x = C[b, jc, v]
                s = s + x * x
            s = one - s
            if s < tiny:
                s = tiny
            s = dof / s
            t = np.sqrt(s) * a
            T[b, v] = t
            at = abs(t)
            if at > best:
                best = at
                jb = v
        jmax[b] = jb


def _permuted_t(Gd, Rb, Yr, dof, scheme, dtype):
    """t maps (B x V, ``dtype``) of a chunk of rearrangements ``Rb`` of the varying design columns ``Gd`` (numpy;
    the engine computes the same values with :func:`_t_rows`)."""
    C = _products(Gd, Rb, Yr, scheme, dtype)
    # t = a sqrt(dof / (1 - a^2 - |b|^2)), in place (invalid voxels have Yr = 0, hence t = 0)
    a = C[:, 0, :]
    T = np.multiply(a, a)
    for jc in range(1, C.shape[1]):
        T += C[:, jc, :] * C[:, jc, :]
    np.subtract(1.0, T, out=T)
    np.maximum(T, np.finfo(dtype).tiny, out=T)
    np.divide(dtype(dof), T, out=T)
    np.sqrt(T, out=T)
    T *= a
    return T


def _maxt_refined(j, G, Rb, Yr64, dof, scheme):
    """max |t| of each permuted map, recomputed in float64 at its arg-max voxel ``j`` (B,)."""
    G64 = G[Rb] if scheme == "permute" else G[None] * Rb[:, :, None]
    cols = Yr64[:, j].T                          # (B, n)
    prod = np.einsum("bnc,bn->bc", G64, cols)
    return np.abs(t_from_products(prod[:, 0], np.sum(prod[:, 1:] ** 2, axis=1), dof))


def _chunk_null(C, dof, grid, thr_t, methods, tfce_kw, batch, pool):
    """From the products C of a chunk (B x c x V): the t maps, their arg-max |t|, and the null maxima of the
    cluster and TFCE methods, in sub-batches of ``batch`` rows (in parallel with a thread ``pool``; the compiled
    kernels release the GIL). Returns (jmax (B,), dict method -> (B,), dict of thread CPU seconds)."""
    B, c, V = C.shape
    dt = C.dtype.type
    T = np.empty((B, V), dtype=C.dtype)
    jmax = np.zeros(B, dtype=np.int64)
    sub = max(1, min(B, batch))
    starts_q = list(range(0, B, sub))
    clus = thr_t is not None
    do_tfce = "tfce" in methods

    def _one(q0):
        q1 = min(B, q0 + sub)
        t0 = time.thread_time()
        _t_rows(C[q0:q1], dt(dof), dt(1.0), dt(np.finfo(C.dtype).tiny), T[q0:q1], jmax[q0:q1])
        t1 = time.thread_time()
        sizes = masses = tf = None
        if clus:
            sizes, masses = cluster_max(T[q0:q1], grid, thr_t)
        t2 = time.thread_time()
        if do_tfce:
            tf = _tfce_batch(T[q0:q1], grid, **tfce_kw)
        return sizes, masses, tf, (t1 - t0, t2 - t1, time.thread_time() - t2)

    parts = list(pool.map(_one, starts_q)) if (pool is not None and len(starts_q) > 1) else \
        [_one(q0) for q0 in starts_q]
    out = {}
    if clus:
        out["cluster_extent"] = np.concatenate([q[0] for q in parts])
        out["cluster_mass"] = np.concatenate([q[1] for q in parts])
    if do_tfce:
        out["tfce"] = np.concatenate([q[2] for q in parts])
    secs = {k: sum(q[3][i] for q in parts) for i, k in enumerate(("t", "cluster", "tfce"))}
    return jmax, out, secs


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
    tfce_steps="per_map_dh",
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
    n_threads : BLAS threads, and threads computing the cluster and TFCE null maxima in parallel (None: library
        defaults, serial).
    dtype : float32 (default) or float64 for the permuted statistics.
    tfce_steps : TFCE thresholds and scale, one of :data:`fcect.group.tfce.TFCE_STEPS` (see :mod:`fcect.group.tfce`).
    tfce_batch : rows per call of the compiled cluster / TFCE kernels (one thread each).
    """
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
    if tfce_steps not in TFCE_STEPS:
        raise ValueError(f"unknown tfce_steps {tfce_steps!r}; expected one of {TFCE_STEPS}")

    glm = make_glm(x, confounds)
    obs = fit(Y, glm)
    Yr64, valid, t_obs = obs["Yr"], obs["valid"], obs["t"]
    if effect_size == "auto":
        effect_size = "cohens_d" if scheme == "signflip" else "hedges_g"
    eff = obs["hedges_g"] if effect_size == "hedges_g" else obs["cohens_d"]

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
    Yr = np.ascontiguousarray(Yr64, dtype=dtype)
    Gd = G.astype(dtype)

    thr_t = None
    if any(m in methods for m in ("cluster_extent", "cluster_mass")):
        thr_t = float(stats.t.isf(cluster_forming_p / 2.0, glm.dof))
    grid = None
    if need_space:
        grid = Grid(mask, connectivity)
    tfce_kw = {"E": tfce_E, "H": tfce_H, "steps": tfce_steps}
    tfce_obs = None
    if "tfce" in methods:
        # observed map first: with observed_thresholds its max|t| sets the steps of every permuted map
        _, tfm = _tfce_batch(t_obs[None, :], grid, voxelwise=True, **tfce_kw)
        tfce_obs = tfm[0]
        if tfce_steps == "observed_thresholds":
            tfce_kw["observed_max"] = float(np.max(np.abs(t_obs))) if V else 0.0

    null = {m: np.zeros(n_done) for m in methods}
    chunk_size_auto = chunk_size is None
    if chunk_size is None:
        chunk_size = _auto_chunk(V, G.shape[1])
    # seconds: gemm, maxt_refine, after_gemm_wall: wall; gemm_cpu: process CPU; t, cluster, tfce: thread CPU
    timings = {"gemm": 0.0, "gemm_cpu": 0.0, "t": 0.0, "maxt_refine": 0.0, "cluster": 0.0, "tfce": 0.0,
               "after_gemm_wall": 0.0}
    pool = None
    if n_threads and n_threads > 1:
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(int(n_threads))
        chunk_size = max(chunk_size, int(n_threads) * tfce_batch) if chunk_size_auto else chunk_size
    with threadpool_limits(limits=n_threads, user_api="blas") if n_threads else contextlib.nullcontext():
        for s0 in range(0, n_done, chunk_size):
            t0, c0 = time.perf_counter(), time.process_time()
            Rb = R[s0:s0 + chunk_size]
            B = Rb.shape[0]
            C = _products(Gd, Rb, Yr, scheme, dtype)
            t1 = time.perf_counter()
            timings["gemm"] += t1 - t0
            timings["gemm_cpu"] += time.process_time() - c0
            jmax, sp, secs = _chunk_null(C, glm.dof, grid, thr_t, methods, tfce_kw, tfce_batch, pool)
            del C
            for m, v in sp.items():
                if m in methods:
                    null[m][s0:s0 + B] = v
            for k, v in secs.items():
                timings[k] += v
            t2 = time.perf_counter()
            if "maxt" in methods:
                null["maxt"][s0:s0 + B] = _maxt_refined(jmax, G, Rb, Yr64, glm.dof, scheme)
            timings["maxt_refine"] += time.perf_counter() - t2
            timings["after_gemm_wall"] += time.perf_counter() - t1

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
        res.tfce = tfce_obs
        return res
    if "maxt" in methods:
        res.p_fwe["maxt"] = np.where(valid, fwe_p(np.abs(t_obs), null["maxt"]), 1.0)
        # voxel-wise method: clusters = connected significant voxels, reported later by the caller
    if thr_t is not None:
        _observed_clusters(res, mask, thr_t, connectivity, methods)
    if "tfce" in methods:
        res.tfce = tfce_obs          # equal to tfce_map (dense, one ndimage.label per threshold)
        res.p_fwe["tfce"] = np.where(valid, fwe_p(np.abs(res.tfce), null["tfce"]), 1.0)
    res.timings["total"] = time.perf_counter() - t_start
    return res


def _observed_clusters(res, mask, thr_t, connectivity, methods):
    """Label the observed supra-threshold clusters and set their FWE p (cluster extent / mass) in ``res``."""
    t3 = np.zeros(mask.shape)
    t3[mask] = res.t
    lab3, cl = label_clusters(t3, thr_t, connectivity)
    labv = lab3[mask]
    res.cluster_labels = labv
    for m, key in (("cluster_extent", "size"), ("cluster_mass", "mass")):
        if m not in methods:
            continue
        pv = np.ones(labv.size)
        out = []
        for cinfo in cl:
            p = float(fwe_p(cinfo[key], res.null[m]))
            pv[labv == cinfo["label"]] = p
            out.append(dict(cinfo, p=p))
        res.p_fwe[m] = pv
        res.clusters[m] = out
