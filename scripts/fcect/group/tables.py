"""Significant clusters of each inference method, and the clusters table (peak MNI, size, AAL labels)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage

from fcect.core.clusters import structure

TABLE_COLUMNS = [
    "cluster_id", "method", "feed", "direction", "size_voxels", "size_mm3", "peak_x", "peak_y", "peak_z",
    "peak_t", "peak_effsize", "p_fwe", "alpha", "aal_peak", "aal_labels",
]


def _unmask(vec, mask, fill=0):
    out = np.full(mask.shape, fill, dtype=np.asarray(vec).dtype)
    out[mask] = vec
    return out


def significant_clusters(method, mask, t, alpha, p_fwe=None, result=None, grf=None, connectivity=26):
    """Significant clusters of one method as (labels over the mask voxels, [dict(label, sign, p)]).

    * maxt, tfce (voxel-wise FWE): connected components (26-connectivity, each sign separately) of the voxels
      with p_FWE < alpha; the cluster p is the smallest voxel p in it;
    * cluster_extent, cluster_mass: the supra-threshold clusters with cluster p_FWE < alpha;
    * grf: the clusters that survive the GRF minimal size (their two-tailed cluster p < cluster_p).
    Labels are numbered by decreasing size."""
    mask = np.asarray(mask, dtype=bool)
    t = np.asarray(t, dtype=float)
    V = t.size
    raw = []   # (sign, voxel indices, p)
    if method in ("maxt", "tfce"):
        p = np.asarray(p_fwe if p_fwe is not None else result.p_fwe[method])
        sig = p < alpha
        st = structure(connectivity)
        for sign in (1, -1):
            sel = sig & (sign * t > 0)
            if not sel.any():
                continue
            lab, n = ndimage.label(_unmask(sel, mask, fill=False), st)
            labv = lab[mask]
            for lb in range(1, n + 1):
                vox = np.flatnonzero(labv == lb)
                raw.append((sign, vox, float(p[vox].min())))
    elif method in ("cluster_extent", "cluster_mass"):
        labv = result.cluster_labels
        for c in result.clusters.get(method, []):
            if c["p"] < alpha:
                raw.append((c["sign"], np.flatnonzero(labv == c["label"]), float(c["p"])))
    elif method == "grf":
        labv = grf["labels"]
        for c in grf["clusters"]:
            if c["p"] < alpha:
                raw.append((c["sign"], np.flatnonzero(labv == c["label"]), float(c["p"])))
    else:
        raise ValueError(f"unknown method {method!r}")
    raw.sort(key=lambda r: (-len(r[1]), r[2]))
    labels = np.zeros(V, dtype=np.int32)
    out = []
    for i, (sign, vox, p) in enumerate(raw, start=1):
        labels[vox] = i
        out.append({"label": i, "sign": int(sign), "p": p, "size": int(len(vox))})
    return labels, out


def cluster_table(method_clusters, mask, affine, t, effsize, atlas=None, direction=("pos>neg", "neg>pos"),
                  feed_method=None, alpha=None, min_cover_percent=1.0):
    """One row per significant cluster of each method.

    ``method_clusters``: {method: (labels over mask voxels, clusters)} from :func:`significant_clusters`.
    cluster_id is unique within the table: the feed method's clusters come first (1..k) so that its label
    image (:func:`feed_label_image`) uses the same ids. ``direction``: (label of t > 0, label of t < 0).
    Returns (table, {method: {local label: cluster_id}})."""
    mask = np.asarray(mask, dtype=bool)
    ijk_all = np.argwhere(mask)
    vox_mm3 = float(abs(np.linalg.det(np.asarray(affine)[:3, :3])))
    rows = []
    idmap = {}
    order = sorted(method_clusters, key=lambda m: (m != feed_method, m))
    next_id = 1
    for m in order:
        labels, clusters = method_clusters[m]
        idmap[m] = {}
        for c in clusters:
            vox = np.flatnonzero(labels == c["label"])
            j = vox[int(np.argmax(np.abs(t[vox])))]
            ijk = ijk_all[j]
            xyz = np.asarray(affine)[:3, :3] @ ijk + np.asarray(affine)[:3, 3]
            row = {
                "cluster_id": next_id,
                "method": m,
                "feed": bool(m == feed_method),
                "direction": direction[0] if c["sign"] > 0 else direction[1],
                "size_voxels": int(len(vox)),
                "size_mm3": round(float(len(vox) * vox_mm3), 3),
                "peak_x": float(xyz[0]), "peak_y": float(xyz[1]), "peak_z": float(xyz[2]),
                "peak_t": float(t[j]),
                "peak_effsize": float(effsize[j]),
                "p_fwe": float(c["p"]),
                "alpha": alpha[m] if isinstance(alpha, dict) else alpha,
                "aal_peak": atlas.at(ijk) if atlas is not None else "n/a",
                "aal_labels": "n/a",
            }
            if atlas is not None:
                from fcect.core.atlas import format_coverage

                row["aal_labels"] = format_coverage(atlas.coverage(ijk_all[vox]), min_cover_percent) or "n/a"
            rows.append(row)
            idmap[m][c["label"]] = next_id
            next_id += 1
    return pd.DataFrame(rows, columns=TABLE_COLUMNS), idmap


def feed_label_image(method_clusters, idmap, feed_method, mask):
    """Integer 3-D label image of the feed method's significant clusters, values = cluster_id of the table."""
    mask = np.asarray(mask, dtype=bool)
    out = np.zeros(mask.shape, dtype=np.int32)
    if feed_method not in method_clusters:
        return out
    labels, clusters = method_clusters[feed_method]
    vec = np.zeros(labels.shape, dtype=np.int32)
    for c in clusters:
        vec[labels == c["label"]] = idmap[feed_method][c["label"]]
    out[mask] = vec
    return out
