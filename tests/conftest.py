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


def reuse_simulated_cohort(run, wd, configfile="config/tiny.yaml"):
    """Copy the simulated cohort of the finished run ``run`` into the workflow copy ``wd`` and mark it up to date
    (``snakemake --touch``), so that a test there runs only the jobs it is about, not the simulation again."""
    shutil.copytree(run / "resources/simulated", wd / "resources/simulated", dirs_exist_ok=True)
    truth = next((wd / "resources/simulated").glob("*/ground_truth.json"))
    run_snakemake(wd, str(truth.relative_to(wd)), "--touch", "--cores", "1", "--configfile", configfile)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The tiny simulated cohort run once to the final target with ``--cores 3`` (shared by every workflow test).
    test_interruption.py runs some of its jobs again with ``--cores 1`` and compares: a local run gives a
    multi-threaded job at most --cores - 1 threads (fcect.core.scheduling.local_thread_cap), so 3 cores let the
    2-thread jobs of config/tiny.yaml run with 2 threads here, and the comparison covers the threaded code paths.

    Returns the working directory. FCECT_TINY_RUN=<dir> reuses an existing finished run instead.
    """
    reuse = os.environ.get("FCECT_TINY_RUN")
    if reuse:
        return Path(reuse)
    wd = copy_workflow(tmp_path_factory.mktemp("tiny_run"))
    run_snakemake(wd, "--cores", "3", "--configfile", "config/tiny.yaml")
    return wd


# Loads the workflow with Snakemake's API and reports, per rule, what its Snakefile source declares.
# (rule.ruleinfo holds the directives as written; rule.resources already has the defaults merged in.)
_INSPECT = r"""
import json, sys
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings
with SnakemakeApi(OutputSettings()) as api:
    wapi = api.workflow(snakefile=Path("Snakefile"), resource_settings=ResourceSettings(),
                        config_settings=ConfigSettings(configfiles=[Path(p) for p in sys.argv[1:]]))
    wf = wapi._workflow
    out = {}
    for rule in wf.rules:
        info = rule.ruleinfo
        res = dict(info.resources[1]) if info.resources else {}
        out[rule.name] = dict(local=rule.name in wf._localrules or bool(rule.norun), threads=info.threads is not None,
                              threads_value=info.threads if isinstance(info.threads, int) else None,
                              resources=sorted(res), group=info.group, conda=info.conda_env,
                              static={k: v for k, v in res.items() if isinstance(v, (int, float))},
                              script=rule.script,
                              shell=" ".join([rule.shellcmd or ""] + [v for v in rule.params if isinstance(v, str)]),
                              code=[str(f) for f in rule.input if "provenance/code/" in str(f)])
print("RULES-JSON " + json.dumps(out))
"""


def inspect_rules(workdir, *configfiles):
    """{rule: its declared threads, resources, group, conda env, script or shell command and library inputs}."""
    import json

    proc = subprocess.run([sys.executable, "-c", _INSPECT, *configfiles], cwd=workdir, capture_output=True,
                          text=True, timeout=300)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RULES-JSON ")), None)
    assert line, proc.stdout[-2000:] + proc.stderr[-4000:]
    return json.loads(line[len("RULES-JSON "):])
