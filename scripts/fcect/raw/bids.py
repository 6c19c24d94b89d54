"""A small BIDS indexer for the raw input: one glob per scan when the workflow is parsed.

What the workflow needs per scan is the BOLD file(s), their metadata and a T1w. pybids builds a SQL index of the
whole dataset when the DAG is built (seconds to minutes on a large dataset; a dozen dependencies, among them
SQLAlchemy and formulaic), snakebids wraps pybids and imposes its own config layout and wildcards, and bids2table
indexes every file of the dataset into an Arrow table; none of them is needed for three kinds of file per scan.
This module does what the workflow relies on, from the BIDS specification:

* BOLD ``sub-<s>[_ses-<t>]_task-<task>[_acq-][_ce-][_rec-][_dir-][_run-][_echo-][_part-][_chunk-]_bold.nii[.gz]``
  (``.nii`` or ``.nii.gz``); several files for one scan are runs (``inputs.run``: first | concatenate | <label>)
  or, when they differ in another entity, an ambiguity named in the error;
* its metadata by the **inheritance principle**: every ``*_bold.json`` from the dataset's top level down to the
  file's folder whose entities are a subset of the file's (e.g. a top-level ``task-rest_bold.json`` holding
  ``RepetitionTime`` for every subject), applied in that order, the most specific last; two applicable files at
  one level are an error, and so is a scan whose merged metadata has no ``RepetitionTime``;
* the T1w of the session, else a session-less one (``sub-<s>/anat``), ``.nii`` or ``.nii.gz``.

Every problem of the cohort is named in one error, before any job starts.
"""

from __future__ import annotations

import glob
import json
import os
import re

from fcect.core.paths import sort_runs


class BidsError(ValueError):
    pass


# the entities a raw BOLD file name may carry after task, in the specification's order
_OPTIONAL = "".join(rf"(_{k}-[A-Za-z0-9]+)?" for k in ("acq", "ce", "rec", "dir", "run", "echo", "part", "chunk"))
_NIFTI = r"\.nii(\.gz)?"


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
    found = sorted(glob.glob(os.path.join(d, f"sub-{sub}_ses-{ses}_task-{task}*_bold.nii*")))
    found = [f for f in found if re.fullmatch(rf"sub-{sub}_ses-{ses}_task-{task}{_OPTIONAL}_bold{_NIFTI}",
                                              os.path.basename(f))]
    if not found:
        raise BidsError(f"{d}: no BOLD file sub-{sub}_ses-{ses}_task-{task}[_run-<label>]_bold.nii[.gz]")
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
    """The JSON next to a NIfTI file (``.nii`` or ``.nii.gz``)."""
    return re.sub(_NIFTI + "$", ".json", bold)


def entities(name):
    """The key-value entities of a BIDS file name (``sub``, ``ses``, ``task``, ``run``, ...) and its suffix."""
    stem = os.path.basename(name).split(".")[0]
    parts = stem.split("_")
    return dict(p.split("-", 1) for p in parts[:-1] if "-" in p), parts[-1]


def sidecars(bids_dir, bold):
    """The JSON files that apply to ``bold`` by the BIDS inheritance principle, from the dataset's top level down to
    the file's own folder (the order in which they are applied: the last one wins). Raises BidsError when two files
    apply at one level."""
    ents, _ = entities(bold)
    root = os.path.normpath(str(bids_dir))
    here = os.path.normpath(os.path.dirname(str(bold)))
    levels = [root]
    rel = os.path.relpath(here, root)
    for part in ([] if rel == "." else rel.split(os.sep)):
        levels.append(os.path.join(levels[-1], part))
    out = []
    for d in levels:
        hits = []
        for f in sorted(glob.glob(os.path.join(d, "*_bold.json"))):
            e, suffix = entities(f)
            if suffix == "bold" and all(ents.get(k) == v for k, v in e.items()):
                hits.append(f)
        if len(hits) > 1:
            raise BidsError(f"{d}: {len(hits)} JSON files apply to {os.path.basename(bold)} at one level "
                            f"{[os.path.basename(h) for h in hits]} (BIDS inheritance allows one per level)")
        out += hits
    return out


def read_sidecars(paths):
    """The metadata of a file from its applicable JSON files (``sidecars``), merged in order: later keys win."""
    meta = {}
    for p in [paths] if isinstance(paths, (str, os.PathLike)) else paths:
        with open(p) as f:
            try:
                meta.update(json.load(f))
            except ValueError as e:
                raise BidsError(f"{p}: not valid JSON ({e})") from None
    return meta


def t1w_file(bids_dir, sub, ses):
    """The T1w of a scan: ``sub-X/ses-Y/anat/*_T1w.nii.gz``, else a session-less ``sub-X/anat/*_T1w.nii.gz``."""
    for d, pat in ((os.path.join(bids_dir, f"sub-{sub}", f"ses-{ses}", "anat"), f"sub-{sub}_ses-{ses}*_T1w.nii*"),
                   (os.path.join(bids_dir, f"sub-{sub}", "anat"), f"sub-{sub}*_T1w.nii*")):
        found = [f for f in sorted(glob.glob(os.path.join(d, pat))) if re.search(r"_T1w" + _NIFTI + "$", f)]
        if len(found) > 1:
            raise BidsError(f"{d}: {len(found)} T1w images {[os.path.basename(f) for f in found]}; keep one")
        if found:
            return found[0]
    raise BidsError(f"sub-{sub} ses-{ses}: no T1w under {bids_dir}/sub-{sub}/ses-{ses}/anat or "
                    f"{bids_dir}/sub-{sub}/anat")


def index_scans(bids_dir, scans, task="rest", run=None):
    """Index every scan ((sub, ses) pairs) once: {(sub, ses): {"runs": [label|None], "bold": [..],
    "bold_json": [[the JSON files of each run, general to specific], ..], "t1w": path}}.
    Every problem of the cohort is listed in one error."""
    if not os.path.isdir(bids_dir):
        raise BidsError(f"BIDS folder {bids_dir} does not exist")
    out, errors = {}, []
    for sub, ses in scans:
        try:
            pairs = bold_files(bids_dir, sub, ses, task, run)
            bold = [b for _, b in pairs]
            t1 = t1w_file(bids_dir, sub, ses)
            jsons = [sidecars(bids_dir, b) for b in bold]
            for b, js in zip(bold, jsons):
                if not js:
                    raise BidsError(f"missing JSON sidecar {sidecar(b)} (no *_bold.json applies to it at any level; "
                                    "RepetitionTime is required)")
                if "RepetitionTime" not in read_sidecars(js):
                    raise BidsError(f"{b}: no RepetitionTime in its JSON sidecar(s) {js}")
            out[(sub, ses)] = dict(runs=[r for r, _ in pairs], bold=bold, bold_json=jsons, t1w=t1)
        except BidsError as e:
            errors.append(str(e))
    if errors:
        raise BidsError(f"{len(errors)} problem(s) in the BIDS folder {bids_dir}:\n  " + "\n  ".join(errors))
    return out
