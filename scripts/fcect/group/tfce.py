"""Threshold-free cluster enhancement (TFCE): voxel maps and null maxima of 3-D statistic maps, compiled kernels.

Definition (Smith & Nichols 2009), for each tail separately (t > 0 and t < 0, both with the same thresholds)::

    TFCE(v) = c * sum_{k >= 1 : h_k <= |t_v|} e_k(v)^E * h_k^H,        E = 0.5, H = 2

where ``e_k(v)`` is the number of voxels of the cluster of v in ``{|t| >= h_k}`` (same sign, ``connectivity``),
and the thresholds are ``h_k = k dh``. How ``dh`` and ``c`` are chosen (``group.tfce_steps``,
:data:`TFCE_STEPS`):

* ``per_map_dh`` (default; Smith & Nichols 2009, FSL ``randomise``, PALM): every map, observed or permuted, gets
  its own ``dh = max|t| / 100`` (100 steps) and the sum is multiplied by its dh (``c = dh``), so that TFCE is the
  Riemann sum of the integral ``int_0^|t_v| e(h)^E h^H dh`` and maps with different maxima are on one scale;
* ``observed_thresholds``: ``dh = max|t_obs| / 100`` of the observed map for every map (a permuted map with a
  larger maximum gets more than 100 steps), ``c = dh``: the same transform for every map; on the observed map
  identical to ``per_map_dh``;
* ``nilearn``: thresholds as ``per_map_dh`` but the sum is *not* multiplied by dh (``c = 1``): nilearn 0.13's
  ``calculate_tfce`` (its FWE p values are then not comparable between maps with different maxima: the observed
  map and the permuted maps are on different scales, which costs power). Kept to reproduce nilearn.

For ``per_map_dh`` and ``nilearn`` the thresholds are ``numpy.linspace(0, max|t|, 101)[1:]`` exactly (the last one
is max|t| itself); for ``observed_thresholds`` ``h_k = k dh`` except ``h_100 = max|t_obs|``.

:func:`tfce_map` is the dense reference (``scipy.ndimage.label`` at every threshold). :func:`tfce_batch` computes
the maximum |TFCE| of each row of a batch of maps (the null distribution), and optionally the signed voxel maps,
with a compiled (numba) union-find over the voxels sorted by threshold level, highest first: a voxel entering at
level k joins its already-entered neighbours; each component's running sum is credited lazily, only when its size
changes, with ``size^E (S_from - S_k)`` from the prefix sums ``S_k = sum_{j <= k} h_j^H``; a component keeps the
largest TFCE of its voxels (all its voxels receive the same contributions from then on). Voxel values follow from
the merge tree (each node's credit while it was a root plus its ancestors' credit after it joined them). Cost per
map: one pass over the voxels and their neighbours (~O(V * neighbours)), whatever the number of steps.
:func:`cluster_max` labels the supra-threshold clusters of a batch of maps with the same union-find (cluster
extent and mass null maxima). :class:`Grid` holds the mask's voxel indexing shared by both.
"""

from __future__ import annotations

import numba
import numpy as np
from scipy import ndimage

from fcect.core.clusters import neighbor_table, offsets, structure

#: values of ``group.tfce_steps``
TFCE_STEPS = ("per_map_dh", "observed_thresholds", "nilearn")
N_STEPS = 100


def _check_steps(steps):
    if steps not in TFCE_STEPS:
        raise ValueError(f"unknown TFCE steps {steps!r}; expected one of {TFCE_STEPS}")


def tfce_map(stat3d, connectivity=26, E=0.5, H=2.0, steps="per_map_dh", dh=None, top=None, two_sided=True):
    """Dense TFCE map of a 3-D statistic image (one ``scipy.ndimage.label`` per threshold and tail).

    ``steps`` as in the module docstring. For ``observed_thresholds`` pass the observed map's ``dh`` and maximum
    ``top`` (default: this map's own, i.e. this map is the observed one). With ``steps='nilearn'`` the result
    equals nilearn 0.13 ``calculate_tfce`` for the same structure."""
    _check_steps(steps)
    arr = np.asarray(stat3d, dtype=float)
    bin_struct = structure(connectivity)
    out = np.zeros_like(arr)
    max_score = np.nanmax(np.abs(arr)) if two_sided else np.nanmax(arr)
    if not np.isfinite(max_score) or max_score <= 0:
        return out
    if steps == "observed_thresholds" and dh is not None:
        top = max_score if top is None else float(top)
        n_lev = int(np.floor(max(max_score, top) / dh)) + 2
        threshs = np.arange(1, n_lev + 1) * dh
        if n_lev >= N_STEPS:
            threshs[N_STEPS - 1] = top
        threshs = threshs[threshs <= max_score]
    else:
        dh = max_score / N_STEPS
        threshs = np.linspace(0, max_score, N_STEPS + 1)[1:]
    scale = 1.0 if steps == "nilearn" else dh
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
    return out * scale


