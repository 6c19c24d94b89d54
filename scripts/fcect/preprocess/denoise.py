"""Denoising of preprocessed BOLD: drop initial volumes, resample to the analysis grid, smooth, regress confounds,
detrend, band-pass and optionally censor, using nilearn's image and signal functions.

Order (the same as nilearn's NiftiMasker, so that a masker built with the same parameters is an exact reference):
drop volumes -> resample (analysis grid) -> smooth (FWHM) -> extract voxels -> ``nilearn.signal.clean`` (detrend,
confound regression and band-pass done orthogonally, censored volumes removed after interpolation).

Two paths compute it (``info['path']``): ``separable`` (:mod:`fcect.preprocess.separable`, for BOLD grids whose axes
are parallel to the analysis grid's: the same operations as matrices, cleaning before smoothing, no scipy or
nilearn import) and ``nilearn`` (the functions above, for oblique grids and non-finite data). They agree to ~1e-6
in Fisher z (``tests/unit/preprocess/test_fc.py``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import nibabel as nib
import numpy as np

from fcect.core.io import InputError
from fcect.core.motion import MOTION
from fcect.preprocess import separable, temporal
from fcect.preprocess.table import Table


def _expand(names, derivatives=True, powers=True):
    """Column names with their fMRIPrep derivative / power2 expansions (Friston-24 style)."""
    out = list(names)
    if derivatives:
        out += [f"{n}_derivative1" for n in names]
    if powers:
        out += [f"{n}_power2" for n in names]
        if derivatives:
            out += [f"{n}_derivative1_power2" for n in names]
    return out


# Confound presets. Each names confound columns (fMRIPrep names) and whether FD censoring applies.
PRESETS = {
    # DPABI default: Friston-24 + mean WM + mean CSF (+ linear trend via detrend), no global signal regression
    "dpabi": dict(columns=_expand(MOTION) + ["white_matter", "csf"], censor=False),
    # Satterthwaite et al. 2013 36-parameter model (includes global signal)
    "36p": dict(columns=_expand(MOTION + ["white_matter", "csf", "global_signal"]), censor=False),
    # 6 motion + derivatives + first five aCompCor components (Behzadi et al. 2007)
    "acompcor": dict(columns=_expand(MOTION, powers=False) + [f"a_comp_cor_{k:02d}" for k in range(5)],
                     censor=False),
    # DPABI confounds plus FD-based censoring (Power et al. 2014)
    "scrubbing": dict(columns=_expand(MOTION) + ["white_matter", "csf"], censor=True),
    # no confound regression (detrend and band-pass only): a baseline for measuring what denoising does
    "none": dict(columns=[], censor=False),
    # DPABI/DPARSF as its toolbox does it: the dpabi confounds (+ constant and linear trend) regressed out first,
    # then DPABI's ideal FFT band-pass (y_IdealFilter); the preset sets the filter and the order
    "dpabi_ideal": dict(columns=_expand(MOTION) + ["white_matter", "csf"], censor=False, filter="ideal"),
}


def preset_filter(params):
    """The temporal filter of the settings: the preset's own (dpabi_ideal: 'ideal') or ``denoise.filter``."""
    return PRESETS[params.get("preset", "dpabi")].get("filter", params.get("filter", "butterworth"))


