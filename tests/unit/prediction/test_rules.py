"""Like-for-like selection rules: each rule against an independent reference, the same rule on the full sample
and inside the folds, and the leakage comparison on null cohorts (with a positive control)."""
import numpy as np
import pytest
from scipy import ndimage, stats

from fcect.core.clusters import structure
from fcect.group.glm import ols_t, residuals
from fcect.group.grf import grf_cluster_inference, grf_min_cluster_size
from fcect.prediction import rules as RU
from fcect.prediction import run as R
from fcect.prediction import selection as S
from fcect.prediction import svr as P
from fcect.testing import prediction as syn

QUIET = dict(log=lambda *_: None)


def _sets(labels):
    return {frozenset(np.flatnonzero(labels == c)) for c in range(1, int(labels.max()) + 1)}


def _components(t, geom, thr, conn=26):
    """Supra-threshold components of each sign on the full grid (textbook ndimage.label)."""
    out = []
    for sign in (1, -1):
        vol = np.zeros(geom.mask.shape, bool)
        vol[geom.mask] = np.nan_to_num(sign * t) > thr
        lab, k = ndimage.label(vol, structure(conn))
        lv = lab[geom.mask]
        out += [(sign, np.flatnonzero(lv == c)) for c in range(1, k + 1)]
    return out


def test_rule_spec_names_and_defaults():
    assert RU.rule_spec({"method": "grf"})["name"] == "grf_p0.001_c0.05"
    assert RU.rule_spec({"method": "uncorrected", "min_cluster_voxels": 5})["name"] == "uncorrected_p0.001_k5"
    assert RU.rule_spec({"method": "cluster_extent", "name": "fwe"})["n_perm"] == 1000
    with pytest.raises(ValueError, match="method"):
        RU.rule_spec({"method": "tfce"})


def test_uncorrected_rule_equals_scipy_reference():
    c = syn.synthetic_cohort(n=20, seed=1)
    t = stats.ttest_1samp(c["D"], 0, axis=0).statistic
    thr = stats.t.isf(0.01 / 2, 19)
    ref = {frozenset(v) for _, v in _components(t, c["geom"], thr) if v.size >= 4}
    labels, info = RU.select_by_rule(c["D"], c["geom"], {"method": "uncorrected", "voxel_p": 0.01,
                                                         "min_cluster_voxels": 4})
    assert ref and _sets(labels) == ref and not info["fallback"]


def test_grf_rule_equals_group_grf_module():
    """The GRF rule keeps exactly the components of the scipy t map with >= k_min voxels, k_min computed by the
    group stage's GRF functions from the group GLM's residuals."""
    c = syn.synthetic_cohort(n=22, seed=2, effect=0.12)
    Y, n = c["D"], c["D"].shape[0]
    o = ols_t(Y, np.ones(n), None)
    t = stats.ttest_1samp(Y, 0, axis=0).statistic
    np.testing.assert_allclose(o["t"], t, rtol=1e-9)
    grf = grf_cluster_inference(t, n - 1, residuals(Y, np.ones(n), None), c["geom"].mask, voxel_p=0.001,
                                cluster_p=0.05, voxel_size=(3.0, 3.0, 3.0))
    kmin = grf_min_cluster_size(c["geom"].n_vox, grf["smoothness"]["dLh"], stats.norm.isf(0.0005), 0.025)
    assert kmin == grf["k_min"]
    thr_t = stats.t.isf(0.0005, n - 1)   # same tail p as |Z| > 3.29
    ref = {frozenset(v) for _, v in _components(t, c["geom"], thr_t) if v.size >= kmin}
    labels, info = RU.select_by_rule(Y, c["geom"], {"method": "grf"})
    assert ref and _sets(labels) == ref
    assert info["k_min"] == kmin and not info["fallback"]


