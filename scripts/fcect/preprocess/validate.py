"""Validation of the inputs before any heavy job: every problem of the cohort, reported at once.

Two levels:

- :func:`check_fmriprep_files`, run when Snakemake parses the workflow (``rules/common.smk``): every expected file
  exists; all missing files are named in one error. Only ``stat`` calls.
- :func:`run_validation`, the ``validate`` rule (``results/qc/validation.tsv``, an input of every ``denoise_fc`` job
  and of ``qc_table``): participants.tsv (:func:`fcect.core.participants.read_participants`), then per scan the
  header and a lazy read of the data (:mod:`fcect.preprocess.validate_scan`, :mod:`fcect.preprocess.validate_image`),
  then the scans on disk that the participants table leaves unused. Errors stop the run with one message that lists
  every error (file, where, problem, what to do); warnings (and every default that fills in a value) are listed in
  the table only. The table is also written next to the rule's log, which survives a failed job.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from fcect.core.io import InputError

COLUMNS = ["severity", "participant_id", "session", "file", "where", "problem", "action"]


@dataclass
class Problem:
    severity: str          # error | warning
    participant_id: str
    session: str
    file: str
    where: str
    problem: str
    action: str


class ValidationError(InputError):
    """The inputs failed validation; ``table`` holds every problem (errors and warnings)."""

    def __init__(self, path, problem, table=None):
        super().__init__(path, problem)
        self.table = table


RUN_CHOICES = ("first", "concatenate")  # inputs.run: null, one of these, or a run label


def select_runs(scans, root, run, task="rest", space=None, res="2"):
    """The runs of each scan that the workflow reads, per ``inputs.run``: {(sub, ses): [run labels]}, with
    ``[None]`` for a scan read from its file names without run entity. The run entities on disk are globbed once
    per scan. ``run``: None (no run entity), ``first`` (lowest label), ``concatenate`` (every run, in run order) or a
    label; every scan it cannot be applied to is named in one error."""
    from fcect.core.paths import SPACE, fmriprep_paths, fmriprep_runs

    space = space or SPACE
    out, problems = {}, []
    for sub, ses in scans:
        found = fmriprep_runs(root, sub, ses, task, space, res)
        plain = fmriprep_paths(root, sub, ses, task, space, res)["bold"]
        name = f"sub-{sub} ses-{ses}"
        if run is None:
            out[(sub, ses)] = [None]
            if found and not plain.exists():
                problems.append((plain, f"{name} has only BOLD files with a run entity (run-{', run-'.join(found)}); "
                                 "set inputs.run in config (first, concatenate or a run label)"))
            continue
        if not found:
            if plain.exists():  # fMRIPrep leaves the run entity out of a session's only run
                out[(sub, ses)] = [None]
            else:
                problems.append((plain.parent, f"no BOLD file of {name} found (with run entity: "
                                 f"{fmriprep_paths(root, sub, ses, task, space, res, run='<label>')['bold'].name}, "
                                 f"or without: {plain.name})"))
            continue
        if run == "first":
            out[(sub, ses)] = found[:1]
        elif run == "concatenate":
            out[(sub, ses)] = found
        else:
            label = str(run)
            same = [x for x in found if x == label] or [x for x in found if x.isdigit() and label.isdigit()
                                                        and int(x) == int(label)]
            if len(same) != 1:
                problems.append((plain.parent, f"{name} has no run {label} (inputs.run); runs found: "
                                 + ", ".join(found)))
                continue
            out[(sub, ses)] = same
    if len(problems) == 1:
        raise InputError(*problems[0])
    if problems:
        raise InputError(os.path.commonpath([str(p) for p, _ in problems]), f"inputs.run = {run!r}: "
                         f"{len(problems)} scans cannot be read:\n" + "\n".join(f"  {p}: {w}" for p, w in problems))
    return out


def check_fmriprep_files(scans, path_fn, runs=None):
    """Every expected file exists; all missing files are named in one error. ``path_fn(sub, ses)`` -> dict of
    paths (bold, bold_json, mask, confounds; the denoising reads all four); with ``runs`` ({(sub, ses): [run
    labels]}, :func:`select_runs`), ``path_fn(sub, ses, run)``, for every run of every scan."""
    def files(sub, ses):
        if runs is None:
            return list(path_fn(sub, ses).items())
        return [(kind, p) for r in runs[(sub, ses)] for kind, p in path_fn(sub, ses, r).items()]

    missing = [(p, f"missing {kind} file for sub-{sub} ses-{ses}")
               for sub, ses in scans for kind, p in files(sub, ses) if not Path(p).exists()]
    if len(missing) == 1:
        raise InputError(*missing[0])
    if missing:
        n_dirs = len({str(Path(p).parent) for p, _ in missing})
        raise InputError(os.path.commonpath([str(p) for p, _ in missing]), f"{len(missing)} expected input files "
                         f"are missing (in {n_dirs} folder(s)):\n" + "\n".join(f"  {p}: {what}" for p, what in missing))


def _participant_problems(err: InputError, path):
    """One Problem per line of read_participants' error (a single problem, or 'N problems:' and a list)."""
    lines = [x[4:] for x in err.problem.splitlines() if x.startswith("  - ")] or [err.problem]
    out = []
    for text in lines:
        m = re.match(r"line (\d+) \((sub-[^)]*|[^)]*)\), (column \S+): ", text)
        out.append(Problem("error", m.group(2) if m else "", "", str(path),
                           f"line {m.group(1)}, {m.group(3)}" if m else "", text[m.end():] if m else text,
                           "correct participants.tsv (schema: config/schema/participants.schema.yaml)"))
    return out


