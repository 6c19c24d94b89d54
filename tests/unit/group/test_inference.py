"""Group inference engine: equivalence with statsmodels / nilearn, exact enumeration, GRF formula, tables."""
import itertools
import math

import numpy as np
import pytest
from scipy import ndimage, stats


from fcect.core import clusters
from fcect.group import glm, grf, permutation, tfce
from fcect.group import tables as tab

ALL = ("maxt", "cluster_extent", "cluster_mass", "tfce")


def _smooth_maps(rng, n, shape, sigma=1.0):
    return ndimage.gaussian_filter(rng.standard_normal((n,) + shape), (0,) + (sigma,) * 3)


@pytest.fixture(scope="module")
def grid_data():
    rng = np.random.default_rng(11)
    shape = (9, 10, 8)
    mask = np.ones(shape, bool)
    mask[0, :, :] = False
    mask[4, 4, 4] = False                      # a hole
    n = 24
    Y = _smooth_maps(rng, n, shape)[:, mask]
    grp = np.r_[np.ones(11), np.zeros(13)]
    cov = np.column_stack([rng.normal(40, 10, n), rng.integers(0, 2, n), rng.normal(0, 1, n)])
    Y = Y + 0.9 * grp[:, None] * (np.arange(Y.shape[1]) < 40) + 0.01 * cov[:, :1]
    return mask, Y, grp, cov


# ------------------------------------------------------------------------------------------------ OLS

def test_t_equals_statsmodels_two_group_with_covariates(grid_data):
    import statsmodels.api as sm

    mask, Y, grp, cov = grid_data
    Z = np.column_stack([np.ones(len(grp)), cov])
    r = glm.ols_t(Y, grp, Z)
    X = np.column_stack([grp, Z])
    ref = np.array([sm.OLS(Y[:, v], X).fit().tvalues[0] for v in range(Y.shape[1])])
    np.testing.assert_allclose(r["t"], ref, atol=1e-6, rtol=1e-6)
    beta = np.array([sm.OLS(Y[:, v], X).fit().params[0] for v in range(Y.shape[1])])
    np.testing.assert_allclose(r["beta"], beta, atol=1e-9)
    assert r["dof"] == len(grp) - X.shape[1]


def test_t_equals_scipy_one_sample_and_effect_sizes():
    rng = np.random.default_rng(2)
    n = 17
    D = rng.normal(0.3, 1, (n, 50))
    r = glm.ols_t(D, np.ones(n))
    ref = stats.ttest_1samp(D, 0).statistic
    np.testing.assert_allclose(r["t"], ref, atol=1e-10)
    np.testing.assert_allclose(r["cohens_d"], D.mean(0) / D.std(0, ddof=1), atol=1e-10)
    # two groups, no covariates: Hedges' g = (m1 - m0) / s_pooled * (1 - 3 / (4 (n1 + n0 - 2) - 1))
    g = np.r_[np.ones(9), np.zeros(8)]
    r2 = glm.ols_t(D, g, np.ones((n, 1)))
    a, b = D[g == 1], D[g == 0]
    sp = np.sqrt(((len(a) - 1) * a.var(0, ddof=1) + (len(b) - 1) * b.var(0, ddof=1)) / (n - 2))
    J = 1 - 3 / (4 * (n - 2) - 1)
    np.testing.assert_allclose(r2["hedges_g"], (a.mean(0) - b.mean(0)) / sp * J, atol=1e-10)
    np.testing.assert_allclose(r2["t"], stats.ttest_ind(a, b).statistic, atol=1e-10)


def test_constant_and_nan_voxels_are_neutral(grid_data):
    mask, Y, grp, cov = grid_data
    Z = np.column_stack([np.ones(len(grp)), cov])
    Y2 = Y.copy()
    Y2[:, 5] = 3.0            # constant
    Y2[3, 7] = np.nan         # NaN in one subject
    Y2[:, 9] = np.nan         # NaN everywhere
    R = glm.make_rearrangements(glm.make_glm(grp, Z), "permute", 60, np.random.default_rng(0), exact=False)[0]
    a = permutation.permutation_inference(Y2, grp, Z, mask=mask, methods=ALL, rearrangements=R, dtype=np.float64)
    bad = np.zeros(Y.shape[1], bool)
    bad[[5, 7, 9]] = True
    assert not a.valid[bad].any() and a.valid[~bad].all()
    assert np.all(a.t[bad] == 0) and np.all(a.effsize[bad] == 0)
    for m in ALL:
        assert np.all(np.isfinite(a.p_fwe[m])) and np.all(a.p_fwe[m][bad] == 1.0)
    # same as the data with those voxels set to 0 beforehand (zero = no signal), for every method
    Y3 = Y.copy()
    Y3[:, bad] = 0.0
    b = permutation.permutation_inference(Y3, grp, Z, mask=mask, methods=ALL, rearrangements=R, dtype=np.float64)
    for m in ALL:
        np.testing.assert_allclose(a.null[m], b.null[m], rtol=1e-12)
        np.testing.assert_array_equal(a.p_fwe[m], b.p_fwe[m])


