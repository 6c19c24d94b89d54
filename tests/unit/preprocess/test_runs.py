"""Several runs per session (inputs.run): which files each setting reads, the errors, and with ``concatenate`` the
denoising of each run on its own, the FC of the concatenated cleaned series and the motion QC over all runs.

Each test writes a small cohort in the fMRIPrep-derivatives layout with run entities (8 mm grid, 30 volumes).
"""

import json
from functools import lru_cache

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from fcect.core.io import InputError, save_tsv
from fcect.core.motion import MOTION
from fcect.core.paths import fmriprep_paths, fmriprep_runs, sort_runs
from fcect.preprocess.denoise import denoise_scan
from fcect.preprocess.fc import fisher_z
from fcect.preprocess.qc import scan_motion
from fcect.preprocess.run import denoise_and_fc, per_scan, qc_tables
from fcect.preprocess.validate import ValidationError, check_fmriprep_files, run_validation, select_runs

from conftest import REPO

SCHEMA = REPO / "config/schema/participants.schema.yaml"
SPACE = "MNI152NLin2009cAsym"
SCANS = [("p1", "pre"), ("p1", "post"), ("c1", "pre")]
DENOISE = dict(preset="dpabi", drop_volumes=2, min_volumes=20, fd_threshold=0.5, censor_neighbors=[1, 2],
               high_pass=0.01, low_pass=0.1, fwhm=0, detrend=True)
QC = dict(fd_method="power", max_translation_mm=3.0, max_rotation_deg=3.0, max_mean_fd=0.5, min_remaining_volumes=10)
N_VOL, TR = 60, 2.0


@lru_cache(maxsize=1)
def _grid():
    from fcect.preprocess.masks import tissue_probability
    from fcect.simulate.anatomy import sim_grid

    affine, shape = sim_grid(8.0)
    return affine, tissue_probability("brain", affine, shape) > 0.5


def write_run(root, sub, ses, run, n_vol=N_VOL, tr=TR, seed=0, data=None, motion_scale=0.01):
    """One run (run=None: names without run entity): BOLD, mask, confounds, sidecar. Returns its paths."""
    affine, brain = _grid()
    rng = np.random.default_rng(seed)
    if data is None:
        data = np.zeros(brain.shape + (n_vol,), np.float32)
        data[brain] = 1000 + 10 * rng.standard_normal((brain.sum(), n_vol))
    paths = fmriprep_paths(root, sub, ses, space=SPACE, run=run)
    paths["bold"].parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = tr
    nib.save(img, paths["bold"])
    nib.save(nib.Nifti1Image(brain.astype(np.uint8), affine), paths["mask"])
    cols = {}
    for c in MOTION + ["white_matter", "csf", "global_signal"]:
        x = motion_scale * rng.standard_normal(n_vol)
        d = np.r_[np.nan, np.diff(x)]
        cols.update({c: x, f"{c}_derivative1": d, f"{c}_power2": x ** 2, f"{c}_derivative1_power2": d ** 2})
    cols["framewise_displacement"] = np.r_[np.nan, np.abs(0.05 * rng.standard_normal(n_vol - 1))]
    save_tsv(pd.DataFrame(cols), paths["confounds"], float_format="%.6g")
    paths["bold_json"].write_text(json.dumps({"RepetitionTime": tr}))
    return paths


def two_run_cohort(root, runs=("1", "2")):
    for k, (sub, ses) in enumerate(SCANS):
        for j, run in enumerate(runs):
            write_run(root, sub, ses, run, seed=10 * k + j)
    return root


def _part():
    return pd.DataFrame(dict(participant_id=["sub-p1", "sub-p2", "sub-c1", "sub-c2"], group=["TRD", "TRD", "HC", "HC"],
                             age=[30, 40, 35, 50], sex=["F", "M", "F", "M"], education=[12, 14, 16, 10],
                             hamd_pre=[22, 25, 2, 1], hamd_post=[10, np.nan, np.nan, np.nan]))


# ------------------------------------------------------------------------------------------ which runs are read
def test_fmriprep_paths_with_run_entity(tmp_path):
    p = fmriprep_paths(tmp_path, "X", "Y", run="1")
    assert p["bold"].name == f"sub-X_ses-Y_task-rest_run-1_space-{SPACE}_res-2_desc-preproc_bold.nii.gz"
    assert p["bold_json"].name == f"sub-X_ses-Y_task-rest_run-1_space-{SPACE}_res-2_desc-preproc_bold.json"
    assert p["mask"].name == f"sub-X_ses-Y_task-rest_run-1_space-{SPACE}_res-2_desc-brain_mask.nii.gz"
    assert p["confounds"].name == "sub-X_ses-Y_task-rest_run-1_desc-confounds_timeseries.tsv"
    assert fmriprep_paths(tmp_path, "X", "Y")["bold"].name == \
        f"sub-X_ses-Y_task-rest_space-{SPACE}_res-2_desc-preproc_bold.nii.gz"
    assert sort_runs(["10", "2", "1"]) == ["1", "2", "10"] and sort_runs(["b", "a"]) == ["a", "b"]


