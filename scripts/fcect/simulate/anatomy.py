"""Geometry of the simulated acquisition: the acquisition grid (deliberately off the analysis lattice), the
Gaussian spatial profile of a region around its centres, and the tissue maps (brain, GM, WM, CSF probabilities and
the cerebellum) on that grid, with their on-disk form (one 4D NIfTI, written once per cohort).
"""

from __future__ import annotations

import nibabel as nib
import numpy as np

from fcect.core.io import save_nifti
from fcect.simulate.params import SimParams

# volumes of the on-disk tissue file, in order
TISSUE_KEYS = ("brain", "gm", "wm", "csf", "cerebellum")


def sim_grid(voxel_mm):
    """Simulated acquisition grid: brain bounding box, oblique-free but not aligned with the analysis grid."""
    v = float(voxel_mm)
    lo = np.array([-76.0, -114.0, -62.0]) + v / 3.0  # deliberately off the analysis lattice
    hi = np.array([78.0, 80.0, 86.0])
    shape = tuple(int(np.ceil((h - l) / v)) + 1 for l, h in zip(lo, hi))
    affine = np.diag([v, v, v, 1.0])
    affine[:3, 3] = lo
    return affine, shape


def region_profile(xyz, centers, radius):
    """Weight in [0, 1] of each point of ``xyz`` (MNI mm, shape (n, 3)): the largest of Gaussians (SD radius/2)
    around each of ``centers``, each cut off beyond 1.5 radius."""
    sig = radius / 2.0
    w = np.zeros(len(xyz), dtype=np.float32)
    for c in centers:
        d2 = np.sum((xyz - np.asarray(c, float)) ** 2, axis=1)
        w = np.maximum(w, np.exp(-d2 / (2 * sig ** 2)) * (d2 <= (1.5 * radius) ** 2))
    return w


def sim_tissue(p: SimParams) -> dict:
    """Tissue maps on the simulated grid (brain, gm, wm, csf probabilities; cerebellum labels)."""
    from fcect.core.atlas import aal_on_grid, cerebellum_labels
    from fcect.preprocess.masks import tissue_probability

    affine, shape = sim_grid(p.voxel_mm)
    out = {k: tissue_probability(k, affine, shape) for k in ("brain", "gm", "wm", "csf")}
    out["cerebellum"] = np.isin(aal_on_grid(affine, shape), cerebellum_labels()).astype(np.float32)
    return out


def write_tissue(p: SimParams, path):
    """The tissue maps as one 4D float32 NIfTI (volumes in TISSUE_KEYS order)."""
    affine, _ = sim_grid(p.voxel_mm)
    t = sim_tissue(p)
    save_nifti(nib.Nifti1Image(np.stack([t[k] for k in TISSUE_KEYS], axis=-1).astype(np.float32), affine), path)


def read_tissue(path) -> dict:
    """Tissue maps written by :func:`write_tissue`, as a dict like :func:`sim_tissue` returns."""
    data = np.asarray(nib.load(str(path)).dataobj, dtype=np.float32)
    return {k: data[..., i] for i, k in enumerate(TISSUE_KEYS)}

