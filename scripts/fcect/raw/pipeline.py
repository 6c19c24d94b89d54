"""One raw run, end to end: drop nothing (fMRIPrep keeps every volume; the initial ``drop_volumes`` are left out of
the motion reference and the mean EPI, flagged as non-steady-state in the confounds and dropped by the denoising, as
with fMRIPrep input), slice timing, rigid motion correction, mean EPI -> T1w -> MNI, composed transforms applied
once per volume onto the analysis grid, confounds (Friston-24, FD, WM, CSF, global, aCompCor, cosines) from
template tissue maps on that grid, brain mask, registration QC (metrics JSON, figures)."""

from __future__ import annotations

import os
import shutil
import tempfile
import time

import nibabel as nib
import numpy as np
import pandas as pd

from fcect.core.io import save_json, save_nifti, save_tsv
from fcect.core.motion import fd_power
from fcect.raw import motion as M
from fcect.raw import register as R
from fcect.raw import resample as S
from fcect.raw.bids import read_sidecars

DEFAULTS = dict(drop_volumes=0, slice_timing=True, slice_timing_ref=0.5, voxel_mm=2.0, template_mm=2.0,
                epi_t1="rigid", epi_t1_fixed_factor=1.0, syn_iterations=[40, 20, 0], aff_iterations=[200, 100, 50],
                moco_iterations=[8, 6], moco_interpolation="spline", n_acompcor=5, seed=1, interpolation="linear")


def _tr(img, sidecar, path):
    tr = sidecar.get("RepetitionTime")
    if tr is None:
        tr = float(img.header.get_zooms()[3]) if len(img.header.get_zooms()) > 3 else 0
        if not tr:
            raise ValueError(f"{path}: no RepetitionTime in the JSON sidecar nor in the header")
    return float(tr)


def confounds_table(params, data, wm, csf, brain, tr, drop, n_comp=5):
    """fMRIPrep-like confounds: ``data`` (voxels on the grid x T), masks on the same voxels."""
    T = data.shape[1]
    cols = M.friston24(params)
    cols["framewise_displacement"] = fd_power(params, first=np.nan)

    def with_derivs(name, x):
        d = np.concatenate([[np.nan], np.diff(x)])
        cols.update({name: x, f"{name}_derivative1": d, f"{name}_power2": x ** 2,
                     f"{name}_derivative1_power2": d ** 2})

    with_derivs("white_matter", data[wm].mean(axis=0))
    with_derivs("csf", data[csf].mean(axis=0))
    with_derivs("global_signal", data[brain].mean(axis=0))
    tt = np.arange(T)
    dct = np.array([np.cos(np.pi * (tt + 0.5) * k / T) for k in range(1, max(2, int(2 * T * tr / 128) + 1))]).T
    nv = data[wm | csf].T.astype(float)
    nv = nv - nv.mean(axis=0)
    nv = nv - dct @ np.linalg.lstsq(dct, nv, rcond=None)[0]
    nv /= nv.std(axis=0) + 1e-9
    _, evecs = np.linalg.eigh(nv @ nv.T)
    u = evecs[:, ::-1]
    for k in range(n_comp):
        cols[f"a_comp_cor_{k:02d}"] = u[:, k] * np.sign(u[np.argmax(np.abs(u[:, k])), k])
    for k in range(dct.shape[1]):
        cols[f"cosine{k:02d}"] = dct[:, k]
    for k in range(drop):
        v = np.zeros(T)
        v[k] = 1
        cols[f"non_steady_state_outlier{k:02d}"] = v
    return pd.DataFrame(cols)


def _masks(voxel_mm):
    from fcect.preprocess.masks import analysis_grid, tissue_probability

    aff, shape = analysis_grid(voxel_mm)
    wmp, csfp, bp = (tissue_probability(k, aff, shape) for k in ("wm", "csf", "brain"))

    def top(p, thr, n=20):
        m = p > thr
        if m.sum() < n:  # coarse grids: the n most probable voxels
            m = p >= np.sort(p.ravel())[-n]
        return m

    return top(wmp, 0.9), top(csfp, 0.5), bp > 0.5


def epi_brain_mask(mean):
    """Brain mask of a mean EPI (native): Otsu threshold, largest component, holes filled."""
    from scipy import ndimage

    x = np.asarray(mean, float)
    v = x[x > 0]
    hist, edges = np.histogram(v, bins=128)
    c = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * c) / np.maximum(w0, 1)
    m1 = (np.sum(hist * c) - np.cumsum(hist * c)) / np.maximum(w1, 1)
    thr = c[np.argmax(w0 * w1 * (m0 - m1) ** 2)]
    m = x > thr
    lab, n = ndimage.label(m)
    if n > 1:
        m = lab == (np.argmax(np.bincount(lab.ravel())[1:]) + 1)
    return ndimage.binary_fill_holes(ndimage.binary_closing(m, iterations=2))


