"""A killed or cancelled run, resumed, gives what an uninterrupted run gives; ``--cores 1`` gives what ``--cores 3``
gives; a full disk or a read-only results folder stops a job with the file named and corrupts nothing.

The test works in a copy of the finished tiny run (session fixture ``tiny_run``, run with ``--cores 3``): outputs are
taken from it and only the jobs under test run again, all with ``--cores 1``. Snakemake is interrupted at five points,
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
results/summary.json byte for byte equal to the uninterrupted tiny run's (the tables of the jobs that did not run
again are copies; test_the_interrupted_jobs_did_run_again lists those that did).

The resumed jobs ran with ``--cores 1`` and the tiny run with ``--cores 3`` (2 threads for its multi-threaded jobs),
so the comparison also checks that the number of cores changes no result: group_inference ran with one BLAS thread instead of two, and the nested SVR's
permutations and repeated k-fold in one process instead of two (joblib, another code path). Not covered here:
transcriptomics_pls and transcriptomics_enrichment (threads 2), too slow to run again for this test.

Every table is compared, the GSEA tables (enrichment_gsea_*) included. Neither the tables nor summary.json hold
timestamps (the elapsed times are in group.json and svr.json).
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
# outputs run with 2 processes at --cores 3 and 1 at --cores 1.
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


def _interrupt(wd, targets, rule, sig, unlock=False):
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
        time.sleep(0.05)
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
    if sig == signal.SIGKILL:                       # a killed Snakemake leaves its lock: unlock as the user does
        if unlock:                                  # (`snakemake --unlock`), or remove the lock files as it does
            run_snakemake(wd, "--unlock", *CONFIG)  # (5 s less, for the later points)
        else:
            shutil.rmtree(wd / ".snakemake/locks")


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _tables(run):
    """{relative path: sha256} of every result table."""
    return {str(p.relative_to(run)): _sha(p) for p in sorted((run / "results").rglob("*.tsv"))}


@pytest.fixture(scope="module")
def resumed(tiny_run, tmp_path_factory):
    """The copy of the tiny run, interrupted at five points and resumed; returns (folder, start of the run)."""
    if not Path("/proc/self/cwd").exists():
        pytest.skip("needs /proc (Linux)")
    wd = copy_workflow(tmp_path_factory.mktemp("resumed"))
    # the workflow's files (code and config, which rules read as inputs) are dated before the run's outputs, as in
    # the tiny run itself (a checkout or FCECT_TINY_RUN may be newer); the copied outputs keep their times (copy2)
    for p in wd.rglob("*"):
        os.utime(p, (1e9, 1e9), follow_symlinks=False)
    for part in ("resources", "results"):
        shutil.copytree(tiny_run / part, wd / part)
    start = time.time()

    # 1, 2: denoise_fc of two scans (no output of the killed job exists; the others are only asked for again)
    scans = sorted(p.parent for p in (tiny_run / "results/fc").glob("sub-*/ses-*/*desc-denoise_info.json"))[:2]
    outputs = [str(p.relative_to(tiny_run)) for scan in scans for p in sorted(scan.glob("*"))]
    for sig, scan in zip((signal.SIGKILL, signal.SIGTERM), scans):
        targets = [str(p.relative_to(tiny_run)) for p in sorted(scan.glob("*"))]
        for t in targets:
            (wd / t).unlink()
        _interrupt(wd, targets, "denoise_fc", sig, unlock=True)
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
    uninterrupted tiny run (--cores 3)."""
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


# Loaded by every Python process of the run below (PYTHONPATH); acts in the two job scripts only. table_transcriptomics
# writes its TSV, then finds the disk full when its HTML is flushed (os.fsync, where a network file system reports
# it); table_clusters finds the results folder read-only when it creates its first file.
_FAULTS = '''
import errno, os, sys, tempfile
_script = sys.argv[0] if sys.argv else ""
if ".snakemake/scripts/" in _script and ".table_transcriptomics.py" in _script:
    _fsync, _calls = os.fsync, []
    def _full(fd):
        _calls.append(fd)
        if len(_calls) > 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return _fsync(fd)
    os.fsync = _full
if ".snakemake/scripts/" in _script and ".table_clusters.py" in _script:
    def _read_only(*a, **k):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), k.get("dir"))
    tempfile.mkstemp = _read_only
'''


def test_full_disk_and_read_only_results_stop_the_job_with_the_file_named(resumed, tmp_path):
    """A full disk (ENOSPC) or a read-only results folder (EROFS) while a job writes, simulated in the job's process:
    the job fails with a message naming the output and the cause, in its log; none of its outputs is left (not the
    one it had completed either: Snakemake removes the outputs of a failed job), no temporary file, and every
    other file under results/ is unchanged."""
    wd = tmp_path / "wf"
    shutil.copytree(resumed[0], wd, symlinks=True, ignore=shutil.ignore_patterns(".snakemake"))
    (tmp_path / "faults").mkdir()
    (tmp_path / "faults/sitecustomize.py").write_text(_FAULTS)
    jobs = {"table_transcriptomics": TX_TABLES,
            "table_clusters": ["results/tables/clusters_ect.tsv", "results/tables/clusters_ect.html"]}
    for outputs in jobs.values():
        for t in outputs:
            (wd / t).unlink()
    before = {str(p.relative_to(wd)): _sha(p) for p in (wd / "results").rglob("*") if p.is_file()}
    env = dict(os.environ, PYTHONWARNINGS="ignore",
               PYTHONPATH=os.pathsep.join([str(tmp_path / "faults"), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(snakemake_cmd(*[t for o in jobs.values() for t in o], "--cores", "1", "--keep-going",
                                        *CONFIG), cwd=wd, capture_output=True, text=True, env=env, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    logs = {"table_transcriptomics": (wd / "logs/figures/table_transcriptomics.log").read_text(),
            "table_clusters": (wd / "logs/figures/table_clusters_ect.log").read_text()}
    assert (f"cannot write {TX_TABLES[1]}: No space left on device (the disk is full: free space or write the "
            "results elsewhere); no file was written") in logs["table_transcriptomics"], logs["table_transcriptomics"]
    assert (f"cannot write {jobs['table_clusters'][0]}: Read-only file system (the file system is read-only); no "
            "file was written") in logs["table_clusters"], logs["table_clusters"]
    left = [t for o in jobs.values() for t in o if (wd / t).exists()]
    assert not left, f"outputs of the failed jobs left: {left}"
    stray = [p for p in (wd / "results").rglob(".*") if ".tmp" in p.name]
    assert not stray, f"temporary files left: {stray}"
    after = {str(p.relative_to(wd)): _sha(p) for p in (wd / "results").rglob("*") if p.is_file()}
    assert after == before, sorted(set(after.items()) ^ set(before.items()))
