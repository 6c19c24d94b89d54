"""A killed or cancelled run, resumed, gives what an uninterrupted run gives; and ``--cores 1`` gives what
``--cores 2`` gives.

The test works in a copy of the finished tiny run (session fixture ``tiny_run``, run with ``--cores 2``): outputs are
taken from it and only the jobs under test run again, all with ``--cores 1``. Snakemake is interrupted at four points,
each time while a job runs, with SIGKILL (nothing can clean up; the job is frozen (SIGSTOP) at that moment and let go
on after Snakemake died: it must stop by itself, fcect.core.io.stop_with_parent) or with SIGTERM (Snakemake cancels or
finishes its jobs before it exits):

1. ``denoise_fc`` of one scan, SIGKILL;          2. ``denoise_fc`` of another scan, SIGTERM;
3. ``group_inference`` (baseline, DMN9R), SIGKILL; 4. ``table_transcriptomics``, SIGTERM;
5. ``report_summary`` (which writes results/summary.json), SIGKILL, after group_inference (baseline, DMN9R),
   its cluster table and the nested SVR (predict_svr, predict_summary, table_prediction) ran again.

After each: no process of the run is left, no temporary file, no output of the killed job (complete or
half-written; Snakemake deletes a job's old outputs before it starts it, so the previous summary.json is gone too).
The resumed run (``--unlock``, then the same command) gives FC maps, result tables (results/**/*.tsv) and
results/summary.json byte for byte equal to the uninterrupted tiny run's. The resumed jobs ran with ``--cores 1``
and the tiny run with ``--cores 2``, so the comparison also checks that the number of cores changes no result:
group_inference ran with one BLAS thread instead of two, and the nested SVR's permutations and repeated k-fold in
one process instead of two (joblib, another code path). Not covered here: transcriptomics_pls and _enrichment
(threads 2), too slow to rerun for this test. The GSEA tables (enrichment_gsea_*) are left out of the table comparison: their
leading-edge column still varies between runs (see test_summary_regression.py); summary.json carries their
statistics. Neither the tables nor summary.json hold timestamps (the elapsed times are in group.json and svr.json).
"""
import hashlib
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import copy_workflow, run_snakemake, snakemake_cmd

CONFIG = ("--configfile", "config/tiny.yaml")
GROUP_JOB = "results/group/baseline/seed-DMN9R"      # a group_inference job no other stage than its figures,
# its contrast's cluster table and the summary depend on (not the transcriptomics / prediction seed, not the first
# seed, which the methods text reads)
TX_TABLES = ["results/tables/pls_components.tsv", "results/tables/pls.html"]   # table_transcriptomics' outputs
SUMMARY = "results/summary.json"
# Snakemake reruns a job whose output is missing, not one whose input is missing (a removed intermediate file is
# fine to it): so the outputs downstream of a removed one are removed too, up to the tables. The nested SVR's
# outputs run with 2 processes at --cores 2 and 1 at --cores 1.
DOWNSTREAM = ["results/tables/clusters_baseline.tsv", "results/tables/clusters_baseline.html",
              "results/prediction/nested", "results/prediction/svr.json", "results/tables/prediction.tsv",
              "results/tables/prediction.html"]
# what the comparison is about: the tables and the summary (the figures are not asked for, to keep the test short)
FINAL = ["results/tables/clusters_baseline.tsv", "results/tables/prediction.tsv", *TX_TABLES, SUMMARY]