def test_cluster_extent_rule_equals_textbook_sign_flips():
    """n = 8: all 255 non-identity sign flips (exact enumeration); the null max cluster size by an ndimage loop;
    clusters with p = (1 + #{null >= size}) / 256 < alpha survive."""
    c = syn.synthetic_cohort(n=8, seed=3, effect=0.2, shape=(10, 11, 9), box=((3, 6), (3, 6), (3, 6)))
    D, geom, n = c["D"], c["geom"], 8
    thr = stats.t.isf(0.01 / 2, n - 1)
    signs = np.array([[1 - 2 * ((k >> j) & 1) for j in range(n)] for k in range(1, 2 ** n)], float)
    null = np.array([max([v.size for _, v in _components(stats.ttest_1samp(D * s[:, None], 0, axis=0).statistic,
                                                          geom, thr)] or [0]) for s in signs])
    t = stats.ttest_1samp(D, 0, axis=0).statistic
    ref = {frozenset(v) for _, v in _components(t, geom, thr)
           if (1 + np.sum(null >= v.size)) / (1 + null.size) < 0.05}
    labels, info = RU.select_by_rule(D, geom, {"method": "cluster_extent", "voxel_p": 0.01, "n_perm": 5000})
    assert info["n_perm"] == 255
    assert ref and _sets(labels) == ref


@pytest.mark.parametrize("method", ["uncorrected", "grf"])
def test_same_rule_on_full_sample_and_in_folds_never_reading_left_out(method):
    c = syn.synthetic_cohort(n=14, seed=4)
    rule = {"method": method, "voxel_p": 0.01, "min_cluster_voxels": 3}
    splits = P.loo_splits(14)
    X, full, _, feats, infos = RU.rule_features(c["B"], c["D"], c["has_diff"], splits, c["geom"], rule)
    np.testing.assert_array_equal(full, RU.select_by_rule(c["D"], c["geom"], rule)[0])
    np.testing.assert_array_equal(X, S.features_from_labels(c["B"], full))
    i = 5
    np.testing.assert_array_equal(infos[i]["_labels"],
                                  RU.select_by_rule(np.delete(c["D"], i, 0), c["geom"], rule)[0])
    D = c["D"].copy()
    D[i, c["planted"] > 0] = -1e3   # poison the left-out map: its own fold must not change, the others must
    _, full2, _, feats2, infos2 = RU.rule_features(c["B"], D, c["has_diff"], splits, c["geom"], rule)
    np.testing.assert_array_equal(feats[i], feats2[i])
    assert not np.array_equal(full, full2)
    assert any(not np.array_equal(infos[j]["_labels"], infos2[j]["_labels"]) for j in range(14) if j != i)


def _null(n, seed, shape=(10, 11, 9)):
    """y independent of every map; a planted ECT rise so that clusters exist."""
    rng = np.random.default_rng(seed)
    c = syn.synthetic_cohort(n=n, seed=seed, coupling=0.0, shape=shape, box=((3, 6), (3, 7), (3, 6)))
    return rng.uniform(0.1, 0.9, n), c


def test_null_cohort_no_optimistic_bias_and_positive_control():
    """Null (the target independent of the maps): neither mode of a rule is optimistic (mean r <= 0.1 over draws),
    because no rule reads the target. Positive control through the same machinery: a selector that picks the
    voxels most correlated with the target gives as_published a large r and nested none."""
    res = {m: [] for m in ("uncorrected", "grf")}
    ctrl = []
    for s in range(8):
        y, c = _null(14, 500 + s)
        for m in res:
            out = R.run_rule(y, c["B"], c["D"], c["has_diff"], c["geom"],
                             {"method": m, "voxel_p": 0.01, "min_cluster_voxels": 3}, n_perm=0, **QUIET)
            res[m].append((out["as_published"]["loo"]["r"], out["nested"]["loo"]["r"]))

        def target_selector(rows, _seed, B=c["B"], y=y, geom=c["geom"]):
            yc, Xc = y[rows] - y[rows].mean(), B[rows] - B[rows].mean(0)
            r = yc @ Xc / np.sqrt((yc @ yc) * np.einsum("ij,ij->j", Xc, Xc))
            lab = np.zeros(geom.n_vox, np.int64)
            lab[np.argsort(-r)[:10]] = 1
            return lab, dict(fallback=False, n_train_selection=len(rows), clusters=[])

        out = R.run_rule(y, c["B"], c["D"], c["has_diff"], c["geom"], {"method": "uncorrected"}, n_perm=0,
                         selector=target_selector, **QUIET)
        ctrl.append((out["as_published"]["loo"]["r"], out["nested"]["loo"]["r"]))
    for m, v in res.items():
        v = np.array(v)
        assert np.all(v.mean(0) < 0.1), (m, v.mean(0))
    ctrl = np.array(ctrl)
    assert ctrl[:, 0].mean() > 0.5 and ctrl[:, 1].mean() < 0.1, ctrl.mean(0)
    assert np.mean(ctrl[:, 0] - ctrl[:, 1]) > 0.5


