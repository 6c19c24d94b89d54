"""The small BIDS indexer of the raw input: files per scan, run selection, session-less T1w, clear errors."""
import json
from pathlib import Path

import pytest

from fcect.raw.bids import BidsError, index_scans, read_sidecars


def _touch(p, text=""):
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def _bold(root, sub, ses, run=None, sidecar=True):
    r = f"_run-{run}" if run is not None else ""
    f = root / f"sub-{sub}/ses-{ses}/func/sub-{sub}_ses-{ses}_task-rest{r}_bold.nii.gz"
    _touch(f)
    if sidecar:
        _touch(f.with_name(f.name.replace(".nii.gz", ".json")), json.dumps({"RepetitionTime": 2.0}))
    return f


def test_index_session_less_t1w_and_runs(tmp_path):
    _bold(tmp_path, "01", "pre")
    _bold(tmp_path, "01", "post", run=2)
    _bold(tmp_path, "01", "post", run=10)
    _touch(tmp_path / "sub-01/anat/sub-01_T1w.nii.gz")
    idx = index_scans(tmp_path, [("01", "pre")])
    assert idx[("01", "pre")]["runs"] == [None]
    assert idx[("01", "pre")]["t1w"].endswith("sub-01/anat/sub-01_T1w.nii.gz")
    assert idx[("01", "pre")]["bold_json"][0][-1].endswith("sub-01_ses-pre_task-rest_bold.json")
    # two runs: ambiguous without inputs.run, resolved by first (numeric order), a label, or concatenate
    with pytest.raises(BidsError, match="set inputs.run"):
        index_scans(tmp_path, [("01", "post")])
    assert index_scans(tmp_path, [("01", "post")], run="first")[("01", "post")]["runs"] == ["2"]
    assert index_scans(tmp_path, [("01", "post")], run="10")[("01", "post")]["runs"] == ["10"]
    assert index_scans(tmp_path, [("01", "post")], run="concatenate")[("01", "post")]["runs"] == ["2", "10"]
    with pytest.raises(BidsError, match="no run '3'"):
        index_scans(tmp_path, [("01", "post")], run="3")


def test_session_t1w_preferred_and_duplicates_named(tmp_path):
    _bold(tmp_path, "02", "pre")
    _touch(tmp_path / "sub-02/anat/sub-02_T1w.nii.gz")
    _touch(tmp_path / "sub-02/ses-pre/anat/sub-02_ses-pre_T1w.nii.gz")
    assert "ses-pre/anat" in index_scans(tmp_path, [("02", "pre")])[("02", "pre")]["t1w"]
    _touch(tmp_path / "sub-02/ses-pre/anat/sub-02_ses-pre_run-2_T1w.nii.gz")
    with pytest.raises(BidsError, match="2 T1w images"):
        index_scans(tmp_path, [("02", "pre")])


def test_every_problem_listed_at_once(tmp_path):
    _bold(tmp_path, "01", "pre", sidecar=False)
    _touch(tmp_path / "sub-01/anat/sub-01_T1w.nii.gz")
    _bold(tmp_path, "02", "pre")
    with pytest.raises(BidsError) as e:
        index_scans(tmp_path, [("01", "pre"), ("02", "pre"), ("03", "pre")])
    msg = str(e.value)
    assert "3 problem(s)" in msg and "missing JSON sidecar" in msg and "no T1w" in msg and "no BOLD" in msg
    with pytest.raises(BidsError, match="does not exist"):
        index_scans(tmp_path / "nope", [("01", "pre")])


