"""Voxel connectivity and supra-threshold cluster labelling on a 3-D grid (6-, 18- or 26-connectivity).

Shared by the group stage (cluster inference, TFCE, tables) and the prediction stage (clusters chosen inside each
fold).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def structure(connectivity=26):
    """3-D structuring element for 6-, 18- or 26-connectivity."""
    rank = {6: 1, 18: 2, 26: 3}.get(int(connectivity))
    if rank is None:
        raise ValueError(f"connectivity must be 6, 18 or 26, got {connectivity}")
    return ndimage.generate_binary_structure(3, rank)


def offsets(connectivity=26):
    st = structure(connectivity)
    offs = [tuple(int(c) for c in o) for o in np.argwhere(st) - 1 if np.any(o)]
    # forward half first (lexicographically positive), then their opposites
    fwd = [o for o in offs if o > (0, 0, 0)]
    return fwd + [tuple(-c for c in o) for o in fwd]


def neighbor_table(mask, connectivity=26):
    """Neighbour indices (within the mask, C order) of every mask voxel: int32 (V, n_neighbours), -1 outside.

    Columns ``[:n/2]`` are the forward half-neighbourhood (each undirected edge once), ``[n/2:]`` the opposite
    offsets.
    """
    mask = np.asarray(mask, dtype=bool)
    idx = np.full(tuple(s + 2 for s in mask.shape), -1, dtype=np.int32)
    idx[1:-1, 1:-1, 1:-1][mask] = np.arange(int(mask.sum()), dtype=np.int32)
    ijk = np.argwhere(mask) + 1
    cols = [idx[ijk[:, 0] + o[0], ijk[:, 1] + o[1], ijk[:, 2] + o[2]] for o in offsets(connectivity)]
    return np.ascontiguousarray(np.stack(cols, axis=1)) if cols else np.zeros((len(ijk), 0), np.int32)


def label_clusters(stat3d, thr, connectivity=26):
    """Label the supra-threshold clusters of both tails (t > thr, t < -thr) with ``scipy.ndimage.label``.

    Returns (labels3d int32, list of dict(label, sign, size, mass, peak_ijk, peak_stat)); labels numbered
    positive clusters first, then negative, each by decreasing size (then mass). The peak is the voxel of largest
    |stat|, the first in C order on ties. Cost: one pass over the supra-threshold voxels, whatever the number of
    clusters."""
    st = structure(connectivity)
    arr = np.nan_to_num(np.asarray(stat3d, dtype=float))
    flat_arr = arr.ravel()
    out = np.zeros(arr.size, dtype=np.int32)
    clusters = []
    for sign in (1, -1):
        lab, n = ndimage.label(sign * arr > thr, st)
        if n == 0:
            continue
        flat = lab.ravel()
        nz = np.flatnonzero(flat)                      # supra-threshold voxels, C order
        order = np.argsort(flat[nz], kind="stable")    # grouped by label, C order within a label
        vox = nz[order]
        sizes = np.bincount(flat[nz], minlength=n + 1)[1:]
        starts = np.concatenate([[0], np.cumsum(sizes)])
        masses = np.bincount(flat[nz], weights=np.abs(flat_arr[nz]) - thr, minlength=n + 1)[1:]
        for lb in range(n):
            clusters.append((sign, int(sizes[lb]), float(masses[lb]), vox[starts[lb]:starts[lb + 1]]))
    clusters.sort(key=lambda c: (-c[0], -c[1], -c[2]))
    res = []
    for i, (sign, size, mass, v) in enumerate(clusters, start=1):
        out[v] = i
        j = v[int(np.argmax(np.abs(flat_arr[v])))]
        res.append({"label": i, "sign": sign, "size": size, "mass": mass,
                    "peak_ijk": tuple(int(c) for c in np.unravel_index(j, arr.shape)),
                    "peak_stat": float(flat_arr[j])})
    return out.reshape(arr.shape), res
