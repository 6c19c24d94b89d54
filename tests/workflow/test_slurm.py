"""Cluster execution: the tiny cohort through the SLURM profile on a real (one-node, local) SLURM scheduler.

`.ci/services up` (called by .ci/run) installs and starts the cluster; without it these tests skip and say why.
The run uses profiles/slurm-ci (profiles/slurm with the settings a 2-core cluster without slurmdbd needs) and
foundation targets (masks, the validation of the simulated cohort, denoise + seed FC of 4 scans in a SLURM group job).
Checks: every job went through SLURM (job ids in Snakemake's log, one SLURM log per job id, state COMPLETED in
squeue/sacct), and every output is byte for byte that of the local run of the same config (session fixture
``tiny_run``, run with --cores 2).
"""

import hashlib
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from conftest import copy_workflow, reuse_simulated_cohort, run_snakemake, snakemake_cmd

RUN_TIMEOUT_S = int(os.environ.get("FCECT_SLURM_TIMEOUT", "1200"))  # ~3 min on an idle 2-core machine
# Foundation targets, kept small for CI's time budget: the masks, the validation of every scan and the denoising +
# seed FC of 4 scans (HC, excluded HC, TRD pre and post) as one group job "scan" (profiles/slurm-ci). The simulated
# cohort is taken from the local tiny run (conftest.reuse_simulated_cohort): rule validate reads every scan, and
# simulating all 23 through SLURM again would triple the test's time. ~1 min plus the scheduler's polling.
FC_SCANS = [("001", "pre"), ("002", "pre"), ("003", "pre"), ("003", "post")]
TARGETS = ["resources/simulated/tiny/participants.tsv", "results/masks/analysis_mask.nii.gz",
           *[f"results/fc/sub-{s}/ses-{t}/sub-{s}_ses-{t}_desc-denoise_info.json" for s, t in FC_SCANS]]
STATUS_FILE = Path(os.environ.get("FCECT_SERVICES_STATE", os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                                         "fcect-ci-services"))) / "slurm.status"


def _sh(*cmd, timeout=20):
    return subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout)


def slurm_unavailable():
    """None when the local CI cluster answers, else the reason (quoting .ci/services' status when there is one)."""
    hint = ""
    if STATUS_FILE.exists():
        hint = f" [.ci/services: {STATUS_FILE.read_text().strip()}]"
    for exe in ("sinfo", "sbatch", "squeue", "scontrol"):
        if shutil.which(exe) is None:
            return (f"SLURM not available: `{exe}` not found. `.ci/services up` (as root, Debian) installs a "
                    f"one-node cluster for this test{hint}")
    try:
        ping = _sh("scontrol", "ping")
        states = _sh("sinfo", "-h", "-N", "-o", "%T")
    except subprocess.TimeoutExpired:
        return f"SLURM cluster down: scontrol/sinfo timed out{hint}"
    if "UP" not in ping.stdout or states.returncode != 0:
        return f"SLURM cluster down: {(ping.stdout + ping.stderr + states.stderr).strip()[:300]}{hint}"
    if not any(s.strip().rstrip("*~#") in ("idle", "mixed", "allocated") for s in states.stdout.split()):
        return f"SLURM cluster has no usable node (node states: {states.stdout.split()}){hint}"
    cfg = _sh("scontrol", "show", "config").stdout
    name = re.search(r"^ClusterName\s*=\s*(\S+)", cfg, re.M)
    if (name is None or name.group(1) != "localci") and os.environ.get("FCECT_SLURM_TEST") != "1":
        return (f"SLURM cluster {name.group(1) if name else '?'} is not the CI one-node cluster (localci): not "
                "submitting test jobs to it; set FCECT_SLURM_TEST=1 to run against it anyway")
    return None