# ------------------------------------------------------------------------------------------------ vs nilearn

@pytest.mark.parametrize("signflip", [False, True])
def test_maxt_identical_to_nilearn_with_the_same_permutations(grid_data, signflip):
    from nilearn.mass_univariate import permuted_ols

    mask, Y, grp, cov = grid_data
    n = len(grp)
    x = np.ones(n) if signflip else grp
    out = permuted_ols(x[:, None], Y, confounding_vars=cov, model_intercept=not signflip, n_perm=300,
                       random_state=5, n_jobs=1, verbose=0)
    R = glm.nilearn_rearrangements(n, 300, 5, signflip)
    Z = cov if signflip else np.column_stack([np.ones(n), cov])
    r = permutation.permutation_inference(Y, x, Z, methods=("maxt",), rearrangements=R)
    np.testing.assert_allclose(r.t, out["t"][0], atol=1e-10)
    np.testing.assert_allclose(np.sort(r.null["maxt"]), np.sort(out["h0_max_t"][0]), rtol=1e-10)
    np.testing.assert_allclose(-np.log10(r.p_fwe["maxt"]), out["logp_max_t"][0], atol=1e-12)


def test_maxt_p_matches_nilearn_within_monte_carlo_error(grid_data):
    """Independent random permutations: the FWE p-values differ by no more than the Monte-Carlo error.

    Both p maps are ECDF tails of null max-T samples of size N; their difference is bounded by the two-sample
    Kolmogorov-Smirnov deviation, c(0.001) * sqrt(2 / N) with c = 1.95 (plus the +1 of each estimator)."""
    from nilearn.mass_univariate import permuted_ols

    mask, Y, grp, cov = grid_data
    n, N = len(grp), 1000
    out = permuted_ols(grp[:, None], Y, confounding_vars=cov, n_perm=N, random_state=1, n_jobs=1, verbose=0)
    Z = np.column_stack([np.ones(n), cov])
    r = permutation.permutation_inference(Y, grp, Z, methods=("maxt",), n_perm=N, random_state=123)
    p_nl = 10 ** -out["logp_max_t"][0]
    assert np.max(np.abs(p_nl - r.p_fwe["maxt"])) <= 1.95 * math.sqrt(2 / N) + 2 / N
    assert stats.ks_2samp(out["h0_max_t"][0], r.null["maxt"]).pvalue > 0.001
    # the planted effect is found by both
    assert (r.p_fwe["maxt"][:40] < 0.05).sum() > 10


def test_tfce_and_clusters_identical_to_nilearn_with_6_connectivity(grid_data):
    """nilearn's permuted_ols labels with 6-connectivity: with the same connectivity and permutations the TFCE
    (``tfce_steps='nilearn'``), cluster-extent and cluster-mass null maxima and p-values are the same."""
    import nibabel as nib
    from nilearn.maskers import NiftiMasker
    from nilearn.mass_univariate import permuted_ols

    mask, Y, grp, cov = grid_data
    n = len(grp)
    masker = NiftiMasker(nib.Nifti1Image(mask.astype(np.uint8), np.eye(4))).fit()
    cov = cov.astype(float)
    out = permuted_ols(grp[:, None], Y, confounding_vars=cov, n_perm=15, random_state=3, n_jobs=1, verbose=0,
                       masker=masker, tfce=True, threshold=0.01)
    R = glm.nilearn_rearrangements(n, 15, 3, False)
    Z = np.column_stack([np.ones(n), cov])
    r = permutation.permutation_inference(Y, grp, Z, mask=mask, methods=ALL, rearrangements=R, connectivity=6,
                                          cluster_forming_p=0.01, dtype=np.float64, tfce_steps="nilearn")
    np.testing.assert_allclose(r.tfce, out["tfce"][0], rtol=1e-10)
    np.testing.assert_allclose(np.sort(r.null["tfce"]), np.sort(out["h0_max_tfce"][0]), rtol=1e-9)
    np.testing.assert_allclose(np.sort(r.null["cluster_extent"]), np.sort(out["h0_max_size"][0]))
    np.testing.assert_allclose(np.sort(r.null["cluster_mass"]), np.sort(out["h0_max_mass"][0]), rtol=1e-9)
    np.testing.assert_allclose(-np.log10(r.p_fwe["tfce"]), out["logp_max_tfce"][0], atol=1e-9)
    # (nilearn's cluster-level p is #{null >= obs} / N clipped at 1/N, ours (1 + #{null >= obs}) / (1 + N))


