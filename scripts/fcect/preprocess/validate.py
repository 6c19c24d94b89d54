"""Validation of participants.tsv (schema + semantic checks) and of the expected input files.

Everything here is cheap and runs when Snakemake parses the workflow, before any job starts.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from fcect.core.io import InputError, read_tsv

REQUIRED = ["participant_id", "group", "age", "sex", "education", "hamd_pre", "hamd_post"]


def read_participants(path, schema_path=None) -> pd.DataFrame:
    """Read participants.tsv, validate it against the JSON schema and semantic rules; errors name the file."""
    df = read_tsv(path, dtype={"participant_id": str, "group": str, "sex": str})
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise InputError(path, f"missing column(s) {missing}; required: {REQUIRED}")
    if df.empty:
        raise InputError(path, "no participants")
    if schema_path is not None:
        import jsonschema
        import yaml

        schema = yaml.safe_load(Path(schema_path).read_text())
        validator = jsonschema.Draft202012Validator(schema)
        for i, rec in enumerate(df.to_dict("records")):
            rec = {k: v for k, v in rec.items() if not (isinstance(v, float) and np.isnan(v))}
            errs = sorted(validator.iter_errors(rec), key=lambda e: list(e.path))
            if errs:
                e = errs[0]
                col = ".".join(str(p) for p in e.path) or "row"
                raise InputError(path, f"line {i + 2} ({rec.get('participant_id', '?')}), column {col}: "
                                 f"{e.message}")
    for c in ("age", "education", "hamd_pre", "hamd_post"):
        v = pd.to_numeric(df[c], errors="coerce")
        bad = df.loc[v.isna() & df[c].notna(), "participant_id"].tolist()
        if bad:
            raise InputError(path, f"column {c} has non-numeric values for {bad[:5]}")
        df[c] = v
    dup = df.loc[df.participant_id.duplicated(), "participant_id"].tolist()
    if dup:
        raise InputError(path, f"duplicate participant_id {dup[:5]}")
    hc_post = df.loc[(df.group == "HC") & df.hamd_post.notna(), "participant_id"].tolist()
    if hc_post:
        raise InputError(path, f"hamd_post is given for healthy controls {hc_post[:5]}; it must be n/a")
    trd_nopre = df.loc[(df.group == "TRD") & df.hamd_pre.isna(), "participant_id"].tolist()
    if trd_nopre:
        raise InputError(path, f"hamd_pre is missing for patients {trd_nopre[:5]}")
    zero = df.loc[(df.group == "TRD") & (df.hamd_pre == 0) & df.hamd_post.notna(), "participant_id"].tolist()
    if zero:
        raise InputError(path, f"hamd_pre is 0 for patients {zero[:5]}: the reduction rate is undefined")
    for g in ("TRD", "HC"):
        if (df.group == g).sum() < 2:
            raise InputError(path, f"fewer than 2 participants in group {g}")
    return df


def expected_scans(part: pd.DataFrame, ses_pre="pre", ses_post="post"):
    """Scans the workflow expects: a baseline for everyone; a post-ECT scan for patients with hamd_post."""
    out = []
    for row in part.itertuples(index=False):
        sub = row.participant_id[4:]
        out.append((sub, ses_pre))
        if row.group == "TRD" and not pd.isna(row.hamd_post):
            out.append((sub, ses_post))
    return out


def check_fmriprep_files(scans, path_fn):
    """Every expected file exists; a missing one is named. ``path_fn(sub, ses)`` -> dict of paths."""
    for sub, ses in scans:
        for kind, p in path_fn(sub, ses).items():
            if kind == "bold_json" and not Path(p).exists():
                continue  # TR may come from the NIfTI header instead
            if not Path(p).exists():
                raise InputError(p, f"missing {kind} file for sub-{sub} ses-{ses}")
