"""Permutation p values below 1/(N+1): generalised Pareto tail of the null (Knijnenburg et al. 2009).

A rank p from N null statistics cannot go below 1/(N+1); with thousands of gene sets, Benjamini-Hochberg then
cannot reach q < 0.05 unless many terms beat every null. Knijnenburg et al. (2009, Bioinformatics 25:i161) estimate
the far tail instead: where the observed statistic x0 is exceeded by fewer than ``m_min`` (10) of the N nulls,

* take the ``n_exc`` largest nulls, threshold t halfway between the n_exc-th and (n_exc+1)-th largest;
* fit a generalised Pareto distribution (GPD, ``scipy.stats.genpareto``, maximum likelihood, location 0) to the
  exceedances z - t; by default the shape is kept >= 0 (``min_shape``; a negative ML shape is replaced by the
  ML fit at shape 0, the exponential tail). This departs from Knijnenburg, who let the shape go negative: on null
  data the unconstrained fit was optimistic (the terms that need a tail estimate are those whose nulls happened
  to have a light upper tail, and ML shape estimates from ~100 exceedances lean negative), with a family-wise
  rate of 11% at nominal 5%; constrained, 4.3% (config/README.md). A bounded true tail (shape < 0) then gets a
  conservative p;
* test the fit with the Anderson-Darling statistic against its 5% critical value for estimated parameters
  (:data:`AD_CRIT_05`, by shape; a fit held at shape 0 has one estimated parameter, whose critical value is
  higher (Stephens: 1.32 for the exponential), so using the two-parameter 0.98 there rejects more often: the
  conservative side, more rank p); if it fails, lower n_exc by 10 and refit;
* p = n_exc / N * GPD survival(x0 - t).

n_exc starts at min(250, N / 10) and goes no lower than ``min_exc`` (50; Knijnenburg went on down to 10, but the
goodness-of-fit test has little power on 10-40 points, and fits to so few extrapolated by orders of magnitude in
the tiny workflow run), so a tail p needs at least 500 nulls (of the observed sign, for GSEA). Fallbacks, recorded
per term in ``fit_method``:

* ``rank``: the observed statistic is exceeded by at least ``m_min`` nulls (no tail estimate needed);
* ``rank_no_fit``: too few nulls (n_exc would start below ``min_exc``), too few distinct values in the tail, or no
  fit passed the goodness-of-fit test down to ``min_exc`` exceedances: the rank p is kept;
* ``gpd``: the GPD estimate;
* ``gpd_exponential``: (``min_shape=None`` only) the fitted shape is negative (a bounded tail) and x0 lies beyond
  its upper end point, where the GPD gives 0; the tail is taken as exponential (shape 0, scale = mean exceedance),
  which is heavier than any bounded fit and so a conservative, non-zero estimate.

The AD critical values :data:`AD_CRIT_05` were simulated for this module (300 GPD samples of 100 per shape, each
fitted as above, then smoothed across shapes; regenerate with :func:`ad_critical_values`), in the way Choulakian &
Stephens (2001) tabulate them.
"""
from __future__ import annotations

import warnings

import numpy as np

# 5% critical values of the Anderson-Darling A^2 for a GPD with both parameters estimated (ML, location known),
# by shape xi (scipy's c); interpolated linearly and held constant outside the grid.
AD_SHAPES = np.round(np.arange(-0.5, 0.51, 0.1), 1)
# Monte Carlo (ad_critical_values(), 300 samples of 100 per shape) gave 1.13 1.06 1.05 1.04 0.99 1.01 0.86 0.99
# 0.95 0.83 0.76; the table is their least-squares quadratic in the shape (smoothing the Monte Carlo noise).
AD_CRIT_05 = np.array([1.10, 1.08, 1.06, 1.04, 1.01, 0.98, 0.95, 0.92, 0.88, 0.84, 0.80])


# smallest tail p reported (an exponential tail far beyond the nulls underflows to 0)
P_FLOOR = 1e-300


def ad_statistic(y, c, scale) -> float:
    """Anderson-Darling A^2 of exceedances ``y`` against GPD(c, 0, scale)."""
    from scipy.stats import genpareto
    y = np.sort(np.asarray(y, float))
    n = y.size
    F = np.clip(genpareto.cdf(y, c, 0.0, scale), 1e-12, 1 - 1e-12)
    i = np.arange(1, n + 1)
    return float(-n - np.mean((2 * i - 1) * (np.log(F) + np.log1p(-F[::-1]))))


def ad_critical(c) -> float:
    return float(np.interp(c, AD_SHAPES, AD_CRIT_05))


def ad_critical_values(shapes=AD_SHAPES, n: int = 100, reps: int = 300, q: float = 0.95, rng=0) -> np.ndarray:
    """Monte Carlo quantile ``q`` of A^2 for GPD samples of size n refitted by ML (how AD_CRIT_05 was made)."""
    from scipy.stats import genpareto
    rng = np.random.default_rng(rng)
    out = []
    for c in shapes:
        a = []
        for _ in range(reps):
            y = genpareto.rvs(c, size=n, random_state=rng)
            cc, _, ss = _fit(y)
            a.append(ad_statistic(y, cc, ss))
        out.append(np.quantile(a, q))
    return np.array(out)


