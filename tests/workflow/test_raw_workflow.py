"""Workflow: raw BIDS input (input_source bids) and the simulated raw cohorts (config/raw_demo.yaml,
config/raw_full.yaml) build the raw stage's jobs before the usual ones, and a bad BIDS folder stops the parse
with every problem named (dry runs)."""

import json

import pandas as pd
import pytest
import yaml

from conftest import copy_workflow, run_snakemake


def _bids(root, t1w=True):
    part = pd.DataFrame(dict(participant_id=["sub-p1", "sub-p2", "sub-c1", "sub-c2"], group=["TRD", "TRD", "HC", "HC"],
                             age=[30, 40, 35, 50], sex=["F", "M", "F", "M"], education=[12, 14, 16, 10],
                             hamd_pre=[22, 25, 2, 1], hamd_post=["10", "n/a", "n/a", "n/a"]))
    root.mkdir(parents=True)
    part.to_csv(root / "participants.tsv", sep="\t", index=False)
    for sub, ses in [("p1", "pre"), ("p1", "post"), ("p2", "pre"), ("c1", "pre"), ("c2", "pre")]:
        f = root / f"sub-{sub}/ses-{ses}/func/sub-{sub}_ses-{ses}_task-rest_bold.nii.gz"
        f.parent.mkdir(parents=True)
        f.write_bytes(b"")
        f.with_name(f.name.replace(".nii.gz", ".json")).write_text(json.dumps({"RepetitionTime": 2.0}))
    for sub in (["p1", "p2", "c1", "c2"] if t1w else ["p1", "p2", "c2"]):
        a = root / f"sub-{sub}/anat/sub-{sub}_T1w.nii.gz"
        a.parent.mkdir(parents=True)
        a.write_bytes(b"")


def _jobs(proc):
    import re
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)\s*$", proc.stdout + proc.stderr, flags=re.M)}


@pytest.fixture(scope="module")
def wd(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("rawwf"))


def test_bids_input_dry_run(wd, tmp_path):
    _bids(tmp_path / "bids")
    # BIDS inheritance: sub-c2 has no sidecar of its own; the dataset's top-level task-rest_bold.json applies to it
    (tmp_path / "bids/sub-c2/ses-pre/func/sub-c2_ses-pre_task-rest_bold.json").unlink()
    (tmp_path / "bids/task-rest_bold.json").write_text(json.dumps({"RepetitionTime": 2.0}))
    cfg = yaml.safe_load((wd / "config/tiny.yaml").read_text())
    cfg.update(input_source="bids", inputs={"bids_dir": str(tmp_path / "bids")})
    (wd / "config/bids_test.yaml").write_text(yaml.safe_dump(cfg))
    jobs = _jobs(run_snakemake(wd, "-n", "--quiet", "rules", "--configfile", "config/bids_test.yaml"))
    assert jobs["preprocess_raw"] == 5 and jobs["raw_registration_qc"] == 1 and jobs["denoise_fc"] == 5
    assert jobs["preprocess_anat"] == 4  # the T1w -> MNI registration once per subject (p1 has two sessions)
    assert "simulate_scan" not in jobs
    out = run_snakemake(wd, "-n", "results/qc/motion.tsv", "--configfile", "config/bids_test.yaml").stdout
    assert "results/preproc/sub-p1/ses-post/func/sub-p1_ses-post_task-rest_space-MNI152NLin2009cAsym_res-2_" \
           "desc-preproc_bold.nii.gz" in out
    assert "results/qc/registration.tsv" in out
    assert "results/preproc/sub-p1/anat/sub-p1_from-T1w_to-MNI152NLin2009cAsym_mode-image_xfm.h5" in out
    top = str(tmp_path / "bids/task-rest_bold.json")
    c2 = run_snakemake(wd, "-n", "-p", "results/qc/raw/sub-c2_ses-pre_qc.json", "--configfile",
                       "config/bids_test.yaml").stdout
    assert f"--bold-json {top} --t1w" in c2  # the inherited sidecar is the job's declared input and argument
    p1 = run_snakemake(wd, "-n", "-p", "results/qc/raw/sub-p1_ses-pre_qc.json", "--configfile",
                       "config/bids_test.yaml").stdout
    assert f"--bold-json {top} {tmp_path}/bids/sub-p1/ses-pre/func/sub-p1_ses-pre_task-rest_bold.json --t1w" in p1


def test_bids_problems_named_at_parse(wd, tmp_path):
    _bids(tmp_path / "bids", t1w=False)
    (tmp_path / "bids/sub-p1/ses-pre/func/sub-p1_ses-pre_task-rest_bold.json").unlink()
    cfg = yaml.safe_load((wd / "config/tiny.yaml").read_text())
    cfg.update(input_source="bids", inputs={"bids_dir": str(tmp_path / "bids")})
    (wd / "config/bids_bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = run_snakemake(wd, "-n", "--configfile", "config/bids_bad.yaml", check=False)
    assert proc.returncode != 0
    text = proc.stdout + proc.stderr
    assert "2 problem(s)" in text and "missing JSON sidecar" in text and "sub-c1 ses-pre: no T1w" in text


def test_raw_demo_dry_run_and_lint(wd):
    jobs = _jobs(run_snakemake(wd, "-n", "--quiet", "rules", "--configfile", "config/raw_demo.yaml"))
    assert jobs["simulate_raw_scan"] == jobs["preprocess_raw"] == jobs["denoise_fc"] == 23
    assert jobs["simulate_raw_t1w"] == jobs["preprocess_anat"] == 16 and "simulate_scan" not in jobs
    lint = run_snakemake(wd, "--lint", "--configfile", "config/raw_demo.yaml", check=False)
    assert "Lints for rule preprocess_raw" not in lint.stdout + lint.stderr, lint.stdout[-3000:]
    assert "Lints for rule preprocess_anat" not in lint.stdout + lint.stderr, lint.stdout[-3000:]
    assert "Lints for rule simulate_raw" not in lint.stdout + lint.stderr, lint.stdout[-3000:]


def test_raw_full_dry_run(wd):
    """config/raw_full.yaml: the default cohort (189 scans of 136 subjects) through the raw stage."""
    jobs = _jobs(run_snakemake(wd, "-n", "--quiet", "rules", "--configfile", "config/raw_full.yaml"))
    assert jobs["simulate_raw_scan"] == jobs["preprocess_raw"] == jobs["denoise_fc"] == 189
    assert jobs["simulate_raw_t1w"] == jobs["preprocess_anat"] == 136 and "simulate_scan" not in jobs
