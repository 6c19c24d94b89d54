"""PLS, null refits and bootstrap of the transcriptomics stage against independent references."""

import numpy as np
import pytest

from fcect.transcriptomics import pls as tx
from fcect.transcriptomics import regions

TOL = 1e-10


def _data(n=34, p=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 8)) @ rng.normal(size=(8, p)) + rng.normal(size=(n, p))
    y = X[:, :3].sum(1) + 2 * rng.normal(size=n)
    return X, y


@pytest.mark.parametrize("k", [1, 2, 3])
def test_pls_equals_sklearn(k):
    from sklearn.cross_decomposition import PLSRegression
    X, y = _data()
    r = tx.pls_fit(X, y, k)
    m = PLSRegression(n_components=k, scale=True).fit(X, y)
    s = np.sign(np.sum(m.x_weights_ * r.x_weights, 0))          # sklearn orients by the largest weight
    assert np.abs(m.x_weights_ * s - r.x_weights).max() < TOL
    assert np.abs(m.x_scores_ * s - r.x_scores).max() < TOL
    assert np.abs(m.x_loadings_ * s - r.x_loadings).max() < TOL
    yz = (y - y.mean()) / y.std(ddof=1)
    ve = [np.sum((m.x_scores_[:, c] * m.y_loadings_[0, c]) ** 2) / np.sum(yz ** 2) for c in range(k)]
    assert np.abs(np.array(ve) - r.var_explained).max() < TOL
    # our sign convention: every component's scores correlate positively with y
    assert all(np.corrcoef(r.x_scores[:, c], y)[0, 1] > 0 for c in range(k))
    # and predictions agree
    pred = r.x_scores @ r.y_loadings * y.std(ddof=1) + y.mean()
    assert np.abs(pred - m.predict(X).ravel()).max() < 1e-8


def test_null_refits_equal_full_fits():
    X, y = _data(seed=1)
    rng = np.random.default_rng(2)
    Y = np.column_stack([y, rng.normal(size=(34, 40))])
    fast = tx.pls_null_r2(X, Y, 3)
    slow = np.array([tx.pls_fit(X, Y[:, b], 3).var_explained for b in range(Y.shape[1])])
    assert np.abs(fast - slow).max() < TOL


def test_bootstrap_equals_loop():
    X, y = _data(n=20, p=150, seed=3)
    ref = tx.pls_fit(X, y, 2).x_weights
    idx = tx.bootstrap_indices(20, 60, 4)
    sd, cnt = tx.pls_bootstrap(X, y, n_components=2, idx=idx, chunk=25, ref=ref)
    W = []
    for b in range(idx.shape[0]):
        w = tx.pls_fit(X[idx[b]], y[idx[b]], 2).x_weights
        W.append(w * np.sign(np.sum(w * ref, 0)))
    assert np.abs(np.array(W).std(0, ddof=1).T - sd).max() < 1e-10
    assert (cnt == 60).all()


def test_bh_fdr_matches_statsmodels():
    from statsmodels.stats.multitest import multipletests
    p = np.random.default_rng(5).uniform(size=200) ** 3
    assert np.allclose(tx.bh_fdr(p), multipletests(p, method="fdr_bh")[1])


def test_gene_table_lists_and_z():
    X, y = _data(seed=6)
    r = tx.pls_fit(X, y, 2)
    sd, _ = tx.pls_bootstrap(X, y, 200, 2, rng=7, ref=r.x_weights)
    t = tx.gene_weight_table([f"g{i}" for i in range(X.shape[1])], r.x_weights, sd)
    assert np.allclose(t["PLS1_z"], t["PLS1_weight"] / t["PLS1_boot_sd"])
    pos = t[t["list"] == "PLS1+"]
    assert (pos["PLS1_z"] > 0).all() and (pos["PLS1_q"] < 0.05).all()
    assert t["PLS1_z"].is_monotonic_decreasing