def slurm_states(job_ids):
    """{job id: state} from sacct where accounting works, else from squeue (slurm.conf keeps finished jobs)."""
    ids = ",".join(job_ids)
    acct = _sh("sacct", "-X", "-n", "-P", "-j", ids, "-o", "JobIDRaw,State,JobName")
    if acct.returncode == 0 and acct.stdout.strip():
        rows = [line.split("|") for line in acct.stdout.splitlines() if line.strip()]
        return {r[0]: r[1].split()[0] for r in rows}, "sacct", rows
    q = _sh("squeue", "--states=all", "-h", "-j", ids, "-o", "%i|%T|%j")
    rows = [line.split("|") for line in q.stdout.splitlines() if line.strip()]
    return {r[0]: r[1] for r in rows}, "squeue", rows


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory, tiny_run):
    reason = slurm_unavailable()
    if reason:
        pytest.skip(reason)
    wd = copy_workflow(tmp_path_factory.mktemp("slurm_run"))
    reuse_simulated_cohort(tiny_run, wd)
    # targets first: --configfile takes every following word
    args = [*TARGETS, "--workflow-profile", "profiles/slurm-ci", "--configfile", "config/tiny.yaml"]
    t0 = time.monotonic()
    # GNU timeout sends SIGTERM first: Snakemake then cancels its SLURM jobs (scancel) before exiting
    proc = subprocess.run(["timeout", "-k", "30", str(RUN_TIMEOUT_S), *snakemake_cmd(*args)], cwd=wd,
                          capture_output=True, text=True, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    elapsed = time.monotonic() - t0
    log = proc.stdout + proc.stderr
    job_ids = re.findall(r"submitted with SLURM jobid (\d+)", log)
    if proc.returncode != 0:
        if job_ids:
            _sh("scancel", *job_ids)
        run_snakemake(wd, "--unlock", "--configfile", "config/tiny.yaml", check=False)
        slurm_logs = "\n".join(f"--- {p}\n{p.read_text()[-1500:]}"
                               for p in sorted((wd / "logs/slurm").rglob("*.log"))[-3:])
        timed_out = ", timed out" if proc.returncode == 124 else ""
        pytest.fail(f"snakemake through SLURM failed (exit {proc.returncode}{timed_out}, {elapsed:.0f} s):\n"
                    f"{log[-6000:]}\n{slurm_logs}")
    print(f"\nSLURM run of the tiny foundation stage: {elapsed:.1f} s, {len(job_ids)} SLURM jobs")
    return dict(wd=wd, log=log, job_ids=job_ids, elapsed=elapsed)


def test_jobs_went_through_slurm(slurm_run):
    wd, log, ids = slurm_run["wd"], slurm_run["log"], slurm_run["job_ids"]
    # masks, validate + the scan group job (4 scans, up to 12 per job)
    assert len(ids) == len(set(ids)) >= 2 + 1, log[-3000:]
    assert "localrule simulate_scan" not in log and "localrule denoise_fc" not in log
    # one SLURM log per job id (logs/slurm/<rule_x | group_scan | group_simulate>/.../<jobid>.log), kept by the CI profile
    logs = {p.stem: p for p in (wd / "logs/slurm").rglob("*.log")}
    assert set(ids) <= set(logs), (sorted(ids), sorted(logs))
    group_logs = [p for p in logs.values() if "group_" in str(p.relative_to(wd))]
    assert len(group_logs) >= 1, sorted(logs.values())
    # the group job ran the denoising of the 4 scans in one SLURM allocation
    text = "\n".join(p.read_text() for p in group_logs)
    assert "Group job scan" in text, text[-3000:]
    targets = set(re.findall(r"\b(simulate_scan|denoise_fc):sub=(\w+),ses=(\w+)", text))  # --target-jobs
    assert {(s, t) for r, s, t in targets if r == "denoise_fc"} == set(FC_SCANS), sorted(targets)
    # the scheduler knows every job, finished and COMPLETED, under the run's job name
    states, tool, rows = slurm_states(ids)
    assert set(states) == set(ids), (tool, rows)
    assert set(states.values()) == {"COMPLETED"}, (tool, rows)


def _sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_slurm_outputs_equal_local_run(slurm_run, tiny_run):
    """Every output of the SLURM run (results/**: FC maps, masks, the seed and validation tables, the denoising
    records; summary.json too when the targets reach it) is byte for byte the local run's; an image that differs
    is also compared voxel by voxel, to say by how much. (The simulated cohort is not compared: it is a copy of the
    local run's, conftest.reuse_simulated_cohort.)"""
    wd = slurm_run["wd"]
    outputs = sorted(str(p.relative_to(wd)) for p in (wd / "results").rglob("*") if p.is_file())
    maps = [f for f in outputs if f.endswith("_desc-fcz_stat.nii.gz")]
    assert len(maps) == len(FC_SCANS) * 7, maps
    assert {"results/masks/analysis_mask.nii.gz", "results/masks/seeds.nii.gz", "results/masks/seeds.tsv",
            "results/qc/validation.tsv"} <= set(outputs), outputs
    assert len([f for f in outputs if f.endswith("_desc-denoise_info.json")]) == len(FC_SCANS), outputs
    missing = [f for f in outputs if not (tiny_run / f).is_file()]
    assert not missing, f"outputs of the SLURM run that the local run does not have: {missing}"
    differ = []
    for f in outputs:
        if _sha(wd / f) != _sha(tiny_run / f):
            how = ""
            if f.endswith(".nii.gz"):
                a, b = nib.load(wd / f), nib.load(tiny_run / f)
                same_grid = a.shape == b.shape and np.array_equal(a.affine, b.affine)
                how = (f" (max |SLURM - local| {np.abs(a.get_fdata() - b.get_fdata()).max():.3g})" if same_grid
                       else f" (grid {a.shape} vs {b.shape})")
            differ.append(f + how)
    assert not differ, "outputs of the SLURM run that differ from the local run's:\n" + "\n".join(differ)
