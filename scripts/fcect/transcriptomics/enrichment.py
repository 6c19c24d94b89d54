"""Gene-set enrichment: over-representation (hypergeometric) and preranked GSEA, with spatial-null calibration.

* ORA: overlap of a gene list with each set, background = the expressed genes (columns of the expression
  matrix); p = P(overlap >= k) under the hypergeometric distribution (a gene-permutation test in closed form).
* GSEA: classic weighted (p = 1) Kolmogorov-Smirnov running sum on a signature (genes ranked by bootstrap Z), the
  same enrichment score as blitzgsea (signature centred, weights |centred value|); gene-permutation p from
  blitzgsea's gamma-approximated null (one process: its calibration runs in-process, see :func:`gsea_blitz`).
* Spatial calibration: gene-set tests on AHBA data are inflated when the null shuffles genes, because
  co-expressed genes travel together (Fulcher et al. 2021). Each term's statistic is therefore recomputed on PLS
  runs with spatially null responses (spun Y), and p_spatial = (1 + #{null >= observed}) / (1 + B).
  ES and hypergeometric statistics are computed for many signatures at once (vectorised over nulls).
"""
from __future__ import annotations

import contextlib
import random
from types import SimpleNamespace

import numpy as np
import pandas as pd
from scipy import sparse


class GeneSets:
    """A library restricted to a gene universe, with a sparse (terms x genes) membership matrix."""

    def __init__(self, library: dict, genes, min_size: int = 10, max_size: int = 500):
        self.genes = [str(g).upper() for g in genes]
        pos = {g: i for i, g in enumerate(self.genes)}
        terms, idx, raw = [], [], []
        for name, members in library.items():
            ii = sorted({pos[g] for g in (str(m).upper() for m in members) if g in pos})
            if min_size <= len(ii) <= max_size:
                terms.append(name)
                idx.append(np.asarray(ii, dtype=np.int64))
                raw.append(len(set(members)))
        self.terms = terms
        self.index = idx
        self.sizes = np.array([len(i) for i in idx], dtype=int)
        self.raw_sizes = np.array(raw, dtype=int)
        rows = np.repeat(np.arange(len(idx)), self.sizes)
        cols = np.concatenate(idx) if idx else np.zeros(0, dtype=np.int64)
        self.M = sparse.csr_matrix((np.ones(cols.size), (rows, cols)), shape=(len(idx), len(self.genes)))

    def __len__(self):
        return len(self.terms)


# ----------------------------------------------------------------------------------------------------------------
# over-representation
# ----------------------------------------------------------------------------------------------------------------
def _log_binom(a, b):
    from scipy.special import gammaln
    return gammaln(a + 1) - gammaln(b + 1) - gammaln(a - b + 1)


def hypergeom_logsf(k, N, K, n, tol=1e-17, max_iter=100000) -> np.ndarray:
    """log P(X >= k) for X ~ Hypergeometric(N, K, n), vectorised (scipy's logsf loops in Python, sf is slow for
    large arrays). Tail sums use the pmf recurrence from the start point, stopping once terms are negligible:
    upward from k when k is above the mean, else 1 - P(X <= k - 1) summed downward."""
    k, K, n = (np.asarray(a, dtype=float) for a in np.broadcast_arrays(k, K, n))
    shape = k.shape
    k, K, n = k.ravel(), K.ravel(), n.ravel()
    lo = np.maximum(0.0, n + K - N)
    hi = np.minimum(K, n)
    out = np.zeros(k.size)
    out[k > hi] = -np.inf
    todo = (k > lo) & (k <= hi)
    mean = n * K / N
    def logpmf(x, K, n):
        return _log_binom(K, x) + _log_binom(N - K, n - x) - _log_binom(N, n)

    def tail(x0, K, n, up):
        """log of sum of pmf from x0 moving up (to hi) or down (to lo)."""
        total = np.ones(x0.size)
        term = np.ones(x0.size)
        x = x0.copy()
        act = np.ones(x0.size, bool)
        lim = np.minimum(K, n) if up else np.maximum(0.0, n + K - N)
        act &= (x < lim) if up else (x > lim)
        it = 0
        while act.any() and it < max_iter:
            i = np.flatnonzero(act)
            xi, Ki, ni = x[i], K[i], n[i]
            if up:
                r = (Ki - xi) * (ni - xi) / ((xi + 1) * (N - Ki - ni + xi + 1))
                x[i] = xi + 1
            else:
                r = xi * (N - Ki - ni + xi) / ((Ki - xi + 1) * (ni - xi + 1))
                x[i] = xi - 1
            term[i] *= r
            total[i] += term[i]
            act[i] = (term[i] > tol * total[i]) & ((x[i] < lim[i]) if up else (x[i] > lim[i]))
            it += 1
        return logpmf(x0, K, n) + np.log(total)

    upper = todo & (k > mean)
    if upper.any():
        out[upper] = tail(k[upper], K[upper], n[upper], True)
    lower = todo & ~upper
    if lower.any():
        lc = tail(k[lower] - 1, K[lower], n[lower], False)
        out[lower] = np.log1p(-np.minimum(np.exp(lc), 1.0))
    return np.minimum(out, 0.0).reshape(shape)


