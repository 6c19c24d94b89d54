"""Separable spatial operators of the fast denoising path, in numpy only (no scipy import in the per-scan job).

For an acquisition grid whose axes are parallel to the analysis grid's (diagonal rotation part, flips allowed),
``nilearn.image.resample_img`` calls ``scipy.ndimage.affine_transform`` with a diagonal matrix, i.e. scipy's
zoom-shift code, and ``nilearn.image.smooth_img`` calls ``scipy.ndimage.gaussian_filter1d`` along each axis. Both
are then tensor products of one small matrix per axis:

- :func:`spline_matrix` (n_out, n_in): the B-spline prefilter of the source axis (order 3: the exact inverse of
  the interpolation condition with mirror boundaries, what ``spline_filter1d`` computes with its closed-form
  initial conditions) followed by the interpolation weights at the output points; points outside
  ``[0, n_in - 1]`` get the constant 0 (scipy's ``mode='constant'``, nilearn's ``fill_value=0``), points within one
  spline support of an edge read mirrored coefficients, as in scipy's C code;
- :func:`gaussian_matrix` (n, n): scipy's truncated Gaussian kernel (radius ``int(4 sigma + 0.5)``) with
  ``mode='reflect'`` boundaries.

:func:`apply_separable` applies such matrices to a stack of volumes stored (..., z, y, x) (NIfTI's x-fastest
layout read as a C array), as matrix products. ``tests/unit/preprocess/test_spatial.py`` compares every matrix with
scipy.ndimage and nilearn on random data, flips, fields of view smaller and larger than the target grid, and axes
shorter than the kernels.
"""

from __future__ import annotations

import numpy as np

FWHM_TO_SIGMA = np.sqrt(8 * np.log(2))  # nilearn's conversion


def axis_aligned_transform(source_affine, target_affine):
    """(zooms, offsets) of the voxel-to-voxel map ``inv(source) @ target`` when its 3 x 3 part is exactly diagonal
    (the case in which nilearn hands scipy a 1-D matrix), else None (oblique: the general path). Computed with the
    same floating-point steps as ``nilearn.image.resample_img``."""
    source_affine = np.asarray(source_affine, dtype=np.float64)
    target_affine = np.asarray(target_affine, dtype=np.float64)
    if np.all(target_affine == source_affine):
        transform = np.eye(4)
    else:
        transform = np.dot(np.linalg.inv(source_affine), target_affine)
    A, b = transform[:3, :3], transform[:3, 3]
    if not np.all(np.diag(np.diag(A)) == A) or np.any(np.diag(A) == 0):
        return None
    return np.diag(A).copy(), b.copy()


def _mirror(idx, n):
    """scipy's mirror mapping of integer indices into [0, n) (whole-sample symmetric: -1 -> 1, n -> n - 2)."""
    idx = np.asarray(idx, dtype=np.int64)
    if n <= 1:
        return np.zeros_like(idx)
    s2 = 2 * n - 2
    idx = np.abs(idx) % s2
    return np.where(idx >= n, s2 - idx, idx)


def _reflect(idx, n):
    """scipy's reflect mapping (half-sample symmetric: -1 -> 0, n -> n - 1), repeated for any distance."""
    idx = np.asarray(idx, dtype=np.int64) % (2 * n)
    return np.where(idx >= n, 2 * n - 1 - idx, idx)


def prefilter_matrix(n):
    """(n, n) cubic B-spline prefilter with mirror boundaries: the coefficients c of samples x solve
    (c[k-1] + 4 c[k] + c[k+1]) / 6 = x[k] with c[-1] = c[1], c[n] = c[n-2]."""
    if n == 1:
        return np.ones((1, 1))
    A = np.zeros((n, n))
    k = np.arange(n)
    A[k, k] = 4.0
    A[k[1:], _mirror(k[1:] - 1, n)] += 1.0
    A[k[:-1], _mirror(k[:-1] + 1, n)] += 1.0
    A[0, _mirror(np.array([-1]), n)[0]] += 1.0
    A[n - 1, _mirror(np.array([n]), n)[0]] += 1.0
    return np.linalg.inv(A / 6.0)


def _bspline_weights(t, order):
    """Weights of the order+1 coefficients from floor(cc) - order // 2 on, at fractional offsets ``t``."""
    if order == 1:
        return np.stack([1.0 - t, t], axis=1)
    if order == 3:
        s = 1.0 - t
        return np.stack([s ** 3 / 6.0, (3 * t ** 3 - 6 * t ** 2 + 4) / 6.0, (3 * s ** 3 - 6 * s ** 2 + 4) / 6.0,
                         t ** 3 / 6.0], axis=1)
    raise ValueError(f"spline order {order} not supported (1 or 3)")


