"""Raw mode of the simulator: the same planted cohort written as a raw BIDS dataset in each subject's native space.

Per subject, native scanner space relates to MNI by an affine misalignment (rotation up to ``rotation_deg``,
translation up to ``translation_mm``, scaling up to ``scale``) composed with a mild smooth nonlinear warp
(sinusoidal displacement of amplitude ``warp_mm``): x_MNI = A y + w(A y). The scan's MNI-space series (the
simulator's own, :func:`fcect.simulate.scan.simulate_scan`) is sampled in native space volume by volume through that
map and the rigid head motion of the confounds (volume t shows the head moved by M_t = rigid_matrix(p_t), p_t the
six motion columns, so that the motion equals what the confounds would hold), then every slice is shifted in time by
its acquisition offset (SliceTiming, interleaved ascending). The T1w (one per subject, session-less ``anat``) is
nilearn's MNI152 2009c template sampled through the same subject map, with a little noise.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np

from fcect.core.io import save_json, save_nifti
from fcect.core.motion import MOTION, rigid_matrix
from fcect.simulate.params import hash_str

RAW_DEFAULTS = dict(rotation_deg=6.0, translation_mm=8.0, scale=0.05, warp_mm=2.0, t1_voxel_mm=2.0)


def _sub_rng(seed, sub, salt):
    return np.random.default_rng(np.random.SeedSequence([int(seed), 77, salt, int(sub) if str(sub).isdigit()
                                                         else hash_str(str(sub))]))


def subject_map(seed, sub, cfg=None):
    """The subject's native -> MNI map parameters: {"affine": 4x4 (native -> MNI, before the warp), "warp": amplitude
    (mm), "k": wave vectors (3, 3), "phase": (3,)}."""
    c = {**RAW_DEFAULTS, **(cfg or {})}
    rng = _sub_rng(seed, sub, 1)
    rot = np.radians(c["rotation_deg"]) * rng.uniform(-1, 1, 3)
    tr = c["translation_mm"] * rng.uniform(-1, 1, 3)
    A = rigid_matrix(np.concatenate([tr, rot]))
    A[:3, :3] = A[:3, :3] @ np.diag(1 + c["scale"] * rng.uniform(-1, 1, 3))
    k = rng.uniform(-1, 1, (3, 3)) * 2 * np.pi / 160.0
    return dict(affine=A, warp=float(c["warp_mm"]), k=k, phase=rng.uniform(0, 2 * np.pi, 3))


def native_to_mni(y, smap):
    """MNI coordinates of native points ``y`` (n, 3)."""
    x = y @ smap["affine"][:3, :3].T + smap["affine"][:3, 3]
    return x + smap["warp"] * np.sin(x @ smap["k"].T + smap["phase"])


def native_grid(voxel_mm, margin=12.0):
    """Native acquisition grid: axis-aligned box around the head (MNI-like bounds plus a margin)."""
    v = float(voxel_mm)
    lo = np.array([-78.0, -118.0, -66.0]) - margin
    hi = np.array([80.0, 84.0, 88.0]) + margin
    shape = tuple(int(np.ceil((h - l) / v)) + 1 for l, h in zip(lo, hi))
    aff = np.diag([v, v, v, 1.0])
    aff[:3, 3] = lo
    return aff, shape


def _grid_points(aff, shape):
    """RAS world coordinates (N, 3) of a grid's voxels. Kept apart from ``fcect.raw.resample.grid_points`` on
    purpose: the simulator is the truth the raw stage is tested against, so it shares no geometry code with it
    (a shared error would cancel in the tests)."""
    ijk = np.indices(shape).reshape(3, -1).T
    return ijk @ aff[:3, :3].T + aff[:3, 3]


def _sample(vol, vol_aff, xyz, order=3):
    """``vol`` at world points ``xyz`` (cubic spline: the native image of the continuous signal; linear
    interpolation blurred the native series so much that a raw-path FC map correlated only 0.1-0.5 with the clean
    one at 6 mm, against 0.4-0.7 with the spline)."""
    from scipy import ndimage

    ijk = (xyz - vol_aff[:3, 3]) @ np.linalg.inv(vol_aff[:3, :3]).T
    return ndimage.map_coordinates(vol, ijk.T, order=order, mode="constant", cval=0.0)


def slice_times(n_slices, tr):
    """Interleaved ascending acquisition (0, 2, 4, ..., 1, 3, ...): time of each slice within the TR (s)."""
    order = list(range(0, n_slices, 2)) + list(range(1, n_slices, 2))
    t = np.empty(n_slices)
    t[order] = np.arange(n_slices) * tr / n_slices
    return t


def to_native(mni_img, motion, smap, voxel_mm, tr, st=True):
    """Native-space series of an MNI-space 4-D image: volume t sampled at MNI(M_t^-1 y); slices then shifted in
    time by their acquisition offsets (when ``st``). Returns (native image, slice times or None)."""
    from scipy.interpolate import CubicSpline

    data = np.asarray(mni_img.dataobj, dtype=np.float32)
    aff, shape = native_grid(voxel_mm)
    y = _grid_points(aff, shape)
    T = data.shape[3]
    out = np.empty(shape + (T,), np.float32)
    for t in range(T):
        Mi = np.linalg.inv(rigid_matrix(motion[t]))
        yh = y @ Mi[:3, :3].T + Mi[:3, 3]
        out[..., t] = _sample(data[..., t], mni_img.affine, native_to_mni(yh, smap)).reshape(shape)
    times = None
    if st:
        times = slice_times(shape[2], tr)
        tt = np.arange(T, dtype=float)
        for z in range(shape[2]):
            cs = CubicSpline(tt, out[:, :, z, :], axis=-1, bc_type="natural")
            out[:, :, z, :] = cs(tt + times[z] / tr)  # slice z sampled st[z] after the volume's start
    img = nib.Nifti1Image(out, aff)
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = tr
    return img, times


def t1w_image(seed, sub, cfg=None):
    """Native T1w of a subject: the MNI152 template through the subject map, 2% noise."""
    from nilearn import datasets

    c = {**RAW_DEFAULTS, **(cfg or {})}
    smap = subject_map(seed, sub, c)
    tmpl = datasets.load_mni152_template(resolution=1)
    aff, shape = native_grid(c["t1_voxel_mm"])
    vals = _sample(np.asarray(tmpl.get_fdata(), np.float32), tmpl.affine, native_to_mni(_grid_points(aff, shape),
                                                                                          smap))
    rng = _sub_rng(seed, sub, 2)
    vals = vals + rng.standard_normal(vals.shape) * 0.02 * np.percentile(vals, 99)
    return nib.Nifti1Image(np.clip(vals, 0, None).reshape(shape).astype(np.float32), aff)


def write_raw_scan(p, sub, ses, sub_couplings, outlier, seeds, out, truth_path, tissue_path=None, cfg=None):
    """Simulate one scan (the same planted scan as the MNI mode) and write it as raw BIDS in native space:
    ``out``: bold, bold_json, raw_truth. Returns the truth of the scan (as the MNI mode's)."""
    from fcect.simulate.anatomy import read_tissue
    from fcect.simulate.scan import simulate_scan

    c = {**RAW_DEFAULTS, **(cfg or {})}
    tissue = read_tissue(tissue_path) if tissue_path else None
    img, _, conf, truth = simulate_scan(p, sub, ses, sub_couplings, outlier, seeds, tissue)
    motion = conf[MOTION].to_numpy(float)
    smap = subject_map(p.seed, sub, c)
    nimg, times = to_native(img, motion, smap, p.voxel_mm, p.tr, st=c.get("slice_timing", True))
    save_nifti(nimg, out["bold"])
    side = {"RepetitionTime": p.tr, "TaskName": p.task, "SliceEncodingDirection": "k"}
    if times is not None:
        side["SliceTiming"] = [round(float(x), 6) for x in times]
    save_json(side, out["bold_json"])
    save_json(truth, truth_path)
    save_json({"motion": motion.tolist(), "subject_affine": smap["affine"].tolist(), "warp_mm": smap["warp"],
               "slice_timing": side.get("SliceTiming")}, out["raw_truth"])
    return truth
