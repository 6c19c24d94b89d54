"""Participants: reading and validating participants.tsv, the scans it implies, boolean columns, the HAMD reduction.

One implementation each, used by every stage: the QC stage writes ``hamd_reduction`` into
``participants_included.tsv`` with :func:`hamd_reduction` and the single config key ``clinical.hamd_reduction``;
later stages read that column (:func:`reduction_column`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from fcect.core.io import InputError, read_tsv

REQUIRED = ["participant_id", "group", "age", "sex", "education", "hamd_pre", "hamd_post"]

TRUE_STRINGS = {"true", "1", "yes", "y", "t", "included"}
FALSE_STRINGS = {"false", "0", "no", "n", "f", "excluded", "", "nan", "n/a", "none"}

# HAMD reduction formulas (config key clinical.hamd_reduction)
REDUCTIONS = ("rate", "difference")


def as_bool(series: pd.Series | Sequence) -> np.ndarray:
    """Parse a boolean-ish column (True/False, 1/0, yes/no; missing = False) into a bool array.

    Any other value is an error rather than a silent False."""
    s = pd.Series(series)
    if s.dtype == bool:
        return s.to_numpy()
    out = np.zeros(len(s), dtype=bool)
    for i, v in enumerate(s.tolist()):
        if isinstance(v, (bool, np.bool_)):
            out[i] = bool(v)
        elif v is None or (isinstance(v, float) and np.isnan(v)):
            out[i] = False
        elif isinstance(v, (int, float, np.integer, np.floating)):
            out[i] = bool(v) if np.isfinite(v) else False
        else:
            t = str(v).strip().lower()
            if t in TRUE_STRINGS:
                out[i] = True
            elif t in FALSE_STRINGS:
                out[i] = False
            else:
                raise ValueError(f"cannot interpret {v!r} as a boolean")
    return out


def hamd_reduction(pre, post, formula: str = "rate") -> np.ndarray:
    """HAMD reduction per subject: ``rate`` = (pre - post) / pre, ``difference`` = pre - post.

    Missing pre or post -> NaN. A rate with pre == 0 is undefined -> NaN.
    """
    pre = pd.to_numeric(pd.Series(pre), errors="coerce").to_numpy(dtype=float)
    post = pd.to_numeric(pd.Series(post), errors="coerce").to_numpy(dtype=float)
    diff = pre - post
    if formula == "rate":
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(pre > 0, diff / np.where(pre > 0, pre, 1.0), np.nan)
        return np.where(np.isnan(diff), np.nan, out)
    if formula == "difference":
        return diff
    raise ValueError(f"unknown HAMD reduction formula {formula!r} (use one of {REDUCTIONS})")


def reduction_column(part: pd.DataFrame, formula: str | None = None) -> np.ndarray:
    """HAMD reduction: the QC table's ``hamd_reduction`` column when ``formula`` is None, else recomputed from
    hamd_pre / hamd_post with ``formula``."""
    if formula is None and "hamd_reduction" in part.columns:
        return pd.to_numeric(part["hamd_reduction"], errors="coerce").to_numpy(dtype=float)
    return hamd_reduction(part["hamd_pre"], part["hamd_post"], formula or "rate")


def participant_id(v) -> str:
    """'sub-X' whether or not the value carries the prefix."""
    v = str(v)
    return v if v.startswith("sub-") else f"sub-{v}"


NUMERIC = ("age", "education", "hamd_pre", "hamd_post")


def read_participants(path, schema_path=None) -> pd.DataFrame:
    """Read participants.tsv, validate it against the JSON schema and semantic rules. Every problem of the table is
    reported at once, in one error that names the file and, for a problem of one row, its line and participant."""
    df = read_tsv(path, dtype={"participant_id": str, "group": str, "sex": str})
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise InputError(path, f"missing column(s) {missing}; required: {REQUIRED}")
    if df.empty:
        raise InputError(path, "no participants")
    problems = []

    def where(i):
        return f"line {i + 2} ({df.participant_id.iloc[i]})"

    # numbers first, row by row, so that one bad value is reported against its own row (read as text, a column
    # with one non-numeric value would otherwise fail the schema's type check on every row)
    bad_cells = set()
    for c in NUMERIC:
        v = pd.to_numeric(df[c], errors="coerce")
        for i in np.flatnonzero(v.isna().to_numpy() & df[c].notna().to_numpy()):
            problems.append(f"{where(i)}, column {c}: {df[c].iloc[i]!r} is not a number")
            bad_cells.add((i, c))
        df[c] = v
    if schema_path is not None:
        import jsonschema
        import yaml

        schema = yaml.safe_load(Path(schema_path).read_text())
        validator = jsonschema.Draft202012Validator(schema)
        for i, rec in enumerate(df.to_dict("records")):
            rec = {k: v for k, v in rec.items() if not (isinstance(v, float) and np.isnan(v))}
            for e in sorted(validator.iter_errors(rec), key=lambda e: list(e.path)):
                col = ".".join(str(p) for p in e.path) or "row"
                if e.validator == "required" and any((i, c) in bad_cells for c in NUMERIC if f"'{c}'" in e.message):
                    continue  # already reported as not a number
                problems.append(f"{where(i)}, column {col}: {e.message}")
    dup = df.loc[df.participant_id.duplicated(), "participant_id"].tolist()
    if dup:
        problems.append(f"duplicate participant_id {dup}")
    for rule, bad in [
        ("hamd_post is given for healthy controls {}; it must be n/a", (df.group == "HC") & df.hamd_post.notna()),
        ("hamd_pre is missing for patients {}", (df.group == "TRD") & df.hamd_pre.isna()
         & ~pd.Series([(i, "hamd_pre") in bad_cells for i in range(len(df))], index=df.index)),
        ("hamd_pre is 0 for patients {}: the reduction rate is undefined",
         (df.group == "TRD") & (df.hamd_pre == 0) & df.hamd_post.notna()),
    ]:
        if bad.any():
            rows = [f"{pid} (line {i + 2})" for i, pid in zip(np.flatnonzero(bad.to_numpy()), df.participant_id[bad])]
            problems.append(rule.format(", ".join(rows)))
    if df.group.isin(["TRD", "HC"]).all():  # with an unknown group the count below would only repeat that error
        for g in ("TRD", "HC"):
            if (df.group == g).sum() < 2:
                problems.append(f"fewer than 2 participants in group {g}")
    if len(problems) == 1:
        raise InputError(path, problems[0])
    if problems:
        raise InputError(path, f"{len(problems)} problems:\n" + "\n".join(f"  - {p}" for p in problems))
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
