"""Threshold-free cluster enhancement (TFCE): the voxel map of a 3-D statistic image and the exact null maxima.

``TFCE(v) = sum_{k : h_k <= |t_v|} size(cluster of v at h_k)^E * h_k^H``, E = 0.5, H = 2, thresholds
``h_k = k * max|t| / 100`` (k = 1..100, ``numpy.linspace``), both tails with the thresholds of max|t|, the
result is *not* multiplied by dh: exactly nilearn 0.13's ``calculate_tfce`` (which follows fslmaths), but with
26-connectivity. :func:`tfce_map` computes the voxel map (dense, one labelling per threshold). For the null only
the maximum over voxels is needed; :func:`tfce_max_batch` computes it exactly for a batch of maps by an
incremental union-find over the thresholds (descending): at threshold k only the voxels entering at k and their
active neighbours are touched, the components are merged with ``connected_components`` on that small graph, and
every component carries the maximum TFCE accumulated by its voxels so far (the TFCE maximum of a component at
threshold k is the size term plus the largest maximum among the components it merges, because all voxels of a
component receive the same contributions from then on). With ``voxelwise=True`` it also returns the maps.
:class:`Grid` holds the mask's voxel indexing shared with the cluster statistics of the permutation engine.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage, sparse
from scipy.sparse.csgraph import connected_components

from fcect.core.clusters import neighbor_table, offsets, structure


def _tfce_thresholds(max_abs, n_steps=100):
    """numpy.linspace(0, max_abs, n_steps + 1)[1:] row-wise (exactly as linspace computes it)."""
    max_abs = np.asarray(max_abs, dtype=float)
    step = max_abs / n_steps
    h = np.arange(n_steps + 1)[None, :] * step[..., None]
    h[..., -1] = max_abs
    return h[..., 1:]


def tfce_map(stat3d, connectivity=26, E=0.5, H=2.0, dh="auto", two_sided=True):
    """TFCE map of a 3-D statistic image, identical to nilearn 0.13 ``calculate_tfce`` for the same structure.

    ``dh='auto'`` uses 100 steps up to max|stat|; a float sets the step (10..1000 steps, as nilearn)."""
    arr = np.asarray(stat3d, dtype=float)
    bin_struct = structure(connectivity)
    out = np.zeros_like(arr)
    max_score = np.nanmax(np.abs(arr)) if two_sided else np.nanmax(arr)
    if not np.isfinite(max_score) or max_score <= 0:
        return out
    n_steps = 100 if dh == "auto" else int(min(1000, max(10, round(max_score / dh))))
    threshs = np.linspace(0, max_score, n_steps + 1)[1:]
    out_flat = out.reshape(-1)
    for sign in ([-1, 1] if two_sided else [1]):
        temp = arr * sign
        temp[~np.isfinite(temp)] = 0
        for thr in threshs:
            temp[temp < thr] = 0
            lab, nlab = ndimage.label(temp, bin_struct)
            if nlab == 0:
                break
            flat = lab.ravel()
            nz = np.flatnonzero(flat)
            ln = flat[nz]
            counts = np.bincount(ln)
            vals = sign * (counts ** E) * (thr ** H)
            out_flat[nz] += vals[ln]
    return out


try:  # scipy's Cython kernel without the public wrapper's validation and transposition (~100 us per call)
    from scipy.sparse.csgraph._traversal import _connected_components_undirected as _cc_undirected
except Exception:  # pragma: no cover - other scipy versions
    _cc_undirected = None


def _components(indices, indptr, n):
    """Connected components of a symmetric CSR graph (int32 indices/indptr). Returns (n_components, labels)."""
    if _cc_undirected is not None:
        labels = np.empty(n, dtype=np.int32)
        ncomp = _cc_undirected(indices, indptr, indices, indptr, labels)
        return int(ncomp), labels
    graph = sparse.csr_matrix((np.ones(indices.size, dtype=np.int8), indices, indptr), shape=(n, n))
    return connected_components(graph, directed=False)


def _levels(T, n_steps=100):
    """Threshold index of every voxel of both tails: lev = #{k : h_k <= u}, h = linspace(0, max|t|, n+1)[1:].

    Returns (lev (2B, V) int16 [rows b: +t, rows B+b: -t], mx (B,))."""
    T = np.asarray(T, dtype=float)
    B, V = T.shape
    mx = np.max(np.abs(T), axis=1) if V else np.zeros(B)
    step = mx / n_steps
    scale = np.where(step > 0, n_steps / np.where(mx > 0, mx, 1.0), 0.0)
    lev = np.zeros((2 * B, V), dtype=np.int16)
    for tail, sgn in ((0, 1.0), (1, -1.0)):
        U = T * sgn if sgn < 0 else T
        k = np.floor(U * scale[:, None])
        np.clip(k, 0, n_steps, out=k)
        h = k * step[:, None]
        h = np.where(k >= n_steps, mx[:, None], h)
        k -= (k > 0) & (U < h)
        h1 = (k + 1) * step[:, None]
        h1 = np.where(k + 1 >= n_steps, mx[:, None], h1)
        k += (k < n_steps) & (U >= h1)
        k[mx <= 0] = 0
        lev[tail * B:(tail + 1) * B] = k
    return lev, mx


class Grid:
    """Index helpers for statistics on the voxels of a 3-D mask (C order), used by the null-distribution code.

    The mask's bounding box is padded by one voxel; neighbours are constant offsets in the padded box, so that
    neighbour look-ups are arithmetic instead of table gathers."""

    def __init__(self, mask, connectivity=26):
        mask = np.asarray(mask, dtype=bool)
        self.mask = mask
        self.connectivity = int(connectivity)
        self.n_voxels = int(mask.sum())
        ijk = np.argwhere(mask)
        lo = ijk.min(axis=0) if len(ijk) else np.zeros(3, int)
        hi = ijk.max(axis=0) if len(ijk) else np.zeros(3, int)
        self.box_shape = tuple(int(v) for v in (hi - lo + 3))
        loc = ijk - lo + 1
        self.box_index = np.ravel_multi_index(loc.T, self.box_shape).astype(np.int64) if len(ijk) else \
            np.zeros(0, np.int64)
        self.box_size = int(np.prod(self.box_shape))
        strides = np.array([self.box_shape[1] * self.box_shape[2], self.box_shape[2], 1])
        offs = np.array(offsets(connectivity))
        self.shifts = (offs @ strides).astype(np.int64)             # all neighbours (forward half first)
        self.nbr = None

    def neighbor_table(self):
        if self.nbr is None:
            self.nbr = neighbor_table(self.mask, self.connectivity)
        return self.nbr


def tfce_max_batch(T, grid, E=0.5, H=2.0, n_steps=100, voxelwise=False):
    """Maximum |TFCE| over voxels of each row of ``T`` (B x V statistic maps on the mask, 0 = invalid).

    Equal to ``np.abs(tfce_map(unmask(T[b]))).max()`` with the grid's connectivity, computed by incremental
    union-find over the thresholds, from the highest down: at threshold k only the voxels entering at k and
    their active neighbours are touched. ``grid``: a :class:`Grid` (or the 3-D mask).

    ``voxelwise=True`` also returns the signed TFCE maps (B x V), equal to :func:`tfce_map`: every node keeps
    the contributions it received while it was a root (``cum``), a voxel the value of its node when it joined
    (``base``), and a merged node the contributions of its new root after the merge (``offset``); then
    TFCE(v) = cum[c] - base[v] + tail[c] with tail[c] = cum[p] - offset[c] + tail[p] along the merge tree."""
    if not isinstance(grid, Grid):
        grid = Grid(grid)
    T = np.asarray(T)
    B, V = T.shape
    out = np.zeros(B)
    if B == 0 or V == 0:
        return (out, np.zeros((B, V))) if voxelwise else out
    lev2, mx = _levels(T, n_steps)
    M = 2 * B
    W = grid.box_size
    lev = np.zeros((M, W), dtype=np.int16)
    lev[:, grid.box_index] = lev2
    lev = lev.ravel()
    del lev2
    shifts = grid.shifts
    nnb = shifts.size
    active = np.flatnonzero(lev > 0)
    if active.size == 0:
        return (out, np.zeros((B, V))) if voxelwise else out
    la = lev[active]
    order = np.argsort(la, kind="stable")
    act_sorted = active[order]
    del order
    counts = np.bincount(la, minlength=n_steps + 1)
    ends = np.cumsum(counts)
    starts = ends - counts
    mx2 = np.concatenate([mx, mx])
    hH = _tfce_thresholds(mx2, n_steps) ** H     # (M, n_steps)

    cap = active.size + 1
    parent = np.arange(cap, dtype=np.int32)
    size = np.zeros(cap, dtype=np.int64)
    best = np.zeros(cap)
    mapid = np.zeros(cap, dtype=np.int32)
    scratch = np.zeros(cap, dtype=np.int32)
    comp = np.zeros(M * W, dtype=np.int32)
    pos = np.zeros(M * W, dtype=np.int32)
    n_nodes = 0
    alive = np.zeros(0, dtype=np.int32)
    big = np.iinfo(np.int32).max
    if voxelwise:
        cum = np.zeros(cap)
        base = np.zeros(M * W)
        merges = []
    for kk in range(n_steps, 0, -1):
        S = act_sorted[starts[kk]:ends[kk]]
        m = S.size
        if m:
            # invariant: every node's parent is a root (compressed at the end of each level)
            g2 = S[:, None] + shifts[None, :]
            l2 = lev[g2]
            flat = np.flatnonzero(l2 >= kk)
            gg = g2.ravel()[flat]
            src = flat // nnb
            isnew = l2.ravel()[flat] == kk
            pos[S] = np.arange(m, dtype=np.int32)
            dst = np.empty(flat.size, dtype=np.int32)
            dst[isnew] = pos[gg[isnew]]
            isold = ~isnew
            if isold.any():
                roots = parent[comp[gg[isold]]]
                scratch[roots] = np.arange(roots.size, dtype=np.int32)
                first = scratch[roots] == np.arange(roots.size, dtype=np.int32)
                uroots = roots[first]
                scratch[uroots] = np.arange(uroots.size, dtype=np.int32)
                dst[isold] = m + scratch[roots]
            else:
                uroots = np.zeros(0, dtype=np.int32)
            nloc = m + uroots.size
            # symmetric CSR: rows of new voxels (edges in row order already), then old roots (reversed edges)
            nu = uroots.size
            cnt = np.bincount(src, minlength=m)
            if nu:
                osrc = src[isold]
                odst = dst[isold] - m
                oorder = np.argsort(odst, kind="stable")
                cnt = np.concatenate([cnt, np.bincount(odst, minlength=nu)])
                indices = np.concatenate([dst, osrc[oorder].astype(np.int32)])
            else:
                indices = dst
            indptr = np.zeros(nloc + 1, dtype=np.int32)
            np.cumsum(cnt, out=indptr[1:])
            ncomp, lab = _components(indices, indptr, nloc)
            lab_new = lab[:m]
            lab_old = lab[m:]
            rep = np.full(ncomp, big, dtype=np.int32)
            best_c = np.zeros(ncomp)
            old_sum = np.zeros(ncomp, dtype=np.int64)
            if uroots.size:
                np.minimum.at(rep, lab_old, uroots)
                np.maximum.at(best_c, lab_old, best[uroots])
                old_sum = np.bincount(lab_old, weights=size[uroots], minlength=ncomp).astype(np.int64)
            fresh = rep == big
            nf = int(np.count_nonzero(fresh))
            newids = np.arange(n_nodes, n_nodes + nf, dtype=np.int32)
            rep[fresh] = newids
            mapc = np.zeros(ncomp, dtype=np.int32)
            mapc[lab_new] = S // W
            mapid[newids] = mapc[fresh]
            n_nodes += nf
            if uroots.size:
                merged = uroots != rep[lab_old]
                parent[uroots[merged]] = rep[lab_old[merged]]
                if voxelwise and merged.any():
                    um, pm = uroots[merged], rep[lab_old[merged]]
                    merges.append((um, pm, cum[pm].copy()))
            size[rep] = old_sum + np.bincount(lab_new, minlength=ncomp)
            best[rep] = best_c
            comp[S] = rep[lab_new]
            if voxelwise:
                base[S] = cum[comp[S]]
            alive = np.concatenate([alive[parent[alive] == alive], newids])
            parent[:n_nodes] = parent[parent[:n_nodes]]
        if alive.size:
            sz = np.sqrt(size[alive]) if E == 0.5 else size[alive] ** E
            inc = sz * hH[mapid[alive], kk - 1]
            best[alive] += inc
            if voxelwise:
                cum[alive] += inc
    res = np.zeros(M)
    if alive.size:
        np.maximum.at(res, mapid[alive], best[alive])
    out = np.maximum(res[:B], res[B:])
    if not voxelwise:
        return out
    tail = np.zeros(cap)
    for um, pm, off in reversed(merges):     # reverse chronological: a parent's tail is known
        tail[um] = cum[pm] - off + tail[pm]
    vals = np.zeros(M * W)
    c = comp[active]
    vals[active] = cum[c] - base[active] + tail[c]
    vals = vals.reshape(M, W)[:, grid.box_index]
    return out, vals[:B] - vals[B:]
