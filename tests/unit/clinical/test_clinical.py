"""Clinical correlations: equality with scipy / statsmodels, partial correlation, Bonferroni."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats


from fcect.core import participants
from fcect.clinical import correlations as C
from fcect.clinical import stats as CS


@pytest.fixture
def xyz():
    rng = np.random.default_rng(0)
    n = 40
    Z = np.column_stack([rng.normal(40, 10, n), rng.integers(0, 2, n), rng.normal(12, 3, n)])
    x = 0.02 * Z[:, 0] + rng.standard_normal(n)
    y = 0.4 * x + 0.3 * Z[:, 1] + rng.standard_normal(n)
    return x, y, Z


def test_pearson_and_spearman_equal_scipy(xyz):
    x, y, _ = xyz
    r = CS.corr_test(x, y, method="pearson")
    ref = stats.pearsonr(x, y)
    assert r.r == pytest.approx(ref.statistic, abs=1e-12)
    assert r.p == pytest.approx(ref.pvalue, rel=1e-10)
    ci = ref.confidence_interval()
    assert (r.ci_low, r.ci_high) == pytest.approx((ci.low, ci.high), abs=1e-10)
    s = CS.corr_test(x, y, method="spearman")
    ref = stats.spearmanr(x, y)
    assert s.r == pytest.approx(ref.statistic, abs=1e-12)
    assert s.p == pytest.approx(ref.pvalue, rel=1e-8)


def test_missing_values_listwise(xyz):
    x, y, _ = xyz
    x = x.copy()
    x[[1, 5]] = np.nan
    r = CS.corr_test(x, y)
    ok = np.isfinite(x)
    assert r.n == 38
    assert r.p == pytest.approx(stats.pearsonr(x[ok], y[ok]).pvalue, rel=1e-10)


def test_partial_equals_residual_precision_and_ols(xyz):
    import statsmodels.api as sm

    x, y, Z = xyz
    res = CS.corr_test(x, y, Z, method="partial")
    # residual method by hand
    D = np.column_stack([np.ones(len(x)), Z])
    rx = x - D @ np.linalg.lstsq(D, x, rcond=None)[0]
    ry = y - D @ np.linalg.lstsq(D, y, rcond=None)[0]
    assert res.r == pytest.approx(np.corrcoef(rx, ry)[0, 1], abs=1e-12)
    # precision-matrix formula (no regression)
    assert res.r == pytest.approx(CS.partial_corr_precision(x, y, Z), abs=1e-10)
    # OLS y ~ 1 + x + Z: the t test of x has the same p, with df = n - 2 - k
    fit = sm.OLS(y, np.column_stack([np.ones(len(x)), x, Z])).fit()
    assert res.p == pytest.approx(fit.pvalues[1], rel=1e-8)
    assert res.df == fit.df_resid == len(x) - 2 - Z.shape[1]
    t = res.r * np.sqrt(res.df / (1 - res.r ** 2))
    assert t == pytest.approx(fit.tvalues[1], rel=1e-8)


def test_partial_spearman_is_partial_on_ranks(xyz):
    x, y, Z = xyz
    a = CS.corr_test(x, y, Z, method="partial_spearman")
    R = np.column_stack([stats.rankdata(z) for z in Z.T])
    b = CS.corr_test(stats.rankdata(x), stats.rankdata(y), R, method="partial")
    assert a.r == pytest.approx(b.r) and a.p == pytest.approx(b.p)


def test_paper_numbers_bonferroni():
    """r = 0.343 with n = 52 gives p = 0.013; x2 Bonferroni gives the reported 0.026."""
    p = CS._r_to_p(0.343, 50)
    assert CS.bonferroni(np.array([p, 0.5]))[0] == pytest.approx(0.026, abs=0.0005)


def test_hamd_reduction():
    pre = [20, 30, np.nan, 0, 25]
    post = [10, 30, 5, 0, "n/a"]
    np.testing.assert_allclose(participants.hamd_reduction(pre, post, "rate"),
                               [0.5, 0.0, np.nan, np.nan, np.nan])
    np.testing.assert_allclose(participants.hamd_reduction(pre, post, "difference"),
                               [10, 0, np.nan, 0, np.nan])
    with pytest.raises(ValueError):
        participants.hamd_reduction(pre, post, "percent")


def test_cluster_means_equals_loop():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, (5, 6, 7))
    data = rng.standard_normal((3, 5, 6, 7))
    data[0, 0, 0, 0] = np.nan
    got = C.cluster_means(data, labels)
    for i in range(3):
        for j, c in enumerate([1, 2, 3]):
            assert got[i, j] == pytest.approx(np.nanmean(data[i][labels == c]))
    d = C.cluster_descriptors(labels, np.diag([3, 3, 3, 1.0]))
    assert list(d["size_voxels"]) == [int((labels == c).sum()) for c in (1, 2, 3)]
    assert d["size_mm3"].iloc[0] == 27 * d["size_voxels"].iloc[0]


def test_covariates_coding():
    df = pd.DataFrame(dict(age=[30, 40, 50], sex=["M", "F", "M"], mean_fd_pre=[0.1, 0.2, 0.3],
                           mean_fd_post=[0.2, 0.2, 0.1]))
    Z = CS.covariate_matrix(df, ["age", "sex", "mean_fd_delta"])
    np.testing.assert_allclose(Z, [[30, 1, 0.1], [40, 0, 0.0], [50, 1, -0.2]])
    with pytest.raises(KeyError, match="education"):
        CS.covariate_matrix(df, ["education"])


def test_correlation_table_bonferroni_family(xyz):
    x, y, Z = xyz
    rng = np.random.default_rng(3)
    vals = np.column_stack([x, rng.standard_normal(len(x))])
    clus = pd.DataFrame(dict(cluster_id=[1, 2], size_voxels=[30, 12], com_x=[0, 1], com_y=[0, 1],
                             com_z=[0, 1]))
    blocks = [dict(analysis="ect_delta_vs_reduction", seed=s, cluster_contrast="ect",
                   x_variable="delta_fc", y_variable="hamd_reduction", sample="completers",
                   values=vals, target=y, covars=Z, clusters=clus) for s in ("A", "B")]
    for scope, m in (("analysis", 4), ("seed", 2)):
        t = C.correlation_table(blocks, ["pearson", "spearman", "partial"], ["age", "sex", "edu"],
                                bonferroni_scope=scope)
        assert len(t) == 2 * 2 * 3
        assert (t["n_tests"] == m).all()
        np.testing.assert_allclose(t["p_bonferroni"], np.minimum(t["p"] * m, 1))
        row = t[(t.seed == "A") & (t.cluster_id == 1) & (t.measure == "pearson")].iloc[0]
        assert row["p"] == pytest.approx(stats.pearsonr(x, y).pvalue, rel=1e-10)
        assert row["covariates"] == ""
        assert t[t.measure == "partial"]["covariates"].eq("age,sex,edu").all()
