"""The validation stage (rule validate): every bad input is stopped before any heavy job, with the file named, and
every problem of the cohort is reported at once; warnings are listed without stopping the run.

Each test writes a small cohort in the fMRIPrep-derivatives layout (8 mm grid, 30 volumes) with one bad input.
"""

import gzip
import json
from functools import lru_cache

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from fcect.core.io import InputError, save_tsv
from fcect.core.motion import MOTION
from fcect.core.participants import read_participants
from fcect.core.paths import fmriprep_paths
from fcect.preprocess.denoise import PRESETS
from fcect.preprocess.validate import ValidationError, check_fmriprep_files, run_validation

from conftest import REPO

SCHEMA = REPO / "config/schema/participants.schema.yaml"
SPACE = "MNI152NLin2009cAsym"
DENOISE = dict(preset="dpabi", drop_volumes=2, min_volumes=20, fd_threshold=0.5, censor_neighbors=[1, 2])
SETTINGS = dict(tr_tolerance_s=0.01, max_shift_mm=5.0, volumes_checked=3)
SCANS = [("p1", "pre"), ("p1", "post"), ("p2", "pre"), ("c1", "pre"), ("c2", "pre")]
N_VOL, TR = 30, 2.0


@lru_cache(maxsize=1)
def _grid():
    from fcect.preprocess.masks import tissue_probability
    from fcect.simulate.anatomy import sim_grid

    affine, shape = sim_grid(8.0)
    return affine, tissue_probability("brain", affine, shape) > 0.5


def _part():
    return pd.DataFrame(dict(participant_id=["sub-p1", "sub-p2", "sub-c1", "sub-c2"], group=["TRD", "TRD", "HC", "HC"],
                             age=[30, 40, 35, 50], sex=["F", "M", "F", "M"], education=[12, 14, 16, 10],
                             hamd_pre=[22, 25, 2, 1], hamd_post=[10, np.nan, np.nan, np.nan]))


def write_scan(root, sub, ses, n_vol=N_VOL, tr=TR, shift=(0, 0, 0), seed=0):
    """One scan: float32 BOLD (signal in the brain, zeros outside), mask, confounds (first row of derivatives and
    FD n/a, as fMRIPrep writes them), sidecar."""
    affine, brain = _grid()
    affine = affine.copy()
    affine[:3, 3] += shift
    rng = np.random.default_rng(seed)
    data = np.zeros(brain.shape + (n_vol,), np.float32)
    data[brain] = 1000 + 10 * rng.standard_normal((brain.sum(), n_vol))
    paths = fmriprep_paths(root, sub, ses, space=SPACE)
    paths["bold"].parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = tr
    nib.save(img, paths["bold"])
    nib.save(nib.Nifti1Image(brain.astype(np.uint8), affine), paths["mask"])
    cols = {}
    for c in MOTION + ["white_matter", "csf", "global_signal"]:
        x = 0.01 * rng.standard_normal(n_vol)
        d = np.r_[np.nan, np.diff(x)]
        cols.update({c: x, f"{c}_derivative1": d, f"{c}_power2": x ** 2, f"{c}_derivative1_power2": d ** 2})
    cols["framewise_displacement"] = np.r_[np.nan, np.abs(0.05 * rng.standard_normal(n_vol - 1))]
    save_tsv(pd.DataFrame(cols), paths["confounds"], float_format="%.6g")
    paths["bold_json"].write_text(json.dumps({"RepetitionTime": tr, "SkullStripped": False}))
    return paths


def cohort(tmp_path, part=None):
    root = tmp_path / "fmriprep"
    for k, (sub, ses) in enumerate(SCANS):
        write_scan(root, sub, ses, seed=k)
    save_tsv(_part() if part is None else part, tmp_path / "participants.tsv")
    return root


def validate(tmp_path, root, denoise=None, scans=SCANS, **settings):
    return run_validation(root, tmp_path / "participants.tsv", scans, task="rest", space=SPACE, res="2",
                          sessions=["pre", "post"], denoise=dict(DENOISE, **(denoise or {})),
                          settings=dict(SETTINGS, **settings), schema=SCHEMA, out_table=tmp_path / "validation.tsv",
                          log_table=tmp_path / "logs/validation.tsv")