@pytest.mark.parametrize("connectivity", [6, 26])
def test_tfce_map_equals_nilearn(connectivity):
    from nilearn.mass_univariate._utils import calculate_tfce

    rng = np.random.default_rng(4)
    for _ in range(4):
        img = ndimage.gaussian_filter(rng.standard_normal((11, 12, 10)), 1.2) * 5
        img[img.shape[0] // 2] = 0
        ref = calculate_tfce(img[..., None], clusters.structure(connectivity), two_sided_test=True)[..., 0]
        np.testing.assert_allclose(tfce.tfce_map(img, connectivity, steps="nilearn"), ref, rtol=1e-12, atol=0)


def test_cluster_batch_equals_ndimage_label():
    rng = np.random.default_rng(6)
    shape = (10, 9, 8)
    mask = rng.random(shape) > 0.1
    T = ndimage.gaussian_filter(rng.standard_normal((9,) + shape), (0, 1, 1, 1))[:, mask] * 5
    T[2] = 0.0                        # no cluster
    T[3] = np.abs(T[3])               # one tail only
    for conn in (6, 26):
        ms, mm = tfce.cluster_max(T, tfce.Grid(mask, conn), 1.3)
        ms32, mm32 = tfce.cluster_max(T.astype(np.float32), tfce.Grid(mask, conn), 1.3)
        for b in range(T.shape[0]):
            m3 = np.zeros(shape)
            m3[mask] = T[b]
            _, cl = clusters.label_clusters(m3, 1.3, conn)
            assert ms[b] == max([c["size"] for c in cl], default=0)
            assert mm[b] == pytest.approx(max([c["mass"] for c in cl], default=0.0), rel=1e-12)
            # float32 maps: compared with float32(thr) (as numpy compares a float32 array with a Python float)
            m3[mask] = T[b].astype(np.float32)
            _, cl32 = clusters.label_clusters(m3, np.float32(1.3), conn)
            assert ms32[b] == max([c["size"] for c in cl32], default=0)
            assert mm32[b] == pytest.approx(max([c["mass"] for c in cl32], default=0.0), rel=1e-6)


# ------------------------------------------------------------------------------------------------ enumeration

def _brute_t(Y, X):
    """t of column 0 of X for every column of Y (plain OLS)."""
    beta, _, _, _ = np.linalg.lstsq(X, Y, rcond=None)
    res = Y - X @ beta
    dof = X.shape[0] - np.linalg.matrix_rank(X)
    s2 = (res ** 2).sum(0) / dof
    c = np.linalg.inv(X.T @ X)[0, 0]
    return beta[0] / np.sqrt(s2 * c)


def test_exact_enumeration_two_group_equals_all_permutations():
    rng = np.random.default_rng(7)
    n, V = 8, 15
    g = np.r_[np.ones(4), np.zeros(4)]
    Y = rng.standard_normal((n, V)) + 1.5 * g[:, None] * (np.arange(V) < 3)
    Z = np.ones((n, 1))
    r = permutation.permutation_inference(Y, g, Z, methods=("maxt",), n_perm=5000)
    assert r.exact and r.n_perm == math.comb(8, 4) - 1
    t_obs = _brute_t(Y, np.column_stack([g, Z]))
    np.testing.assert_allclose(r.t, t_obs, atol=1e-10)
    perms = np.array(list(itertools.permutations(range(n))))       # all 40320
    # simple regression with intercept: t = r sqrt(dof / (1 - r^2)), r = Pearson correlation
    Xc = g[perms] - g.mean()
    Xc /= np.linalg.norm(Xc, axis=1, keepdims=True)
    Yc = (Y - Y.mean(0)) / np.linalg.norm(Y - Y.mean(0), axis=0)
    rr = Xc @ Yc
    maxes = np.abs(rr * np.sqrt((n - 2) / (1 - rr ** 2))).max(axis=1)
    p_ref = np.array([(maxes >= abs(t) - 1e-9).mean() for t in t_obs])
    np.testing.assert_allclose(r.p_fwe["maxt"], p_ref, atol=1e-12)


@pytest.mark.parametrize("n", [3, 4, 5, 6])
def test_signflip_exact_equals_brute_force(n):
    """All 2^n sign flips, every method, against a direct loop (dense TFCE / ndimage clusters / lstsq t)."""
    rng = np.random.default_rng(100 + n)
    shape = (5, 5, 4)
    mask = np.ones(shape, bool)
    D = ndimage.gaussian_filter(rng.standard_normal((n,) + shape), (0, 1, 1, 1))[:, mask] + 0.4
    cfp = 0.2
    r = permutation.permutation_inference(D, np.ones(n), None, mask=mask, methods=ALL, n_perm=5000,
                                          cluster_forming_p=cfp, dtype=np.float64)
    assert r.exact and r.n_perm == 2 ** n - 1 and r.scheme == "signflip"
    thr = stats.t.isf(cfp / 2, n - 1)
    stats_all = {m: [] for m in ALL}
    for signs in itertools.product([1, -1], repeat=n):
        t = _brute_t(D * np.array(signs)[:, None], np.ones((n, 1)))
        m3 = np.zeros(shape)
        m3[mask] = t
        _, cl = clusters.label_clusters(m3, thr, 26)
        stats_all["maxt"].append(np.abs(t).max())
        stats_all["cluster_extent"].append(max([c["size"] for c in cl], default=0))
        stats_all["cluster_mass"].append(max([c["mass"] for c in cl], default=0.0))
        stats_all["tfce"].append(np.abs(tfce.tfce_map(m3, 26)).max())
    # observed statistics (the identity is the first product element)
    t_obs = _brute_t(D, np.ones((n, 1)))
    np.testing.assert_allclose(r.t, t_obs, atol=1e-10)
    for m in ALL:
        ref = np.sort(np.asarray(stats_all[m][1:], dtype=float))
        np.testing.assert_allclose(np.sort(r.null[m]), ref, rtol=1e-9, atol=1e-9)
    null_all = np.asarray(stats_all["maxt"])
    p_ref = np.array([(null_all >= abs(t) * (1 - 1e-9)).mean() for t in t_obs])
    np.testing.assert_allclose(r.p_fwe["maxt"], p_ref, atol=1e-12)


def test_reproducible_and_chunk_invariant(grid_data):
    mask, Y, grp, cov = grid_data
    Z = np.column_stack([np.ones(len(grp)), cov])
    kw = dict(mask=mask, methods=ALL, n_perm=50, random_state=42)
    a = permutation.permutation_inference(Y, grp, Z, chunk_size=7, tfce_batch=3, **kw)
    b = permutation.permutation_inference(Y, grp, Z, chunk_size=64, **kw)
    c = permutation.permutation_inference(Y, grp, Z, chunk_size=64, **dict(kw, random_state=43))
    for m in ALL:   # float32 BLAS blocking may differ with the chunk size: equal to float32 precision
        np.testing.assert_allclose(a.null[m], b.null[m], rtol=2e-5)
    a2 = permutation.permutation_inference(Y, grp, Z, chunk_size=7, tfce_batch=3, **kw)
    d = permutation.permutation_inference(Y, grp, Z, chunk_size=64, tfce_batch=8, n_threads=2, **kw)   # threaded TFCE
    for m in ALL:
        np.testing.assert_array_equal(a.null[m], a2.null[m])
        np.testing.assert_allclose(d.null[m], b.null[m], rtol=2e-5)
    assert not np.array_equal(a.null["maxt"], c.null["maxt"])
    assert not a.exact and a.n_perm == 50


# ------------------------------------------------------------------------------------------------ GRF

@pytest.mark.parametrize("V,dLh,vp,k_ref,em_ref,beta_ref", [
    # Worked example 1 (by hand): z = Phi^-1(1 - 0.001/2) = 3.290527; (2 pi)^-2 = 0.0253303;
    # Em = 50000 * 0.0253303 * 0.1 * (z^2 - 1 = 9.827566) * exp(-z^2/2 = 0.0044571) = 5.54473;
    # EN = 50000 * 0.0005 = 25; Beta = (Gamma(2.5) = 1.329340 * 5.54473 / 25)^(2/3) = 0.442980;
    # per tail p < 0.025: exp(-Beta k^(2/3)) < -ln(0.975) / Em = 0.0045661 -> k^(2/3) > 12.1658 -> k > 42.43.
    (50000, 0.1, 0.001, 43, 5.54472643846, 0.442980093144),
    # further examples (same formula evaluated at 30 digits with mpmath)
    (55500, 0.0625, 0.001, 62, 3.84665396668, 0.323820412507),
    (3000, 0.5, 0.01, 20, 7.76011188037, 0.779127647375),
    (70000, 0.02, 0.005, 333, 4.74594771285, 0.1091308154),
])
def test_grf_minimum_cluster_size_worked_examples(V, dLh, vp, k_ref, em_ref, beta_ref):
    z = stats.norm.isf(vp / 2)
    Em, EN, beta = grf.grf_params(V, dLh, z)
    assert Em == pytest.approx(em_ref, rel=1e-9)
    assert EN == pytest.approx(V * vp / 2, rel=1e-12)
    assert beta == pytest.approx(beta_ref, rel=1e-9)
    k = grf.grf_min_cluster_size(V, dLh, z, 0.05 / 2)
    assert k == k_ref
    assert grf.grf_cluster_p(k, V, dLh, z) < 0.025 <= grf.grf_cluster_p(k - 1, V, dLh, z)


def test_smoothness_recovers_kernel_fwhm_and_dlh_identity():
    rng = np.random.default_rng(8)
    shape = (30, 30, 30)
    mask = np.ones(shape, bool)
    sigma = 1.5
    R = ndimage.gaussian_filter(rng.standard_normal((20,) + shape), (0, sigma, sigma, sigma), mode="wrap")[:, mask]
    sm = grf.estimate_smoothness(R - R.mean(0), mask, dof=19, voxel_size=(3, 3, 3))
    fwhm_kernel = sigma * math.sqrt(8 * math.log(2))
    # FWHM is estimated from standardised residuals (biased low by a few % for small n; dLh is DOF-corrected)
    np.testing.assert_allclose(sm["fwhm_vox"], fwhm_kernel, rtol=0.07)
    dlh_true = (4 * math.log(2)) ** 1.5 / fwhm_kernel ** 3
    assert sm["dLh"] == pytest.approx(dlh_true, rel=0.12)
    np.testing.assert_allclose(sm["fwhm_mm"], np.asarray(sm["fwhm_vox"]) * 3)
    # dLh = sqrt(det Lambda) = (4 ln 2)^(3/2) / (FWHMx FWHMy FWHMz), times DPABI's DOF factor sqrt(retval)
    raw = (4 * math.log(2)) ** 1.5 / np.prod(sm["fwhm_vox"])
    assert sm["dLh"] == pytest.approx(raw * math.sqrt(grf._dof_correction(19)), rel=1e-10)


def test_dpabi_dof_correction_literal():
    # lut(101) = 1.0104851, lut(151) = 1.0068808 -> interpolated lut(130) = 1.008394606, lut(131) = 1.00832252;
    # DPABI: retval = (lut(131) - lut(130)) * (130 - 130 + 1) + lut(131) = 1.008250434
    assert grf._dof_correction(130) == pytest.approx(1.008250434, abs=1e-9)
    assert grf._dof_correction(3) == pytest.approx(1.21)
    assert grf._dof_correction(1000) == pytest.approx(1 + 1.0321 / 1000)


def test_grf_finds_planted_cluster_and_reports_two_tailed_p():
    rng = np.random.default_rng(9)
    shape = (20, 20, 20)
    mask = np.ones(shape, bool)
    n = 30
    g = np.r_[np.ones(15), np.zeros(15)]
    Y = ndimage.gaussian_filter(rng.standard_normal((n,) + shape), (0, 1.2, 1.2, 1.2))
    blob = np.zeros(shape)
    blob[8:13, 8:13, 8:13] = 1
    Y = Y - 0.6 * g[:, None, None, None] * ndimage.gaussian_filter(blob, 1)[None] / 0.5
    Y = Y[:, mask]
    Z = np.ones((n, 1))
    r = glm.ols_t(Y, g, Z)
    res = grf.grf_cluster_inference(r["t"], r["dof"], glm.residuals(Y, g, Z), mask, voxel_p=0.001, cluster_p=0.05)
    assert res["clusters"], "planted cluster not found"
    c = res["clusters"][0]
    assert c["sign"] == -1 and c["size"] >= res["k_min"] and c["p"] < 0.05
    assert c["p"] == pytest.approx(min(1, 2 * c["p_tail"]))
    assert res["z_thr"] == pytest.approx(stats.norm.isf(0.0005))
    i, j, k = c["peak_ijk"]
    assert 7 <= i <= 13 and 7 <= j <= 13 and 7 <= k <= 13


# ------------------------------------------------------------------------------------------------ tables

def test_cluster_table_peak_mni_aal_and_feed_labels():
    from nilearn.datasets import load_mni152_gm_mask

    from fcect.core import atlas

    img = load_mni152_gm_mask(resolution=3)
    mask = img.get_fdata() > 0
    aff = img.affine
    # a negative blob around MNI (7, 55, 12) (grid point; right medial superior frontal gyrus in AAL)
    ijk0 = np.rint(np.linalg.solve(aff[:3, :3], np.array([7.0, 55.0, 12.0]) - aff[:3, 3])).astype(int)
    ii = np.indices(mask.shape) - ijk0[:, None, None, None]
    t3 = -8.0 * np.exp(-(ii ** 2).sum(0) / 4.0)
    t = t3[mask]
    pv = np.where(np.abs(t) > 3, 0.001, 0.9)
    labels, cl = tab.significant_clusters("maxt", mask, t, 0.05, p_fwe=pv)
    assert len(cl) == 1 and cl[0]["sign"] == -1
    aal = atlas.load_aal(aff, mask.shape)
    mc = {"maxt": (labels, cl), "tfce": (labels, cl)}
    df, idmap = tab.cluster_table(mc, mask, aff, t, t / 10, atlas=aal, direction=("TRD>HC", "HC>TRD"),
                                  feed_method="tfce", alpha=0.05)
    assert list(df.columns) == tab.TABLE_COLUMNS
    assert df["cluster_id"].tolist() == [1, 2] and df.loc[0, "method"] == "tfce" and bool(df.loc[0, "feed"])
    row = df.iloc[0]
    assert (row.peak_x, row.peak_y, row.peak_z) == (7.0, 55.0, 12.0)
    assert row.direction == "HC>TRD" and row.peak_t == pytest.approx(-8.0)
    assert row.size_mm3 == row.size_voxels * 27
    assert row.aal_peak == "Frontal_Sup_Medial_R"
    assert "Frontal_Sup_Medial_R" in row.aal_labels and "%" in row.aal_labels
    lab3 = tab.feed_label_image(mc, idmap, "tfce", mask)
    assert set(np.unique(lab3)) == {0, 1} and (lab3 == 1).sum() == row.size_voxels


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scheme", ["permute", "signflip"])
def test_compiled_t_equals_numpy_bit_for_bit(grid_data, scheme, dtype):
    """The engine's compiled t kernel gives the numpy expression's values exactly (so max-T and the cluster
    statistics, which threshold the float32 maps, do not depend on which one computed them)."""
    mask, Y, grp, cov = grid_data
    n = len(grp)
    x, Z = (grp, np.column_stack([np.ones(n), cov])) if scheme == "permute" else (np.ones(n), cov)
    g = glm.make_glm(x, Z)
    Qp = g.Q[:, 1:] if scheme == "permute" else g.Q
    G = np.hstack([g.g[:, None], Qp]).astype(dtype)
    R = glm.make_rearrangements(g, scheme, 20, np.random.default_rng(1), exact=False)[0]
    Yr = np.ascontiguousarray(glm.residualise(Y, g)[0], dtype=dtype)
    ref = permutation._permuted_t(G, R, Yr, g.dof, scheme, dtype)
    C = permutation._products(G, R, Yr, scheme, dtype)
    T = np.empty_like(ref)
    j = np.zeros(len(R), np.int64)
    dt = np.dtype(dtype).type
    permutation._t_rows(C, dt(g.dof), dt(1.0), dt(np.finfo(dtype).tiny), T, j)
    np.testing.assert_array_equal(T, ref)
    np.testing.assert_array_equal(j, np.argmax(np.abs(ref), axis=1))
