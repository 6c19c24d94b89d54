"""Trilinear resampling of a whole 4-D series through per-volume rigid matrices, in numpy (one
``scipy.ndimage.map_coordinates`` call per volume), for the two places the raw stage resamples every volume: the
motion-corrected mean EPI (native grid) and the series onto the analysis grid through the composed
MNI -> T1w -> EPI displacement field. The same sampling as ``ants.apply_transforms(..., interpolator="linear")``
(ITK's linear interpolator: points within half a voxel of the image's edge take the edge's value, points further
out 0), at the same CPU cost (bench/bench_raw_stages.py: 0.98x), without writing a transform file per volume and
with the motion matrices used as they are.

Conventions: matrices are 4x4 RAS world matrices carrying a reference point to the volume's point
(``fcect.raw.motion``); ``points`` are RAS world coordinates (N, 3) at which each volume is sampled."""

from __future__ import annotations

import numpy as np

LPS = np.array([-1.0, -1.0, 1.0])


def grid_points(affine, shape):
    """RAS world coordinates (N, 3) of the voxels of a grid, in C order of an array of ``shape``."""
    ijk = np.indices(tuple(shape), dtype=np.float64).reshape(3, -1).T
    return ijk @ np.asarray(affine, float)[:3, :3].T + np.asarray(affine, float)[:3, 3]


def field_points(field_path, affine, shape):
    """The points of the grid (``affine``, ``shape``) carried through an ANTs displacement field written on that
    grid (``ants.apply_transforms(..., compose=...)``): RAS world coordinates (N, 3) in the moving image's space."""
    import ants

    f = ants.image_read(str(field_path))
    d = np.asarray(f.numpy(), np.float64)  # (X, Y, Z, 3), LPS offsets (mm)
    if d.shape[:3] != tuple(shape):
        raise ValueError(f"{field_path}: displacement field of shape {d.shape[:3]}, grid {tuple(shape)}")
    return grid_points(affine, shape) + d.reshape(-1, 3) * LPS


def sample(volume, affine, points, matrix=None):
    """``volume`` (3-D array on ``affine``) at the RAS ``points`` (N, 3) carried by ``matrix`` (4x4 RAS, reference
    -> volume points; None: identity), trilinear, ITK's border rule (neighbours clamped to the image, 0 beyond half
    a voxel outside it). Returns (N,) float32."""
    from scipy import ndimage

    A = np.linalg.inv(np.asarray(affine, float))
    if matrix is not None:
        A = A @ np.asarray(matrix, float)
    v = (points @ A[:3, :3].T + A[:3, 3]).T
    out = ndimage.map_coordinates(np.asarray(volume, np.float32), v, order=1, mode="nearest", prefilter=False)
    n = volume.shape
    out[(v[0] < -0.5) | (v[0] > n[0] - 0.5) | (v[1] < -0.5) | (v[1] > n[1] - 0.5) | (v[2] < -0.5)
        | (v[2] > n[2] - 0.5)] = 0
    return out


def sample_series(data, affine, points, matrices, out_shape, volumes=None):
    """Every volume ``t`` of ``data`` (4-D, on ``affine``) in ``volumes`` (default: all) sampled at ``points``
    through ``matrices[t]``; returns an array ``out_shape`` + (n,) float32."""
    volumes = list(range(data.shape[3]) if volumes is None else volumes)
    # one contiguous copy, volume first: ``data[..., t]`` is strided by the series length, and interpolating from
    # it cost 2-3 times as much
    vols = np.ascontiguousarray(np.moveaxis(np.asarray(data, np.float32)[..., volumes], -1, 0))
    out = np.empty((len(volumes), int(np.prod(out_shape))), np.float32)
    for k, t in enumerate(volumes):
        out[k] = sample(vols[k], affine, points, matrices[t])
    return np.moveaxis(out.reshape((len(volumes),) + tuple(out_shape)), 0, -1)
