"""Per-scan checks of the validation stage (:mod:`fcect.preprocess.validate`): the BOLD header and data
(:mod:`fcect.preprocess.validate_image`), the sidecar's RepetitionTime against the header's, and the confounds table
(rows, numbers, the columns the denoising preset and the motion QC read, n/a where fMRIPrep leaves none).

:func:`check_scan` runs every check of one scan and reports each problem through
``report(severity, file, problem, action, where="")``; a failed check skips only the checks that need its result.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from fcect.core.motion import MOTION
from fcect.preprocess.denoise import PRESETS, censor_mask, header_tr
from fcect.preprocess.validate_image import (check_alignment, check_mask, check_values, load_header,
                                             stream_volumes, volumes_to_check)

NA = {"n/a", "", "na", "nan"}   # what fMRIPrep (and pandas) write for a missing value, lower case
# columns whose first row fMRIPrep leaves empty (no previous volume): derivatives, FD and DVARS
FIRST_ROW_NA = ("framewise_displacement", "dvars", "std_dvars", "non_std_dvars")


def used_columns(denoise: dict) -> list[str]:
    """Confound columns the workflow reads: the preset's, the six motion parameters (QC), FD when censoring."""
    preset = PRESETS[denoise.get("preset", "dpabi")]
    cols = list(MOTION) + [c for c in preset["columns"] if c not in MOTION]
    if preset["censor"]:
        cols.append("framewise_displacement")
    return cols


def check_tr(img, json_path, tolerance, report):
    """The TR the denoising will use (sidecar RepetitionTime, else the header's), checked against the header."""
    tr_header, unit = header_tr(img)
    try:
        meta = json.loads(Path(json_path).read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        report("error", json_path, f"the sidecar is not valid JSON ({exc})",
               "fix the JSON syntax (`python -m json.tool FILE` shows where)")
        return None
    if not isinstance(meta, dict):
        report("error", json_path, f"the sidecar must hold a JSON object, got {type(meta).__name__}",
               "write the sidecar as fMRIPrep does ({\"RepetitionTime\": ..., ...})")
        return None
    if "RepetitionTime" not in meta:
        if tr_header is None:
            report("error", json_path, "no RepetitionTime in the sidecar and no TR in the NIfTI header",
                   "add RepetitionTime (seconds) to the sidecar")
            return None
        if unit not in ("sec", "msec", "usec", "unknown"):
            report("error", json_path, f"no RepetitionTime in the sidecar, and the header gives the fourth dimension "
                   f"in {unit}, not in time units", "add RepetitionTime (seconds) to the sidecar")
            return None
        report("warning", json_path, f"no RepetitionTime in the sidecar: the NIfTI header's TR ({tr_header:g} s) is "
               "used", "add RepetitionTime (seconds) to the sidecar to state the TR explicitly")
        return tr_header
    tr = meta["RepetitionTime"]
    if isinstance(tr, bool) or not isinstance(tr, (int, float)) or not np.isfinite(tr) or tr <= 0:
        report("error", json_path, f"RepetitionTime must be a positive number of seconds, got {tr!r}",
               "write the acquisition's TR in seconds")
        return None
    if tr_header is None:
        report("warning", json_path, f"the NIfTI header holds no TR: the sidecar's RepetitionTime ({tr:g} s) is used",
               "none needed; set the header's 4th zoom to the TR for other tools")
    elif abs(tr - tr_header) > tolerance:
        report("error", json_path, f"RepetitionTime {tr:g} s in the sidecar disagrees with the NIfTI header's TR "
               f"{tr_header:g} s (tolerance validate.tr_tolerance_s = {tolerance:g} s)",
               "find the acquisition's true TR and correct the sidecar or the header (pixdim[4]) so both give it")
    return float(tr)


def check_confounds(path, n_volumes, denoise: dict, report):
    """Rows = volumes, every value a number or n/a, the columns the workflow reads present and complete (n/a only in
    the first row of derivative, FD and DVARS columns; recorded when the first row is used and filled with 0)."""
    import pandas as pd

    try:
        df = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False, na_filter=False)
    except Exception as exc:  # pandas raises many types
        report("error", path, f"cannot be read as a tab-separated table ({exc})",
               "use the confounds file fMRIPrep wrote for this BOLD run")
        return
    if n_volumes is not None and len(df) != n_volumes:
        report("error", path, f"{len(df)} rows but the BOLD series has {n_volumes} volumes",
               "use the confounds file fMRIPrep wrote for this BOLD run (one row per volume)")
    used = used_columns(denoise)
    missing = [c for c in used if c not in df.columns]
    if missing:
        report("error", path, f"lacks column(s) {missing}, read by denoise.preset {denoise.get('preset')!r} or the "
               "motion QC", "use fMRIPrep (21+) confounds, or choose a denoise.preset whose columns exist")
    filled = []
    text = np.char.strip(df.to_numpy(dtype=str)) if df.size else np.empty(df.shape, dtype=str)
    na_all = np.isin(np.char.lower(text), list(NA))
    num_all = pd.to_numeric(pd.Series(text.ravel()), errors="coerce").to_numpy(dtype=float).reshape(text.shape)
    for j, col in enumerate(df.columns):
        na, num = na_all[:, j], num_all[:, j]
        rows = np.flatnonzero(~na & np.isnan(num))
        if rows.size:
            r = int(rows[0])
            use = col in used
            report("error" if use else "warning", path,
                   f"non-numeric value {str(text[r, j])!r} in column {col} at volume {r} (line {r + 2})"
                   + (f" and {rows.size - 1} more row(s)" if rows.size > 1 else "")
                   + ("" if use else "; the column is not used"),
                   "write numbers (or n/a) only", where=f"column {col}, volume {r} (line {r + 2})")
        if col not in used:
            continue
        inf = np.flatnonzero(np.isinf(num))
        if inf.size:
            r = int(inf[0])
            report("error", path, f"infinite value in column {col} at volume {r} (line {r + 2})",
                   "recompute the confounds", where=f"column {col}, volume {r} (line {r + 2})")
        first_ok = "derivative1" in col or col in FIRST_ROW_NA
        late = np.flatnonzero(na)
        late = late[late > 0] if first_ok else late
        if late.size:
            r = int(late[0])
            report("error", path, f"n/a in column {col} at {late.size} volume(s), first at volume {r} (line "
                   f"{r + 2}); fMRIPrep leaves n/a only in the first row of derivative, FD and DVARS columns, and "
                   "the denoising would read n/a as 0",
                   "recompute the confounds (or the column) for this run", where=f"column {col}, volume {r} "
                   f"(line {r + 2})")
        if first_ok and na.size and na[0]:
            filled.append(col)
    drop = int(denoise.get("drop_volumes", 0))
    if filled and drop == 0:
        report("warning", path, f"n/a in the first row of {len(filled)} column(s) ({', '.join(filled[:4])}"
               f"{', ...' if len(filled) > 4 else ''}) is filled with 0 (denoise.drop_volumes = 0 keeps that row)",
               "none needed (fMRIPrep leaves that row empty); drop_volumes >= 1 discards it",
               where="volume 0 (line 2)")
    preset = PRESETS[denoise.get("preset", "dpabi")]
    if preset["censor"] and "framewise_displacement" in df.columns:
        fd = pd.to_numeric(df["framewise_displacement"], errors="coerce").to_numpy(dtype=float)[drop:]
        before, after = denoise.get("censor_neighbors", [1, 2])
        left = int(censor_mask(fd, float(denoise["fd_threshold"]), before, after).sum())
        if left < int(denoise.get("min_volumes", 20)):
            report("error", path, f"FD censoring (denoise.fd_threshold = {denoise['fd_threshold']}) leaves {left} "
                   f"volumes, fewer than denoise.min_volumes = {denoise.get('min_volumes')}",
                   "remove the scan from the analysis (its motion is too high) or revisit the censoring settings")