def stopped(tmp_path, root, bad_file, *problem, denoise=None, scans=SCANS):
    """The run stops at validation; the message names ``bad_file`` and the problem; the table survives in the log
    folder (not as the rule's output)."""
    with pytest.raises(ValidationError) as err:
        validate(tmp_path, root, denoise, scans)
    msg = str(err.value)
    assert str(bad_file) in msg, msg
    for p in problem:
        assert p in msg, msg
    assert "logs/validation.tsv" in msg and not (tmp_path / "validation.tsv").exists()
    table = pd.read_csv(tmp_path / "logs/validation.tsv", sep="\t")
    assert str(bad_file) in set(table[table.severity == "error"].file), table
    return msg, table


def warned(tmp_path, root, bad_file, problem, denoise=None, scans=SCANS):
    """No error; a warning row names ``bad_file`` and the problem; the rule's output is written."""
    table = validate(tmp_path, root, denoise, scans)
    assert (tmp_path / "validation.tsv").exists()
    assert not (table.severity == "error").any(), table
    rows = table[(table.severity == "warning") & (table.file == str(bad_file))]
    assert any(problem in p for p in rows.problem), table.to_string()
    return table


def bad(root, sub="p2", ses="pre"):
    return fmriprep_paths(root, sub, ses, space=SPACE)


# ------------------------------------------------------------------------------------------ a clean cohort
def test_clean_cohort_passes(tmp_path):
    root = cohort(tmp_path)
    table = validate(tmp_path, root)
    assert table.empty, table.to_string()
    assert list(pd.read_csv(tmp_path / "validation.tsv", sep="\t").columns) == [
        "severity", "participant_id", "session", "file", "where", "problem", "action"]


# ------------------------------------------------------------------------------------------ stopped at validation
def test_3d_image(tmp_path):
    root = cohort(tmp_path)
    p = bad(root)
    img = nib.load(p["bold"])
    nib.save(nib.Nifti1Image(np.asarray(img.dataobj[..., 0]), img.affine), p["bold"])
    stopped(tmp_path, root, p["bold"], "expected a 4-D BOLD series")


def test_too_few_volumes(tmp_path):
    root = cohort(tmp_path)
    p = write_scan(root, "p2", "pre", n_vol=12)
    stopped(tmp_path, root, p["bold"], "12 volumes", "denoise.min_volumes = 20")


def test_affine_shifted_100mm(tmp_path):
    root = cohort(tmp_path)
    p = write_scan(root, "p2", "pre", shift=(100, 0, 0))
    stopped(tmp_path, root, p["mask"], "from nilearn's MNI152 brain mask")


def test_bold_shifted_20mm_out_of_mni(tmp_path):
    root = cohort(tmp_path)
    p = write_scan(root, "p2", "pre", shift=(0, 0, 20))
    msg, table = stopped(tmp_path, root, p["mask"], "from nilearn's MNI152 brain mask", "validate.max_shift_mm")
    shift = float(table.problem.str.extract(r"field of view is ([\d.]+) mm").dropna().iloc[0, 0])
    assert 16 <= shift <= 24, msg


def test_small_shift_passes(tmp_path):
    """A 3 mm offset (within validate.max_shift_mm = 5) is no error."""
    root = cohort(tmp_path)
    write_scan(root, "p2", "pre", shift=(3, 0, 0))
    assert not (validate(tmp_path, root).severity == "error").any()


def test_all_zero_image(tmp_path):
    root = cohort(tmp_path)
    p = bad(root)
    img = nib.load(p["bold"])
    nib.save(nib.Nifti1Image(np.zeros(img.shape, np.float32), img.affine, img.header), p["bold"])
    stopped(tmp_path, root, p["bold"], "constant inside the brain mask")


