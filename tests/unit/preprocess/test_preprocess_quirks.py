"""Real-data quirks of the preprocessing stage: scans with different repetition times (each filtered with its own
TR, wherever the TR is written), and a patient excluded for motion at one session only."""

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nilearn import signal

from fcect.core.io import InputError, read_tsv, save_tsv
from fcect.core.motion import MOTION
from fcect.preprocess.denoise import check_band, denoise_scan, read_tr
from fcect.preprocess.run import qc_tables

from conftest import REPO

PARAMS = dict(preset="none", drop_volumes=0, fwhm=0, high_pass=0.01, low_pass=0.08, detrend=True,
              filter="butterworth", min_volumes=20)
SHAPE = (3, 3, 2)
T = 160


def _signal():
    """The same voxel time series for every scan: slow drift + components at 0.005, 0.05 and 0.15 Hz in samples,
    so that the band-pass result depends on the TR."""
    rng = np.random.default_rng(7)
    k = np.arange(T)
    X = rng.standard_normal((T, int(np.prod(SHAPE)))) * 5 + 1000
    X += 40 * np.sin(2 * np.pi * 0.012 * k)[:, None] + 30 * np.sin(2 * np.pi * 0.11 * k)[:, None]
    X += 20 * np.sin(2 * np.pi * 0.19 * k)[:, None] + 0.3 * k[:, None]
    return X


def _scan(folder, name, X, json_tr=None, header_tr=2.0, unit="sec"):
    """A 4-D BOLD of voxel series ``X`` (T, V), its confounds and (when ``json_tr`` is given) its sidecar."""
    img = nib.Nifti1Image(X.T.reshape(SHAPE + (T,)).astype(np.float64), np.diag([3.0, 3.0, 3.0, 1.0]))
    img.header.set_xyzt_units("mm", unit)
    img.header["pixdim"][4] = header_tr
    bold = folder / f"{name}_bold.nii.gz"
    nib.save(img, bold)
    conf = folder / f"{name}_confounds.tsv"
    save_tsv(pd.DataFrame({c: np.zeros(T) for c in MOTION}), conf)
    side = folder / f"{name}_bold.json"
    if json_tr is not None:
        side.write_text(json.dumps({"RepetitionTime": json_tr}))
    return bold, conf, side


def _denoise(paths):
    bold, conf, side = paths
    return denoise_scan(bold, conf, side, np.ones(SHAPE, bool), np.diag([3.0, 3.0, 3.0, 1.0]), PARAMS)


def _reference(X, tr):
    return signal.clean(X.copy(), detrend=True, standardize=None, standardize_confounds=True, filter="butterworth",
                        low_pass=PARAMS["low_pass"], high_pass=PARAMS["high_pass"], t_r=tr)


def test_each_scan_is_band_passed_with_its_own_tr(tmp_path):
    """The same signal acquired at TR 2.0 s and 2.5 s: each scan is filtered with the TR of its sidecar (the
    header's stale 1.0 s is ignored), and the wrong TR would have given a different result."""
    X = _signal()
    ya, ia = _denoise(_scan(tmp_path, "a", X, json_tr=2.0, header_tr=1.0))
    yb, ib = _denoise(_scan(tmp_path, "b", X, json_tr=2.5, header_tr=1.0))
    assert ia["tr"] == 2.0 and ib["tr"] == 2.5
    np.testing.assert_allclose(ya, _reference(X, 2.0), atol=1e-8)
    np.testing.assert_allclose(yb, _reference(X, 2.5), atol=1e-8)
    # the TR matters: with the other scan's TR (or the header's) the filtered series differ clearly
    for y, wrong in ((ya, 2.5), (yb, 2.0), (ya, 1.0)):
        assert np.abs(y - _reference(X, wrong)).max() > 0.05 * np.abs(y).max()


