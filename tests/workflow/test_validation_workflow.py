"""Workflow: a bad scan stops the run at rule validate, with the file named, before any denoise_fc job starts."""

import json

import nibabel as nib
import numpy as np
import pandas as pd
import yaml

from conftest import copy_workflow, run_snakemake

from fcect.core.motion import MOTION
from fcect.core.paths import fmriprep_paths


def _write_cohort(root, participants):
    """A small cohort in the fMRIPrep layout: 6 mm grid (the brain from nilearn's MNI152 mask), 50 volumes."""
    from fcect.preprocess.masks import tissue_probability
    from fcect.simulate.anatomy import sim_grid

    affine, shape = sim_grid(6.0)
    brain = tissue_probability("brain", affine, shape) > 0.5
    part = pd.DataFrame(dict(participant_id=["sub-p1", "sub-p2", "sub-c1", "sub-c2"], group=["TRD", "TRD", "HC", "HC"],
                             age=[30, 40, 35, 50], sex=["F", "M", "F", "M"], education=[12, 14, 16, 10],
                             hamd_pre=[22, 25, 2, 1], hamd_post=["10", "n/a", "n/a", "n/a"]))
    part.to_csv(participants, sep="\t", index=False)
    scans = [("p1", "pre"), ("p1", "post"), ("p2", "pre"), ("c1", "pre"), ("c2", "pre")]
    rng = np.random.default_rng(0)
    n = 50
    for sub, ses in scans:
        p = fmriprep_paths(root, sub, ses)
        p["bold"].parent.mkdir(parents=True)
        data = np.zeros(shape + (n,), np.float32)
        data[brain] = 1000 + 10 * rng.standard_normal((brain.sum(), n))
        img = nib.Nifti1Image(data, affine)
        img.header.set_xyzt_units("mm", "sec")
        img.header["pixdim"][4] = 2.0
        nib.save(img, p["bold"])
        nib.save(nib.Nifti1Image(brain.astype(np.uint8), affine), p["mask"])
        cols = {}
        for c in MOTION + ["white_matter", "csf"]:
            x = 0.01 * rng.standard_normal(n)
            d = np.r_[np.nan, np.diff(x)]
            cols.update({c: x, f"{c}_derivative1": d, f"{c}_power2": x ** 2, f"{c}_derivative1_power2": d ** 2})
        cols["framewise_displacement"] = np.r_[np.nan, np.full(n - 1, 0.05)]
        pd.DataFrame(cols).to_csv(p["confounds"], sep="\t", index=False, na_rep="n/a")
        p["bold_json"].write_text(json.dumps({"RepetitionTime": 2.0}))
    return scans


def test_bad_scan_stops_the_run_at_validate(tmp_path):
    wd = copy_workflow(tmp_path / "wf")
    root = tmp_path / "fmriprep"
    scans = _write_cohort(root, tmp_path / "participants.tsv")
    bad = fmriprep_paths(root, "c2", "pre")["bold"]
    raw = bad.read_bytes()
    bad.write_bytes(raw[: len(raw) // 2])  # an interrupted copy
    cfg = wd / "config/v_fmriprep.yaml"
    cfg.write_text(yaml.safe_dump({"input_source": "fmriprep", "inputs": {
        "fmriprep_dir": str(root), "participants": str(tmp_path / "participants.tsv")}}))
    # every denoise_fc job and the QC table would run, but only after validate
    proc = run_snakemake(wd, "--cores", "1", "--configfile", "config/tiny.yaml", str(cfg), "--until", "denoise_fc",
                         "qc_table", check=False, timeout=300)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0, out[-3000:]
    assert "Error in rule validate" in out, out[-3000:]
    assert "input validation failed: 1 error(s) in 1 file(s)" in out and str(bad) in out, out[-3000:]
    table = pd.read_csv(wd / "logs/preprocess/validation.tsv", sep="\t")
    assert list(table[table.severity == "error"].file) == [str(bad)], table
    assert not (wd / "results/qc/validation.tsv").exists()
    # no denoising job started: no FC map, no denoise_fc log, and none of them announced
    assert not (wd / "results/fc").exists() and not (wd / "logs/preprocess/denoise_fc").exists()
    assert "rule denoise_fc:" not in out and "rule qc_table:" not in out, out[-3000:]
    assert len(scans) == 5