class Grid:
    """Index helpers for statistics on the voxels of a 3-D mask (C order), used by the null-distribution code.

    The mask's bounding box is padded by one voxel; ``box_index`` is each voxel's position in the box, ``box_id``
    maps a box position to its voxel (-1 outside the mask), and neighbours are constant offsets (``shifts``) in
    the box, so that neighbour look-ups are arithmetic on a small array instead of gathers from a
    (V x neighbours) table."""

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
        self.box_id = np.full(self.box_size, -1, dtype=np.int32)
        self.box_id[self.box_index] = np.arange(self.n_voxels, dtype=np.int32)
        strides = np.array([self.box_shape[1] * self.box_shape[2], self.box_shape[2], 1])
        offs = np.array(offsets(connectivity))
        self.shifts = (offs @ strides).astype(np.int64)             # all neighbours (forward half first)
        # union-find neighbour visits: the 6 face neighbours first; of the others only those that no entered face
        # neighbour is adjacent to (an entered voxel adjacent to an entered face neighbour is already in its
        # component), by the pattern of entered face neighbours (6 bits)
        is_face = np.abs(offs).sum(axis=1) == 1
        faces, others = offs[is_face], offs[~is_face]
        conn = {tuple(o) for o in offs.tolist()}
        self.face_shifts = (faces @ strides).astype(np.int64)
        self.other_shifts = (others @ strides).astype(np.int64)
        self.cover = np.zeros((64, max(1, len(others))), dtype=np.int64)
        self.n_cover = np.zeros(64, dtype=np.int64)
        for pat in range(64):
            act = [faces[i] for i in range(len(faces)) if pat >> i & 1]
            rest = [j for j, o in enumerate(others) if not any(tuple((o - f).tolist()) in conn for f in act)]
            self.n_cover[pat] = len(rest)
            self.cover[pat, :len(rest)] = rest
        self.nbr = None

    def neighbor_table(self):
        if self.nbr is None:
            self.nbr = neighbor_table(self.mask, self.connectivity)
        return self.nbr


# ------------------------------------------------------------------------------------------------ kernels

_jit = numba.njit(cache=True, nogil=True)


@_jit
def _h(k, dh, ktop, top):
    """Threshold k (k >= 1): k dh, except threshold ``ktop``, which is ``top`` exactly."""
    if k == ktop:
        return top
    return k * dh