def test_tr_from_the_header_without_sidecar(tmp_path):
    X = _signal()
    y, info = _denoise(_scan(tmp_path, "a", X, json_tr=None, header_tr=2.5))
    assert info["tr"] == 2.5
    np.testing.assert_allclose(y, _reference(X, 2.5), atol=1e-8)


@pytest.mark.parametrize("value, unit", [(2500.0, "msec"), (2.5e6, "usec")])
def test_header_tr_in_milliseconds_is_converted(tmp_path, value, unit):
    """A header whose time unit is ms (some converters): 2500 ms is 2.5 s, not 2500 s (with 2500 s the band edges
    lie above Nyquist and nilearn returned the signals unfiltered with a warning)."""
    X = _signal()
    y, info = _denoise(_scan(tmp_path, "a", X, json_tr=None, header_tr=value, unit=unit))
    assert info["tr"] == pytest.approx(2.5)
    np.testing.assert_allclose(y, _reference(X, 2.5), atol=1e-8)


def test_implausible_tr_is_an_error(tmp_path):
    X = _signal()
    with pytest.raises(InputError, match=r"b_bold\.json: RepetitionTime 2000 is not in seconds"):
        _denoise(_scan(tmp_path, "b", X, json_tr=2000))
    with pytest.raises(InputError, match=r"c_bold\.nii\.gz: the NIfTI header's repetition time 2000 \(sec\)"):
        _denoise(_scan(tmp_path, "c", X, json_tr=None, header_tr=2000.0))
    img = nib.Nifti1Image(np.zeros((2, 2, 2, 4)), np.eye(4))
    img.header.set_xyzt_units("mm", "hz")
    img.header["pixdim"][4] = 2.0
    with pytest.raises(InputError, match="not in time units"):
        read_tr(img, None, "x.nii.gz")


def test_band_above_nyquist_of_a_slow_scan_is_an_error(tmp_path):
    """TR 8 s: Nyquist 0.0625 Hz < low_pass 0.08 Hz. nilearn would lower the cut-off to Nyquist with a warning;
    here it is an error that names the scan and its TR."""
    X = _signal()
    with pytest.raises(InputError, match=r"a_bold\.nii\.gz: denoise\.low_pass = 0\.08 Hz is not below the Nyquist "
                                         r"frequency 0\.0625 Hz of this scan \(TR 8 s\)"):
        _denoise(_scan(tmp_path, "a", X, json_tr=8.0))
    # nilearn's cosine filter is a high-pass only (low_pass unused): only high_pass is checked
    check_band(8.0, 0.01, 0.08, "a", filter="cosine")
    with pytest.raises(InputError, match="high_pass = 0.07 Hz"):
        check_band(8.0, 0.07, None, "a", filter="cosine")
    with pytest.raises(InputError, match="must be below denoise.low_pass"):
        check_band(2.0, 0.08, 0.01, "a")


# ---------------------------------------------------------------------------------------------------- motion
QC = dict(fd_method="power", max_translation_mm=2.0, max_rotation_deg=2.0, max_mean_fd=None,
          min_remaining_volumes=None)
DENOISE = dict(preset="dpabi", drop_volumes=0)

# participant, group, hamd_pre, hamd_post ("n/a" for the controls), and the maximal translation (mm) of the pre
# and post scans (None: no such scan); > 2 mm excludes the scan
COHORT = [("T1", "TRD", 24, 12, 0.5, 0.5), ("T2", "TRD", 20, 10, 0.5, 3.0), ("T3", "TRD", 30, 15, 3.0, 0.5),
          ("T4", "TRD", 22, 20, 2.5, 2.6), ("T5", "TRD", 26, "n/a", 0.5, None), ("T6", "TRD", 18, 9, 0.4, 0.3),
          ("T7", "TRD", 28, 7, 0.6, 0.2), ("H1", "HC", "n/a", "n/a", 0.5, None),
          ("H2", "HC", "n/a", "n/a", 0.3, None), ("H3", "HC", 3, "n/a", 0.7, None),
          ("H4", "HC", "n/a", "n/a", 2.4, None)]


