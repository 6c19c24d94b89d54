"""Synthetic data for the prediction stage's tests and benchmark: a small cohort with a planted cluster.

Nothing here is part of an analysis; no pipeline code imports :mod:`fcect.testing`.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage

from fcect.prediction.selection import Geometry


def synthetic_cohort(n: int = 40, shape=(14, 16, 12), effect: float = 0.15,
                     coupling: float = 0.6, noise: float = 0.1, seed: int = 0,
                     box=((4, 7), (5, 8), (4, 7))) -> dict:
    """Voxel data with a planted ECT cluster whose change and baseline value track the target.

    y ~ U(0.1, 0.9) (a HAMD reduction rate). In the planted box (27 voxels by default):
    post - pre = effect + coupling * noise * z(y) + noise * e (mean rise -> a one-sample cluster;
    the rise correlates with y) and baseline = 0.3 + coupling * noise * z(y) + noise * e (baseline
    FC predicts y). Elsewhere pure spatially smooth noise. 3 mm voxels.
    """
    rng = np.random.default_rng(seed)
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    affine[:3, 3] = -np.array(shape) * 1.5
    mask = np.zeros(shape, bool)
    mask[1:-1, 1:-1, 1:-1] = True
    geom = Geometry(mask, affine)
    planted = np.zeros(shape, bool)
    planted[box[0][0]:box[0][1], box[1][0]:box[1][1], box[2][0]:box[2][1]] = True
    pv = planted[mask]
    y = rng.uniform(0.1, 0.9, n)
    zy = (y - y.mean()) / y.std()

    def smooth_noise():
        e = ndimage.gaussian_filter(rng.standard_normal((n,) + tuple(shape)), (0, 1, 1, 1))
        e /= e.std()
        return e.reshape(n, -1)[:, mask.ravel()]

    D = noise * smooth_noise()
    B = 0.3 + noise * smooth_noise()
    D[:, pv] += effect + coupling * noise * zy[:, None]
    B[:, pv] += coupling * noise * zy[:, None]
    return dict(y=y, B=B, D=D, has_diff=np.ones(n, bool), geom=geom, planted=pv.astype(int))


def change_coupled_null_cohort(n: int = 12, seed: int = 0, shape=(14, 16, 12), coupling: float = 2.0,
                               noise: float = 1.0, trait_sd: float = 0.3) -> dict:
    """Baseline FC independent of the target, post - pre change coupled to it (a null for prediction from
    baseline FC, with the paper's clinical correlation present).

    pre = T + e_pre, post = T + coupling z(y) m + e_post, with T (subject trait), e_pre, e_post smooth noise and
    m a smooth random spatial map: B = pre is independent of y, D = post - pre = coupling z(y) m + e_post - e_pre
    is not, and shares -e_pre with B. The only route by which a target-free selection on D can leak into the
    prediction of y from B (the left-out subject's D shapes the clusters). 3 mm voxels."""
    rng = np.random.default_rng(seed)
    mask = np.zeros(shape, bool)
    mask[1:-1, 1:-1, 1:-1] = True
    geom = Geometry(mask, np.diag([3.0, 3.0, 3.0, 1.0]))

    def sm(k):
        e = ndimage.gaussian_filter(rng.standard_normal((k,) + tuple(shape)), (0, 1, 1, 1))
        e /= e.std()
        return e.reshape(k, -1)[:, mask.ravel()]

    y = rng.uniform(0.1, 0.9, n)
    zy = (y - y.mean()) / y.std()
    m = sm(1)[0]
    T, e_pre, e_post = trait_sd * sm(n), noise * sm(n), noise * sm(n)
    return dict(y=y, B=T + e_pre, D=coupling * zy[:, None] * m[None, :] + e_post - e_pre,
                has_diff=np.ones(n, bool), geom=geom)
