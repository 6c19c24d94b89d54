"""Leave-one-subject-out cluster values: the vectorised t maps against scipy, the whole LOSO values against a
slow loop, and their behaviour on null cohorts."""
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage, stats

from fcect.clinical import correlations as C
from fcect.clinical.loso import loso_t, loso_values
from fcect.core.clusters import structure


def _cohort(n=14, shape=(10, 11, 9), seed=0, effect=1.2, coupling=0.0):
    """Smooth noise difference maps with a planted rise in a box; y independent of D unless ``coupling``."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, bool)
    mask[1:-1, 1:-1, 1:-1] = True
    e = ndimage.gaussian_filter(rng.standard_normal((n,) + shape), (0, 1, 1, 1))
    D = (e / e.std()).reshape(n, -1)[:, mask.ravel()]
    box = np.zeros(shape, bool)
    box[3:6, 3:7, 3:6] = True
    pv = box[mask]
    y = rng.standard_normal(n)
    D[:, pv] += effect + coupling * y[:, None]
    return D, mask, pv, y


def _full_labels(D, mask, voxel_p):
    """The full-sample clusters: supra-threshold components of the one-sample t (both signs), size >= 3."""
    n = D.shape[0]
    t = stats.ttest_1samp(D, 0, axis=0).statistic
    thr = stats.t.isf(voxel_p / 2, n - 1)
    lab = np.zeros(D.shape[1], int)
    k = 0
    for sign in (1, -1):
        vol = np.zeros(mask.shape, bool)
        vol[mask] = np.nan_to_num(sign * t) > thr
        L, m = ndimage.label(vol, structure(26))
        lv = L[mask]
        for c in range(1, m + 1):
            if np.sum(lv == c) >= 3:
                k += 1
                lab[lv == c] = k
    return lab


@pytest.mark.filterwarnings("ignore:Precision loss:RuntimeWarning")  # scipy on the zero-variance columns
def test_loso_t_equals_scipy_loop():
    rng = np.random.default_rng(1)
    D = rng.standard_normal((9, 40)) + rng.uniform(-1, 1, 40)
    D[:, 5] = 0.3                      # zero variance everywhere: NaN
    D[:, 7] = 0.0
    D[4, 7] = 2.0                      # zero variance only without subject 4
    got = loso_t(D)
    for i in range(9):
        ref = stats.ttest_1samp(np.delete(D, i, axis=0), 0.0, axis=0).statistic
        ok = np.isfinite(ref) & (np.delete(D, i, axis=0).std(0) > 0)
        np.testing.assert_allclose(got[i, ok], ref[ok], rtol=1e-10)
        assert np.all(np.isnan(got[i, ~ok]))


def _slow_loso(D, mask, full, ids, voxel_p):
    """Textbook loop: scipy t without subject i, ndimage.label per sign, overlap then nearest centre."""
    n = D.shape[0]
    thr = stats.t.isf(voxel_p / 2, n - 2)
    ijk = np.argwhere(mask)
    t_full = stats.ttest_1samp(D, 0, axis=0).statistic
    out = np.full((n, len(ids)), np.nan)
    for i in range(n):
        t = stats.ttest_1samp(np.delete(D, i, axis=0), 0, axis=0).statistic
        for k, c in enumerate(ids):
            vox = full == c
            sign = 1 if np.nanmean(t_full[vox]) >= 0 else -1
            vol = np.zeros(mask.shape, bool)
            vol[mask] = np.nan_to_num(sign * t) > thr
            L, m = ndimage.label(vol, structure(26))
            lv = L[mask]
            best = None
            for lb in range(1, m + 1):
                comp = lv == lb
                key = (np.sum(comp & vox), comp.sum())
                if best is None or key > best[0]:
                    best = (key, comp)
            if best is None:
                continue
            if best[0][0] == 0:
                cen = ijk[vox].mean(0)
                d = [np.linalg.norm(ijk[lv == lb].mean(0) - cen) for lb in range(1, m + 1)]
                best = (None, lv == 1 + int(np.argmin(d)))
            out[i, k] = D[i, best[1]].mean()
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_loso_values_equal_slow_loop(seed):
    D, mask, pv, y = _cohort(n=12, seed=seed, effect=0.9)
    D[:, -30:] -= 0.8                   # a falling blob too (negative cluster)
    full = _full_labels(D, mask, 0.01)
    ids = [int(c) for c in np.unique(full[full > 0])]
    assert len(ids) >= 1
    got, info = loso_values(D, mask, full, ids, voxel_p=0.01)
    ref = _slow_loso(D, mask, full, ids, 0.01)
    np.testing.assert_allclose(got, ref, rtol=1e-12, equal_nan=True)
    assert [i["cluster_id"] for i in info] == ids


def _circular_and_loso(D, mask, y, voxel_p=0.01):
    full = _full_labels(D, mask, voxel_p)
    if full.max() == 0:
        return None
    c = np.bincount(full)[1:].argmax() + 1   # the largest cluster
    circ = D[:, full == c].mean(1)
    loso, _ = loso_values(D, mask, full, [c], voxel_p=voxel_p)
    ok = np.isfinite(loso[:, 0])
    return stats.pearsonr(circ, y)[0], stats.pearsonr(loso[ok, 0], y[ok])[0]


def test_null_cohort_neither_estimate_biased_and_loso_tracks_planted_coupling():
    """Null (y independent of the change maps): the circular and LOSO r both centre on 0 (the cluster is chosen
    by the mean change, which does not use y); with a planted coupling both recover it."""
    null = np.array([r for s in range(24) if (r := _circular_and_loso(*_cohort(seed=100 + s)[:2],
                                                                     _cohort(seed=100 + s)[3])) is not None])
    assert len(null) >= 20
    se = null.std(0, ddof=1) / np.sqrt(len(null))
    assert np.all(np.abs(null.mean(0)) < 3 * se + 0.05), null.mean(0)
    planted = np.array([_circular_and_loso(*(lambda d: (d[0], d[1], d[3]))(_cohort(seed=200 + s,
                                                                                     coupling=0.8)))
                        for s in range(6)])
    assert np.all(planted.mean(0) > 0.4), planted.mean(0)


def test_double_dipping_is_caught_by_leaving_the_subject_out():
    """Positive control for the bias test above: a cluster chosen by its correlation with y on the full sample
    gives a circular r far above 0 on null data, and the same rule applied without each subject does not."""
    circ, loso = [], []
    for s in range(12):
        D, mask, pv, y = _cohort(seed=300 + s, effect=0.0)
        n = len(y)

        def pick(rows):
            yc, Xc = y[rows] - y[rows].mean(), D[rows] - D[rows].mean(0)
            r = yc @ Xc / np.sqrt((yc @ yc) * np.einsum("ij,ij->j", Xc, Xc))
            return np.argsort(-r)[:10]

        circ.append(stats.pearsonr(D[:, pick(np.arange(n))].mean(1), y)[0])
        v = np.array([D[i, pick(np.delete(np.arange(n), i))].mean() for i in range(n)])
        loso.append(stats.pearsonr(v, y)[0])
    assert np.mean(circ) > 0.6 and np.mean(loso) < 0.15, (np.mean(circ), np.mean(loso))


def test_add_loso_columns_next_to_p():
    table = pd.DataFrame(dict(analysis=["delta_fc_vs_reduction", "baseline_fc_vs_hamd_pre"], seed="A",
                              cluster_contrast="ect", cluster_id=1, measure="pearson", r=0.5, p=0.01, n=10,
                              p_bonferroni=0.02))
    out = C.add_loso(table, pd.DataFrame(), None, pd.DataFrame(), pd.DataFrame(), ["pearson"])
    cols = list(out.columns)
    assert cols[cols.index("p") + 1: cols.index("p") + 4] == C.LOSO_COLUMNS
    assert out[C.LOSO_COLUMNS].isna().all().all()