def _processes_in(wd):
    """PIDs of the processes whose working directory is ``wd`` (Snakemake and its jobs)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if os.readlink(d / "cwd") == str(wd):
                    out.append(int(d.name))
            except OSError:
                pass
    return out


def _job(wd, rule):
    """PID of the running ``script:`` job of ``rule`` started in ``wd``, or None."""
    for pid in _processes_in(wd):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b".snakemake/scripts/" in cmd and f".{rule}.py".encode() in cmd:
            return pid
    return None


def _interrupt(wd, targets, rule, sig):
    """Start Snakemake on ``targets``; once the job of ``rule`` runs, send ``sig`` to Snakemake only. With SIGKILL
    the job is frozen (SIGSTOP) first and let go on (SIGCONT) after Snakemake died: it must stop by itself. Then
    check that nothing of the run is left running and no temporary file is left."""
    proc = subprocess.Popen(snakemake_cmd(*targets, "--cores", "1", *CONFIG), cwd=wd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env=dict(os.environ, PYTHONWARNINGS="ignore"))
    deadline = time.time() + 300
    while (job := _job(wd, rule)) is None:
        assert proc.poll() is None, f"Snakemake ended before the {rule} job started"
        assert time.time() < deadline, f"the {rule} job did not start"
        time.sleep(0.02)
    freeze = sig == signal.SIGKILL
    if freeze:
        os.kill(job, signal.SIGSTOP)
    os.kill(proc.pid, sig)
    proc.wait(timeout=120)
    if freeze:
        os.kill(job, signal.SIGCONT)
    deadline = time.time() + 60
    while _processes_in(wd) and time.time() < deadline:
        time.sleep(0.2)
    assert not _processes_in(wd), f"{rule}, {sig.name}: a job of the interrupted run is still running"
    stray = [p for p in (wd / "results").rglob(".*") if ".tmp" in p.name]
    assert not stray, f"{rule}, {sig.name}: temporary files left: {stray}"
    if sig == signal.SIGKILL:
        run_snakemake(wd, "--unlock", *CONFIG)     # what the user does after a killed run


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _tables(run):
    """{relative path: sha256} of every result table but the GSEA tables (their leading-edge column varies)."""
    return {str(p.relative_to(run)): _sha(p) for p in sorted((run / "results").rglob("*.tsv"))
            if "enrichment_gsea_" not in p.name}


@pytest.fixture(scope="module")
def resumed(tiny_run, tmp_path_factory):
    """The copy of the tiny run, interrupted at five points and resumed; returns (folder, start of the run)."""
    if not Path("/proc/self/cwd").exists():
        pytest.skip("needs /proc (Linux)")
    wd = copy_workflow(tmp_path_factory.mktemp("resumed"))
    for part in ("resources", "results"):                  # copy2: modification times kept, so all is up to date
        shutil.copytree(tiny_run / part, wd / part)
    start = time.time()

    # 1, 2: denoise_fc of two scans (no output of the killed job exists; the others are only asked for again)
    scans = sorted(p.parent for p in (tiny_run / "results/fc").glob("sub-*/ses-*/*desc-denoise_info.json"))[:2]
    outputs = [str(p.relative_to(tiny_run)) for scan in scans for p in sorted(scan.glob("*"))]
    for sig, scan in zip((signal.SIGKILL, signal.SIGTERM), scans):
        targets = [str(p.relative_to(tiny_run)) for p in sorted(scan.glob("*"))]
        for t in targets:
            (wd / t).unlink()
        _interrupt(wd, targets, "denoise_fc", sig)
        if sig == signal.SIGKILL:
            assert not any((wd / t).exists() for t in targets), "an output of the killed denoise_fc job exists"
    run_snakemake(wd, *outputs, "--cores", "1", *CONFIG)
    differ = [t for t in outputs if _sha(wd / t) != _sha(tiny_run / t)]
    assert not differ, f"the resumed denoise_fc jobs wrote other FC maps or info than the tiny run: {differ}"
    for t in outputs:   # byte-identical: give them back their time, so that the group jobs stay up to date
        st = (tiny_run / t).stat()
        os.utime(wd / t, ns=(st.st_atime_ns, st.st_mtime_ns))

    # 3-5: a group job, a transcriptomics table and the summary, asked for in turn so that each is the job running
    group = sorted(str(p.relative_to(tiny_run)) for p in (tiny_run / GROUP_JOB).iterdir())
    for t in group + TX_TABLES + DOWNSTREAM:
        shutil.rmtree(wd / t) if (wd / t).is_dir() else (wd / t).unlink()
    _interrupt(wd, group, "group_inference", signal.SIGKILL)
    assert not any((wd / t).exists() for t in group), "an output of the killed group_inference job exists"
    _interrupt(wd, TX_TABLES, "table_transcriptomics", signal.SIGTERM)
    done = [(wd / t).exists() for t in TX_TABLES]
    assert not any(done) or all(done), f"table_transcriptomics left part of its outputs: {done}"
    _interrupt(wd, FINAL, "report_summary", signal.SIGKILL)
    assert not (wd / SUMMARY).exists(), "a summary.json is left after report_summary was killed"

    run_snakemake(wd, *FINAL, "--cores", "1", *CONFIG)
    return wd, start


def test_resumed_run_at_cores_1_equals_the_uninterrupted_run_at_cores_2(resumed, tiny_run):
    """summary.json and every result table of the resumed run (jobs at --cores 1) are byte for byte those of the
    uninterrupted tiny run (--cores 2)."""
    wd, start = resumed
    assert _sha(wd / SUMMARY) == _sha(tiny_run / SUMMARY), (
        "summary.json differs: python -m fcect.testing.summary "
        f"{wd / SUMMARY} {tiny_run / SUMMARY}")
    got, ref = _tables(wd), _tables(tiny_run)
    assert set(got) == set(ref), sorted(set(got) ^ set(ref))
    differ = sorted(k for k in ref if got[k] != ref[k])
    assert not differ, f"tables that differ from the uninterrupted run: {differ}"


def test_the_interrupted_jobs_did_run_again(resumed):
    """The comparison above is about recomputed outputs, not about the copies the test started from."""
    wd, start = resumed
    rerun = [f"{GROUP_JOB}/clusters.tsv", f"{GROUP_JOB}/stat-t.nii.gz", "results/prediction/nested/null.tsv",
             *FINAL]
    stale = [t for t in rerun if (wd / t).stat().st_mtime < start]
    assert not stale, f"not rewritten by the resumed run: {stale}"