def preprocess_run(bold_path, json_path, t1w_path, out, params, log=None, t1_reg=None, extra_qc=None):
    """Preprocess one run. ``out``: bold, bold_json, mask, confounds, qc_json (paths), optional qc_png, motion_png.
    ``t1_reg``: the subject's T1w -> MNI transform list (``register_anat``'s composite transform, reused by every
    run of the subject); None: registered here. ``extra_qc``: entries added to the QC JSON (the anatomical step's
    metrics). Returns (the QC dict, the T1w -> MNI transform list)."""
    import ants

    p = {**DEFAULTS, **(params or {})}
    say = log.info if log else (lambda *a: None)
    t0 = time.time()
    img = nib.load(str(bold_path))
    if img.ndim != 4:
        raise ValueError(f"{bold_path}: not a 4-D image (shape {img.shape})")
    side = read_sidecars(json_path)  # one JSON, or the list that applies by BIDS inheritance (general to specific)
    tr = _tr(img, side, json_path)
    data = np.asarray(img.dataobj, dtype=np.float32)
    T = data.shape[3]
    drop = int(p["drop_volumes"])
    if T - drop < 3:
        raise ValueError(f"{bold_path}: {T} volumes, {drop} dropped: too few left")
    stc = bool(p["slice_timing"]) and side.get("SliceTiming") is not None
    if stc:
        axis = {"i": 0, "j": 1, "k": 2}[str(side.get("SliceEncodingDirection", "k")).rstrip("-")]
        data = M.slice_time_correct(data, side["SliceTiming"], tr, ref=float(p["slice_timing_ref"]), axis=axis)
    aff = img.affine
    tmp = tempfile.mkdtemp(prefix="fcect-raw-")
    try:
        ref_np = data[..., drop:].mean(axis=3)
        mats, params6 = M.motion_correct(data, aff, ref=ref_np, n_iter=tuple(p["moco_iterations"]),
                                         interpolation=p["moco_interpolation"])
        say("motion correction: %d volumes, %.1f s", T, time.time() - t0)
        ref = R.to_ants(nib.Nifti1Image(ref_np, aff))
        # every volume resampled in numpy (fcect.raw.resample: ITK's linear rule without a call to ANTs per volume)
        mean = S.sample_series(data, aff, S.grid_points(aff, ref_np.shape), mats, ref_np.shape,
                               volumes=range(drop, T)).mean(axis=3)
        mean_a = ref.new_image_like(mean.astype(np.float32))
        t1 = R.to_ants(nib.load(str(t1w_path)))
        e2t = R.epi_to_t1(mean_a, t1, p["epi_t1"], iterations=p["aff_iterations"], seed=p["seed"],
                          fixed_factor=p["epi_t1_fixed_factor"])
        if t1_reg is None:  # the workflow passes the subject's transform (register_anat): no template needed here
            tmpl, tmask = R.template(p["template_mm"])
            t1_reg = R.t1_to_mni(t1, R.to_ants(tmpl), R.to_ants(tmask), p["syn_iterations"], p["aff_iterations"],
                                 seed=p["seed"])
        say("registrations: %.1f s", time.time() - t0)
        gimg = R.grid_image(p["voxel_mm"])
        grid = R.to_ants(gimg)
        chain = list(t1_reg) + list(e2t)
        # compose the volume-independent part once into one displacement field on the grid
        comp = ants.apply_transforms(fixed=grid, moving=ref, transformlist=chain,
                                     compose=os.path.join(tmp, "chain_"))
        if p["interpolation"] == "linear":
            out_data = S.sample_series(data, aff, S.field_points(comp, gimg.affine, gimg.shape), mats, gimg.shape)
        else:  # ANTs' higher-order interpolators, one call per volume
            moco = [M.ras_to_ants_file(m, os.path.join(tmp, f"moco{t:04d}.mat")) for t, m in enumerate(mats)]
            out_data = np.stack([R.apply(grid, R.to_ants(nib.Nifti1Image(data[..., t], aff)), [comp, moco[t]],
                                         interpolator=p["interpolation"]).numpy() for t in range(T)], axis=-1)
        say("resampling: %.1f s", time.time() - t0)
        gaff = gimg.affine
        norm_mean = out_data[..., drop:].mean(axis=3)
        # registration QC: the EPI's own brain mask carried to MNI vs the template brain mask; correlation
        emask = epi_brain_mask(mean)
        emask_mni = R.apply(grid, mean_a.new_image_like(emask.astype(np.float32)), [comp],
                            interpolator="nearestNeighbor").numpy() > 0.5
        gmask_t = _grid_template_mask(p["voxel_mm"])
        dice = R.dice(emask_mni, gmask_t)
        tgrid = R.template(p["voxel_mm"])[0].get_fdata()
        inside = gmask_t
        corr = float(np.corrcoef(norm_mean[inside], tgrid[inside])[0, 1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    coverage = norm_mean > 0.05 * np.percentile(norm_mean[gmask_t], 95)
    brain = gmask_t & coverage
    wm, csf, _ = _masks(p["voxel_mm"])
    flat = out_data.reshape(-1, T)
    conf = confounds_table(params6, flat, (wm & brain).ravel(), (csf & brain).ravel(), brain.ravel(), tr, drop,
                           int(p["n_acompcor"]))
    bold_out = nib.Nifti1Image(out_data.astype(np.float32), gaff)
    bold_out.header.set_xyzt_units("mm", "sec")
    bold_out.header["pixdim"][4] = tr
    save_nifti(bold_out, out["bold"])
    save_nifti(nib.Nifti1Image(brain.astype(np.uint8), gaff), out["mask"])
    save_tsv(conf, out["confounds"], float_format="%.6g")
    save_json({"RepetitionTime": tr, "TaskName": side.get("TaskName", "rest"), "SkullStripped": False,
               "SliceTimingCorrected": stc, "StartTime": float(p["slice_timing_ref"]) * tr if stc else 0.0,
               "Sources": [str(bold_path), str(t1w_path)], "GeneratedBy": "fcect.raw (antspyx)"}, out["bold_json"])
    qc = dict(bold=str(bold_path), t1w=str(t1w_path), n_volumes=int(T), tr=tr, slice_timing=stc,
              dice_brain=dice, corr_template=corr, mean_fd=float(np.nanmean(conf["framewise_displacement"][drop + 1:])),
              max_translation_mm=float(np.abs(params6[:, :3]).max()),
              max_rotation_deg=float(np.degrees(np.abs(params6[:, 3:]).max())), seconds=time.time() - t0,
              **(extra_qc or {}))
    save_json(qc, out["qc_json"])
    if out.get("qc_png"):
        from fcect.raw.qc import registration_figure
        registration_figure(nib.Nifti1Image(norm_mean.astype(np.float32), gaff),
                            nib.Nifti1Image(gmask_t.astype(np.uint8), gaff), out["qc_png"],
                            title=f"{os.path.basename(str(bold_path))}: Dice {dice:.2f}, r {corr:.2f}")
    if out.get("motion_png"):
        from fcect.raw.qc import motion_figure
        motion_figure(params6, conf["framewise_displacement"].to_numpy(float), out["motion_png"],
                      title=os.path.basename(str(bold_path)))
    say("done: Dice %.3f, r %.3f, %.1f s", dice, corr, time.time() - t0)
    return qc, t1_reg


def register_anat(t1w_path, out, params, log=None):
    """The subject's anatomical step, once per subject (as fMRIPrep's anatomical workflow): its T1w -> MNI152 2009c
    (affine + SyN, ``fcect.raw.register.t1_to_mni``), written as one composite transform ``out["xfm"]`` that every
    run of the subject reuses (``preprocess_run(..., t1_reg=[xfm])``); QC: the T1w carried onto the template grid,
    its correlation with the template inside the template brain mask (``out["qc_json"]``) and, optionally, a figure
    of it with the template's brain outline (``out["qc_png"]``). Returns the QC dict."""
    p = {**DEFAULTS, **(params or {})}
    say = log.info if log else (lambda *a: None)
    t0 = time.time()
    t1_img = nib.load(str(t1w_path))
    if t1_img.ndim != 3:
        raise ValueError(f"{t1w_path}: not a 3-D T1w image (shape {t1_img.shape})")
    t1 = R.to_ants(t1_img)
    tmpl, tmask = R.template(p["template_mm"])
    tmpl_a, tmask_a = R.to_ants(tmpl), R.to_ants(tmask)
    xfm = R.t1_to_mni(t1, tmpl_a, tmask_a, p["syn_iterations"], p["aff_iterations"], seed=p["seed"],
                      composite=True)
    try:
        say("T1w -> MNI: %.1f s", time.time() - t0)
        warped = R.apply(tmpl_a, t1, xfm).numpy()
        part = f"{out['xfm']}.part"  # written whole, then renamed: never a half-written transform
        shutil.copyfile(xfm[0], part)
        os.replace(part, out["xfm"])
    finally:
        for f in xfm:  # ANTs' own temporary files
            if os.path.exists(f):
                os.remove(f)
    inside = tmask.get_fdata() > 0.5
    corr = float(np.corrcoef(warped[inside], tmpl.get_fdata()[inside])[0, 1])
    qc = dict(t1w=str(t1w_path), corr_template=corr, template_mm=float(p["template_mm"]),
              syn_iterations=list(p["syn_iterations"]), seconds=time.time() - t0)
    save_json(qc, out["qc_json"])
    if out.get("qc_png"):
        from fcect.raw.qc import registration_figure
        registration_figure(nib.Nifti1Image(warped.astype(np.float32), tmpl.affine), tmask, out["qc_png"],
                            title=f"{os.path.basename(str(t1w_path))} in MNI: r {corr:.2f}", dim=0)
    say("done: r %.3f, %.1f s", corr, time.time() - t0)
    return qc


def _grid_template_mask(voxel_mm):
    from fcect.preprocess.masks import analysis_grid, tissue_probability

    aff, shape = analysis_grid(voxel_mm)
    return tissue_probability("brain", aff, shape) > 0.5
