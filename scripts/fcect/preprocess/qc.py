"""Head-motion QC: framewise displacement (Power or Jenkinson), exclusion decisions and their propagation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fcect.core.io import InputError

MOTION = ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"]


def fd_power(params, radius=50.0):
    """Power et al. (2012) FD: sum of absolute backward differences of the 3 translations (mm) and the 3
    rotations (radians) converted to arc length on a sphere of ``radius`` mm. First volume: 0."""
    p = np.asarray(params, float)
    d = np.abs(np.diff(p, axis=0))
    fd = d[:, :3].sum(axis=1) + radius * d[:, 3:].sum(axis=1)
    return np.concatenate([[0.0], fd])


def _rigid(p):
    """4x4 rigid-body matrix from (tx, ty, tz, rx, ry, rz), rotations in radians, R = Rx @ Ry @ Rz."""
    tx, ty, tz, rx, ry, rz = p
    cx, sx, cy, sy, cz, sz = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry), np.cos(rz), np.sin(rz)
    Rx = np.array([[1, 0, 0], [0, cx, sx], [0, -sx, cx]])
    Ry = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    Rz = np.array([[cz, sz, 0], [-sz, cz, 0], [0, 0, 1]])
    M = np.eye(4)
    M[:3, :3] = Rx @ Ry @ Rz
    M[:3, 3] = [tx, ty, tz]
    return M


def fd_jenkinson(params, radius=80.0):
    """Jenkinson et al. (2002) relative RMS displacement, as DPABI reports it (FD_Jenkinson): for consecutive
    transforms A_{t-1}, A_t, M = A_t inv(A_{t-1}) - I, FD = sqrt(R^2/5 tr(M3' M3) + (m + M3 c)'(m + M3 c))
    with c the centre (origin here), m the translation part and R the sphere radius (80 mm)."""
    p = np.asarray(params, float)
    out = np.zeros(len(p))
    prev = _rigid(p[0])
    for t in range(1, len(p)):
        cur = _rigid(p[t])
        M = cur @ np.linalg.inv(prev) - np.eye(4)
        A, m = M[:3, :3], M[:3, 3]
        out[t] = np.sqrt(radius ** 2 / 5.0 * np.trace(A.T @ A) + m @ m)
        prev = cur
    return out


def scan_motion(confounds: pd.DataFrame, drop_volumes=0, fd_method="power", path="confounds"):
    missing = [c for c in MOTION if c not in confounds.columns]
    if missing:
        raise InputError(path, f"missing motion column(s) {missing}")
    p = confounds[MOTION].to_numpy(float)
    if not np.all(np.isfinite(p)):
        raise InputError(path, "motion parameters contain n/a or non-finite values")
    p = p[drop_volumes:]
    fd = fd_power(p) if fd_method == "power" else fd_jenkinson(p)
    return dict(mean_fd=float(fd[1:].mean()) if len(fd) > 1 else 0.0, fd_method=fd_method,
                max_fd=float(fd.max()),
                max_translation_mm=float(np.abs(p[:, :3]).max()),
                max_rotation_deg=float(np.degrees(np.abs(p[:, 3:]).max())),
                n_volumes=int(len(p)), fd=fd)


def decide(row: dict, thresholds: dict):
    """Return (included, reason) for one scan given QC thresholds."""
    reasons = []
    if row["max_translation_mm"] > thresholds["max_translation_mm"]:
        reasons.append(f"max translation {row['max_translation_mm']:.2f} mm > {thresholds['max_translation_mm']}")
    if row["max_rotation_deg"] > thresholds["max_rotation_deg"]:
        reasons.append(f"max rotation {row['max_rotation_deg']:.2f} deg > {thresholds['max_rotation_deg']}")
    mfd = thresholds.get("max_mean_fd")
    if mfd is not None and row["mean_fd"] > mfd:
        reasons.append(f"mean FD {row['mean_fd']:.3f} mm > {mfd}")
    minv = thresholds.get("min_remaining_volumes")
    if minv is not None and row["n_volumes"] - row.get("n_censored", 0) < minv:
        reasons.append(f"{row['n_volumes'] - row.get('n_censored', 0)} volumes after censoring < {minv}")
    return (not reasons), "; ".join(reasons)


def propagate(participants: pd.DataFrame, motion: pd.DataFrame, ses_pre="pre", ses_post="post",
              reduction="rate"):
    """Add per-participant inclusion flags. A patient whose pre scan is excluded leaves every analysis (no
    baseline, no change); one whose post scan is excluded stays in the baseline analysis only."""
    part = participants.copy()
    m = motion.set_index(["participant_id", "session"])

    def get(pid, ses, col, default=np.nan):
        return m.loc[(pid, ses), col] if (pid, ses) in m.index else default

    part["has_pre"] = [(pid, ses_pre) in m.index for pid in part.participant_id]
    part["has_post"] = [(pid, ses_post) in m.index for pid in part.participant_id]
    inc_pre = np.array([bool(get(pid, ses_pre, "included", False)) for pid in part.participant_id])
    inc_post = np.array([bool(get(pid, ses_post, "included", False)) for pid in part.participant_id])
    part["included_baseline"] = inc_pre
    part["included_ect"] = inc_pre & inc_post & (part["group"] == "TRD").to_numpy()
    part["mean_fd_pre"] = [get(pid, ses_pre, "mean_fd") for pid in part.participant_id]
    part["mean_fd_post"] = [get(pid, ses_post, "mean_fd") for pid in part.participant_id]
    pre = pd.to_numeric(part["hamd_pre"], errors="coerce")
    post = pd.to_numeric(part["hamd_post"], errors="coerce")
    part["hamd_reduction"] = (pre - post) / pre if reduction == "rate" else pre - post
    reasons = []
    for pid, ip, ipo, hp in zip(part.participant_id, inc_pre, inc_post, part["has_post"]):
        r = []
        if not ip:
            r.append(f"ses-{ses_pre}: " + str(get(pid, ses_pre, "reason", "no scan")))
        if hp and not ipo:
            r.append(f"ses-{ses_post}: " + str(get(pid, ses_post, "reason", "")))
        reasons.append("; ".join(r))
    part["exclusion_reason"] = reasons
    return part