def _unused_scans(root, part, scans, task, space, res, sessions):
    """Warnings for scans on disk that the participants table leaves unused (one file named per scan)."""
    from fcect.core.paths import fmriprep_paths, fmriprep_runs

    root = Path(root)
    expected = set(scans)
    rows = {r.participant_id: r for r in part.itertuples(index=False)}
    ses_pre, ses_post = sessions
    out = []
    for sub_dir in sorted(p for p in root.glob("sub-*") if p.is_dir()):
        pid, sub = sub_dir.name, sub_dir.name[4:]
        bolds = []
        for d in sorted(sub_dir.glob("ses-*")):
            ses = d.name[4:]
            plain = fmriprep_paths(root, sub, ses, task, space, res)["bold"]
            bolds += [plain] if plain.exists() else [fmriprep_paths(root, sub, ses, task, space, res, r)["bold"]
                                                     for r in fmriprep_runs(root, sub, ses, task, space, res)[:1]]
        if pid not in rows:
            out.append(Problem("warning", pid, "", str(sub_dir), "", f"subject folder with {len(bolds)} BOLD "
                               "scan(s) of this task and space, absent from participants.tsv: not analysed",
                               "add the participant to participants.tsv to analyse the scans, or remove the folder"))
            continue
        row = rows[pid]
        for bold in bolds:
            ses = bold.parts[-3][4:]  # sub-X/ses-Y/func/<file>
            if (sub, ses) in expected:
                continue
            if ses == ses_post and row.group == "TRD":
                why, what = "post-ECT scan on disk, but hamd_post is n/a: not analysed", \
                    "give hamd_post in participants.tsv to analyse the scan (or remove it)"
            elif ses == ses_post:
                why, what = f"post-ECT scan of a {row.group} participant: not analysed (only patients are followed " \
                            "up)", "none, or check the participant's group"
            else:
                why, what = f"session {ses} is neither inputs.sessions.pre ({ses_pre}) nor post ({ses_post}): not " \
                            "analysed", "set inputs.sessions if this is the baseline or post-ECT session"
            out.append(Problem("warning", pid, ses, str(bold), "", why, what))
    return out


