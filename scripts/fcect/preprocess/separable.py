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
    taps: np.ndarray   # smoothing along x at the mask's voxels (nibabel order): row indices into (z, y, x_box)
    weights: np.ndarray  # and their weights
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
    # x smoothing as taps at the mask's voxels, after z and y: rows of the (z range, y range, x box) layout
    Sx = S[0]
    width = int((Sx != 0).sum(axis=1).max())
    tap_cols = np.zeros((Sx.shape[0], width), dtype=np.int64)
    tap_w = np.zeros((Sx.shape[0], width))
    for r, row in enumerate(Sx):
        nz = np.flatnonzero(row)
        tap_cols[r, :nz.size] = nz
        tap_w[r, :nz.size] = row[nz]
    ny, nbx = hi[1] - lo[1], Sx.shape[1]
    row0 = ((idx[2] - lo[2]) * ny + (idx[1] - lo[1])) * nbx
    xr = idx[0] - lo[0]
    return Plan(B=B, box=box, read=read, Sz=S[2], Sy=S[1], taps=row0[:, None] + tap_cols[xr],
                weights=tap_w[xr], same_grid=same_grid), "axis-aligned grid"


def _resample(plan, chunk):
    """(c, z, y, x) source volumes -> (c, z, y, x) on the box."""
    if plan.same_grid:
        bx, by, bz = plan.box
        return np.ascontiguousarray(chunk[:, bz, by, bx])
    return spatial.apply_separable(chunk, *plan.B)


def _smooth(plan, Z):
    """Box voxels (n_box_voxels, k), zero where not read, -> the mask's voxels (n_mask, k): z and y as matrix
    products, x as a weighted sum over the taps at the mask's voxels only."""
    bx, by, bz = (s.stop - s.start for s in plan.box)
    k = Z.shape[1]
    dt = Z.dtype
    Z = plan.Sz.astype(dt) @ Z.reshape(bz, by * bx * k)
    Z = np.matmul(plan.Sy.astype(dt), Z.reshape(plan.Sz.shape[0], by, bx * k))
    Z = Z.reshape(-1, k)
    w = plan.weights.astype(dt)
    out = Z[plan.taps[:, 0]] * w[:, :1]
    for j in range(1, plan.taps.shape[1]):
        out += Z[plan.taps[:, j]] * w[:, j:j + 1]
    return out


def apply(plan, data, time_operator, chunk=32, dtype=np.float32):
    """Denoise ``data`` (x, y, z, T) float64 (the BOLD after dropped volumes) with the plan and the temporal matrix
    ``time_operator`` (k, T). Returns ((k, n_mask_voxels) float64, note), or (None, reason) for non-finite data
    (nilearn's resampling treats NaN specially: the caller takes that path)."""
    Mt = np.asarray(time_operator, dtype=np.float64)
    V = data.T                                      # (T, z, y, x) view, C order for nibabel's F-order arrays
    T = V.shape[0]
    ref = V[0].copy()                               # per-voxel reference: deviations from it go in float32
    R = np.empty((T, plan.read.size), dtype=dtype)
    dmin = np.full(ref.shape, np.inf, dtype=dtype)
    dmax = np.full(ref.shape, -np.inf, dtype=dtype)
    for start in range(0, T, chunk):
        stop = min(T, start + chunk)
        dev = np.ascontiguousarray(V[start:stop] - ref, dtype=dtype)
        np.minimum(dmin, dev.min(axis=0), out=dmin)
        np.maximum(dmax, dev.max(axis=0), out=dmax)
        np.take(_resample(plan, dev).reshape(stop - start, -1), plan.read, axis=1, out=R[start:stop])
    vmin = min(float((ref + dmin).min()), 0.0)      # nilearn's clip range: [min(data, 0), max(data, 0)]
    vmax = max(float((ref + dmax).max()), 0.0)
    if not (np.isfinite(vmin) and np.isfinite(vmax)):
        return None, "non-finite values in the BOLD series"
    base = _resample(plan, ref[None])[0].ravel()[plan.read]       # float64: the resampled reference
    n_cand = 0
    if not plan.same_grid:
        # |resampled deviation| <= |B| max|deviation|: clip only the voxels that can reach a bound, all volumes
        dev_max = np.maximum(-dmin, dmax).astype(np.float64)
        bound = spatial.apply_separable(dev_max[None], *[np.abs(b) for b in plan.B])[0].ravel()[plan.read]
        lo, hi = vmin - base, vmax - base
        slack = 1e-6 * (np.abs(base) + bound) + 1e-9 * max(abs(vmin), abs(vmax))
        cand = np.flatnonzero((lo >= -bound - slack) | (hi <= bound + slack))
        n_cand = cand.size
        if n_cand:
            R[:, cand] = np.clip(R[:, cand], lo[cand].astype(dtype), hi[cand].astype(dtype))
    W = R.T @ Mt.T.astype(dtype)                   # (n_read, k): cleaning before smoothing
    del R
    bx, by, bz = (s.stop - s.start for s in plan.box)
    Z = np.zeros((bz * by * bx, Mt.shape[0]), dtype=dtype)
    Z[plan.read] = W
    del W
    Y = _smooth(plan, Z).astype(np.float64)        # (n_mask, k)
    # the resampled reference is constant in time: it enters through M @ 1 (~0 after detrending)
    ones = Mt.sum(axis=1)
    if np.abs(ones).max() > 1e-9 * np.abs(Mt).sum(axis=1).max():
        full = np.zeros((bz * by * bx, 1))
        full[plan.read, 0] = base
        Y += np.outer(_smooth(plan, full)[:, 0], ones)
    return Y.T, f"{n_cand} voxels checked for clipping"
