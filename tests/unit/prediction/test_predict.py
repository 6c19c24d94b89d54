"""SVR prediction: equivalence with scikit-learn, permutation validity, nested leakage, recovery."""

import numpy as np
import pytest
from scipy import ndimage, stats


from fcect.prediction import run as R
from fcect.prediction import selection as S
from fcect.prediction import svr as P
from fcect.testing import prediction as syn


def _data(n=30, p=3, seed=0, signal=0.5):
    rng = np.random.default_rng(seed)
    X = 0.3 + 0.2 * rng.standard_normal((n, p))
    y = 0.5 + signal * 0.2 * (X[:, 0] - 0.3) / 0.2 + 0.15 * rng.standard_normal(n)
    return X, y


# ------------------------------------------------------------------ equivalence with sklearn
@pytest.mark.parametrize("C,eps,p", [(1.0, 0.1, 3), (0.5, 0.01, 1), (10.0, 0.05, 5)])
def test_loo_equals_cross_val_predict(C, eps, p):
    from sklearn.model_selection import LeaveOneOut, cross_val_predict

    X, y = _data(n=26, p=p, seed=p)
    folds = P.prepare_folds(X, P.loo_splits(len(y)))
    ours = P.cv_predict(folds, y, C, eps)
    ref = cross_val_predict(P.make_pipeline(C, eps), X, y, cv=LeaveOneOut())
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)


def test_kfold_equals_cross_val_predict():
    from sklearn.model_selection import KFold, cross_val_predict

    X, y = _data(n=33, p=2, seed=5)
    splits = P.kfold_splits(len(y), 10, 7)
    ours = P.cv_predict(P.prepare_folds(X, splits), y)
    ref = cross_val_predict(P.make_pipeline(), X, y,
                            cv=KFold(10, shuffle=True, random_state=7))
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10)


def test_fast_path_identical_to_public_svr():
    assert P._fast_path_ok()
    X, y = _data(n=40, p=4, seed=3)
    w1, b1 = P._fit_libsvm(np.ascontiguousarray(X), y, 1.0, 0.1)
    w2, b2 = P._fit_public(X, y, 1.0, 0.1)
    np.testing.assert_allclose(w1, w2, atol=1e-13)
    assert abs(b1 - b2) < 1e-13


def test_metrics_equal_sklearn_and_scipy():
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    rng = np.random.default_rng(2)
    y, pred = rng.random(25), rng.random(25)
    m = P.metrics(y, pred)
    r, p = stats.pearsonr(pred, y)
    assert m["r"] == pytest.approx(r, abs=1e-12)
    assert m["p_parametric_two_sided"] == pytest.approx(p, rel=1e-9)
    assert m["p_parametric_one_sided"] == pytest.approx(
        stats.pearsonr(pred, y, alternative="greater").pvalue, rel=1e-9)
    assert m["mae"] == pytest.approx(mean_absolute_error(y, pred))
    assert m["rmse"] == pytest.approx(np.sqrt(mean_squared_error(y, pred)))
    assert m["r2"] == pytest.approx(r2_score(y, pred))
    np.testing.assert_allclose(P._metric_matrix(y, pred[None])[0],
                               [m["r"], m["mae"], m["rmse"], m["r2"]], atol=1e-12)


# ------------------------------------------------------------------ permutation test validity
def test_permutation_null_is_whole_cv_on_permuted_target():
    X, y = _data(n=15, p=2, seed=4)
    folds = P.prepare_folds(X, P.loo_splits(len(y)))
    null = P.permutation_null(folds, y, n_perm=5, seed=11)
    perms = np.argsort(np.random.default_rng(11).random((5, len(y))), axis=1)
    for i in range(5):
        m = P.metrics(y[perms[i]], P.cv_predict(folds, y[perms[i]]))
        np.testing.assert_allclose(null[i], [m["r"], m["mae"], m["rmse"], m["r2"]], atol=1e-12)


def test_permutation_null_independent_of_n_jobs():
    X, y = _data(n=14, p=2, seed=8)
    folds = P.prepare_folds(X, P.loo_splits(len(y)))
    a = P.permutation_null(folds, y, n_perm=24, seed=3, n_jobs=1)
    b = P.permutation_null(folds, y, n_perm=24, seed=3, n_jobs=2, min_parallel_fits=0)
    np.testing.assert_array_equal(a, b)


