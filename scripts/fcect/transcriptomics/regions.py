"""Regional response: the group t map averaged within atlas regions (Desikan-Killiany by default), and label
centroids of a volumetric atlas (the distances of the variogram nulls with subcortex).

The atlas is resampled to the statistic map's grid with nearest-neighbour interpolation; voxels outside the
analysis mask (or exactly 0 without a mask, the group stage's convention) do not count.
"""
from __future__ import annotations

import numpy as np
import pandas as pd


def resample_labels_to(atlas_img, target_img):
    """Resample an integer label image to ``target_img``'s grid with nearest-neighbour interpolation."""
    import nibabel as nib
    from nilearn.image import resample_to_img
    try:
        out = resample_to_img(atlas_img, target_img, interpolation="nearest", force_resample=True, copy_header=True)
    except TypeError:  # older nilearn without force_resample/copy_header
        out = resample_to_img(atlas_img, target_img, interpolation="nearest")
    data = np.rint(np.asanyarray(out.dataobj)).astype(np.int32)
    return nib.Nifti1Image(data, out.affine)


def regional_means(stat_img, atlas_img, region_ids, mask_img=None) -> pd.DataFrame:
    """Mean of ``stat_img`` within each atlas region, after nearest-neighbour resampling of the atlas (and mask).

    Voxels count when they carry the region's label, lie in ``mask_img`` (if given; otherwise voxels whose value is
    exactly 0 are treated as outside the analysis mask, the group stage's convention) and are finite.
    Returns a frame indexed by region id with ``n_voxels`` and ``response`` (NaN where no voxel).
    """
    import nibabel as nib
    stat_img = nib.load(stat_img) if isinstance(stat_img, (str, bytes)) or hasattr(stat_img, "__fspath__") else stat_img
    atlas_img = nib.load(atlas_img) if not hasattr(atlas_img, "affine") else atlas_img
    stat = np.asanyarray(stat_img.dataobj).astype(float)
    if stat.ndim == 4 and stat.shape[3] == 1:
        stat = stat[..., 0]
    if stat.ndim != 3:
        raise ValueError(f"statistic map must be 3-D, got shape {stat.shape}")
    lab = np.asanyarray(resample_labels_to(atlas_img, stat_img).dataobj)
    valid = np.isfinite(stat)
    if mask_img is not None:
        mask_img = nib.load(mask_img) if not hasattr(mask_img, "affine") else mask_img
        m = np.asanyarray(resample_labels_to(mask_img, stat_img).dataobj) > 0
        valid &= m
    else:
        valid &= stat != 0
    rows = []
    for rid in region_ids:
        sel = (lab == int(rid)) & valid
        n = int(sel.sum())
        rows.append((int(rid), n, float(stat[sel].mean()) if n else np.nan))
    return pd.DataFrame(rows, columns=["id", "n_voxels", "response"]).set_index("id")


def regional_response(stat_img, atlas_img, labels: pd.DataFrame, mask_img=None, min_voxels: int = 5):
    """Regional mean t for the regions in ``labels`` (rows indexed by atlas id). Regions with fewer than
    ``min_voxels`` voxels get NaN and ``included = False``."""
    rm = regional_means(stat_img, atlas_img, labels.index, mask_img)
    out = labels[["label", "hemisphere", "structure"]].join(rm)
    out["included"] = (out["n_voxels"] >= min_voxels) & np.isfinite(out["response"])
    out.loc[~out["included"], "response"] = np.nan
    out.index.name = "id"
    return out


def label_centroids_mm(atlas_img, ids) -> np.ndarray:
    """World (mm) centroids of the voxels of each label id in a volumetric atlas."""
    import nibabel as nib
    img = nib.load(atlas_img) if not hasattr(atlas_img, "affine") else atlas_img
    lab = np.rint(np.asanyarray(img.dataobj)).astype(int)
    out = np.empty((len(ids), 3))
    for i, rid in enumerate(ids):
        vox = np.argwhere(lab == int(rid))
        if vox.size == 0:
            raise ValueError(f"label {rid} has no voxel in the atlas")
        out[i] = (img.affine @ np.r_[vox.mean(0), 1.0])[:3]
    return out
