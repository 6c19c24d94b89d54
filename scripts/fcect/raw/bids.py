"""A small BIDS indexer for the raw input: one glob per scan when the workflow is parsed.

pybids builds a SQL index of the whole dataset (seconds to minutes, heavy dependencies) and snakebids/bids2table are
not in the project's environment; the workflow needs three kinds of file per scan (BOLD, its JSON sidecar, a T1w),
so a glob per scan with clear errors (missing, duplicate or ambiguous files, resolved by ``inputs.run``) is enough.
"""

from __future__ import annotations

import glob
import os
import re

from fcect.core.paths import sort_runs


class BidsError(ValueError):
    pass


def _runs(files):
    out = {}
    for f in files:
        m = re.search(r"_run-([A-Za-z0-9]+)_", os.path.basename(f))
        out[m.group(1) if m else None] = f
    return out


def bold_files(bids_dir, sub, ses, task="rest", run=None):
    """BOLD files of one scan, per ``run`` (None: exactly one file expected; first; a label; concatenate: all).
    Returns a list of (run label or None, path), in run order."""
    d = os.path.join(bids_dir, f"sub-{sub}", f"ses-{ses}", "func")
    found = sorted(glob.glob(os.path.join(d, f"sub-{sub}_ses-{ses}_task-{task}*_bold.nii.gz")))
    found = [f for f in found if re.fullmatch(rf"sub-{sub}_ses-{ses}_task-{task}(_acq-[^_]+)?(_run-[A-Za-z0-9]+)?"
                                              r"(_echo-[^_]+)?_bold\.nii\.gz", os.path.basename(f))]
    if not found:
        raise BidsError(f"{d}: no BOLD file sub-{sub}_ses-{ses}_task-{task}[_run-<label>]_bold.nii.gz")
    runs = _runs(found)
    if len(found) != len(runs):
        raise BidsError(f"{d}: ambiguous BOLD files (same run, other entities): {[os.path.basename(f) for f in found]}")
    labels = sort_runs([r for r in runs if r is not None]) + ([None] if None in runs else [])
    if run is None:
        if len(found) > 1:
            raise BidsError(f"{d}: {len(found)} BOLD files {[os.path.basename(f) for f in found]}; set inputs.run "
                            "(first | concatenate | <label>)")
        return [(None, found[0])]  # no run entity in the output names
    if run == "first":
        return [(labels[0], runs[labels[0]])]
    if run == "concatenate":
        return [(r, runs[r]) for r in labels]
    if str(run) not in runs:
        raise BidsError(f"{d}: no run {run!r} among {labels}")
    return [(str(run), runs[str(run)])]


def sidecar(bold):
    return bold[: -len(".nii.gz")] + ".json"


def t1w_file(bids_dir, sub, ses):
    """The T1w of a scan: ``sub-X/ses-Y/anat/*_T1w.nii.gz``, else a session-less ``sub-X/anat/*_T1w.nii.gz``."""
    for d, pat in ((os.path.join(bids_dir, f"sub-{sub}", f"ses-{ses}", "anat"), f"sub-{sub}_ses-{ses}*_T1w.nii.gz"),
                   (os.path.join(bids_dir, f"sub-{sub}", "anat"), f"sub-{sub}*_T1w.nii.gz")):
        found = sorted(glob.glob(os.path.join(d, pat)))
        if len(found) > 1:
            raise BidsError(f"{d}: {len(found)} T1w images {[os.path.basename(f) for f in found]}; keep one")
        if found:
            return found[0]
    raise BidsError(f"sub-{sub} ses-{ses}: no T1w under {bids_dir}/sub-{sub}/ses-{ses}/anat or "
                    f"{bids_dir}/sub-{sub}/anat")


def index_scans(bids_dir, scans, task="rest", run=None):
    """Index every scan ((sub, ses) pairs) once: {(sub, ses): {"runs": [label|None], "bold": [..],
    "bold_json": [..], "t1w": path}}.
    Every problem of the cohort is listed in one error."""
    if not os.path.isdir(bids_dir):
        raise BidsError(f"BIDS folder {bids_dir} does not exist")
    out, errors = {}, []
    for sub, ses in scans:
        try:
            pairs = bold_files(bids_dir, sub, ses, task, run)
            bold = [b for _, b in pairs]
            t1 = t1w_file(bids_dir, sub, ses)
            missing = [sidecar(b) for b in bold if not os.path.exists(sidecar(b))]
            if missing:
                raise BidsError(f"missing JSON sidecar(s) {missing} (RepetitionTime is required)")
            out[(sub, ses)] = dict(runs=[r for r, _ in pairs], bold=bold, bold_json=[sidecar(b) for b in bold], t1w=t1)
        except BidsError as e:
            errors.append(str(e))
    if errors:
        raise BidsError(f"{len(errors)} problem(s) in the BIDS folder {bids_dir}:\n  " + "\n  ".join(errors))
    return out
