"""Workflow: several runs per session (inputs.run). A dry run over an fMRIPrep-layout cohort with two runs per scan
gives each denoise_fc job the files of the chosen run(s); an absent run label, or run entities with inputs.run null,
stop the run when the workflow is parsed, with the scan named."""

import json
import re

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import copy_workflow, run_snakemake

from fcect.core.motion import MOTION
from fcect.core.paths import fmriprep_paths

SCANS = [("p1", "pre"), ("p1", "post"), ("p2", "pre"), ("c1", "pre"), ("c2", "pre")]
RUNS = ("1", "2")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """Workflow copy and a cohort with two runs per scan (small synthetic 4-D images, 40 volumes)."""
    tmp = tmp_path_factory.mktemp("runs")
    wd = copy_workflow(tmp / "wf")
    root = tmp / "fmriprep"
    pd.DataFrame(dict(participant_id=["sub-p1", "sub-p2", "sub-c1", "sub-c2"], group=["TRD", "TRD", "HC", "HC"],
                      age=[30, 40, 35, 50], sex=["F", "M", "F", "M"], education=[12, 14, 16, 10],
                      hamd_pre=[22, 25, 2, 1], hamd_post=["10", "n/a", "n/a", "n/a"])).to_csv(
        tmp / "participants.tsv", sep="\t", index=False)
    rng = np.random.default_rng(0)
    affine = np.diag([8.0, 8.0, 8.0, 1.0])
    n = 40
    for sub, ses in SCANS:
        for run in RUNS:
            p = fmriprep_paths(root, sub, ses, run=run)
            p["bold"].parent.mkdir(parents=True, exist_ok=True)
            img = nib.Nifti1Image((1000 + 10 * rng.standard_normal((6, 6, 6, n))).astype(np.float32), affine)
            img.header.set_xyzt_units("mm", "sec")
            img.header["pixdim"][4] = 2.0
            nib.save(img, p["bold"])
            nib.save(nib.Nifti1Image(np.ones((6, 6, 6), np.uint8), affine), p["mask"])
            pd.DataFrame({c: 0.01 * rng.standard_normal(n) for c in MOTION}).to_csv(p["confounds"], sep="\t",
                                                                                   index=False)
            p["bold_json"].write_text(json.dumps({"RepetitionTime": 2.0}))
    return wd, root, tmp / "participants.tsv"


def _dry(cohort, run, name):
    wd, root, part = cohort
    cfg = wd / f"config/{name}.yaml"
    cfg.write_text(yaml.safe_dump({"input_source": "fmriprep", "inputs": {
        "fmriprep_dir": str(root), "participants": str(part), "run": run}}))
    proc = run_snakemake(wd, "-n", "--configfile", "config/tiny.yaml", f"config/{name}.yaml", "--until",
                         "denoise_fc", check=False, timeout=600)
    return proc.returncode, proc.stdout + proc.stderr


def _denoise_inputs(out):
    """{(sub, ses): the input line of its denoise_fc job} from a dry run's job list."""
    jobs = {}
    for block in re.findall(r"^\s*rule denoise_fc:\n(.*?)(?=^\s*$)", out, re.M | re.S):
        inputs = re.search(r"^\s*input: (.*)$", block, re.M).group(1)
        wc = dict(re.findall(r"(\w+)=(\w+)", re.search(r"^\s*wildcards: (.*)$", block, re.M).group(1)))
        jobs[(wc["sub"], wc["ses"])] = inputs
    return jobs


@pytest.mark.parametrize("run, expected", [("first", ["1"]), ("2", ["2"]), ("concatenate", ["1", "2"])])
def test_each_setting_reads_the_right_runs(cohort, run, expected):
    rc, out = _dry(cohort, run, f"v_run_{run}")
    assert rc == 0, out[-3000:]
    jobs = _denoise_inputs(out)
    assert set(jobs) == set(SCANS), out[-3000:]
    root = cohort[1]
    for (sub, ses), inputs in jobs.items():
        for r in RUNS:
            files = fmriprep_paths(root, sub, ses, run=r)
            for kind in ("bold", "bold_json", "mask", "confounds"):
                assert (str(files[kind]) in inputs) == (r in expected), (sub, ses, r, kind, inputs)
        assert str(fmriprep_paths(root, sub, ses)["bold"]) not in inputs


def test_absent_run_label_names_the_scan(cohort):
    rc, out = _dry(cohort, "3", "v_run_3")
    assert rc != 0
    assert "sub-p1 ses-pre has no run 3" in out and "runs found: 1, 2" in out, out[-3000:]


def test_run_entities_with_run_null_say_to_set_inputs_run(cohort):
    rc, out = _dry(cohort, None, "v_run_null")
    assert rc != 0
    assert "set inputs.run" in out and "sub-c2 ses-pre" in out, out[-3000:]
