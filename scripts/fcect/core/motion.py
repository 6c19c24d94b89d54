"""Head-motion parameters: the six rigid-body columns (fMRIPrep names) and framewise displacement.

Used by the QC stage (exclusions) and by the simulator (the confounds it writes), so that both compute FD the same
way.
"""

from __future__ import annotations

import numpy as np

MOTION = ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"]   # mm, mm, mm, rad, rad, rad


def fd_power(params, radius=50.0, first=0.0):
    """Power et al. (2012) FD: sum of absolute backward differences of the 3 translations (mm) and the 3
    rotations (radians) converted to arc length on a sphere of ``radius`` mm. The first volume gets ``first``
    (0 for QC; NaN, as fMRIPrep writes n/a, in a confounds table)."""
    p = np.asarray(params, float)
    d = np.abs(np.diff(p, axis=0))
    fd = d[:, :3].sum(axis=1) + radius * d[:, 3:].sum(axis=1)
    return np.concatenate([[first], fd])


def rigid_matrix(p):
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
    prev = rigid_matrix(p[0])
    for t in range(1, len(p)):
        cur = rigid_matrix(p[t])
        M = cur @ np.linalg.inv(prev) - np.eye(4)
        A, m = M[:3, :3], M[:3, 3]
        out[t] = np.sqrt(radius ** 2 / 5.0 * np.trace(A.T @ A) + m @ m)
        prev = cur
    return out


FD_METHODS = {"power": fd_power, "jenkinson": fd_jenkinson}


def framewise_displacement(params, method="power"):
    """FD by ``method`` (power | jenkinson); the first volume is 0."""
    if method not in FD_METHODS:
        raise ValueError(f"unknown FD method {method!r}; choose one of {sorted(FD_METHODS)}")
    return FD_METHODS[method](params)
