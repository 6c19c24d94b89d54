"""The separable fast path of the per-scan denoising, for acquisition grids whose axes are parallel to the analysis
grid's (what fMRIPrep and the simulator write; flips allowed).

Today's operations, and their order, are those of :func:`fcect.preprocess.denoise.prepare_image` +
:func:`~fcect.preprocess.denoise.clean_signals` (nilearn): drop volumes -> cubic-spline resampling of each volume
(``resample_img``; values outside [min(data, 0), max(data, 0)] clipped, nilearn's guard against ringing) ->
Gaussian smoothing -> voxels of the mask -> temporal cleaning (a (k, T) matrix, :mod:`fcect.preprocess.temporal`).
All but the clipping are linear, and the spatial ones are tensor products of one matrix per axis
(:mod:`fcect.preprocess.spatial`). So, per chunk of volumes:

1. each source voxel's temporal mean is taken out (kept in float64) and the deviations are resampled in float32
   by three matrix products, on the box of the analysis grid that the smoothing of the mask reads;
2. the clipping is applied exactly: ``clip(base + dev, lo, hi) = base + clip(dev, lo - base, hi - base)`` with the
   resampled mean ``base``; voxels that provably never reach the bounds (mean +- the largest deviation through the
   absolute interpolation weights) are skipped;
3. the temporal matrix is applied to the box voxels that the smoothing reads (the time dimension shrinks from T
   to k, the rank of the cleaning, before any smoothing);
4. the smoothing, three matrix products on k volumes, and the voxels of the mask. The resampled mean enters as
   (temporal matrix @ 1) x (smoothed mean), zero when the cleaning detrends.

Nothing here imports scipy or nilearn. Oblique affines, non-finite data and other interpolations return None from
:func:`make_plan`, and the caller takes the nilearn path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fcect.preprocess import spatial

ORDERS = {"continuous": 3, "linear": 1}


@dataclass
class Plan:
    """Per-axis matrices and index sets of one source grid -> analysis grid + mask (axes x, y, z; arrays (z, y, x))."""
    B: list            # resampling rows of the box per axis (n_box, n_source), None on the same grid
    box: list          # slice of the analysis grid per axis covered by the box
    read: np.ndarray   # flat (z, y, x) indices in the box of the voxels that the smoothing of the mask reads
    Sz: np.ndarray     # smoothing along z: (n_mask_range_z, n_box_z)
    Sy: np.ndarray     # smoothing along y: (n_mask_range_y, n_box_y)
    Sx: np.ndarray     # smoothing along x: (n_mask_range_x, n_box_x)
    out: np.ndarray    # flat (z, y, x) indices in the mask's range box of the mask's voxels, in numpy's order
    same_grid: bool


def make_plan(source_shape, source_affine, target_affine, mask, fwhm, interpolation="continuous", same_grid=False):
    """(plan, reason) of the fast path, or (None, reason) when it does not apply. ``mask``: boolean analysis-grid
    array of the voxels wanted (their order in the output is numpy's, ``array[mask]``)."""
    if interpolation not in ORDERS:
        return None, f"interpolation {interpolation!r}"
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return None, "empty mask"
    if same_grid:
        zooms, offsets = None, None
    else:
        t = spatial.axis_aligned_transform(source_affine, target_affine)
        if t is None:
            return None, "oblique affine (the voxel axes of the BOLD grid are not parallel to the analysis grid's)"
        zooms, offsets = t
    S_full = spatial.smoothing_matrices(mask.shape, target_affine, fwhm)
    idx = np.nonzero(mask)
    lo = [int(i.min()) for i in idx]
    hi = [int(i.max()) + 1 for i in idx]
    S, box, B = [], [], []
    for ax in range(3):
        rows = S_full[ax][lo[ax]:hi[ax]]
        cols = np.flatnonzero(np.abs(rows).sum(axis=0) > 0)
        sl = slice(int(cols.min()), int(cols.max()) + 1)
        S.append(rows[:, sl])
        box.append(sl)
        B.append(None if same_grid else spatial.spline_matrix(source_shape[ax], mask.shape[ax], zooms[ax],
                                                              offsets[ax], ORDERS[interpolation])[sl])
    # box voxels read by the smoothing of the mask's voxels: nonzero pattern of S^T applied to the mask
    sub = mask[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]].T.astype(np.float64)[None]   # (1, z, y, x)
    reach = spatial.apply_separable(sub, np.abs(S[0]).T, np.abs(S[1]).T, np.abs(S[2]).T)[0]
    read = np.flatnonzero(reach.ravel() > 0)
    ny, nx = hi[1] - lo[1], hi[0] - lo[0]
    out = ((idx[2] - lo[2]) * ny + (idx[1] - lo[1])) * nx + (idx[0] - lo[0])
    return Plan(B=B, box=box, read=read, Sz=S[2], Sy=S[1], Sx=S[0], out=out, same_grid=same_grid), \
        "axis-aligned grid"