def test_regional_means_nearest_resampling(tmp_path):
    import nibabel as nib
    # atlas on a 1 mm grid (two blocks), t map on a 3 mm grid
    lab = np.zeros((30, 30, 30), np.int16)
    lab[:15] = 1
    lab[15:] = 2
    atlas = nib.Nifti1Image(lab, np.diag([1, 1, 1, 1.0]))
    t = np.zeros((10, 10, 10))
    t[:5] = 2.0
    t[5:] = -1.0
    t[0, 0, 0] = 0.0                                             # outside the analysis mask by convention
    img = nib.Nifti1Image(t, np.diag([3, 3, 3, 1.0]))
    rm = regions.regional_means(img, atlas, [1, 2, 3])
    assert rm.loc[1, "response"] == pytest.approx(2.0) and rm.loc[2, "response"] == pytest.approx(-1.0)
    assert rm.loc[1, "n_voxels"] == 5 * 100 - 1 and rm.loc[3, "n_voxels"] == 0
    assert np.isnan(rm.loc[3, "response"])


def test_pls_rejects_bad_input():
    X, y = _data()
    with pytest.raises(ValueError):
        tx.pls_fit(X, y[:-1])
    with pytest.raises(ValueError):
        tx.pls_fit(X, np.ones_like(y))
    with pytest.raises(ValueError):
        tx.pls_fit(X, y, n_components=40)


def _null_gene_z_reference(plan, Ynull):
    """:func:`null_gene_z` through :func:`boot_weights` (scores and all): the reference it is tested against."""
    Xz, mu, sd = plan.Xz, plan.mu, plan.sd
    out = np.empty((Ynull.shape[1], Xz.shape[1]))
    for b in range(Ynull.shape[1]):
        yz = tx.zscore(Ynull[:, b])
        w0 = Xz.T @ yz
        w0 /= np.linalg.norm(w0)
        w = tx.boot_weights(Xz, yz, plan.idx, mu, sd, 1, w0[:, None])[0]
        w = w[np.isfinite(w[:, 0])]
        s = w.std(axis=0, ddof=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            out[b] = np.where(s > 0, w0 / s, 0.0)
    return out


def test_null_gene_z_equals_sklearn_per_resample_and_the_boot_weights_path():
    """The calibration's bootstrap Z of every response: against PLSRegression refitted on every resample (weights
    sign-aligned to the full-sample fit, Z = full-sample weight / SD over resamples), and against the
    boot_weights path it replaced; a resample with a constant response is dropped."""
    from sklearn.cross_decomposition import PLSRegression

    rng = np.random.default_rng(5)
    n, p, B = 14, 40, 30
    X = rng.standard_normal((n, p)) + rng.standard_normal((n, 1))
    Y = rng.standard_normal((n, 3))
    Y[:, 0] += X[:, :5].sum(1)
    idx = tx.bootstrap_indices(n, B, rng)
    idx[3] = 7                                          # y constant in this resample: no weights
    plan = tx.BootstrapPlan(X, idx)
    got = tx.null_gene_z(plan, Y)
    np.testing.assert_allclose(got, _null_gene_z_reference(plan, Y), rtol=1e-10, atol=1e-12)
    for j in range(Y.shape[1]):
        w0 = PLSRegression(1).fit(X, Y[:, j]).x_weights_[:, 0]
        ws = []
        for b in range(B):
            if b == 3:
                continue
            w = PLSRegression(1).fit(X[idx[b]], Y[idx[b], j]).x_weights_[:, 0]
            ws.append(w * (np.sign(w @ w0) or 1.0))
        np.testing.assert_allclose(np.abs(got[j]), np.abs(w0 / np.std(ws, axis=0, ddof=1)), rtol=1e-6)
        np.testing.assert_allclose(got[j], w0 / np.std(ws, axis=0, ddof=1) * np.sign(got[j] @ w0), rtol=1e-6)