def test_sidecar_inheritance_merges_general_to_specific(tmp_path):
    """BIDS inheritance: a top-level task-rest_bold.json holds RepetitionTime for everyone; a subject-level file and
    the file's own sidecar override it in that order; a JSON of another task or run does not apply."""
    _touch(tmp_path / "task-rest_bold.json", json.dumps({"RepetitionTime": 2.5, "SliceTiming": [0, 1]}))
    _touch(tmp_path / "task-other_bold.json", json.dumps({"RepetitionTime": 9.0}))
    _touch(tmp_path / "sub-01/sub-01_task-rest_bold.json", json.dumps({"RepetitionTime": 2.0}))
    _bold(tmp_path, "01", "pre", sidecar=False)
    _bold(tmp_path, "02", "pre", sidecar=False)
    own = tmp_path / "sub-02/ses-pre/func/sub-02_ses-pre_task-rest_bold.json"
    _touch(own, json.dumps({"SliceTiming": [0, 0.5]}))
    _touch(tmp_path / "sub-02/ses-pre/func/sub-02_ses-pre_task-rest_run-2_bold.json", json.dumps({"RepetitionTime": 7}))
    for s in ("01", "02"):
        _touch(tmp_path / f"sub-{s}/anat/sub-{s}_T1w.nii.gz")
    idx = index_scans(tmp_path, [("01", "pre"), ("02", "pre")])
    j1, j2 = idx[("01", "pre")]["bold_json"][0], idx[("02", "pre")]["bold_json"][0]
    assert [Path(p).name for p in j1] == ["task-rest_bold.json", "sub-01_task-rest_bold.json"]
    assert read_sidecars(j1) == {"RepetitionTime": 2.0, "SliceTiming": [0, 1]}
    assert [Path(p).name for p in j2] == ["task-rest_bold.json", own.name]
    assert read_sidecars(j2) == {"RepetitionTime": 2.5, "SliceTiming": [0, 0.5]}
    # the paths keep the form of bids_dir (here absolute), as the BOLD paths do
    assert all(Path(p).is_absolute() for p in j1)


def test_inheritance_problems_are_named(tmp_path):
    _touch(tmp_path / "task-rest_bold.json", json.dumps({"SliceTiming": [0, 1]}))  # no RepetitionTime anywhere
    _bold(tmp_path, "01", "pre", sidecar=False)
    _touch(tmp_path / "sub-01/anat/sub-01_T1w.nii.gz")
    with pytest.raises(BidsError, match="no RepetitionTime"):
        index_scans(tmp_path, [("01", "pre")])
    _touch(tmp_path / "task-rest_acq-x_bold.json", "{}")  # does not apply (acq-x not in the file name)
    _touch(tmp_path / "sub-01/task-rest_bold.json", json.dumps({"RepetitionTime": 2}))
    _touch(tmp_path / "sub-01/sub-01_task-rest_bold.json", json.dumps({"RepetitionTime": 3}))
    with pytest.raises(BidsError, match="2 JSON files apply"):
        index_scans(tmp_path, [("01", "pre")])


def test_uncompressed_nifti_and_other_entities(tmp_path):
    """.nii as well as .nii.gz, for BOLD and T1w; BOLD names with dir-, rec-, acq- entities; two files of one run
    that differ in another entity are named as ambiguous; an sbref beside the BOLD is not a BOLD."""
    d = tmp_path / "sub-01/ses-pre/func"
    _touch(d / "sub-01_ses-pre_task-rest_acq-mb4_dir-AP_bold.nii")
    _touch(d / "sub-01_ses-pre_task-rest_acq-mb4_dir-AP_bold.json", json.dumps({"RepetitionTime": 0.8}))
    _touch(d / "sub-01_ses-pre_task-rest_acq-mb4_dir-AP_sbref.nii.gz")
    _touch(tmp_path / "sub-01/anat/sub-01_T1w.nii")
    e = index_scans(tmp_path, [("01", "pre")])[("01", "pre")]
    assert Path(e["bold"][0]).name == "sub-01_ses-pre_task-rest_acq-mb4_dir-AP_bold.nii"
    assert Path(e["bold_json"][0][-1]).name == "sub-01_ses-pre_task-rest_acq-mb4_dir-AP_bold.json"
    assert Path(e["t1w"]).name == "sub-01_T1w.nii"
    _touch(d / "sub-01_ses-pre_task-rest_acq-mb4_dir-PA_bold.nii.gz")
    with pytest.raises(BidsError, match="ambiguous BOLD files"):
        index_scans(tmp_path, [("01", "pre")])