def test_nan_voxels_inside_the_brain(tmp_path):
    root = cohort(tmp_path)
    p = bad(root)
    img = nib.load(p["bold"])
    data = np.asarray(img.dataobj)
    mask = np.asarray(nib.load(p["mask"]).dataobj) > 0
    ijk = tuple(np.argwhere(mask)[len(np.argwhere(mask)) // 2])
    data[ijk] = np.nan  # one voxel, every volume
    nib.save(nib.Nifti1Image(data, img.affine, img.header), p["bold"])
    stopped(tmp_path, root, p["bold"], "non-finite value(s) (NaN or inf) inside the brain mask")


def test_invalid_sidecar_json(tmp_path):
    root = cohort(tmp_path)
    p = bad(root)
    p["bold_json"].write_text('{"RepetitionTime": 2.0,,}')
    stopped(tmp_path, root, p["bold_json"], "not valid JSON")


def test_sidecar_tr_disagrees_with_header(tmp_path):
    root = cohort(tmp_path)
    p = bad(root)
    p["bold_json"].write_text(json.dumps({"RepetitionTime": 3.0}))
    stopped(tmp_path, root, p["bold_json"], "RepetitionTime 3 s", "header's TR 2 s")


def test_confounds_fewer_rows_than_volumes(tmp_path):
    root = cohort(tmp_path)
    p = bad(root)
    conf = pd.read_csv(p["confounds"], sep="\t")
    save_tsv(conf.iloc[:25], p["confounds"])
    stopped(tmp_path, root, p["confounds"], "25 rows but the BOLD series has 30 volumes")


def test_truncated_nii_gz(tmp_path):
    root = cohort(tmp_path)
    p = bad(root)
    raw = p["bold"].read_bytes()
    p["bold"].write_bytes(raw[: len(raw) // 2])
    stopped(tmp_path, root, p["bold"], "truncated")


def test_gzip_of_a_truncated_image(tmp_path):
    """A complete gzip stream holding fewer bytes than the header implies."""
    root = cohort(tmp_path)
    p = bad(root)
    raw = gzip.decompress(p["bold"].read_bytes())
    p["bold"].write_bytes(gzip.compress(raw[: len(raw) - 1000]))
    stopped(tmp_path, root, p["bold"], "truncated: holds")


def test_non_numeric_confound_value(tmp_path):
    root = cohort(tmp_path)
    p = bad(root)
    conf = pd.read_csv(p["confounds"], sep="\t").astype(object)
    conf.loc[7, "csf"] = "1.2.3"
    save_tsv(conf, p["confounds"])
    stopped(tmp_path, root, p["confounds"], "non-numeric value '1.2.3' in column csf at volume 7 (line 9)")


@pytest.mark.parametrize("column", ["white_matter", "csf", "trans_x_derivative1"])
def test_na_in_confounds_beyond_the_first_row(tmp_path, column):
    root = cohort(tmp_path)
    p = bad(root)
    conf = pd.read_csv(p["confounds"], sep="\t")
    conf.loc[[5, 6], column] = np.nan
    save_tsv(conf, p["confounds"])
    stopped(tmp_path, root, p["confounds"], f"n/a in column {column} at 2 volume(s), first at volume 5")


def test_columns_of_the_preset_missing(tmp_path):
    root = cohort(tmp_path)
    stopped(tmp_path, root, bad(root)["confounds"], "a_comp_cor_00", "'acompcor'", denoise=dict(preset="acompcor"))


def test_mask_on_another_grid(tmp_path):
    root = cohort(tmp_path)
    p = bad(root)
    m = nib.load(p["mask"])
    nib.save(nib.Nifti1Image(np.asarray(m.dataobj)[:-1], m.affine), p["mask"])
    stopped(tmp_path, root, p["mask"], "not on the BOLD grid")


def test_non_numeric_age_is_reported_against_its_row(tmp_path):
    part = _part().astype(object)
    part.loc[2, "age"] = "old"        # sub-c1, line 4
    part.loc[3, "education"] = "ten"  # sub-c2, line 5: both reported at once
    root = cohort(tmp_path, part)
    with pytest.raises(InputError) as err:
        read_participants(tmp_path / "participants.tsv", SCHEMA)
    msg = str(err.value)
    assert "line 4 (sub-c1), column age: 'old' is not a number" in msg, msg
    assert "line 5 (sub-c2), column education: 'ten' is not a number" in msg, msg
    assert "sub-p1" not in msg, msg
    _, table = stopped(tmp_path, root, tmp_path / "participants.tsv", "'old' is not a number")
    rows = table[table.file == str(tmp_path / "participants.tsv")]
    assert list(rows.participant_id) == ["sub-c1", "sub-c2"] and list(rows["where"]) == [
        "line 4, column age", "line 5, column education"]


# ------------------------------------------------------------------------------------------ all at once
def test_every_bad_scan_is_reported_in_one_run(tmp_path):
    root = cohort(tmp_path)
    a, b = bad(root, "p1", "post"), bad(root, "c2", "pre")
    a["bold_json"].write_text("{")
    raw = b["bold"].read_bytes()
    b["bold"].write_bytes(raw[: len(raw) // 3])
    msg, table = stopped(tmp_path, root, a["bold_json"], "not valid JSON", str(b["bold"]), "truncated")
    assert "2 error(s) in 2 file(s)" in msg, msg
    assert set(zip(table.participant_id, table.session)) == {("sub-p1", "post"), ("sub-c2", "pre")}


def test_dag_check_names_every_missing_file(tmp_path):
    root = cohort(tmp_path)
    gone = [bad(root, "p1", "post")["confounds"], bad(root, "c1", "pre")["bold"], bad(root, "c2", "pre")["mask"]]
    for f in gone:
        f.unlink()
    with pytest.raises(InputError) as err:
        check_fmriprep_files(SCANS, lambda s, t: fmriprep_paths(root, s, t, space=SPACE))
    msg = str(err.value)
    assert "3 expected input files are missing" in msg
    for f, kind in zip(gone, ["confounds", "bold", "mask"]):
        assert f"{f}: missing {kind} file" in msg, msg


# ------------------------------------------------------------------------------------------ warnings
def test_post_scan_unused_when_hamd_post_is_na(tmp_path):
    root = cohort(tmp_path)
    p = write_scan(root, "p2", "post")  # on disk, but hamd_post of sub-p2 is n/a
    warned(tmp_path, root, p["bold"], "hamd_post is n/a: not analysed")


def test_subject_folder_absent_from_participants(tmp_path):
    root = cohort(tmp_path)
    write_scan(root, "x9", "pre")
    warned(tmp_path, root, root / "sub-x9", "absent from participants.tsv")


def test_header_tr_used_when_sidecar_lacks_it(tmp_path):
    root = cohort(tmp_path)
    p = bad(root)
    p["bold_json"].write_text(json.dumps({"SkullStripped": False}))
    warned(tmp_path, root, p["bold_json"], "the NIfTI header's TR (2 s) is used")


def test_first_row_na_filled_is_recorded(tmp_path):
    root = cohort(tmp_path)
    table = warned(tmp_path, root, bad(root)["confounds"], "is filled with 0", denoise=dict(drop_volumes=0))
    assert (table.problem.str.contains("is filled with 0")).sum() == len(SCANS)
    n_first = len([c for c in PRESETS["dpabi"]["columns"] if "derivative1" in c])
    assert f"first row of {n_first} column(s)" in table.problem.iloc[0]


# ------------------------------------------------------------------------------------------ other bad inputs
# What a careful user would try beyond the cases of the issue: each check of fcect.preprocess.validate_scan and
# validate_image that the cases above do not reach. A cohort of one scan (sub-p2 ses-pre) keeps them cheap.
ONE = [("p2", "pre")]


def one_scan(tmp_path):
    root = tmp_path / "fmriprep"
    write_scan(root, *ONE[0])
    save_tsv(_part(), tmp_path / "participants.tsv")
    return root, bad(root)


def _rewrite_bold(p, data=None, tr=TR, unit="sec"):
    img = nib.load(p["bold"])
    out = nib.Nifti1Image(np.asarray(img.dataobj) if data is None else data, img.affine)
    out.header.set_xyzt_units("mm", unit)
    out.header["pixdim"][4] = tr
    nib.save(out, p["bold"])


def test_bold_that_is_not_nifti(tmp_path):
    """An HTML error page saved under the BOLD's name (a failed download)."""
    root, p = one_scan(tmp_path)
    p["bold"].write_text("<html><body>502 Bad Gateway</body></html>")
    stopped(tmp_path, root, p["bold"], "the BOLD series cannot be read as NIfTI", scans=ONE)


def test_mask_with_two_volumes(tmp_path):
    root, p = one_scan(tmp_path)
    m = nib.load(p["mask"])
    d = np.asarray(m.dataobj)
    nib.save(nib.Nifti1Image(np.stack([d, d], axis=-1), m.affine), p["mask"])
    stopped(tmp_path, root, p["mask"], "the brain mask must be 3-D", scans=ONE)


def test_empty_mask(tmp_path):
    root, p = one_scan(tmp_path)
    m = nib.load(p["mask"])
    nib.save(nib.Nifti1Image(np.zeros(m.shape, np.uint8), m.affine), p["mask"])
    stopped(tmp_path, root, p["mask"], "the brain mask is empty", scans=ONE)


def test_sidecar_that_is_not_an_object(tmp_path):
    root, p = one_scan(tmp_path)
    p["bold_json"].write_text("[2.0]")
    stopped(tmp_path, root, p["bold_json"], "the sidecar must hold a JSON object, got list", scans=ONE)


@pytest.mark.parametrize("value", ["2s", 0, -2.0, True])
def test_repetition_time_that_is_not_a_positive_number(tmp_path, value):
    root, p = one_scan(tmp_path)
    p["bold_json"].write_text(json.dumps({"RepetitionTime": value}))
    stopped(tmp_path, root, p["bold_json"], f"RepetitionTime must be a positive number of seconds, got {value!r}",
            scans=ONE)


def test_no_tr_anywhere(tmp_path):
    root, p = one_scan(tmp_path)
    _rewrite_bold(p, tr=0.0)
    p["bold_json"].write_text(json.dumps({"SkullStripped": False}))
    stopped(tmp_path, root, p["bold_json"], "no RepetitionTime in the sidecar and no TR in the NIfTI header", scans=ONE)


def test_header_tr_in_a_unit_that_is_no_time(tmp_path):
    root, p = one_scan(tmp_path)
    _rewrite_bold(p, unit="hz")
    p["bold_json"].write_text(json.dumps({"SkullStripped": False}))
    stopped(tmp_path, root, p["bold_json"], "the header gives the fourth dimension in hz", scans=ONE)


def test_sidecar_tr_used_when_the_header_has_none(tmp_path):
    root, p = one_scan(tmp_path)
    _rewrite_bold(p, tr=0.0)
    warned(tmp_path, root, p["bold_json"], "the NIfTI header holds no TR: the sidecar's RepetitionTime (2 s) is used",
           scans=ONE)


def test_empty_confounds_file(tmp_path):
    root, p = one_scan(tmp_path)
    p["confounds"].write_text("")
    stopped(tmp_path, root, p["confounds"], "cannot be read as a tab-separated table", scans=ONE)


def test_infinite_confound_value(tmp_path):
    root, p = one_scan(tmp_path)
    conf = pd.read_csv(p["confounds"], sep="\t")
    conf.loc[9, "csf"] = np.inf
    save_tsv(conf, p["confounds"])
    stopped(tmp_path, root, p["confounds"], "infinite value in column csf at volume 9 (line 11)", scans=ONE)


def test_non_numeric_value_in_an_unused_column_is_a_warning(tmp_path):
    root, p = one_scan(tmp_path)
    conf = pd.read_csv(p["confounds"], sep="\t").astype(object)
    conf["cosine00"] = 0.0
    conf.loc[3, "cosine00"] = "x"
    save_tsv(conf, p["confounds"])
    warned(tmp_path, root, p["confounds"], "non-numeric value 'x' in column cosine00 at volume 3 (line 5); the column "
           "is not used", scans=ONE)


def test_motion_censoring_leaves_too_few_volumes(tmp_path):
    root, p = one_scan(tmp_path)
    conf = pd.read_csv(p["confounds"], sep="\t")
    conf.loc[1::2, "framewise_displacement"] = 1.0          # every other volume moves: censoring takes nearly all
    save_tsv(conf, p["confounds"])
    stopped(tmp_path, root, p["confounds"], "FD censoring (denoise.fd_threshold = 0.5) leaves",
            "fewer than denoise.min_volumes = 20", denoise=dict(preset="scrubbing"), scans=ONE)


def test_nan_outside_the_brain_is_a_warning(tmp_path):
    root, p = one_scan(tmp_path)
    data = np.asarray(nib.load(p["bold"]).dataobj).copy()
    data[0, 0, 0, :] = np.nan                               # a corner of the field of view
    _rewrite_bold(p, data)
    warned(tmp_path, root, p["bold"], "non-finite value(s) outside the brain mask", scans=ONE)


def test_one_constant_volume(tmp_path):
    from fcect.preprocess.validate_image import volumes_to_check

    root, p = one_scan(tmp_path)
    data = np.asarray(nib.load(p["bold"]).dataobj).copy()
    k = volumes_to_check(N_VOL, DENOISE["drop_volumes"], SETTINGS["volumes_checked"])[1]   # a volume that is read
    data[..., k] = 0
    _rewrite_bold(p, data)
    stopped(tmp_path, root, p["bold"], f"volume(s) constant inside the brain mask: {k} (= 0)", scans=ONE)
