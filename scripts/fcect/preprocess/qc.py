"""Head-motion QC: framewise displacement (Power or Jenkinson), exclusion decisions and their propagation."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from fcect.core.io import InputError
from fcect.core.motion import MOTION, framewise_displacement
from fcect.core.participants import hamd_reduction


def scan_motion(confounds, drop_volumes=0, fd_method="power", path="confounds"):
    """Motion summary of one scan after dropping the initial volumes: mean/max FD, max translation and rotation,
    number of volumes, and the FD series.

    ``confounds`` may be a list (one table per run of the scan, ``path`` then a list of their paths): the initial
    volumes are dropped from each run and FD computed within each run; the maxima are taken over runs, the mean FD
    over every volume of every run (bar each run's first, which has no FD), the volumes summed and the FD series
    concatenated, so that the scan is judged (and excluded) as a whole."""
    if not isinstance(confounds, pd.DataFrame):
        paths = [path] * len(confounds) if isinstance(path, (str, bytes, os.PathLike)) or path is None else list(path)
        parts = [run_motion(c, drop_volumes, fd_method, p) for c, p in zip(confounds, paths)]
        if not parts:
            raise InputError(path, "no run to summarise")
        steps = np.concatenate([m["fd"][1:] for m in parts])
        return dict(mean_fd=float(steps.mean()) if len(steps) else 0.0, fd_method=fd_method,
                    max_fd=max(m["max_fd"] for m in parts),
                    max_translation_mm=max(m["max_translation_mm"] for m in parts),
                    max_rotation_deg=max(m["max_rotation_deg"] for m in parts),
                    n_volumes=int(sum(m["n_volumes"] for m in parts)), fd=np.concatenate([m["fd"] for m in parts]),
                    n_runs=len(parts))
    return run_motion(confounds, drop_volumes, fd_method, path)


def run_motion(confounds: pd.DataFrame, drop_volumes=0, fd_method="power", path="confounds"):
    """Motion summary of one run (see :func:`scan_motion`)."""
    missing = [c for c in MOTION if c not in confounds.columns]
    if missing:
        raise InputError(path, f"missing motion column(s) {missing}")
    p = confounds[MOTION].to_numpy(float)
    if not np.all(np.isfinite(p)):
        raise InputError(path, "motion parameters contain n/a or non-finite values")
    p = p[drop_volumes:]
    fd = framewise_displacement(p, fd_method)
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
    part["hamd_reduction"] = hamd_reduction(part["hamd_pre"], part["hamd_post"], reduction)
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