def ora_stats(gs: GeneSets, lists) -> tuple:
    """Overlaps (T, L) and hypergeometric upper-tail log p (T, L) for boolean gene lists (L, G) or (G,)."""
    L = np.atleast_2d(np.asarray(lists, dtype=float))
    k = np.asarray(gs.M @ L.T)                                   # (T, L)
    N = len(gs.genes)
    n = L.sum(1)[None, :]
    K = gs.sizes[:, None]
    kb, Kb, nb = np.broadcast_arrays(k, K, n)
    logp = hypergeom_logsf(kb, N, Kb, nb)
    logp = np.where(k > 0, logp, 0.0)                            # p = 1 when nothing overlaps
    return k, np.minimum(logp, 0.0)


def ora_table(gs: GeneSets, in_list, list_name: str = "") -> pd.DataFrame:
    from fcect.transcriptomics.pls import bh_fdr
    in_list = np.asarray(in_list, bool)
    k, logp = ora_stats(gs, in_list)
    k, logp = k[:, 0], logp[:, 0]
    n = int(in_list.sum())
    N = len(gs.genes)
    p = np.exp(logp)
    genes = np.asarray(gs.genes)
    hits = [",".join(genes[ix[in_list[ix]]]) for ix in gs.index]
    df = pd.DataFrame({"term": gs.terms, "set_size": gs.sizes, "list_size": n, "background_size": N,
                       "overlap": k.astype(int), "expected": gs.sizes * n / N,
                       "fold_enrichment": np.where(n > 0, k / np.maximum(gs.sizes * n / N, 1e-300), np.nan),
                       "p_geneperm": p, "q_geneperm": bh_fdr(p), "stat": -logp / np.log(10), "genes": hits})
    df.insert(0, "list", list_name)
    return df


# ----------------------------------------------------------------------------------------------------------------
# GSEA enrichment score
# ----------------------------------------------------------------------------------------------------------------
def _prepare(signatures, center=True):
    S = np.atleast_2d(np.asarray(signatures, dtype=float))
    if center:
        S = S - S.mean(1, keepdims=True)
    order = np.argsort(-S, axis=1, kind="stable")
    rank = np.empty_like(order)
    rows = np.arange(S.shape[0])[:, None]
    rank[rows, order] = np.arange(S.shape[1])[None, :]
    return np.abs(S), rank