def test_permutation_p_uniform_under_null():
    """100 null datasets x 19 permutations: randomised permutation p ~ U(0, 1) (KS test)."""
    n, n_perm, reps = 16, 19, 100
    p_rand, p_plain = [], []
    for s in range(reps):
        rng = np.random.default_rng(1000 + s)
        X = rng.standard_normal((n, 2))
        y = rng.random(n)  # independent of X: no signal
        folds = P.prepare_folds(X, P.loo_splits(n))
        obs = P.metrics(y, P.cv_predict(folds, y))
        null = P.permutation_null(folds, y, n_perm=n_perm, seed=s)
        p_plain.append(P.permutation_p(obs, null)["r"])
        gt = np.sum(null[:, 0] > obs["r"] + 1e-12)
        eq = np.sum(np.abs(null[:, 0] - obs["r"]) <= 1e-12)
        p_rand.append((gt + rng.random() * (eq + 1)) / (n_perm + 1))
    ks = stats.kstest(p_rand, "uniform")
    assert ks.pvalue > 0.01, ks
    # the reported (conservative) p is valid: P(p <= 0.05) ~ 5% (binomial 99.9% bound)
    assert np.mean(np.array(p_plain) <= 0.05) <= stats.binom.ppf(0.999, reps, 0.05) / reps


def test_permutation_p_small_for_planted_effect():
    X, y = _data(n=40, p=2, seed=9, signal=2.0)
    folds = P.prepare_folds(X, P.loo_splits(len(y)))
    obs = P.metrics(y, P.cv_predict(folds, y))
    null = P.permutation_null(folds, y, n_perm=199, seed=1)
    assert obs["r"] > 0.5
    assert P.permutation_p(obs, null)["r"] == pytest.approx(1 / 200)


# ------------------------------------------------------------------ nested selection
def _slow_select(D_train, geom, voxel_p, k):
    """Reference: scipy ttest_1samp per voxel, labelling on the full grid."""
    t = np.array([stats.ttest_1samp(D_train[:, v], 0).statistic for v in range(D_train.shape[1])])
    thr = stats.t.isf(voxel_p / 2, D_train.shape[0] - 1)
    clusters = []
    for sign in (1, -1):
        vol = np.zeros(geom.mask.shape, bool)
        vol[geom.mask] = sign * t > thr
        lab, nlab = ndimage.label(vol, structure=np.ones((3, 3, 3)))
        flat = lab[geom.mask]
        for c in range(1, nlab + 1):
            if (flat == c).sum() >= k:
                clusters.append(frozenset(np.flatnonzero(flat == c)))
    return set(clusters)


def _as_sets(labels):
    return {frozenset(np.flatnonzero(labels == c)) for c in range(1, labels.max() + 1)}


def test_select_clusters_matches_slow_reference():
    c = syn.synthetic_cohort(n=20, seed=1)
    for voxel_p, k in ((0.001, 5), (0.05, 3)):
        labels, info = S.select_clusters(c["D"][:19], c["geom"], voxel_p=voxel_p,
                                         min_cluster_voxels=k)
        assert not info["fallback"]
        assert _as_sets(labels) == _slow_select(c["D"][:19], c["geom"], voxel_p, k)
        # largest first
        sizes = [cl["size_voxels"] for cl in info["clusters"]]
        assert sizes == sorted(sizes, reverse=True)


def test_planted_cluster_found_and_fallback():
    c = syn.synthetic_cohort(n=24, seed=2)
    labels, info = S.select_clusters(c["D"], c["geom"], min_cluster_voxels=10)
    assert S.dice(labels, c["planted"]) > 0.7
    # pure noise, tiny n, strict threshold: nothing survives -> peak sphere (6 mm = 3-voxel radius 2)
    rng = np.random.default_rng(0)
    noise = rng.standard_normal((5, c["geom"].n_vox))
    labels, info = S.select_clusters(noise, c["geom"], voxel_p=1e-6, min_cluster_voxels=10)
    assert info["fallback"] and labels.max() == 1
    pk = np.argmax(np.abs(S.one_sample_t(noise)))
    d = np.linalg.norm(c["geom"].xyz - c["geom"].xyz[pk], axis=1)
    np.testing.assert_array_equal(labels == 1, d <= 6.0 + 1e-6)


