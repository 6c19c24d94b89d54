"""fcect.raw.checks.t1w_brain_mask on a synthetic head whose brain is known: a brain (grey-matter shell around
white matter, ventricles of CSF) inside dark CSF, a dark skull crossed by thin bright bridges, and a bright scalp,
with anisotropic voxels."""
import nibabel as nib
import numpy as np

from fcect.raw.checks import t1w_brain_mask


def _head(voxel=(1.0, 1.2, 1.5), seed=0):
    rng = np.random.default_rng(seed)
    shape = tuple(int(round(180 / v)) for v in voxel)
    aff = np.diag([*voxel, 1.0])
    aff[:3, 3] = -0.5 * np.array(shape) * np.array(voxel)
    ijk = np.indices(shape).reshape(3, -1).T
    xyz = ijk * np.array(voxel) + aff[:3, 3]
    r = np.sqrt(((xyz / np.array([1.0, 1.25, 1.05])) ** 2).sum(1)).reshape(shape)  # ellipsoidal head
    img = np.zeros(shape)
    brain = r < 60
    img[brain] = 60                               # grey matter
    img[r < 52] = 100                             # white matter
    img[(np.abs(xyz[:, 0]) < 6).reshape(shape) & (r < 20)] = 15  # ventricles (CSF)
    img[(r >= 60) & (r < 63)] = 15                # CSF around the brain
    img[(r >= 63) & (r < 68)] = 5                 # skull
    img[(r >= 68) & (r < 73)] = 90                # scalp fat
    for axis in (0, 2):                           # bright bridges through the skull (nerves, vessels), 3 mm wide
        other = [a for a in range(3) if a != axis]
        rod = (np.sqrt((xyz[:, other] ** 2).sum(1)) < 1.5).reshape(shape) & (r >= 58) & (r < 70)
        img[rod] = 90
    img += rng.normal(0, 3, shape) * (r < 73)
    return nib.Nifti1Image(img.astype(np.float32), aff), brain


def test_t1w_brain_mask_recovers_the_brain_not_the_scalp():
    img, brain = _head()
    m = t1w_brain_mask(img)
    dice = 2 * (m & brain).sum() / (m.sum() + brain.sum())
    assert dice > 0.97, dice
    r_scalp = m.sum() / brain.sum()
    assert r_scalp < 1.1, r_scalp  # the scalp is not part of it


def test_the_synthetic_head_needs_the_scalp_removed():
    """The head is not trivial: the Otsu threshold's largest component, holes filled (``t1w_brain_mask`` without its
    erosion), takes the scalp with the brain through the bridges."""
    from scipy import ndimage

    from fcect.raw.checks import _otsu

    img, brain = _head()
    x = img.get_fdata()
    lab, _ = ndimage.label(x > _otsu(x[x > 0]))
    m = ndimage.binary_fill_holes(lab == np.argmax(np.bincount(lab.ravel())[1:]) + 1)
    assert 2 * (m & brain).sum() / (m.sum() + brain.sum()) < 0.8
    assert m.sum() / brain.sum() > 1.5