@_jit
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@_jit
def _tfce_rows(T, vbox, box_size, fshift, oshift, cover, n_cover, dh, top, ktop, scale, E, H, out_max, vox, voxelwise):
    """Maximum |TFCE| of every row of T (B x V) into ``out_max``; signed maps into ``vox`` when ``voxelwise``.

    Row b: thresholds ``_h(k, dh[b], ktop[b], top[b])``, result multiplied by ``scale[b]``. The union-find
    works on positions in the padded box (``vbox``: box position of each voxel; ``parent`` -1 = not entered
    yet or outside the mask), so that a neighbour is one look-up at a constant offset. Neighbours visited: the
    face neighbours (``fshift``), then the others (``oshift``) listed in ``cover`` for the pattern of entered
    face neighbours."""
    B, V = T.shape
    nf = fshift.size
    fr = np.empty(6, np.int32)
    parent = np.full(box_size, -1, np.int32)
    size = np.empty(box_size, np.int64)
    best = np.empty(box_size)
    pend = np.empty(box_size, np.int64)
    lev = np.empty(V, np.int64)
    order = np.empty(V, np.int32)
    nw = box_size if voxelwise else 1
    cum = np.zeros(nw)
    offset = np.zeros(nw)
    mparent = np.zeros(nw, np.int32)
    merges = np.zeros(nw, np.int32)
    tl = np.zeros(nw)
    sqrt_e = E == 0.5
    for b in range(B):
        d = dh[b]
        out_max[b] = 0.0
        if voxelwise:
            for v in range(V):
                vox[b, v] = 0.0
        if not d > 0:
            continue
        # signed level of every voxel: +-k, k = #{j >= 1 : h_j <= |t|}
        K = 0
        for v in range(V):
            u = T[b, v]
            a = abs(u)
            k = 0
            if a > 0:
                k = np.int64(a / d)
                while k > 0 and _h(k, d, ktop[b], top[b]) > a:
                    k -= 1
                while _h(k + 1, d, ktop[b], top[b]) <= a:
                    k += 1
                if k > K:
                    K = k
            lev[v] = k if u > 0 else -k
        if K == 0:
            continue
        S = np.empty(K + 1)          # S[k] = sum_{j <= k} h_j^H
        S[0] = 0.0
        for j in range(1, K + 1):
            S[j] = S[j - 1] + _h(j, d, ktop[b], top[b]) ** H
        cnt = np.zeros(2 * K + 1, np.int64)
        for v in range(V):
            cnt[lev[v] + K] += 1
        pos = np.empty(2 * K + 1, np.int64)
        for tail in range(2):
            sgn = 1.0 if tail == 0 else -1.0
            # voxels of this tail by decreasing level (counting sort; voxel order within a level)
            p = 0
            for k in range(K, 0, -1):
                kk = K + k if tail == 0 else K - k
                pos[kk] = p
                p += cnt[kk]
            nact = p
            for v in range(V):
                k = lev[v] if tail == 0 else -lev[v]
                if k > 0:
                    kk = K + lev[v]
                    order[pos[kk]] = v
                    pos[kk] += 1
            nm = 0
            for i in range(nact):
                v = order[i]
                k = lev[v] if tail == 0 else -lev[v]
                x = vbox[v]
                parent[x] = x
                size[x] = 1
                best[x] = 0.0
                pend[x] = k
                if voxelwise:
                    cum[x] = 0.0
                    tl[x] = 0.0
                rx = np.int32(x)
                pat = 0
                for s in range(nf):
                    r2 = parent[x + fshift[s]]
                    fr[s] = r2
                    if r2 >= 0:
                        pat |= 1 << s
                for s in range(nf + n_cover[pat]):
                    if s < nf:
                        r2 = fr[s]
                    else:
                        r2 = parent[x + oshift[cover[pat, s - nf]]]
                    if r2 < 0 or r2 == rx:
                        continue
                    while parent[r2] != r2:          # find, with path halving
                        parent[r2] = parent[parent[r2]]
                        r2 = parent[r2]
                    if r2 == rx:
                        continue
                    # credit the levels above k at the sizes the two components had there
                    if pend[rx] > k:
                        sz = np.sqrt(size[rx]) if sqrt_e else size[rx] ** E
                        inc = sz * (S[pend[rx]] - S[k])
                        best[rx] += inc
                        if voxelwise:
                            cum[rx] += inc
                        pend[rx] = k
                    if pend[r2] > k:
                        sz = np.sqrt(size[r2]) if sqrt_e else size[r2] ** E
                        inc = sz * (S[pend[r2]] - S[k])
                        best[r2] += inc
                        if voxelwise:
                            cum[r2] += inc
                        pend[r2] = k
                    r1 = rx
                    if size[r1] < size[r2]:
                        r1, r2 = r2, r1
                    parent[r2] = r1
                    size[r1] += size[r2]
                    if best[r2] > best[r1]:
                        best[r1] = best[r2]
                    if voxelwise:
                        offset[r2] = cum[r1]
                        mparent[r2] = r1
                        merges[nm] = r2
                        nm += 1
                    rx = r1
            mx = 0.0
            for i in range(nact):
                x = vbox[order[i]]
                if parent[x] == x:
                    if pend[x] > 0:
                        sz = np.sqrt(size[x]) if sqrt_e else size[x] ** E
                        inc = sz * S[pend[x]]
                        best[x] += inc
                        if voxelwise:
                            cum[x] += inc
                        pend[x] = 0
                    if best[x] > mx:
                        mx = best[x]
            if mx * scale[b] > out_max[b]:
                out_max[b] = mx * scale[b]
            if voxelwise:
                for j in range(nm - 1, -1, -1):     # reverse merge order: a parent's tail is known
                    c = merges[j]
                    pp = mparent[c]
                    tl[c] = cum[pp] - offset[c] + tl[pp]
                for i in range(nact):
                    v = order[i]
                    x = vbox[v]
                    vox[b, v] += sgn * scale[b] * (cum[x] + tl[x])
            for i in range(nact):
                parent[vbox[order[i]]] = -1


