"""Framewise displacement against hand computations; exclusion decisions and their propagation."""

import numpy as np
import pandas as pd
import pytest

from fcect.core.io import InputError
from fcect.core.motion import fd_jenkinson, fd_power
from fcect.preprocess.qc import decide, propagate, scan_motion

THR = dict(max_translation_mm=2.0, max_rotation_deg=2.0, max_mean_fd=None, min_remaining_volumes=10)


def test_fd_power_hand_computation():
    p = np.zeros((3, 6))
    p[1] = [0.1, -0.2, 0.0, 0.001, 0.0, -0.002]
    p[2] = [0.1, -0.2, 0.3, 0.001, 0.0, -0.002]
    fd = fd_power(p)
    assert fd[0] == 0
    assert fd[1] == pytest.approx(0.1 + 0.2 + 50 * (0.001 + 0.002))
    assert fd[2] == pytest.approx(0.3)


def test_fd_jenkinson_hand_computation():
    p = np.zeros((3, 6))
    p[1, :3] = [0.3, 0.4, 0.0]          # pure translation: FD = |t|
    p[2, :3] = [0.3, 0.4, 0.0]
    p[2, 5] = 0.01                      # pure rotation about z by theta: FD = R sqrt(4 (1 - cos theta) / 5)
    fd = fd_jenkinson(p, radius=80.0)
    assert fd[1] == pytest.approx(0.5)
    # rotation applied after the translation: the centre moves too, (R - I) t adds to m
    theta = 0.01
    A = np.array([[np.cos(theta) - 1, np.sin(theta), 0], [-np.sin(theta), np.cos(theta) - 1, 0], [0, 0, 0]])
    t = np.array([0.3, 0.4, 0.0])
    m = -A @ t  # translation part of M = A_t inv(A_{t-1}) - I for equal translations
    expected = np.sqrt(80.0 ** 2 / 5 * np.trace(A.T @ A) + m @ m)
    assert fd[2] == pytest.approx(expected, rel=1e-9)
    assert np.sqrt(80.0 ** 2 / 5 * 4 * (1 - np.cos(theta))) == pytest.approx(
        np.sqrt(80.0 ** 2 / 5 * np.trace(A.T @ A)))


def test_scan_motion_and_thresholds():
    T = 20
    conf = pd.DataFrame(np.zeros((T, 6)), columns=["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"])
    conf.loc[15:, "trans_y"] = 2.5
    m = scan_motion(conf, drop_volumes=2)
    assert m["n_volumes"] == 18 and m["max_translation_mm"] == 2.5
    inc, reason = decide(dict(m, n_censored=0), THR)
    assert not inc and "translation" in reason
    conf.loc[15:, "trans_y"] = 0.0
    conf.loc[5:, "rot_x"] = np.radians(2.5)
    inc, reason = decide(dict(scan_motion(conf), n_censored=0), THR)
    assert not inc and "rotation 2.50 deg" in reason
    with pytest.raises(InputError, match="missing motion"):
        scan_motion(conf.drop(columns=["rot_z"]), path="c.tsv")


def test_propagation_of_exclusions():
    part = pd.DataFrame(dict(participant_id=["sub-1", "sub-2", "sub-3", "sub-4"], group=["TRD", "TRD", "TRD", "HC"],
                             hamd_pre=[20, 24, 30, 2], hamd_post=[10, 12, np.nan, np.nan]))
    motion = pd.DataFrame(dict(
        participant_id=["sub-1", "sub-1", "sub-2", "sub-2", "sub-3", "sub-4"],
        session=["pre", "post", "pre", "post", "pre", "pre"],
        included=[True, False, False, True, True, True], reason=["", "moved", "moved", "", "", ""],
        mean_fd=[0.1] * 6))
    out = propagate(part, motion).set_index("participant_id")
    assert out.loc["sub-1", "included_baseline"] and not out.loc["sub-1", "included_ect"]
    assert not out.loc["sub-2", "included_baseline"] and not out.loc["sub-2", "included_ect"]
    assert out.loc["sub-3", "included_baseline"] and not out.loc["sub-3", "included_ect"]
    assert not out.loc["sub-4", "included_ect"]
    assert out.loc["sub-1", "hamd_reduction"] == pytest.approx(0.5)
    assert "ses-post: moved" in out.loc["sub-1", "exclusion_reason"]
    assert "ses-pre: moved" in out.loc["sub-2", "exclusion_reason"]
