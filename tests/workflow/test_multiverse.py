"""The multiverse rules rerun only what each choice affects (dry-run job list of a fresh workflow copy)."""
import re

import yaml

from conftest import copy_workflow, run_snakemake

TARGET = "results/multiverse/specifications.tsv"


def _jobs(stdout, text=False):
    """[(rule, {wildcard: value})] of a dry run's job list (with ``text``: and the job's input line)."""
    jobs = []
    for line in stdout.splitlines():
        m = re.match(r"^\s*(?:local)?rule (\w+):", line)
        if m:
            jobs.append((m.group(1), {}, ""))
            continue
        m = re.match(r"^\s+wildcards: (.*)$", line)
        if m and jobs:
            jobs[-1][1].update(dict(kv.split("=", 1) for kv in m.group(1).split(", ")))
        m = re.match(r"^\s+input: (.*)$", line)
        if m and jobs:
            jobs[-1] = (jobs[-1][0], jobs[-1][1], m.group(1))
    return jobs if text else [(r, w) for r, w, _ in jobs]


def test_each_choice_reruns_only_what_it_affects(tmp_path):
    """One dry run (~12 s CPU) of three specifications: FWE method only (no FC job: reads results/fc/), GSR (one
    FC job per scan, its own maps) and seed radius (its seed masks, then one FC job per scan)."""
    wd = copy_workflow(tmp_path / "wf")
    (wd / "mv.yaml").write_text(yaml.safe_dump({"multiverse": {"design": "list", "specifications": [
        {"fwe_method": "maxt"}, {"denoise": "dpabi+gsr"}, {"seed_radius_mm": 12.0}]}}))
    proc = run_snakemake(wd, TARGET, "-n", "--configfile", "config/tiny.yaml", "mv.yaml")
    out = proc.stdout + proc.stderr
    jobs = _jobs(out)
    fc = [w for r, w in jobs if r == "multiverse_fc"]
    n_scans = sum(1 for r, _ in jobs if r == "denoise_fc")
    assert n_scans > 0
    # only the GSR and radius variants are recomputed, once per scan each; the FWE-only spec reuses results/fc/
    assert sorted(w["fcv"] for w in fc) == sorted(["dpabi-gsr_rmain"] * n_scans + ["dpabi_r12"] * n_scans)
    assert [w for r, w in jobs if r == "multiverse_seeds"] == [{"radius": "12"}]
    specs = {"dpabi_rmain_p0.01_maxt", "dpabi-gsr_rmain_p0.01_cluster_extent", "dpabi_r12_p0.01_cluster_extent"}
    assert {w["spec"] for r, w in jobs if r == "multiverse_group"} == specs
    assert {w["spec"] for r, w in jobs if r == "multiverse_headline"} == specs
    # the group job of the FWE-only spec reads the main run's maps, the GSR spec's the variant's
    inputs = {w["spec"]: t for r, w, t in _jobs(out, text=True) if r == "multiverse_group"}
    fwe, gsr = inputs["dpabi_rmain_p0.01_maxt"], inputs["dpabi-gsr_rmain_p0.01_cluster_extent"]
    assert "results/fc/sub-" in fwe and "results/multiverse/fc/" not in fwe
    assert "results/multiverse/fc/dpabi-gsr_rmain/" in gsr and not re.search(r"(^|, )results/fc/sub-", gsr)