def confound_matrix(conf, preset: str, path="confounds") -> np.ndarray | None:
    """The preset's confound columns as a (T, k) float matrix (n/a -> 0), or None for a preset without any.
    ``conf``: the confounds table (a pandas DataFrame or a :class:`fcect.preprocess.table.Table`)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown denoising preset {preset!r}; choose one of {sorted(PRESETS)}")
    cols = PRESETS[preset]["columns"]
    if not cols:
        return None
    missing = [c for c in cols if c not in conf]
    if missing:
        raise InputError(path, f"confounds file lacks column(s) {missing} needed by preset {preset!r}")
    m = np.column_stack([np.asarray(conf[c], dtype=float) for c in cols])
    return np.nan_to_num(m, nan=0.0)  # fMRIPrep writes n/a in the first row of derivatives


def censor_mask(fd: np.ndarray, threshold: float, before=1, after=2) -> np.ndarray:
    """Boolean 'keep' vector: volumes with FD > threshold are removed with ``before`` preceding and ``after``
    following volumes (Power et al. 2014)."""
    fd = np.nan_to_num(np.asarray(fd, float), nan=0.0)
    bad = fd > threshold
    out = bad.copy()
    for k in range(1, before + 1):
        out[:-k] |= bad[k:]
    for k in range(1, after + 1):
        out[k:] |= bad[:-k]
    return ~out


# header time units -> seconds (NIfTI xyzt_units); "unknown" is taken as seconds, as nibabel and nilearn do
_TIME_UNITS = {"sec": 1.0, "msec": 1e-3, "usec": 1e-6, "unknown": 1.0}
# a repetition time above this (s) is a value in milliseconds, not a slow acquisition
MAX_TR = 30.0


def header_tr(img):
    """(TR in seconds from the NIfTI header's fourth zoom and time unit, or None when it holds none; the unit).
    A unit that is not a time (hz, ppm, rads) gives the zoom unconverted: the caller decides."""
    zooms = img.header.get_zooms()
    unit = img.header.get_xyzt_units()[1] if hasattr(img.header, "get_xyzt_units") else "unknown"
    if len(zooms) < 4 or not np.isfinite(zooms[3]) or zooms[3] <= 0:
        return None, unit
    return float(zooms[3]) * _TIME_UNITS.get(unit, 1.0), unit


def read_tr(bold_img, json_path=None, bold_path="bold"):
    """Repetition time (s) of this scan: RepetitionTime of its JSON sidecar (BIDS: seconds), else the NIfTI
    header's fourth zoom converted from the header's time unit (ms, us) to seconds. A value above ``MAX_TR`` s
    (milliseconds given as seconds) is an error, never a silently unfiltered scan."""
    if json_path is not None and Path(json_path).exists():
        try:
            meta = json.loads(Path(json_path).read_text())
        except json.JSONDecodeError as exc:
            raise InputError(json_path, f"not valid JSON ({exc})") from exc
        if "RepetitionTime" in meta:
            try:
                tr = float(meta["RepetitionTime"])
            except (TypeError, ValueError):
                raise InputError(json_path, f"RepetitionTime must be a number of seconds, got "
                                 f"{meta['RepetitionTime']!r}") from None
            if not np.isfinite(tr) or tr <= 0:
                raise InputError(json_path, f"RepetitionTime must be positive, got {tr}")
            if tr > MAX_TR:
                raise InputError(json_path, f"RepetitionTime {tr:g} is not in seconds (milliseconds?); BIDS "
                                 "sidecars give it in seconds")
            return tr
    tr, unit = header_tr(bold_img)
    if tr is None:
        raise InputError(json_path or bold_path, "no RepetitionTime in the JSON sidecar nor in the NIfTI header")
    if unit not in _TIME_UNITS:  # hz, ppm, rads: not a time
        raise InputError(bold_path, f"the NIfTI header gives the fourth dimension in {unit!r}, not in time units, "
                         "and there is no RepetitionTime in a JSON sidecar")
    if tr > MAX_TR:
        raise InputError(bold_path, f"the NIfTI header's repetition time {float(bold_img.header.get_zooms()[3]):g} "
                         f"({unit}) is not in seconds; set the header's time unit or give RepetitionTime in a JSON "
                         "sidecar")
    return tr


def check_band(tr, high_pass, low_pass, path="bold", filter="butterworth"):
    """The band-pass edges must lie below this scan's Nyquist frequency 1 / (2 TR); nilearn would otherwise lower
    them to Nyquist, or return the signals unfiltered, with a mere warning. (nilearn's ``cosine`` filter is a
    high-pass only: its ``low_pass`` is not used, so not checked.)"""
    nyquist = 0.5 / float(tr)
    if filter == "cosine":
        low_pass = None
    for name, f in (("high_pass", high_pass), ("low_pass", low_pass)):
        if f is not None and float(f) >= nyquist:
            raise InputError(path, f"denoise.{name} = {f} Hz is not below the Nyquist frequency {nyquist:.4g} Hz "
                             f"of this scan (TR {tr:g} s)")
    if high_pass is not None and low_pass is not None and float(high_pass) >= float(low_pass):
        raise InputError(path, f"denoise.high_pass ({high_pass} Hz) must be below denoise.low_pass ({low_pass} Hz)")


def check_scan(bold_path, confounds_path, drop_volumes, min_volumes=20):
    """Cheap checks before any heavy work: 4-D image, confound rows = volumes, enough volumes."""
    bold_path, confounds_path = Path(bold_path), Path(confounds_path)
    if not bold_path.exists():
        raise InputError(bold_path, "BOLD file not found")
    if not confounds_path.exists():
        raise InputError(confounds_path, "confounds file not found")
    try:
        hdr = nib.load(str(bold_path)).header
    except Exception as exc:
        raise InputError(bold_path, f"cannot be read as NIfTI ({exc})") from exc
    shape = hdr.get_data_shape()
    if len(shape) != 4:
        raise InputError(bold_path, f"expected a 4-D BOLD series, got shape {shape}")
    n_vol = shape[3]
    with open(confounds_path) as fh:
        n_rows = sum(1 for line in fh if line.strip()) - 1
    if n_rows != n_vol:
        raise InputError(confounds_path, f"has {n_rows} rows but {bold_path.name} has {n_vol} volumes")
    if n_vol - drop_volumes < min_volumes:
        raise InputError(bold_path, f"{n_vol} volumes minus {drop_volumes} dropped leaves fewer than "
                         f"{min_volumes}")
    return n_vol


def read_bold(img, drop_volumes):
    """The BOLD series after the dropped volumes, float64 (x, y, z, T)."""
    return np.asarray(img.dataobj[..., drop_volumes:], dtype=np.float64)


def same_grid(data_shape, affine, target_affine, target_shape):
    """True when the BOLD is on the analysis grid already (no resampling, as nilearn decides it)."""
    return tuple(data_shape[:3]) == tuple(target_shape) and np.allclose(affine, target_affine)


def prepare_image(img, drop_volumes, target_affine, target_shape, fwhm, interpolation="continuous", data=None):
    """Drop initial volumes, resample to the analysis grid, smooth. Returns a 4-D float64 image. ``data``: the
    series after dropped volumes when already read (:func:`read_bold`)."""
    from nilearn import image

    data = read_bold(img, drop_volumes) if data is None else data
    img = nib.Nifti1Image(data, img.affine)
    if not same_grid(img.shape, img.affine, target_affine, target_shape):
        img = image.resample_img(img, target_affine=target_affine, target_shape=target_shape,
                                 interpolation=interpolation, force_resample=True, copy_header=True)
    if fwhm:
        img = image.smooth_img(img, fwhm)
    return img


def clean_signals(X, conf_matrix, tr, high_pass, low_pass, detrend=True, sample_mask=None,
                  filter="butterworth"):
    """nilearn.signal.clean with the workflow's conventions (no standardisation of the output). ``filter='ideal'``:
    DPABI's regression then ideal band-pass (:func:`fcect.preprocess.temporal.regression_then_ideal`)."""
    import functools

    if filter == "ideal":
        M, _ = temporal.clean_operator(X.shape[0], conf_matrix, tr, high_pass, low_pass, detrend, sample_mask, "ideal")
        return M @ np.asarray(X, dtype=np.float64)

    from nilearn import signal

    # nilearn's butterworth filters column by column when copy=False (a Python loop over voxels); with
    # copy=True it makes one vectorised scipy.signal.sosfiltfilt call over axis 0 with the same filter.
    original = signal.butterworth
    signal.butterworth = functools.partial(original, copy=True)
    try:
        return signal.clean(X, confounds=conf_matrix, detrend=detrend, standardize=None,
                            standardize_confounds=True, filter=filter, low_pass=low_pass, high_pass=high_pass,
                            t_r=tr, sample_mask=sample_mask)
    finally:
        signal.butterworth = original


def denoise_scan(bold_path, confounds_path, json_path, voxel_mask, target_affine, params: dict, runs=None,
                 reduced=False, path="auto"):
    """Full per-scan denoising. Returns (cleaned (T, V) float64 over ``voxel_mask`` voxels, info dict).

    Several runs of one scan (``bold_path``, ``confounds_path``, ``json_path`` lists, in run order; ``runs`` their
    labels): each run is denoised on its own (its own TR, confounds, dropped volumes, censoring), and the cleaned
    series, each centred on its own mean, are concatenated in run order. The info then sums the volumes over runs
    and holds each run's own info under ``per_run``. ``runs`` (the labels, [] without run entity) is recorded
    in the info.

    ``reduced=True`` returns, instead of the cleaned series, k rows per run whose column inner products equal those
    of the centred cleaned series (:func:`fcect.preprocess.temporal.reduced_operator`): all that Pearson
    correlations need, with k the rank of the cleaning (~2/3 of the volumes at the default band). ``path``:
    'auto' (the separable path where it applies) or 'nilearn'."""
    if isinstance(bold_path, (str, bytes, os.PathLike)):
        Y, info = denoise_run(bold_path, confounds_path, json_path, voxel_mask, target_affine, params, reduced, path)
        info["runs"] = [r for r in (runs or []) if r is not None]
        return Y, info
    n = len(bold_path)
    json_path = [None] * n if json_path is None else json_path
    if not n or len(confounds_path) != n or len(json_path) != n:
        raise ValueError(f"one confounds file and one sidecar per BOLD run: {n} BOLD, {len(confounds_path)} "
                         f"confounds, {len(json_path)} sidecars")
    runs = list(runs) if runs is not None else [None] * n
    Ys, infos = [], []
    for bold, conf, meta, run in zip(bold_path, confounds_path, json_path, runs):
        Y, info = denoise_run(bold, conf, meta, voxel_mask, target_affine, params, reduced, path)
        Ys.append(Y - Y.mean(axis=0) if n > 1 and not reduced else Y)
        infos.append(dict(info, run=run))
    trs = sorted({i["tr"] for i in infos})
    info = dict(tr=trs[0] if len(trs) == 1 else trs,
                **{k: int(sum(i[k] for i in infos)) for k in ("n_volumes_input", "n_dropped", "n_censored",
                                                              "n_volumes_used")},
                preset=infos[0]["preset"], n_confounds=infos[0]["n_confounds"],
                path=sorted({i["path"] for i in infos}) if len({i["path"] for i in infos}) > 1 else infos[0]["path"],
                runs=[r for r in runs if r is not None], per_run=infos)
    return (np.concatenate(Ys, axis=0) if n > 1 else Ys[0]), info


def denoise_run(bold_path, confounds_path, json_path, voxel_mask, target_affine, params: dict, reduced=False,
                path="auto"):
    """Denoising of one BOLD run. Returns (cleaned (T, V) float64 over ``voxel_mask`` voxels, or with ``reduced``
    the (k, V) coordinates of :func:`denoise_scan`; info dict with the path taken and why)."""
    drop = int(params.get("drop_volumes", 0))
    check_scan(bold_path, confounds_path, drop, min_volumes=int(params.get("min_volumes", 20)))
    img = nib.load(str(bold_path))
    tr = read_tr(img, json_path, bold_path)
    filt = preset_filter(params)
    check_band(tr, params.get("high_pass"), params.get("low_pass"), bold_path, filt)
    conf = Table(confounds_path)
    preset = params.get("preset", "dpabi")
    C = confound_matrix(conf, preset, confounds_path)
    if C is not None:
        C = C[drop:]
    sample_mask = None
    n_censored = 0
    if PRESETS[preset]["censor"]:
        if "framewise_displacement" not in conf:
            raise InputError(confounds_path, "no framewise_displacement column for censoring")
        before, after = params.get("censor_neighbors", [1, 2])
        keep = censor_mask(conf["framewise_displacement"][drop:], float(params["fd_threshold"]),
                           before, after)
        n_censored = int((~keep).sum())
        if keep.sum() < int(params.get("min_volumes", 20)):
            raise InputError(confounds_path, f"censoring leaves {keep.sum()} volumes (< min_volumes)")
        sample_mask = np.flatnonzero(keep)
    fwhm, interpolation = params.get("fwhm", 0), params.get("interpolation", "continuous")
    detrend, hp, lp = params.get("detrend", True), params.get("high_pass"), params.get("low_pass")
    n_vol = int(img.shape[3]) - drop
    plan, why = None, "path 'nilearn' requested"
    if path == "auto":
        plan, why = separable.make_plan(img.shape[:3], img.affine, target_affine, voxel_mask, fwhm, interpolation,
                                        same_grid(img.shape, img.affine, target_affine, voxel_mask.shape))
    Y, taken = None, "nilearn"
    if plan is not None:
        M, _ = temporal.clean_operator(n_vol, C, tr, hp, lp, detrend, sample_mask, filt)
        raw, slope, inter = separable.read_raw(img, drop)
        # correlations (reduced) in float32 (~1e-6 in z); the cleaned series themselves in float64
        Y, note = separable.apply(plan, raw, temporal.reduced_operator(M) if reduced else M, slope, inter,
                                  dtype=np.float32 if reduced else np.float64)
        del raw
        if Y is None:
            why = note
        else:
            taken = "separable"
    if Y is None:
        prepared = prepare_image(img, drop, target_affine, voxel_mask.shape, fwhm, interpolation)
        X = np.asarray(prepared.dataobj)[voxel_mask].T.astype(np.float64)  # (T, V)
        if not np.all(np.isfinite(X)):
            bad = int((~np.isfinite(X)).any(axis=0).sum())
            raise InputError(bold_path, f"{bad} voxel(s) in the analysis mask contain NaN or inf")
        Y = clean_signals(X, C, tr, hp, lp, detrend, sample_mask, filt)
        if reduced:
            Y = Y - Y.mean(axis=0)
    n_used = n_vol if sample_mask is None else len(sample_mask)
    info = dict(tr=tr, n_volumes_input=int(img.shape[3]), n_dropped=drop, n_censored=n_censored,
                n_volumes_used=int(n_used), preset=preset,
                n_confounds=0 if C is None else int(C.shape[1]), path=taken, path_reason=why)
    return Y, info