def validate_inputs(fmriprep_dir, participants, scans, *, task, space, res, sessions, denoise, settings,
                    schema=None, threads=1, log=None, runs=None):
    """Check participants.tsv, every expected scan (every run of it in ``runs``: one list of run labels per scan,
    None for files without run entity; default: no run entity) and the scans on disk. Returns (table of problems
    with :data:`COLUMNS`, {(sub, ses): what was measured, per run})."""
    from concurrent.futures import ThreadPoolExecutor

    import pandas as pd

    from fcect.core.participants import read_participants
    from fcect.core.paths import fmriprep_paths
    from fcect.preprocess.validate_scan import check_scan

    problems = []
    try:
        part = read_participants(participants, schema)
    except InputError as err:
        part = None
        problems += _participant_problems(err, participants)

    scan_runs = [[None]] * len(scans) if runs is None else [list(r) for r in runs]

    def one(scan, run_labels):
        sub, ses = scan
        found, infos = [], []

        def report(severity, file, problem, action, where=""):
            found.append(Problem(severity, f"sub-{sub}", ses, str(file), where, problem, action))

        for run in run_labels:  # every run file is validated on its own
            files = {k: str(v) for k, v in fmriprep_paths(fmriprep_dir, sub, ses, task, space, res, run).items()}
            for kind, p in files.items():
                if not Path(p).exists():
                    report("error", p, f"missing {kind} file", "write the file (fMRIPrep 21+ names: config/README.md, "
                           "inputs) or remove the scan from participants.tsv")
            infos.append(dict(check_scan(files, denoise, settings, space, report), run=run))
        info = infos[0] if len(infos) == 1 else dict(runs=infos, seconds=sum(i["seconds"] for i in infos))
        if log is not None:
            log.info("sub-%s ses-%s: %d run(s), %d problem(s), %.2f s", sub, ses, len(infos), len(found),
                     info["seconds"])
        return found, info

    if scans:
        from fcect.preprocess.validate_image import mni_reference

        mni_reference()  # loaded once, before the threads share it
    with ThreadPoolExecutor(max_workers=max(int(threads), 1)) as pool:  # zlib and numpy release the GIL
        results = list(pool.map(one, scans, scan_runs))
    infos = {}
    for scan, (found, info) in zip(scans, results):
        problems += found
        infos[scan] = info
    if part is not None:
        problems += _unused_scans(fmriprep_dir, part, scans, task, space, res, sessions)
    table = pd.DataFrame([asdict(p) for p in problems], columns=COLUMNS)
    table["_order"] = table.severity.map({"error": 0, "warning": 1})
    table = table.sort_values("_order", kind="stable").drop(columns="_order").reset_index(drop=True)
    return table, infos


def failure_message(table, table_path) -> str:
    """One message listing every error (file, where, problem, what to do)."""
    err = table[table.severity == "error"]
    n_warn = int((table.severity == "warning").sum())
    lines = [f"input validation failed: {len(err)} error(s) in {err.file.nunique()} file(s)"
             + (f", and {n_warn} warning(s)" if n_warn else "") + "; no scan was processed. Every problem, with "
             f"what to do, is listed in {table_path} (tab-separated). The errors:"]
    for r in err.itertuples(index=False):
        lines.append(f"  {r.file}" + (f" [{r.where}]" if r.where else "") + f": {r.problem}. What to do: {r.action}")
    return "\n".join(lines)


def run_validation(fmriprep_dir, participants, scans, *, task, space, res, sessions, denoise, settings,
                   out_table, log_table, schema=None, threads=1, log=None, runs=None):
    """The ``validate`` rule: write the table next to the log; on errors raise :class:`ValidationError` listing
    every one, else write ``out_table``. Returns the table."""
    import numpy as np

    from fcect.core.io import save_tsv

    table, infos = validate_inputs(fmriprep_dir, participants, scans, task=task, space=space, res=res,
                                   sessions=sessions, denoise=denoise, settings=settings, schema=schema,
                                   threads=threads, log=log, runs=runs)
    save_tsv(table, log_table)
    n_err = int((table.severity == "error").sum())
    if log is not None:
        secs = [i["seconds"] for i in infos.values()]
        log.info("%d scans checked (%.2f s per scan on average); %d error(s), %d warning(s); table: %s",
                 len(infos), float(np.mean(secs)) if secs else 0.0, n_err, len(table) - n_err, log_table)
        for r in table[table.severity == "warning"].itertuples(index=False):
            log.warning("%s%s: %s", r.file, f" [{r.where}]" if r.where else "", r.problem)
    if n_err:
        raise ValidationError(log_table, failure_message(table, log_table), table)
    save_tsv(table, out_table)
    return table