def test_first_label_and_concatenate_pick_the_right_runs(tmp_path):
    root = two_run_cohort(tmp_path / "fmriprep", runs=("2", "10"))  # numeric order: 2 before 10
    assert fmriprep_runs(root, "p1", "pre", space=SPACE) == ["2", "10"]
    assert select_runs(SCANS, root, "first", space=SPACE) == {s: ["2"] for s in SCANS}
    assert select_runs(SCANS, root, "10", space=SPACE) == {s: ["10"] for s in SCANS}
    assert select_runs(SCANS, root, "concatenate", space=SPACE) == {s: ["2", "10"] for s in SCANS}
    runs = select_runs(SCANS, root, "concatenate", space=SPACE)
    check_fmriprep_files(SCANS, lambda s, t, r: fmriprep_paths(root, s, t, space=SPACE, run=r), runs=runs)


def test_absent_label_names_the_scan_and_the_runs_found(tmp_path):
    root = two_run_cohort(tmp_path / "fmriprep")
    write_run(root, "c1", "pre", "3", seed=99)  # only c1 has a run 3
    with pytest.raises(InputError) as err:
        select_runs(SCANS, root, "3", space=SPACE)
    msg = str(err.value)
    assert "sub-p1 ses-pre has no run 3" in msg and "sub-p1 ses-post has no run 3" in msg, msg
    assert "runs found: 1, 2" in msg and "sub-c1" not in msg, msg


def test_run_null_with_run_entity_files_says_to_set_inputs_run(tmp_path):
    root = two_run_cohort(tmp_path / "fmriprep")
    with pytest.raises(InputError) as err:
        select_runs(SCANS, root, None, space=SPACE)
    msg = str(err.value)
    assert "set inputs.run" in msg and "sub-p1 ses-pre" in msg and "run-1, run-2" in msg, msg


def test_no_run_found_and_scan_without_run_entity(tmp_path):
    root = two_run_cohort(tmp_path / "fmriprep")
    write_run(root, "p2", "pre", None)  # a session's only run: fMRIPrep leaves the run entity out
    assert select_runs([("p2", "pre")], root, "first", space=SPACE) == {("p2", "pre"): [None]}
    assert select_runs([("p2", "pre")], root, None, space=SPACE) == {("p2", "pre"): [None]}
    with pytest.raises(InputError, match="no BOLD file of sub-p3 ses-pre found"):
        select_runs([("p3", "pre")], root, "concatenate", space=SPACE)


# ------------------------------------------------------------------------------------------ concatenate: FC and QC
def _masks(tmp_path):
    """Analysis mask (the brain), two seed volumes (a few brain voxels each), seeds table."""
    affine, brain = _grid()
    idx = np.argwhere(brain)
    seeds = np.zeros(brain.shape + (2,), np.uint8)
    for k, rows in enumerate((idx[:4], idx[-4:])):
        seeds[tuple(rows.T) + (k,)] = 1
    nib.save(nib.Nifti1Image(brain.astype(np.uint8), affine), tmp_path / "analysis.nii.gz")
    nib.save(nib.Nifti1Image(seeds, affine), tmp_path / "seeds.nii.gz")
    save_tsv(pd.DataFrame(dict(seed_id=["A", "B"])), tmp_path / "seeds.tsv")
    return brain, seeds.astype(bool)


def _fc(tmp_path, files, runs, name):
    out = tmp_path / name
    out.mkdir()
    maps = [out / "A.nii.gz", out / "B.nii.gz"]
    info = denoise_and_fc([str(f["bold"]) for f in files], [str(f["confounds"]) for f in files],
                          [str(f["bold_json"]) for f in files], tmp_path / "analysis.nii.gz",
                          tmp_path / "seeds.nii.gz", tmp_path / "seeds.tsv", DENOISE, ["A", "B"], maps,
                          out / "info.json", runs=runs)
    return np.stack([np.asarray(nib.load(m).dataobj) for m in maps]), info


def test_concatenated_fc_equals_the_fc_of_the_concatenated_cleaned_runs(tmp_path):
    root = tmp_path / "fmriprep"
    affine, _ = _grid()
    files = [write_run(root, "p1", "pre", "1", seed=1), write_run(root, "p1", "pre", "2", n_vol=50, tr=2.5, seed=2)]
    brain, seeds = _masks(tmp_path)
    z, info = _fc(tmp_path, files, ["1", "2"], "concat")
    # by hand: each run denoised on its own, cleaned series (each centred on its own mean: nilearn's cleaned
    # series keep an offset, which would otherwise act as a between-run step) concatenated, correlated
    union = brain | seeds.any(axis=-1)
    Ys = [denoise_scan(f["bold"], f["confounds"], f["bold_json"], union, affine, DENOISE)[0] for f in files]
    Y = np.concatenate([y - y.mean(axis=0) for y in Ys])
    col = np.full(brain.shape, -1)
    col[union] = np.arange(union.sum())
    ref = np.zeros_like(z)
    for k in range(2):
        s = Y[:, col[seeds[..., k]]].mean(axis=1)
        for v, c in zip(np.argwhere(brain), col[brain]):
            ref[(k,) + tuple(v)] = fisher_z(np.corrcoef(s, Y[:, c])[0, 1])
    np.testing.assert_allclose(z, ref, atol=1e-6)
    # each run with its own TR and volumes, recorded in the denoise info
    saved = json.loads((tmp_path / "concat/info.json").read_text())
    assert saved["runs"] == ["1", "2"] and [r["tr"] for r in saved["per_run"]] == [2.0, 2.5]
    assert saved["tr"] == [2.0, 2.5] and saved["n_volumes_used"] == (N_VOL - 2) + (50 - 2) == Y.shape[0]
    assert saved["bold_files"] == [str(f["bold"]) for f in files]
    assert info["runs"] == ["1", "2"]


