"""The small BIDS indexer of the raw input: files per scan, run selection, session-less T1w, clear errors."""
import json

import pytest

from fcect.raw.bids import BidsError, index_scans


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
    assert idx[("01", "pre")]["bold_json"][0].endswith("_bold.json")
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
