"""Workflow: lint, a dry-run matrix over config variants (seconds), and the tiny cohort run to the end."""

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import copy_workflow, run_snakemake


@pytest.fixture(scope="module")
def wf(tmp_path_factory):
    return copy_workflow(tmp_path_factory.mktemp("wf"))


def test_lint_is_clean(wf):
    proc = run_snakemake(wf, "--lint", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "Congratulations" in out, out[-3000:]


def _dry(wf, *extra):
    proc = run_snakemake(wf, "-n", "--quiet", "rules", *extra)
    return proc.stdout + proc.stderr


def _write(wf, name, cfg):
    path = wf / "config" / name
    path.write_text(yaml.safe_dump(cfg))
    return f"config/{name}"


@pytest.mark.parametrize("variant", ["default", "tiny", "36p", "acompcor", "scrubbing", "none", "jenkinson",
                                     "null"])
def test_dry_run_matrix(wf, variant):
    if variant == "default":
        out = _dry(wf)
        assert "denoise_fc" in out
        return
    cfgs = ["config/tiny.yaml"]
    if variant in ("36p", "acompcor", "scrubbing", "none"):
        cfgs.append(_write(wf, f"v_{variant}.yaml", {"denoise": {"preset": variant}}))
    elif variant == "jenkinson":
        cfgs.append(_write(wf, "v_j.yaml", {"qc": {"fd_method": "jenkinson"}}))
    elif variant == "null":
        cfgs.append(_write(wf, "v_null.yaml", {"simulate": {"null_cohort": True, "name": "tinynull"}}))
    out = _dry(wf, "--configfile", *cfgs)
    assert "simulate_scan" in out


def test_dry_run_custom_seeds(wf):
    seeds = pd.read_csv(wf / "config/seeds.tsv", sep="\t").iloc[[2, 4]]
    seeds.to_csv(wf / "config/my_seeds.tsv", sep="\t", index=False)
    cfg = _write(wf, "v_seeds.yaml", {"seeds": {"table": "config/my_seeds.tsv"}})
    proc = run_snakemake(wf, "-n", "--configfile", "config/tiny.yaml", cfg)
    assert "seed-Exec2L" in proc.stdout and "seed-Exec1L" not in proc.stdout


def test_dry_run_fmriprep_input(wf, tmp_path):
    """fMRIPrep derivatives from a given folder: file names as in docs/ARCHITECTURE.md (fMRIPrep 21+)."""
    root = tmp_path / "fmriprep"
    part = pd.DataFrame(dict(participant_id=["sub-p1", "sub-p2", "sub-c1", "sub-c2"], group=["TRD", "TRD", "HC", "HC"],
                             age=[30, 40, 35, 50], sex=["F", "M", "F", "M"], education=[12, 14, 16, 10],
                             hamd_pre=[22, 25, 2, 1], hamd_post=["10", "n/a", "n/a", "n/a"]))
    part.to_csv(tmp_path / "participants.tsv", sep="\t", index=False)
    scans = [("p1", "pre"), ("p1", "post"), ("p2", "pre"), ("c1", "pre"), ("c2", "pre")]
    for sub, ses in scans:
        d = root / f"sub-{sub}" / f"ses-{ses}" / "func"
        d.mkdir(parents=True)
        stem = f"sub-{sub}_ses-{ses}_task-rest"
        for suffix in ["space-MNI152NLin2009cAsym_res-2_desc-preproc_bold.nii.gz",
                       "space-MNI152NLin2009cAsym_res-2_desc-preproc_bold.json",
                       "space-MNI152NLin2009cAsym_res-2_desc-brain_mask.nii.gz", "desc-confounds_timeseries.tsv"]:
            (d / f"{stem}_{suffix}").write_text("")
    cfg = _write(wf, "v_fp.yaml", {"input_source": "fmriprep",
                                   "inputs": {"fmriprep_dir": str(root),
                                              "participants": str(tmp_path / "participants.tsv")}})
    proc = run_snakemake(wf, "-n", "--configfile", cfg)
    assert "simulate_scan" not in proc.stdout and "sub-p1/ses-post" in proc.stdout
    # a missing file is named before anything runs
    (root / "sub-p1/ses-post/func/sub-p1_ses-post_task-rest_desc-confounds_timeseries.tsv").unlink()
    proc = run_snakemake(wf, "-n", "--configfile", cfg, check=False)
    assert proc.returncode != 0
    assert "sub-p1_ses-post_task-rest_desc-confounds_timeseries.tsv: missing confounds file" in \
        proc.stdout + proc.stderr


def test_invalid_config_is_rejected(wf):
    cfg = _write(wf, "v_bad.yaml", {"denoise": {"preset": "magic"}})
    proc = run_snakemake(wf, "-n", "--configfile", cfg, check=False)
    assert proc.returncode != 0 and "magic" in proc.stdout + proc.stderr


# ------------------------------------------------------------------------------------------ tiny full run
def test_tiny_run_foundation_outputs(tiny_run):
    wd = tiny_run
    motion = pd.read_csv(wd / "results/qc/motion.tsv", sep="\t")
    part = pd.read_csv(wd / "results/qc/participants_included.tsv", sep="\t")
    assert len(motion) == 8 + 8 + 7
    assert (~motion.included).sum() == 2  # the two planted motion outliers
    assert part.included_ect.sum() == 6 and part[part.group == "HC"].included_baseline.sum() == 7
    assert set(motion.fd_method) == {"power"}
    gt = json.loads((wd / "resources/simulated/tiny/ground_truth.json").read_text())
    assert len(gt["scans"]) == len(motion)
    amask = nib.load(wd / "results/masks/analysis_mask.nii.gz")
    img = nib.load(next((wd / "results/fc").rglob("*seed-Exec2L_desc-fcz_stat.nii.gz")))
    assert img.shape == amask.shape and np.allclose(img.affine, amask.affine)
    data = np.asarray(img.dataobj)
    m = np.asarray(amask.dataobj) > 0
    assert np.all(data[~m] == 0) and np.isfinite(data).all() and np.abs(data[m]).max() > 0


def test_tiny_run_recovers_planted_coupling(tiny_run):
    """Subject-mean FC between the planted seeds and their targets exceeds FC with the control region (V1); the
    null seed shows nothing beyond its own (group-independent) target. 15 subjects x 90 volumes at 6 mm: single
    pairs are noisy (t 0-2.5), so the planted couplings are tested pooled per subject (a one-sample t over
    subjects, one-sided p < .01), and each planted seed averaged over its targets (fcect.testing.planted)."""
    from fcect.testing.planted import assert_planted_coupling

    assert_planted_coupling(tiny_run)


@pytest.mark.parametrize("cfg, word", [({"grup": {"n_perm": 10}}, "grup"),
                                       ({"group": {"n_prem": 10}}, "n_prem")])
def test_unknown_config_key_is_rejected(wf, cfg, word):
    """A misspelt key is an error at every level, never silently ignored."""
    proc = run_snakemake(wf, "-n", "--configfile", _write(wf, "v_typo.yaml", cfg), check=False)
    assert proc.returncode != 0 and word in proc.stdout + proc.stderr