def test_two_identical_runs_give_the_fc_of_one_run(tmp_path):
    root = tmp_path / "fmriprep"
    one = write_run(root, "p1", "pre", "1", seed=5)
    two = write_run(root, "p1", "pre", "2", seed=5)  # same data, same confounds
    _masks(tmp_path)
    z1, _ = _fc(tmp_path, [one], ["1"], "one")
    z2, info = _fc(tmp_path, [one, two], ["1", "2"], "two")
    np.testing.assert_allclose(z2, z1, atol=1e-6)
    assert info["n_volumes_used"] == 2 * (N_VOL - 2)
    # and a single run given as one path: the same FC (the runs recorded)
    _, info1 = denoise_scan(one["bold"], one["confounds"], one["bold_json"], _grid()[1], _grid()[0], DENOISE,
                            runs=["1"])
    assert info1["runs"] == ["1"]


def test_motion_qc_over_all_runs(tmp_path):
    root = tmp_path / "fmriprep"
    calm = write_run(root, "p1", "pre", "1", seed=1, motion_scale=0.01)
    wild = write_run(root, "p1", "pre", "2", seed=2, motion_scale=0.2, n_vol=45)
    confs = [pd.read_csv(p["confounds"], sep="\t", na_values="n/a") for p in (calm, wild)]
    each = [scan_motion(c, 2) for c in confs]
    both = scan_motion(confs, 2, path=[str(calm["confounds"]), str(wild["confounds"])])
    assert both["max_translation_mm"] == max(m["max_translation_mm"] for m in each) == each[1]["max_translation_mm"]
    assert both["max_rotation_deg"] == max(m["max_rotation_deg"] for m in each)
    steps = np.concatenate([m["fd"][1:] for m in each])  # every volume's FD, within its run
    assert len(steps) == (N_VOL - 2 - 1) + (45 - 2 - 1)
    assert both["mean_fd"] == pytest.approx(steps.mean(), rel=1e-12)
    assert both["n_volumes"] == (N_VOL - 2) + (45 - 2) and both["n_runs"] == 2
    # the QC table judges the scan as a whole: the calm run alone passes, both runs together do not
    save_tsv(_part(), tmp_path / "participants.tsv")
    qc = dict(QC, max_translation_mm=each[0]["max_translation_mm"] + 1e-6, max_mean_fd=None, max_rotation_deg=90.0)
    flat = [str(calm["confounds"]), str(wild["confounds"])]
    motion, _ = qc_tables(tmp_path / "participants.tsv", SCHEMA, [("p1", "pre")], per_scan(flat, [2]), qc,
                          DENOISE, "pre", "post")
    row = motion.iloc[0]
    assert not row.included and "max translation" in row.reason
    assert row.n_volumes == both["n_volumes"] and row.mean_fd == pytest.approx(both["mean_fd"])
    alone, _ = qc_tables(tmp_path / "participants.tsv", SCHEMA, [("p1", "pre")], [str(calm["confounds"])], qc,
                         DENOISE, "pre", "post")
    assert alone.iloc[0].included


def test_validation_checks_every_run_file(tmp_path):
    root = two_run_cohort(tmp_path / "fmriprep")
    save_tsv(_part(), tmp_path / "participants.tsv")
    runs = select_runs(SCANS, root, "concatenate", space=SPACE)
    kw = dict(task="rest", space=SPACE, res="2", sessions=["pre", "post"], denoise=DENOISE,
              settings=dict(tr_tolerance_s=0.01, max_shift_mm=5.0, volumes_checked=3), schema=SCHEMA,
              out_table=tmp_path / "validation.tsv", log_table=tmp_path / "logs/validation.tsv",
              runs=[runs[s] for s in SCANS])
    table = run_validation(root, tmp_path / "participants.tsv", SCANS, **kw)
    assert not (table.severity == "error").any(), table.to_string()
    bad = fmriprep_paths(root, "c1", "pre", space=SPACE, run="2")["bold"]
    raw = bad.read_bytes()
    bad.write_bytes(raw[: len(raw) // 2])  # an interrupted copy of the second run only
    with pytest.raises(ValidationError) as err:
        run_validation(root, tmp_path / "participants.tsv", SCANS, **kw)
    assert str(bad) in str(err.value), str(err.value)
