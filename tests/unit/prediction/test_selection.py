"""Nested cluster selection: select_clusters (labelling by fcect.core.clusters.label_clusters) equals the
textbook per-sign ``ndimage.label`` loop exactly: same clusters, same numbering, same info, same fallback."""
import numpy as np
import pytest
from scipy import ndimage, stats

from fcect.core.clusters import structure
from fcect.prediction import selection as S


def _textbook_select(D_train, geom, voxel_p=0.001, min_cluster_voxels=20, connectivity=26,
                     fallback="peak_sphere", fallback_radius_mm=6.0):
    """Reference: each sign labelled separately with ndimage.label on the full grid; NaN t is never
    supra-threshold; clusters numbered by (-size, first voxel in mask order)."""
    n = D_train.shape[0]
    t = S.one_sample_t(D_train)
    thr = float(stats.t.isf(voxel_p / 2.0, n - 1))
    labels = np.zeros(geom.n_vox, dtype=np.int64)
    comps = []
    for sign in (1, -1):
        vol = np.zeros(geom.mask.shape, bool)
        vol[geom.mask] = np.nan_to_num(sign * t, nan=-np.inf) > thr
        lab, k = ndimage.label(vol, structure=structure(connectivity))
        flat = lab[geom.mask]
        for c in range(1, k + 1):
            vox = np.flatnonzero(flat == c)
            if vox.size >= min_cluster_voxels:
                comps.append((int(vox.size), sign, vox))
    comps.sort(key=lambda c: (-c[0], c[2][0]))
    info = dict(threshold_t=thr, df=n - 1, n_train_selection=n, fallback=False, clusters=[])
    for j, (size, sign, vox) in enumerate(comps, start=1):
        labels[vox] = j
        pk = vox[np.nanargmax(np.abs(t[vox]))]
        info["clusters"].append(dict(size_voxels=size, sign=int(sign),
                                     peak_xyz=[float(v) for v in geom.xyz[pk]], peak_t=float(t[pk])))
    if not comps:
        if fallback != "peak_sphere":
            raise RuntimeError("no cluster survived in a fold and fallback is disabled")
        pk = int(np.argmax(np.nan_to_num(np.abs(t), nan=-1.0)))
        vox = np.flatnonzero(np.linalg.norm(geom.xyz - geom.xyz[pk], axis=1) <= fallback_radius_mm + 1e-6)
        labels[vox] = 1
        info["fallback"] = True
        sgn = np.sign(t[pk]) if np.isfinite(t[pk]) else 0.0
        info["clusters"].append(dict(size_voxels=int(vox.size), sign=int(sgn) or 1,
                                     peak_xyz=[float(v) for v in geom.xyz[pk]], peak_t=float(t[pk])))
    return labels, info


def _random_problem(seed, shape=(13, 15, 11), n=12):
    """Irregular mask (a ball with holes, off the grid's edges), smooth noise with a few rising and
    falling blobs, NaN maps and zero-variance voxels (t = NaN) inside the mask."""
    rng = np.random.default_rng(seed)
    ijk = np.indices(shape).transpose(1, 2, 3, 0)
    centre = (np.array(shape) - 1) / 2 + rng.uniform(-1, 1, 3)
    mask = np.linalg.norm(ijk - centre, axis=-1) <= min(shape) / 2 - 0.5
    mask &= rng.random(shape) > 0.1
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    affine[:3, 3] = rng.uniform(-50, 50, 3)
    geom = S.Geometry(mask, affine)
    noise = ndimage.gaussian_filter(rng.standard_normal((n,) + shape), (0, 1, 1, 1))
    D = noise.reshape(n, -1)[:, mask.ravel()] / noise.std()
    for _ in range(4):
        c = rng.integers(0, geom.n_vox)
        near = np.linalg.norm(geom.xyz - geom.xyz[c], axis=1) <= rng.uniform(3, 9)
        D[:, near] += rng.choice([-1, 1]) * rng.uniform(0.5, 1.5)
    D[:, rng.random(geom.n_vox) < 0.03] = 0.25  # zero variance -> t NaN
    D[rng.integers(0, n), rng.random(geom.n_vox) < 0.03] = np.nan  # a NaN value -> t NaN
    return D, geom


def _assert_same(got, ref):
    np.testing.assert_array_equal(got[0], ref[0])
    assert got[0].dtype == ref[0].dtype
    assert got[1] == ref[1]


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("connectivity", [6, 18, 26])
def test_select_clusters_equals_textbook_loop(seed, connectivity):
    D, geom = _random_problem(seed)
    assert np.isnan(S.one_sample_t(D)).any()
    n_kept = 0
    for voxel_p, k in ((0.2, 1), (0.05, 2), (0.01, 3), (0.001, 5), (1e-9, 1)):
        kw = dict(voxel_p=voxel_p, min_cluster_voxels=k, connectivity=connectivity)
        ref = _textbook_select(D, geom, **kw)
        _assert_same(S.select_clusters(D, geom, **kw), ref)
        n_kept += 0 if ref[1]["fallback"] else len(ref[1]["clusters"])
    assert n_kept > 0


def test_select_clusters_ties_fallback_and_threshold():
    D, geom = _random_problem(99)
    # many clusters of equal size (singletons at a lenient threshold): numbering by first voxel
    ref = _textbook_select(D, geom, voxel_p=0.3, min_cluster_voxels=1, connectivity=6)
    sizes = [c["size_voxels"] for c in ref[1]["clusters"]]
    assert len(sizes) > len(set(sizes))
    _assert_same(S.select_clusters(D, geom, voxel_p=0.3, min_cluster_voxels=1, connectivity=6), ref)
    # nothing survives: the same peak sphere, or the same error without fallback
    kw = dict(voxel_p=1e-12, min_cluster_voxels=50, fallback_radius_mm=7.0)
    got = S.select_clusters(D, geom, **kw)
    assert got[1]["fallback"]
    _assert_same(got, _textbook_select(D, geom, **kw))
    with pytest.raises(RuntimeError):
        S.select_clusters(D, geom, voxel_p=1e-12, min_cluster_voxels=50, fallback="none")
    # a voxel p of 1 or more has no positive threshold
    with pytest.raises(ValueError):
        S.select_clusters(D, geom, voxel_p=1.0)