def test_run_rule_reports_both_modes_and_difference():
    c = syn.synthetic_cohort(n=24, seed=5, coupling=1.0)
    out = R.run_rule(c["y"], c["B"], c["D"], c["has_diff"], c["geom"], {"method": "grf"}, n_perm=19, seed=1,
                     **QUIET)
    for m in ("as_published", "nested"):
        assert out[m]["loo"]["r"] > 0.5 and out[m]["p_permutation"]["r"] == pytest.approx(0.05)
    assert out["difference"]["r"] == pytest.approx(out["as_published"]["loo"]["r"] - out["nested"]["loo"]["r"])
    assert out["nested"]["selection"]["dice_with_full_sample"]["mean"] > 0.8
    assert len(out["folds"]) == 24


def test_uncorrected_rule_nested_equals_the_nested_mode():
    """The uncorrected rule inside the folds is the nested mode's selection: same LOO predictions and null."""
    c = syn.synthetic_cohort(n=16, seed=7)
    kw = dict(voxel_p=0.01, min_cluster_voxels=3)
    mode = R.run_mode(c["y"], B=c["B"], D=c["D"], has_diff=c["has_diff"], geom=c["geom"], nested=kw, n_perm=9,
                      n_repeats=0, seed=3, **QUIET)
    rule = R.run_rule(c["y"], c["B"], c["D"], c["has_diff"], c["geom"], {"method": "uncorrected", **kw}, n_perm=9,
                      seed=3, **QUIET)
    np.testing.assert_array_equal(rule["predictions"]["nested"], mode["predictions"])
    assert rule["nested"]["p_permutation"] == mode["p_permutation"]


def test_prediction_table_puts_each_rule_side_by_side():
    """results/tables/prediction.tsv: the configured modes first, then per rule its as_published and nested rows;
    the difference column is as_published r - nested r, recomputed here from the rows themselves."""
    from fcect.prediction.table import COLUMNS, prediction_table

    def res(r, p, n=20):
        return dict(n=n, loo=dict(r=r, mae=1 - r, rmse=1.1 - r, r2=r - 0.5), p_permutation=dict(r=p, mae=p))

    svr = dict(seed="Exec2L", n_permutations=99,
               modes=dict(as_published=dict(res(0.5, 0.01), status="ok", n_permutations=99),
                          nested=dict(res(0.1, 0.3), status="ok", n_permutations=99)),
               rules={name: dict(rule=dict(method=m), n=20, status="ok", as_published=res(ra, 0.02),
                                 nested=res(rn, 0.4), difference=dict(r=ra - rn))
                      for name, m, ra, rn in (("u", "uncorrected", 0.55, 0.05), ("g", "grf", 0.3, 0.2))})
    t = prediction_table(svr)
    assert list(t.columns) == COLUMNS
    assert list(zip(t["analysis"], t["selection_rule"], t["mode"])) == [
        ("main", "configured", "as_published"), ("main", "configured", "nested"), ("rule", "u", "as_published"),
        ("rule", "u", "nested"), ("rule", "g", "as_published"), ("rule", "g", "nested")]
    for name in ("u", "g"):
        sub = t[t["selection_rule"] == name].set_index("mode")
        assert sub.loc["as_published", "r_as_published_minus_nested"] == pytest.approx(
            sub.loc["as_published", "r"] - sub.loc["nested", "r"])
        assert np.isnan(sub.loc["nested", "r_as_published_minus_nested"])
        assert (sub["n_permutations"] == 99).all() and (sub["status"] == "ok").all()
    assert t["r_as_published_minus_nested"].iloc[:2].isna().all()
    # no rules configured: the main rows only
    assert len(prediction_table({k: v for k, v in svr.items() if k != "rules"})) == 2
