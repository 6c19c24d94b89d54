"""Registrations with ANTs: mean EPI -> T1w (rigid or affine, Mattes mutual information, on the T1w resampled to
the EPI's voxel size, ``raw.epi_t1_fixed_factor``), T1w -> the MNI152 2009c template shipped with nilearn (affine + SyN,
within a dilated template brain mask), and the composed transforms applied once per volume, from the native series
straight onto the analysis grid.

Reproducibility: every registration samples the metric at random points from a fixed seed (``seed``), and
the same inputs give the same transforms with one ITK thread (``ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS=1``, the
workflow's default ``raw.threads``). With more threads the metric's partial sums are added in a thread-dependent
order, and ANTs' results vary slightly between runs (ANTs documents the same)."""

from __future__ import annotations

import nibabel as nib
import numpy as np


def to_ants(img):
    import ants

    img = nib.Nifti1Image(np.asarray(img.dataobj, dtype=np.float32), img.affine)
    return ants.from_nibabel_nifti(img)


def to_nib(aimg):
    import ants

    return ants.to_nibabel_nifti(aimg)


def template(voxel_mm=2.0):
    """nilearn's MNI152 2009c template (T1w, brain) and its brain mask, resampled to an isotropic ``voxel_mm`` grid
    of the MNI bounding box (``fcect.preprocess.masks.analysis_grid``). Returns (template, brain mask) nibabel."""
    from nilearn import datasets
    from nilearn.image import resample_img

    from fcect.preprocess.masks import analysis_grid, tissue_probability

    aff, shape = analysis_grid(voxel_mm)
    t = datasets.load_mni152_template(resolution=2)
    t = resample_img(nib.Nifti1Image(t.get_fdata().astype(np.float32), t.affine), target_affine=aff,
                     target_shape=shape, interpolation="continuous", force_resample=True, copy_header=True)
    mask = (tissue_probability("brain", aff, shape) > 0.5).astype(np.float32)
    return nib.Nifti1Image(t.get_fdata().astype(np.float32), aff), nib.Nifti1Image(mask, aff)


def grid_image(voxel_mm):
    from fcect.preprocess.masks import analysis_grid

    aff, shape = analysis_grid(voxel_mm)
    return nib.Nifti1Image(np.zeros(shape, np.float32), aff)


def _seed_kw(seed):
    """The fixed random seed of the metric sampling. antspyx >= 0.5 reads it from ``ants.config`` and silently
    ignores a ``random_seed`` argument; older releases take the argument."""
    import inspect

    import ants

    if "random_seed" in inspect.signature(ants.registration).parameters:
        return {"random_seed": int(seed)}
    ants.config._random_seed = int(seed)
    return {}


def coarsen(img, voxel_mm):
    """``img`` (ants) on an isotropic ``voxel_mm`` grid (linear), unless its voxels are already that large."""
    import ants

    if min(img.spacing) >= voxel_mm:
        return img
    return ants.resample_image(img, (float(voxel_mm),) * 3, use_voxels=False, interp_type=0)


def epi_to_t1(mean_epi, t1w, kind="rigid", iterations=(200, 100, 50), seed=1, fixed_factor=1.0):
    """Mean EPI -> T1w (ants images), on the T1w resampled to ``fixed_factor`` times the EPI's smallest voxel size
    (the EPI holds no finer detail; a finer fixed image only makes the metric slower: on default simulated scans,
    4 mm EPI, a 2 mm fixed image (factor 0.5) cost 12-14 s against 1-2 s at 4 mm, and moved the brain's points by
    0.05-0.09 mm on average, at most 0.19 mm). Returns the forward transform list (T1w points -> EPI points), valid
    for the T1w at any resolution (physical coordinates)."""
    import ants

    fixed = coarsen(t1w, min(mean_epi.spacing[:3]) * float(fixed_factor))
    r = ants.registration(fixed=fixed, moving=mean_epi, type_of_transform={"rigid": "Rigid", "affine": "Affine"}[kind],
                          aff_metric="mattes", aff_iterations=tuple(iterations), aff_shrink_factors=(4, 2, 1)[-len(iterations):],
                          aff_smoothing_sigmas=(2, 1, 0)[-len(iterations):], **_seed_kw(seed))
    return r["fwdtransforms"]


def t1_to_mni(t1w, tmpl, tmpl_mask, syn_iterations=(40, 20, 0), aff_iterations=(200, 100, 50), seed=1,
              composite=False):
    """T1w -> template (ants images): affine then SyN (``syn_iterations`` per level; empty: affine only), the
    template brain mask dilated by 2 voxels restricting the metric (the T1w may carry a skull). The T1w is
    registered at its own resolution: on the two real ~1 mm T1w images to the 3 mm template (``python -m
    fcect.raw.checks t1``, one ITK thread, 2026-12-04) WM Dice 0.75 and 0.78, correlation 0.35 and 0.55, brain-mask
    Dice 0.89 (an earlier measurement on one of them gave 0.61 and 0.08 with the T1w first resampled to 2 mm); no N4
    bias correction (antspyx's took over 2 min per 1 mm T1w on one thread). Returns the forward
    transform list (template points -> T1w points), to be listed before the EPI's in ``apply``; with ``composite``
    one ITK composite transform file (.h5, fMRIPrep's ``_from-T1w_to-MNI152NLin2009cAsym_mode-image_xfm.h5``)
    holding the same transforms, in a one-element list."""
    import ants
    from scipy import ndimage

    m = ants.from_numpy(ndimage.binary_dilation(tmpl_mask.numpy() > 0.5, iterations=2).astype(np.float32),
                        origin=tmpl_mask.origin, spacing=tmpl_mask.spacing, direction=tmpl_mask.direction)
    n = len(aff_iterations)
    kw = dict(aff_metric="mattes", aff_iterations=tuple(aff_iterations), aff_shrink_factors=(4, 2, 1)[-n:],
              aff_smoothing_sigmas=(2, 1, 0)[-n:], **_seed_kw(seed))
    syn = bool(syn_iterations) and sum(syn_iterations) > 0
    r = ants.registration(fixed=tmpl, moving=t1w, type_of_transform="SyN" if syn else "Affine", mask=m,
                          reg_iterations=tuple(syn_iterations) if syn else (40, 20, 0),
                      write_composite_transform=bool(composite), **kw)
    fwd = r["fwdtransforms"]
    return [fwd] if isinstance(fwd, str) else list(fwd)


def apply(grid, moving, transforms, interpolator="linear"):
    """Resample ``moving`` (ants) onto ``grid`` (ants) through ``transforms`` (antsApplyTransforms order: the
    last listed is applied first to the grid's points)."""
    import ants

    return ants.apply_transforms(fixed=grid, moving=moving, transformlist=list(transforms),
                                 interpolator=interpolator)


def dice(a, b):
    a, b = np.asarray(a) > 0.5, np.asarray(b) > 0.5
    s = a.sum() + b.sum()
    return float(2 * (a & b).sum() / s) if s else 0.0
