"""Shared fixtures: a copy of the workflow per test run, a Snakemake runner, and the tiny run shared by workflow tests."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

def pytest_collection_modifyitems(config, items):
    """Markers from the layout: tests/validity -> validity; tests/workflow and users of the tiny run -> workflow
    and slow (see pytest.ini)."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(REPO / "tests").parts
        if parts[0] == "validity":
            item.add_marker(pytest.mark.validity)
        if parts[0] == "workflow" or "tiny_run" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.workflow)
            item.add_marker(pytest.mark.slow)


WORKFLOW_PARTS = ["Snakefile", "config", "rules", "scripts", "envs", "profiles", "report", "pyproject.toml"]


def copy_workflow(dest: Path) -> Path:
    """Copy the workflow (not results) into ``dest`` so a test run never touches the checkout's results/."""
    dest.mkdir(parents=True, exist_ok=True)
    for part in WORKFLOW_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"), dirs_exist_ok=True)
        elif src.exists():
            shutil.copy2(src, dest / part)
    return dest


def snakemake_cmd(*args):
    exe = Path(sys.executable).with_name("snakemake")
    return [str(exe) if exe.exists() else "snakemake", *args]


def run_snakemake(workdir, *args, check=True, timeout=1800):
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    proc = subprocess.run(snakemake_cmd(*args), cwd=workdir, capture_output=True, text=True, env=env,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-4000:]}\n{proc.stderr[-8000:]}")
    return proc


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The tiny simulated cohort run once to the final target (shared by every workflow test).

    Returns the working directory. FCECT_TINY_RUN=<dir> reuses an existing finished run instead.
    """
    reuse = os.environ.get("FCECT_TINY_RUN")
    if reuse:
        return Path(reuse)
    wd = copy_workflow(tmp_path_factory.mktemp("tiny_run"))
    run_snakemake(wd, "--cores", "2", "--configfile", "config/tiny.yaml")
    return wd