def gsea_es(gs: GeneSets, signatures, center: bool = True, chunk: int = 256) -> np.ndarray:
    """Enrichment scores (T, L) of every set for every signature (L, G); blitzgsea's definition.

    For a set with hits at ranks r_0 < ... < r_{k-1} (0-based) and weights a_i = |s|, the running sum peaks at a
    hit, S_i = A_i / A - (r_i - i) / (G - k), and dips just before one, S'_i = A_{i-1} / A - (r_i - i) / (G - k);
    ES is the one of max S_i and min S'_i with the larger magnitude.
    """
    S = np.atleast_2d(np.asarray(signatures, dtype=float))
    G = S.shape[1]
    out = np.empty((len(gs), S.shape[0]))
    for s0 in range(0, S.shape[0], chunk):
        A, R = _prepare(S[s0:s0 + chunk], center)
        # |s| in rank order: ranks are a permutation, so a hit's weight follows from its rank, and sorting the
        # hits' ranks (np.sort) replaces an argsort plus two gathers
        A_by_rank = np.empty_like(A)
        np.put_along_axis(A_by_rank, R, A, axis=1)
        for t, ix in enumerate(gs.index):
            k = ix.size
            r = np.sort(R[:, ix], axis=1)
            a = np.take_along_axis(A_by_rank, r, axis=1)
            ca = np.cumsum(a, axis=1)
            tot = ca[:, -1:]
            tot = np.where(tot > 0, tot, 1.0)
            miss = (r - np.arange(k)[None, :]) / (G - k)
            hi = (ca / tot - miss).max(1)
            prev = np.concatenate([np.zeros((ca.shape[0], 1)), ca[:, :-1]], axis=1)
            lo = (prev / tot - miss).min(1)
            out[t, s0:s0 + chunk] = np.where(hi >= -lo, hi, lo)
    return out


@contextlib.contextmanager
def _seeded_blitzgsea_null():
    """blitzgsea 1.3.54 seeds Python's ``random`` for each calibration anchor, but draws the null gene sets with
    numpy's global generator, whose state in each worker process depends on which anchors that worker happened to
    get: the same seed gave different p values from run to run. Seed numpy too, per anchor, with the anchor's
    seed (the pool's workers are forked after this patch, so they inherit it)."""
    import blitzgsea

    original = blitzgsea.get_peak_size_adv

    def seeded(abs_signature, number_hits, permutations, seed):
        np.random.seed(int(seed) % 2**32)
        return original(abs_signature, number_hits, permutations, seed)

    blitzgsea.get_peak_size_adv = seeded
    try:
        yield
    finally:
        blitzgsea.get_peak_size_adv = original


class _InProcessPool:
    """The part of ``multiprocessing.Pool`` that blitzgsea's calibration uses, run in the calling process. Each
    task runs as in a worker: the global random states (numpy's and Python's, which the anchors reseed) are put
    back afterwards, so that what blitzgsea draws after the calibration is what it draws with a real pool."""

    def __init__(self, processes=None):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def imap(self, func, iterable):
        for args in iterable:
            np_state, py_state = np.random.get_state(), random.getstate()
            try:
                result = func(args)
            finally:
                np.random.set_state(np_state)
                random.setstate(py_state)
            yield result


class _ClosingPool:
    """``multiprocessing.Pool`` for blitzgsea's calibration that ends with ``close()`` and ``join()`` instead of the
    ``terminate()`` of ``Pool.__exit__``. blitzgsea reads every result before leaving its ``with`` block, so the
    workers only wait for their stop sentinel; ``terminate()`` instead takes the task queue's lock and kills them,
    and a worker that was waiting for that lock once stayed alive with the parent waiting for it forever (a
    transcriptomics_enrichment job hung on 2026-12-04, seen with py-spy). On an error it still terminates."""

    def __init__(self, processes=None):
        import multiprocessing

        self._pool = multiprocessing.Pool(processes)

    def __enter__(self):
        return self._pool

    def __exit__(self, exc_type, *exc):
        if exc_type is None:
            self._pool.close()
        else:
            self._pool.terminate()
        self._pool.join()
        return False