@_jit
def _cluster_rows(T, vbox, box_size, shifts, thr, out_size, out_mass):
    """Largest cluster extent and mass over both tails of every row of T at |t| > thr (``thr``: T's dtype).

    Mass = sum over the cluster of (|t| - thr), the terms in T's precision, summed in float64."""
    B, V = T.shape
    nn = shifts.size
    parent = np.full(box_size, -1, np.int32)
    size = np.empty(box_size, np.int64)
    mass = np.empty(box_size)
    order = np.empty(V, np.int32)
    for b in range(B):
        ms = 0
        mm = 0.0
        for tail in range(2):
            na = 0
            for v in range(V):
                x = vbox[v]
                parent[x] = -1
                u = T[b, v] if tail == 0 else -T[b, v]
                if u > thr:
                    order[na] = x
                    na += 1
                    parent[x] = x
                    size[x] = 1
                    mass[x] = u - thr
            for i in range(na):
                x = order[i]
                for s in range(nn // 2):          # forward half: every edge once
                    r2 = parent[x + shifts[s]]
                    if r2 < 0:
                        continue
                    r1 = _find(parent, x)
                    r2 = _find(parent, r2)
                    if r1 == r2:
                        continue
                    if size[r1] < size[r2]:
                        r1, r2 = r2, r1
                    parent[r2] = r1
                    size[r1] += size[r2]
                    mass[r1] += mass[r2]
            for i in range(na):
                x = order[i]
                if parent[x] == x:
                    if size[x] > ms:
                        ms = size[x]
                    if mass[x] > mm:
                        mm = mass[x]
        out_size[b] = ms
        out_mass[b] = mm


# ------------------------------------------------------------------------------------------------ wrappers

def thresholds(max_abs, steps="per_map_dh", observed_max=None):
    """Per-map threshold parameters (dh, top, ktop, scale) for maps with maxima ``max_abs`` (B,).

    ``observed_max``: max|t| of the observed map (``observed_thresholds`` only; default: each map's own)."""
    _check_steps(steps)
    mx = np.asarray(max_abs, dtype=float).reshape(-1)
    B = mx.size
    if steps == "observed_thresholds" and observed_max is not None:
        top = np.full(B, float(observed_max))
    else:
        top = mx.copy()
    dh = top / N_STEPS
    ktop = np.full(B, N_STEPS, dtype=np.int64)
    scale = np.ones(B) if steps == "nilearn" else dh.copy()
    return dh, top, ktop, scale


def tfce_batch(T, grid, E=0.5, H=2.0, steps="per_map_dh", observed_max=None, voxelwise=False):
    """Maximum |TFCE| over voxels of each row of ``T`` (B x V statistic maps on the grid's mask, 0 = invalid).

    Equal to ``np.abs(tfce_map(unmask(T[b]), steps=...)).max()`` with the grid's connectivity. ``observed_max``:
    the observed map's max|t| (``steps='observed_thresholds'``). ``voxelwise=True`` also returns the signed TFCE
    maps (B x V, float64). ``grid``: a :class:`Grid` (or the 3-D mask)."""
    if not isinstance(grid, Grid):
        grid = Grid(grid)
    T = np.ascontiguousarray(T)
    if T.dtype not in (np.float32, np.float64):
        T = T.astype(np.float64)
    B, V = T.shape
    mx = np.max(np.abs(T), axis=1) if V else np.zeros(B)
    dh, top, ktop, scale = thresholds(mx, steps, observed_max)
    out = np.zeros(B)
    vox = np.zeros((B, V) if voxelwise else (1, 1))
    if B and V:
        _tfce_rows(T, grid.box_index, grid.box_size, grid.face_shifts, grid.other_shifts, grid.cover, grid.n_cover, dh, top, ktop, scale, float(E), float(H), out, vox,
                   bool(voxelwise))
    return (out, vox) if voxelwise else out


def cluster_max(T, grid, thr):
    """Largest cluster extent and mass (over both tails) of each row of ``T`` (B x V) at |t| > thr.

    The comparison and the terms |t| - thr are computed in T's precision (as numpy does for a float32 array and
    a Python float), the masses summed in float64. Returns (sizes int64 (B,), masses float64 (B,))."""
    if not isinstance(grid, Grid):
        grid = Grid(grid)
    T = np.ascontiguousarray(T)
    if T.dtype not in (np.float32, np.float64):
        T = T.astype(np.float64)
    B = T.shape[0]
    sizes = np.zeros(B, dtype=np.int64)
    masses = np.zeros(B)
    if B and T.shape[1]:
        _cluster_rows(T, grid.box_index, grid.box_size, grid.shifts, T.dtype.type(thr), sizes, masses)
    return sizes, masses
