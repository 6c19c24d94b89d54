"""Validity: family-wise error rate of every inference method on null data (200 datasets per design).

Each dataset: smooth Gaussian noise (Gaussian kernel sigma 1.2 voxels, cropped away from the borders) in a
spherical mask on a small grid. A method makes a family-wise error when any voxel / cluster is significant at
alpha = 0.05. The test passes when the number of errors out of 200 lies in the central 95% binomial interval
around 5% (scipy.stats.binom.interval(0.95, 200, 0.05) = [4, 16], i.e. 2%-8%). With n_perm = 19 the exact
level of a permutation test is floor(0.05 * 20) / 20 = 5% (significant only when no null maximum reaches the
observed one). TFCE is checked with each definition of ``group.tfce_steps`` (per_map_dh, the default, as "tfce";
observed_thresholds; nilearn). Rates are printed (pytest -s) and attached to the test report as user properties.

A negative control (uncorrected voxel-wise p < 0.05) shows that the check can fail.
"""

import numpy as np
import pytest
from scipy import ndimage, stats


from fcect.core import vocabulary
from fcect.group import glm, grf, permutation

N_DATASETS = 200
ALPHA = 0.05
LO, HI = (int(v) for v in stats.binom.interval(0.95, N_DATASETS, ALPHA))


def _null(rng, n, shape, sigma, pad=4):
    big = tuple(s + 2 * pad for s in shape)
    X = ndimage.gaussian_filter(rng.standard_normal((n,) + big), (0, sigma, sigma, sigma))
    return X[:, pad:-pad, pad:-pad, pad:-pad]


def _sphere(shape):
    c = (np.array(shape) - 1) / 2
    ii = (np.indices(shape) - c[:, None, None, None]) / (np.array(shape)[:, None, None, None] / 2)
    return (ii ** 2).sum(0) <= 1.0


def _check(rates, name):
    bad = {m: k for m, k in rates.items() if not (LO <= k <= HI)}
    assert not bad, f"{name}: FWE counts outside [{LO}, {HI}]/{N_DATASETS}: {bad}"


def _run_permutation_design(design):
    shape = (11, 11, 11)
    mask = _sphere(shape)
    n = 20
    grp = np.r_[np.ones(10), np.zeros(10)]
    hits = {m: 0 for m in vocabulary.PERMUTATION_METHODS}
    hits.update({"tfce_observed_thresholds": 0, "tfce_nilearn": 0, "uncorrected": 0})
    for ds in range(N_DATASETS):
        rng = np.random.default_rng(10_000 + ds)
        Y = _null(rng, n, shape, 1.2)[:, mask]
        cov = rng.standard_normal(n)
        if design == "freedman_lane":        # two groups + intercept + covariate
            x, Z = grp, np.column_stack([np.ones(n), cov])
        else:                                # one-sample on paired differences, sign flips (the ECT default)
            x, Z = np.ones(n), None
        r = permutation.permutation_inference(Y, x, Z, mask=mask, n_perm=19, random_state=ds,
                                              cluster_forming_p=0.01, chunk_size=19, tfce_batch=19)
        for m in vocabulary.PERMUTATION_METHODS:
            hits[m] += int(r.p_fwe[m].min() <= ALPHA)
        # the other TFCE definitions (group.tfce_steps; the default per_map_dh is "tfce" above), same permutations
        for steps in ("observed_thresholds", "nilearn"):
            r2 = permutation.permutation_inference(Y, x, Z, mask=mask, methods=("tfce",), n_perm=19,
                                                   random_state=ds, chunk_size=19, tfce_batch=19, tfce_steps=steps)
            hits[f"tfce_{steps}"] += int(r2.p_fwe["tfce"].min() <= ALPHA)
        hits["uncorrected"] += int((2 * stats.t.sf(np.abs(r.t), r.dof)).min() <= ALPHA)
    return hits


@pytest.mark.parametrize("design", ["freedman_lane", "signflip"])
def test_permutation_fwe_within_binomial_interval(design, record_property):
    hits = _run_permutation_design(design)
    unc = hits.pop("uncorrected")
    rates = {m: k / N_DATASETS for m, k in hits.items()}
    print(f"\n{design}: FWE rates over {N_DATASETS} null datasets: {rates}; uncorrected: {unc / N_DATASETS}")
    for m, v in rates.items():
        record_property(f"fwe_{design}_{m}", v)
    _check(hits, design)
    # negative control: without correction the family-wise error is far above 5% (the check can fail)
    assert unc > HI


def test_grf_fwe_within_binomial_interval(record_property):
    shape = (18, 18, 18)
    mask = _sphere(shape)
    n = 30
    grp = np.r_[np.ones(15), np.zeros(15)]
    hits = 0
    fwhm = []
    for ds in range(N_DATASETS):
        rng = np.random.default_rng(20_000 + ds)
        Y = _null(rng, n, shape, 1.2, pad=6).astype(np.float32)[:, mask]
        Z = np.column_stack([np.ones(n), rng.standard_normal(n)])
        r = glm.ols_t(Y, grp, Z)
        g = grf.grf_cluster_inference(r["t"], r["dof"], glm.residuals(Y, grp, Z), mask, voxel_p=0.001,
                                      cluster_p=ALPHA)
        hits += int(len(g["clusters"]) > 0)
        fwhm.append(np.mean(g["smoothness"]["fwhm_vox"]))
    print(f"\nGRF (voxel p 0.001, cluster p 0.05 two-tailed): FWE {hits / N_DATASETS} over {N_DATASETS} null "
          f"datasets; mean estimated FWHM {np.mean(fwhm):.2f} voxels (kernel 2.83)")
    record_property("fwe_grf", hits / N_DATASETS)
    _check({"grf": hits}, "grf")