@contextlib.contextmanager
def _pool_calibration(processes):
    """blitzgsea's calibration with ``processes`` workers (:class:`_ClosingPool`), or in this process
    (:class:`_InProcessPool`) for one: blitzgsea 1.3.54's own one-process path (``processes=1``) calls
    ``estimate_anchor`` with one argument missing (a TypeError), so its pool path always runs (the caller passes
    ``processes >= 2`` to blitzgsea). The anchors are seeded one by one (:func:`_seeded_blitzgsea_null`), so the
    result is that of any number of processes."""
    import blitzgsea

    original = blitzgsea.multiprocessing
    blitzgsea.multiprocessing = SimpleNamespace(Pool=_InProcessPool if processes == 1 else _ClosingPool)
    try:
        yield
    finally:
        blitzgsea.multiprocessing = original


def gsea_blitz(gs: GeneSets, signature, permutations: int = 2000, processes: int = 2, seed: int = 0):
    """blitzgsea preranked GSEA (gene-permutation p). Returns a frame indexed by term (es, nes, pval, fdr, ...).
    The same inputs and seed give the same p values whatever the number of processes (1: in this process) and
    their scheduling."""
    import blitzgsea
    sig = pd.DataFrame({0: gs.genes, 1: np.asarray(signature, float)})
    lib = {t: [gs.genes[i] for i in ix] for t, ix in zip(gs.terms, gs.index)}
    processes = max(1, int(processes))
    with _seeded_blitzgsea_null(), _pool_calibration(processes):
        res = blitzgsea.gsea(sig, lib, permutations=permutations, processes=max(2, processes),
                             min_size=1, max_size=len(gs.genes), seed=int(seed), verbose=False, progress=False,
                             center=True, signature_cache=False)
    if "leading_edge" in res:
        # blitzgsea builds the leading edge from Python sets: its order changes with the process's string-hash
        # seed. List the genes by their rank in the signature (highest first), as the leading edge is read.
        rank = {g: i for i, g in enumerate(np.asarray(gs.genes)[np.argsort(-np.asarray(signature, float),
                                                                             kind="stable")])}
        res["leading_edge"] = [",".join(sorted(str(le).split(","), key=lambda g: rank.get(g, len(rank))))
                               if isinstance(le, str) and le else le for le in res["leading_edge"]]
    return res


def leading_edge(gs: GeneSets, signature, center=True) -> list:
    """Leading-edge genes of each set (blitzgsea's rule)."""
    A, R = _prepare(signature, center)
    A, R = A[0], R[0]
    G = A.size
    genes = np.asarray(gs.genes)
    out = []
    for ix in gs.index:
        o = np.argsort(R[ix])
        r = R[ix][o]
        ca = np.cumsum(A[ix][o]) / max(A[ix].sum(), 1e-300)
        miss = (r - np.arange(ix.size)) / (G - ix.size)
        hi = ca - miss
        prev = np.r_[0, ca[:-1]] - miss
        if hi.max() >= -prev.min():
            out.append(",".join(genes[ix[o][: int(np.argmax(hi)) + 1]]))
        else:
            out.append(",".join(genes[ix[o][int(np.argmin(prev)):]]))
    return out


# ----------------------------------------------------------------------------------------------------------------
# spatial calibration
# ----------------------------------------------------------------------------------------------------------------
def spatial_p_greater(obs, null) -> np.ndarray:
    """(1 + #{null >= obs}) / (1 + B) per term; obs (T,), null (T, B)."""
    null = np.asarray(null, float)
    obs = np.asarray(obs, float)[:, None]
    c = (null >= obs - 1e-12 * np.abs(obs)).sum(1)
    return (1.0 + c) / (1.0 + null.shape[1])


def spatial_p_signed(obs, null) -> np.ndarray:
    """GSEA-style signed p: compare ES with the null ES of the same sign (two-sided overall, capped at 1)."""
    null = np.asarray(null, float)
    obs = np.asarray(obs, float)
    pos = obs >= 0
    o = obs[:, None]
    c_pos = ((null >= o) & (null >= 0)).sum(1); n_pos = (null >= 0).sum(1)
    c_neg = ((null <= o) & (null <= 0)).sum(1); n_neg = (null <= 0).sum(1)
    p = np.where(pos, (1.0 + c_pos) / (1.0 + n_pos), (1.0 + c_neg) / (1.0 + n_neg))
    return np.minimum(p, 1.0)