def _resample(plan, chunk):
    """(c, z, y, x) source volumes -> (c, z, y, x) on the box."""
    if plan.same_grid:
        bx, by, bz = plan.box
        return np.ascontiguousarray(chunk[:, bz, by, bx])
    return spatial.apply_separable(chunk, *plan.B)


def _smooth(plan, Z):
    """Box voxels (n_box_voxels, k), zero where not read, -> the mask's voxels (n_mask, k): three matrix products
    (z, y, x) on the (z, y, x, k) layout, then the mask's rows."""
    bx, by, bz = (s.stop - s.start for s in plan.box)
    k = Z.shape[1]
    dt = Z.dtype
    uz, uy, ux = plan.Sz.shape[0], plan.Sy.shape[0], plan.Sx.shape[0]
    Z = spatial.banded_matmul(plan.Sz.astype(dt), Z.reshape(bz, by * bx * k))
    Z = np.matmul(plan.Sy.astype(dt), Z.reshape(uz, by, bx * k))
    Z = np.matmul(plan.Sx.astype(dt), Z.reshape(uz * uy, bx, k))
    return Z.reshape(uz * uy * ux, k)[plan.out]


def read_raw(img, drop_volumes=0):
    """(raw series after the dropped volumes, slope, intercept) of a NIfTI image: the stored values, unscaled
    (int16 for most scanners' and the simulator's files), and the header's scaling. data = raw * slope + inter."""
    proxy = img.dataobj
    if hasattr(proxy, "get_unscaled") and hasattr(proxy, "slope"):
        raw = np.asanyarray(proxy.get_unscaled())[..., drop_volumes:]
        slope, inter = float(proxy.slope), float(proxy.inter)
        if np.isfinite(slope) and np.isfinite(inter) and slope != 0:
            return raw, slope, inter
    return np.asarray(proxy[..., drop_volumes:], dtype=np.float64), 1.0, 0.0


def apply(plan, raw, time_operator, slope=1.0, inter=0.0, chunk=32, dtype=np.float32):
    """Denoise the BOLD series ``raw * slope + inter`` (``raw``: (x, y, z, T) after the dropped volumes, any numeric
    dtype, :func:`read_raw`) with the plan and the temporal matrix ``time_operator`` (k, T). Returns
    ((k, n_mask_voxels) float64, note), or (None, reason) for non-finite data (nilearn's resampling treats NaN
    specially: the caller takes that path)."""
    Mt = np.asarray(time_operator, dtype=np.float64)
    V = raw.T                                       # (T, z, y, x) view, C order for nibabel's F-order arrays
    T = V.shape[0]
    ends = sorted([float(V.min()) * slope + inter, float(V.max()) * slope + inter])
    vmin, vmax = min(ends[0], 0.0), max(ends[1], 0.0)   # nilearn's clip range: [min(data, 0), max(data, 0)]
    if not (np.isfinite(vmin) and np.isfinite(vmax)):
        return None, "non-finite values in the BOLD series"
    # deviations from the first volume go in float32; the first volume (float64) is resampled once
    first = V[0].astype(np.float64)
    first_d = V[0].astype(dtype)
    R = np.empty((T, plan.read.size), dtype=dtype)
    for start in range(0, T, chunk):
        stop = min(T, start + chunk)
        dev = V[start:stop].astype(dtype)
        dev -= first_d
        dev *= dtype(slope)
        np.take(_resample(plan, dev).reshape(stop - start, -1), plan.read, axis=1, out=R[start:stop])
    base = _resample(plan, (first * slope + inter)[None])[0].ravel()[plan.read]
    if not plan.same_grid:                          # clip(base + dev, vmin, vmax) - base, exactly
        np.maximum(R, (vmin - base).astype(dtype), out=R)
        np.minimum(R, (vmax - base).astype(dtype), out=R)
    W = R.T @ Mt.T.astype(dtype)                   # (n_read, k): cleaning before smoothing
    del R
    bx, by, bz = (s.stop - s.start for s in plan.box)
    Z = np.zeros((bz * by * bx, Mt.shape[0]), dtype=dtype)
    Z[plan.read] = W
    del W
    Y = _smooth(plan, Z).astype(np.float64)        # (n_mask, k)
    # the resampled first volume is constant in time: it enters through M @ 1 (~0 after detrending)
    ones = Mt.sum(axis=1)
    if np.abs(ones).max() > 1e-9 * np.abs(Mt).sum(axis=1).max():
        full = np.zeros((bz * by * bx, 1))
        full[plan.read, 0] = base
        Y += np.outer(_smooth(plan, full)[:, 0], ones)
    return Y.T, "axis-aligned grid"
