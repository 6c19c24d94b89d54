"""Validation of the expected input files (participants.tsv itself: fcect.core.participants.read_participants).

Everything here is cheap and runs when Snakemake parses the workflow, before any job starts.
"""

from __future__ import annotations

from pathlib import Path

from fcect.core.io import InputError


def check_fmriprep_files(scans, path_fn):
    """Every expected file exists; a missing one is named. ``path_fn(sub, ses)`` -> dict of paths."""
    for sub, ses in scans:
        for kind, p in path_fn(sub, ses).items():
            if kind == "bold_json" and not Path(p).exists():
                continue  # TR may come from the NIfTI header instead
            if not Path(p).exists():
                raise InputError(p, f"missing {kind} file for sub-{sub} ses-{ses}")