def spline_matrix(n_in, n_out, zoom, offset, order=3):
    """(n_out, n_in) matrix of ``scipy.ndimage.affine_transform`` along one axis with a diagonal matrix
    (zoom-shift), ``mode='constant'``, ``cval=0``, prefiltered spline of ``order`` 3 (nilearn's 'continuous') or 1
    ('linear'). Output point k samples the input at ``(k + offset / zoom) * zoom``, as scipy computes it."""
    zoom, offset = float(zoom), float(offset)
    shift = offset / zoom
    cc = (np.arange(n_out, dtype=np.float64) + shift) * zoom
    inside = (cc >= 0) & (cc <= n_in - 1)      # scipy's map_coordinate for mode 'constant'
    out = np.zeros((n_out, n_in))
    rows = np.flatnonzero(inside)
    if rows.size:
        c = cc[rows]
        fl = np.floor(c)
        start = fl.astype(np.int64) - order // 2
        w = _bspline_weights(c - fl, order)
        for j in range(order + 1):
            np.add.at(out, (rows, _mirror(start + j, n_in)), w[:, j])
    if order == 3:
        out = out @ prefilter_matrix(n_in)
    return out


def gaussian_matrix(n, sigma, truncate=4.0):
    """(n, n) matrix of ``scipy.ndimage.gaussian_filter1d(x, sigma, mode='reflect', truncate=truncate)``."""
    sigma = float(sigma)
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1)
    phi = np.exp(-0.5 / (sigma * sigma) * x ** 2)
    phi = phi / phi.sum()
    out = np.zeros((n, n))
    rows = np.repeat(np.arange(n), x.size)
    cols = _reflect(rows + np.tile(x, n), n)
    np.add.at(out, (rows, cols), np.tile(phi, n))
    return out


def smoothing_sigmas(affine, fwhm):
    """Per-axis Gaussian sigma (voxels) of nilearn's ``smooth_img(img, fwhm)`` on a grid with this affine."""
    vox = np.sqrt(np.sum(np.asarray(affine, dtype=np.float64)[:3, :3] ** 2, axis=0))
    return np.asarray([float(fwhm)]).ravel() / (FWHM_TO_SIGMA * vox)


def smoothing_matrices(shape, affine, fwhm):
    """The (x, y, z) Gaussian matrices of nilearn's smoothing on a grid (identity where fwhm is 0 or None)."""
    if not fwhm:
        return [np.eye(n) for n in shape]
    return [gaussian_matrix(n, s) if s > 0 else np.eye(n) for n, s in zip(shape, smoothing_sigmas(affine, fwhm))]


def apply_separable(data, mx, my, mz):
    """Apply (x, y, z) matrices to ``data`` (..., nz, ny, nx), C layout, as three matrix products; returns
    (..., mz.shape[0], my.shape[0], mx.shape[0]) in ``data``'s dtype."""
    lead = data.shape[:-3]
    nz, ny, nx = data.shape[-3:]
    k = int(np.prod(lead, dtype=np.int64))
    dt = data.dtype
    a = data.reshape(k * nz * ny, nx) @ mx.T.astype(dt, copy=False)
    bx = mx.shape[0]
    a = np.matmul(my.astype(dt, copy=False), a.reshape(k * nz, ny, bx))
    by = my.shape[0]
    a = np.matmul(mz.astype(dt, copy=False), a.reshape(k, nz, by * bx))
    return a.reshape(lead + (mz.shape[0], by, bx))


def banded_matmul(S, X, block=16):
    """``S @ X`` for a banded S (the smoothing matrices: a few nonzeros per row) as one product per block of
    ``block`` rows with only the columns that block reads: the same sums, about 3x fewer operations at the
    default kernel."""
    out = np.empty((S.shape[0], X.shape[1]), dtype=np.result_type(S, X))
    for i in range(0, S.shape[0], block):
        rows = S[i:i + block]
        cols = np.flatnonzero(np.abs(rows).sum(axis=0))
        if cols.size == 0:
            out[i:i + block] = 0
            continue
        a, b = int(cols[0]), int(cols[-1]) + 1
        np.matmul(rows[:, a:b], X[a:b], out=out[i:i + block])
    return out
