"""A killed or cancelled run: no job runs on, no output of the interrupted job is left (complete or half-written)
when Snakemake is killed, and the resumed run gives what an uninterrupted run gives.

Snakemake is interrupted while `denoise_fc` of one scan runs: with SIGKILL (nothing can clean up; the job, frozen
at that moment, must stop by itself when it resumes: fcect.core.io.stop_with_parent) and with SIGTERM (Snakemake
cancels or finishes its jobs before it exits). The resumed run's FC maps equal those of the uninterrupted tiny run.
"""
import os
import signal
import subprocess
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from conftest import copy_workflow, reuse_simulated_cohort, run_snakemake, snakemake_cmd


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
    the job is frozen (SIGSTOP) first and let go on (SIGCONT) after Snakemake died: it must stop by itself."""
    proc = subprocess.Popen(snakemake_cmd(*targets, "--cores", "1", "--configfile", "config/tiny.yaml"), cwd=wd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.time() + 300
    while (job := _job(wd, rule)) is None:
        assert proc.poll() is None, "Snakemake ended before the job started"
        assert time.time() < deadline, "the job did not start"
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
    assert not _processes_in(wd), "a job of the interrupted run is still running"


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="needs /proc (Linux)")
def test_interrupted_run_resumes_to_the_uninterrupted_result(tiny_run, tmp_path):
    wd = copy_workflow(tmp_path / "wf")
    reuse_simulated_cohort(tiny_run, wd)          # only masks, validate and the interrupted denoise_fc run
    scans = sorted(p.parent for p in (tiny_run / "results/fc").glob("sub-*/ses-*/*desc-denoise_info.json"))[:2]
    for sig, scan in zip((signal.SIGKILL, signal.SIGTERM), scans):
        targets = [str(p.relative_to(tiny_run)) for p in sorted(scan.glob("*"))]
        _interrupt(wd, targets, "denoise_fc", sig)
        if sig == signal.SIGKILL:
            assert not any((wd / t).exists() for t in targets), "an output of the killed run's job exists"
        stray = [p for p in (wd / "results").rglob(".*") if ".tmp" in p.name]
        assert not stray, f"{sig.name}: temporary files left: {stray}"
        run_snakemake(wd, "--unlock", "--configfile", "config/tiny.yaml")
        run_snakemake(wd, *targets, "--cores", "1", "--configfile", "config/tiny.yaml")
        for t in targets:
            if t.endswith(".nii.gz"):
                np.testing.assert_array_equal(np.asarray(nib.load(wd / t).dataobj),
                                              np.asarray(nib.load(tiny_run / t).dataobj), err_msg=t)
