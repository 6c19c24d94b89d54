"""Cluster readiness without a cluster: every rule declares threads, mem_mb and runtime, and dry runs with the
SLURM profiles resolve (profile keys valid, placeholders accepted, every job's resources evaluate)."""

import re

import pytest
import yaml

from conftest import REPO, copy_workflow, inspect_rules, run_snakemake

SENTINEL = 987654  # default-resources value no rule should fall back to



@pytest.fixture(scope="module")
def wf(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("wf_resources"))


@pytest.fixture(scope="module")
def declared(wf):
    return inspect_rules(wf, "config/tiny.yaml")


def test_rule_list_matches_snakemake(wf, declared):
    proc = run_snakemake(wf, "--list-rules", "--configfile", "config/tiny.yaml")
    listed = {x.strip() for x in proc.stdout.splitlines() if re.fullmatch(r"\s*\w+\s*", x)}
    assert listed == set(declared), (sorted(listed), sorted(declared))


def test_every_rule_declares_threads_mem_runtime(declared):
    missing = {name: [k for k, ok in (("threads", r["threads"]), ("mem_mb", "mem_mb" in r["resources"]),
                                       ("runtime", "runtime" in r["resources"])) if not ok]
               for name, r in declared.items() if not r["local"]}
    missing = {k: v for k, v in missing.items() if v}
    assert declared["all"]["local"] and sum(not r["local"] for r in declared.values()) >= 6, declared
    assert not missing, f"rules without declared threads/resources (rule: missing): {missing}"


def test_declared_values_fit_a_cluster_node(declared, wf):
    prof = yaml.safe_load((wf / "profiles/slurm/config.yaml").read_text())
    for name, r in declared.items():
        if r["threads_value"] is not None:
            assert 1 <= r["threads_value"] <= prof["max-threads"], (name, r)
        s = r["static"]
        assert 100 <= s.get("mem_mb", 1000) <= 64000, (name, s)   # MB
        assert 1 <= s.get("runtime", 10) <= 24 * 60, (name, s)     # minutes
    # per-scan jobs are grouped for the cluster (profile: group-components): the denoising of each scan ("scan") and,
    # apart from it (rule validate reads every simulated scan before any denoising), the simulation ("simulate")
    assert declared["denoise_fc"]["group"] == "scan", declared["denoise_fc"]
    assert declared["simulate_scan"]["group"] == "simulate", declared["simulate_scan"]


def test_every_job_resolves_its_resources(wf):
    """Dry run with sentinel defaults: no job falls back to default mem_mb/runtime (callables evaluate)."""
    proc = run_snakemake(wf, "-n", "--workflow-profile", "none", "--configfile", "config/tiny.yaml",
                         "--default-resources", f"mem_mb={SENTINEL}", f"runtime={SENTINEL}")
    out = proc.stdout + proc.stderr
    blocks = re.findall(r"^\s*(rule|localrule) (\w+):\n(.*?)(?=^\s*$)", out, re.M | re.S)
    assert blocks, out[-2000:]
    for kind, name, body in blocks:
        res = re.search(r"resources: (.*)", body)
        assert res, (name, body)
        if kind == "localrule" and name == "all":
            continue
        assert str(SENTINEL) not in res.group(1), f"{name} uses the default resources: {res.group(1)}"


@pytest.mark.parametrize("profile_args", [["--workflow-profile", "profiles/slurm"],
                                          ["--profile", "profiles/slurm"],
                                          ["--workflow-profile", "profiles/slurm-ci"]],
                         ids=["slurm", "slurm-as-profile", "slurm-ci"])
def test_dry_run_with_slurm_profile_resolves(wf, profile_args):
    proc = run_snakemake(wf, "-n", *profile_args, "--configfile", "config/tiny.yaml")
    out = proc.stdout + proc.stderr
    assert "denoise_fc" in out and "simulate_scan" in out
    if profile_args[-1] == "profiles/slurm":
        assert "slurm_account=EDIT_ME_account" in out and "slurm_partition=EDIT_ME_partition" in out


def test_slurm_profiles_are_documented_and_consistent(wf):
    """Every key of the user-facing profile carries a comment; the CI variant differs only where it must."""
    text = (wf / "profiles/slurm/config.yaml").read_text()
    for line in text.splitlines():
        if re.match(r"^[a-z][\w-]*:", line) and line.split(":")[0] not in ("default-resources", "set-resources",
                                                                           "group-components"):
            assert "#" in line, f"undocumented profile line: {line}"
    slurm = yaml.safe_load(text)
    ci = yaml.safe_load((wf / "profiles/slurm-ci/config.yaml").read_text())
    assert slurm["executor"] == ci["executor"] == "slurm"
    assert ci["slurm-status-command"] == "squeue" and ci["slurm-init-seconds-before-status-checks"] <= 5
    assert any(g.startswith("scan=") for g in slurm["group-components"])
    assert {"slurm_account", "slurm_partition", "mem_mb", "runtime"} <= set(slurm["default-resources"])


def test_conda_envs_match_the_pins(wf, declared):
    """`--sdm conda` cannot be run here (no conda, no conda channel reachable: README "Running on a cluster"), so
    check what can be: every rule names an env file that exists, and the main env's pins are requirements.txt's."""
    pins = dict(line.split("==") for line in (REPO / "requirements.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    for name, r in declared.items():
        assert r["conda"], f"rule {name} has no conda: directive"
        # relative to the file that declares it (rules/*.smk or the Snakefile)
        env_file = next((p.resolve() for p in (wf / "rules" / r["conda"], wf / r["conda"]) if p.exists()), None)
        assert env_file is not None, (name, r["conda"])
        env = yaml.safe_load(env_file.read_text())
        assert env.get("dependencies"), env_file
        if env_file.name != "analysis.yaml":
            continue  # other envs exist because they need other pins (abagen: pandas < 2)
        pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
        assert "-e .." in pip, f"{env_file.name} does not install the fcect package (-e ..)"
        for spec in (s for s in pip if "==" in s):
            pkg, ver = spec.split("==")
            assert pins.get(pkg) == ver, f"{env_file.name}: {spec} but requirements.txt pins {pkg}=={pins.get(pkg)}"