@pytest.mark.parametrize("poison", ["nan", "planted"])
def test_nested_never_touches_left_out_subject(poison):
    """Poisoning subject i's difference map must leave fold i's selection and prediction unchanged
    (and must change selection in folds that train on i: the test can detect leakage)."""
    c = syn.synthetic_cohort(n=18, seed=3)
    splits = P.loo_splits(18)
    kw = dict(voxel_p=0.001, min_cluster_voxels=5)
    f0, i0 = S.nested_features(c["B"], c["D"], c["has_diff"], splits, c["geom"], **kw)
    i = 4
    D = c["D"].copy()
    if poison == "nan":
        D[i] = np.nan
    else:  # an extreme opposite effect in the planted cluster, only in subject i
        D[i, c["planted"] > 0] = -1e6
    f1, i1 = S.nested_features(c["B"], D, c["has_diff"], splits, c["geom"], **kw)
    np.testing.assert_array_equal(i0[i]["_labels"], i1[i]["_labels"])
    np.testing.assert_array_equal(f0[i], f1[i])
    changed = [j for j in range(18) if j != i
               and not np.array_equal(i0[j]["_labels"], i1[j]["_labels"])]
    assert changed, "poisoning did not change any training fold: the test would miss a leak"
    # a leaky selector (all subjects) would differ from the fold's selection
    leaky, _ = S.select_clusters(D, c["geom"], **kw) if poison == "planted" else (None, None)
    if leaky is not None:
        assert not np.array_equal(leaky, i0[i]["_labels"])
    # and the left-out prediction is unchanged end to end
    p0 = P.cv_predict(P.prepare_folds(f0, splits), c["y"])
    p1 = P.cv_predict(P.prepare_folds(f1, splits), c["y"])
    assert p0[i] == p1[i]


def test_nested_ignores_subjects_without_post_scan():
    c = syn.synthetic_cohort(n=16, seed=4)
    has = c["has_diff"].copy()
    has[[2, 7]] = False
    D = c["D"].copy()
    D[[2, 7]] = np.nan  # never read
    feats, infos = S.nested_features(c["B"], D, has, P.loo_splits(16), c["geom"],
                                     min_cluster_voxels=5)
    assert all(np.all(np.isfinite(f)) for f in feats)
    assert infos[0]["n_train_selection"] == 13 and infos[2]["n_train_selection"] == 14


def test_run_mode_recovers_planted_prediction_both_modes():
    c = syn.synthetic_cohort(n=36, seed=5, coupling=1.0)
    nested = dict(voxel_p=0.001, min_cluster_voxels=10)
    res_n = R.run_mode(c["y"], B=c["B"], D=c["D"], has_diff=c["has_diff"], geom=c["geom"],
                       reference_labels=c["planted"], nested=nested, n_perm=49, n_splits=5,
                       n_repeats=3, seed=1, log=lambda *_: None)
    feats = S.features_from_labels(c["B"], c["planted"])
    res_p = R.run_mode(c["y"], features=feats, n_perm=49, n_splits=5, n_repeats=3, seed=1,
                       log=lambda *_: None)
    for res in (res_n, res_p):
        assert res["loo"]["r"] > 0.4
        assert res["p_permutation"]["r"] <= 0.04
        assert res["repeated_kfold_summary"]["r"]["n"] == 3
    assert np.mean([f["dice_with_full_sample"] for f in res_n["folds"]]) > 0.6


def test_run_mode_nested_independent_of_n_jobs():
    c = syn.synthetic_cohort(n=16, seed=6)
    kw = dict(B=c["B"], D=c["D"], has_diff=c["has_diff"], geom=c["geom"],
              nested=dict(min_cluster_voxels=5), n_perm=8, n_splits=4, n_repeats=4, seed=2,
              log=lambda *_: None)
    a = R.run_mode(c["y"], n_jobs=1, **kw)
    b = R.run_mode(c["y"], n_jobs=2, **kw)
    np.testing.assert_array_equal(a["predictions"], b["predictions"])
    np.testing.assert_array_equal(a["null"], b["null"])
    assert a["repeated_kfold"] == b["repeated_kfold"]