def check_scan(files: dict, denoise: dict, settings: dict, space: str, report) -> dict:
    """Every check of one scan (``files``: bold, bold_json, mask, confounds; a missing one, which the caller reports,
    is skipped with the checks that need it). Returns what was measured (volumes, TR, shift from MNI, Dice, seconds).
    """
    t0 = time.perf_counter()
    info = {}
    drop = int(denoise.get("drop_volumes", 0))
    min_volumes = int(denoise.get("min_volumes", 20))
    there = {k: Path(v).exists() for k, v in files.items()}  # a missing file is reported by the caller
    img = load_header(files["bold"], report, "BOLD series") if there["bold"] else None
    n_vol, volumes = None, None
    if img is not None:
        shape = img.shape
        ks = []
        if len(shape) != 4:
            report("error", files["bold"], f"expected a 4-D BOLD series, got shape {shape}",
                   "use fMRIPrep's 4-D desc-preproc_bold series")
        else:
            n_vol = int(shape[3])
            info["n_volumes"] = n_vol
            if n_vol - drop < min_volumes:
                report("error", files["bold"], f"{n_vol} volumes: after denoise.drop_volumes = {drop} fewer than "
                       f"denoise.min_volumes = {min_volumes} remain",
                       "remove the scan from the analysis, or lower denoise.min_volumes if this is intended")
            ks = volumes_to_check(n_vol, min(drop, n_vol - 1), settings.get("volumes_checked", 3))
        volumes = stream_volumes(files["bold"], img, ks, report)
        if n_vol is not None and there["bold_json"]:
            info["tr"] = check_tr(img, files["bold_json"], float(settings.get("tr_tolerance_s", 0.01)), report)
    if there["confounds"]:
        check_confounds(files["confounds"], n_vol, denoise, report)
    if img is not None and there["mask"]:
        mask = check_mask(files["mask"], img, report)
        if mask is not None:
            m = check_alignment(mask, img.affine, files["mask"], float(settings.get("max_shift_mm", 5.0)), space,
                                report)
            info.update(shift_mm=m["shift_mm"], dice=m["dice"])
            if volumes:
                check_values(volumes, mask, files["bold"], report)
    info["seconds"] = time.perf_counter() - t0
    return info