def _fit(y):
    from scipy.stats import genpareto
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return genpareto.fit(y, floc=0.0)


def _fit_fixed_shape(y, c: float) -> float:
    """ML scale of a GPD with shape c (location 0); c = 0: the exponential's mean."""
    if c == 0:
        return float(np.mean(y))
    from scipy.stats import genpareto
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(genpareto.fit(y, f0=c, floc=0.0)[2])


def gpd_tail_p_one(x0: float, null, start: int = 250, frac: float = 0.1, step: int = 10, min_exc: int = 50,
                   min_shape: float | None = 0.0):
    """Knijnenburg's tail p of x0 against one null sample (upper tail). Returns (p, method, n_exc, shape, scale);
    p is NaN when no fit passed (the caller keeps the rank p)."""
    from scipy.stats import genpareto
    z = np.sort(np.asarray(null, float))[::-1]
    z = z[np.isfinite(z)]
    N = z.size
    n_exc = int(min(start, np.floor(frac * N)))
    while n_exc >= min_exc:
        if n_exc >= N:
            n_exc -= step
            continue
        t = 0.5 * (z[n_exc - 1] + z[n_exc])
        y = z[:n_exc] - t
        if np.unique(y).size < 5 or not (y > 0).any():
            n_exc -= step
            continue
        c, _, s = _fit(y)
        if min_shape is not None and c < min_shape:
            c, s = float(min_shape), _fit_fixed_shape(y, float(min_shape))
        if np.isfinite(c) and np.isfinite(s) and s > 0 and ad_statistic(y, c, s) <= ad_critical(c):
            p = n_exc / N * float(genpareto.sf(x0 - t, c, 0.0, s))
            if p > 0 or c >= 0:                              # c >= 0: an unbounded tail; 0 only by underflow
                return max(p, P_FLOOR), "gpd", n_exc, float(c), float(s)
            s_exp = float(np.mean(y))                       # beyond a bounded fit's end point: exponential tail
            return n_exc / N * float(np.exp(-(x0 - t) / s_exp)), "gpd_exponential", n_exc, 0.0, s_exp
        n_exc -= step
    return np.nan, "rank_no_fit", 0, np.nan, np.nan


def tail_pvalues(obs, null, signed: bool = False, m_min: int = 10, include_observed: bool = False, **kw):
    """Rank p and GPD tail p of each term: obs (T,), null (T, B).

    ``signed`` (GSEA): a positive statistic is compared with the term's non-negative nulls, a negative one with its
    non-positive nulls (mirrored), as :func:`fcect.transcriptomics.enrichment.spatial_p_signed` does; otherwise the
    upper tail. Returns a dict of arrays: p_rank, p_tail (NaN where not estimated), p (final: p_tail where the
    observed statistic beats fewer than ``m_min`` nulls and a fit passed, else p_rank), fit_method, n_exceed
    (nulls >= observed), n_tail (exceedances used by the fit), shape, scale.

    ``include_observed``: fit the tail to the nulls and the observed statistic together (the observed value is
    one draw of the permutation distribution, as in the rank p's +1). Knijnenburg fit the nulls alone (False, the
    default); that estimate is optimistic under the null, because the terms that need it are those whose nulls
    happened to have a light upper tail; including the observed value is conservative, and an observed value far
    beyond the nulls then pulls the fit heavy, so p barely goes below 1/N. Measured rates: config/README.md.
    """
    from fcect.transcriptomics import enrichment as en
    obs = np.asarray(obs, float)
    null = np.asarray(null, float)
    T = obs.size
    if signed:
        p_rank = en.spatial_p_signed(obs, null)
        pos = obs >= 0
        o = obs[:, None]
        m = np.where(pos, ((null >= o) & (null >= 0)).sum(1), ((null <= o) & (null <= 0)).sum(1))
    else:
        p_rank = en.spatial_p_greater(obs, null)
        m = (null >= obs[:, None] - 1e-12 * np.abs(obs[:, None])).sum(1)
    out = {"p_rank": p_rank, "p_tail": np.full(T, np.nan), "p": p_rank.copy(),
           "fit_method": np.full(T, "rank", dtype=object), "n_exceed": m.astype(int),
           "n_tail": np.zeros(T, int), "shape": np.full(T, np.nan), "scale": np.full(T, np.nan)}
    for t in np.flatnonzero((m < m_min) & np.isfinite(obs)):
        if signed:
            x0, z = (obs[t], null[t][null[t] >= 0]) if obs[t] >= 0 else (-obs[t], -null[t][null[t] <= 0])
        else:
            x0, z = obs[t], null[t]
        if include_observed:
            z = np.append(z, x0)
        p, method, n_exc, c, s = gpd_tail_p_one(x0, z, **kw)
        out["fit_method"][t] = method
        if np.isfinite(p):
            out["p_tail"][t] = p
            out["p"][t] = min(p, 1.0)
            out["n_tail"][t], out["shape"][t], out["scale"][t] = n_exc, c, s
    return out
