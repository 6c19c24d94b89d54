"""Registrations with ANTs: mean EPI -> T1w (rigid or affine, Mattes mutual information), T1w -> the MNI152 2009c
template shipped with nilearn (affine + SyN, within a dilated template brain mask), and the composed transforms
applied once per volume, from the native series straight onto the analysis grid."""

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


def epi_to_t1(mean_epi, t1w, kind="rigid", iterations=(200, 100, 50), seed=1):
    """Mean EPI -> T1w (ants images). Returns the forward transform list (T1w points -> EPI points)."""
    import ants

    r = ants.registration(fixed=t1w, moving=mean_epi, type_of_transform={"rigid": "Rigid", "affine": "Affine"}[kind],
                          aff_metric="mattes", aff_iterations=tuple(iterations), aff_shrink_factors=(4, 2, 1)[-len(iterations):],
                          aff_smoothing_sigmas=(2, 1, 0)[-len(iterations):], random_seed=int(seed))
    return r["fwdtransforms"]


def t1_to_mni(t1w, tmpl, tmpl_mask, syn_iterations=(40, 20, 0), aff_iterations=(200, 100, 50), seed=1):
    """T1w -> template (ants images): affine then SyN (``syn_iterations`` per level; empty: affine only), the
    template brain mask dilated by 2 voxels restricting the metric (the T1w may carry a skull). Returns the forward
    transform list (template points -> T1w points), to be listed before the EPI's in ``apply``."""
    import ants
    from scipy import ndimage

    m = ants.from_numpy(ndimage.binary_dilation(tmpl_mask.numpy() > 0.5, iterations=2).astype(np.float32),
                        origin=tmpl_mask.origin, spacing=tmpl_mask.spacing, direction=tmpl_mask.direction)
    n = len(aff_iterations)
    kw = dict(aff_metric="mattes", aff_iterations=tuple(aff_iterations), aff_shrink_factors=(4, 2, 1)[-n:],
              aff_smoothing_sigmas=(2, 1, 0)[-n:], random_seed=int(seed))
    syn = bool(syn_iterations) and sum(syn_iterations) > 0
    r = ants.registration(fixed=tmpl, moving=t1w, type_of_transform="SyN" if syn else "Affine", mask=m,
                          reg_iterations=tuple(syn_iterations) if syn else (40, 20, 0), **kw)
    return r["fwdtransforms"]


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