def write_cohort(folder):
    """participants.tsv (controls without HAMD) and one confounds file per scan whose y translation ramps up to
    the cohort's maximum. Returns (participants path, scans, confounds paths)."""
    rows = [f"sub-{s}\t{g}\t{30 + i}\t{'MF'[i % 2]}\t{12 + i % 4}\t{hp}\t{hq}"
            for i, (s, g, hp, hq, _, _) in enumerate(COHORT)]
    part = folder / "participants.tsv"
    part.write_text("participant_id\tgroup\tage\tsex\teducation\thamd_pre\thamd_post\n" + "\n".join(rows) + "\n")
    scans, confs = [], []
    for s, _, _, _, pre, post in COHORT:
        for ses, mx in (("pre", pre), ("post", post)):
            if mx is None:
                continue
            conf = pd.DataFrame({c: np.zeros(40) for c in MOTION})
            conf["trans_y"] = np.linspace(0, mx, 40)
            path = folder / f"sub-{s}_ses-{ses}_desc-confounds_timeseries.tsv"
            save_tsv(conf, path)
            scans.append((s, ses))
            confs.append(path)
    return part, scans, confs


def test_patient_excluded_at_one_session_only(tmp_path):
    """Only the post scan fails: the patient stays in the baseline analysis and leaves the ECT analysis. The pre
    scan fails: the patient leaves both. Checked in the written participants_included.tsv."""
    part, scans, confs = write_cohort(tmp_path)
    out = tmp_path / "qc" / "participants_included.tsv"
    motion, _ = qc_tables(part, REPO / "config/schema/participants.schema.yaml", scans, confs, QC, DENOISE,
                          "pre", "post", out_motion=tmp_path / "qc" / "motion.tsv", out_participants=out)
    assert len(motion) == 17 and motion["included"].sum() == 12
    inc = read_tsv(out).set_index("participant_id")
    expected = {  # included_baseline, included_ect, exclusion_reason
        "sub-T1": (True, True, None),
        "sub-T2": (True, False, "ses-post: max translation 3.00 mm > 2.0"),
        "sub-T3": (False, False, "ses-pre: max translation 3.00 mm > 2.0"),
        "sub-T4": (False, False, "ses-pre: max translation 2.50 mm > 2.0; ses-post: max translation 2.60 mm > 2.0"),
        "sub-T5": (True, False, None),
        "sub-T6": (True, True, None), "sub-T7": (True, True, None),
        "sub-H1": (True, False, None), "sub-H2": (True, False, None), "sub-H3": (True, False, None),
        "sub-H4": (False, False, "ses-pre: max translation 2.40 mm > 2.0"),
    }
    for pid, (base, ect, reason) in expected.items():
        row = inc.loc[pid]
        assert bool(row["included_baseline"]) is base, pid
        assert bool(row["included_ect"]) is ect, pid
        if reason is None:
            assert pd.isna(row["exclusion_reason"]), pid
        else:
            assert row["exclusion_reason"] == reason, pid
    assert list(inc.columns[-8:]) == ["has_pre", "has_post", "included_baseline", "included_ect", "mean_fd_pre",
                                      "mean_fd_post", "hamd_reduction", "exclusion_reason"]
    # the post-only exclusion keeps its baseline motion and reduction; controls have neither post FD nor HAMD
    assert inc.loc["sub-T2", "mean_fd_pre"] > 0 and inc.loc["sub-T2", "hamd_reduction"] == pytest.approx(0.5)
    assert inc.loc[["sub-H1", "sub-H2", "sub-H3", "sub-H4"], ["mean_fd_post", "hamd_reduction"]].isna().all().all()
    assert not inc.loc["sub-T5", "has_post"] and inc.loc["sub-T5", "has_pre"]
