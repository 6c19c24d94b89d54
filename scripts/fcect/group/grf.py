"""Gaussian random field (GRF) cluster correction of a t map, as DPABI's y_GRF_Threshold / FSL's easythresh.

* :func:`t_to_z`: signed Z with the same one-tailed p as the t statistic;
* :func:`estimate_smoothness`: smoothness (dLh, FWHM, resels) of the model residuals, as DPABI's y_Smoothest
  (FSL smoothest), with its correction for the residual degrees of freedom;
* :func:`grf_params`, :func:`grf_cluster_p`, :func:`grf_min_cluster_size`: Friston et al. (1994) cluster-size
  distribution and the minimal significant cluster size;
* :func:`grf_cluster_inference`: the whole correction (clusters of each tail, their p, the p map).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage, stats

from fcect.core.clusters import structure


# FSL smoothest / DPABI y_Smoothest look-up table: correction of dLh for the residual degrees of freedom.
_SMOOTHEST_LUT = {
    6: 1.5423138, 7: 1.3757105, 8: 1.2842680, 9: 1.2272151, 10: 1.1885232, 11: 1.1606988, 12: 1.1398000,
    13: 1.1235677, 14: 1.1106196, 15: 1.1000651, 16: 1.0913060, 17: 1.0839261, 18: 1.0776276, 19: 1.0721920,
    20: 1.0674553, 21: 1.0632924, 26: 1.0483053, 31: 1.0390117, 41: 1.0281339, 51: 1.0219834, 61: 1.0180339,
    71: 1.0152850, 81: 1.0132621, 91: 1.0117115, 101: 1.0104851, 151: 1.0068808, 201: 1.0051200,
    301: 1.0033865, 501: 1.0020191,
}


def _dof_correction(dof):
    """DPABI y_Smoothest's DOF correction factor ``retval`` (dLh is multiplied by sqrt(retval)).

    Reproduces DPABI's code literally: linear interpolation of the table over 1..501 and
    ``retval = (lut[f+1] - lut[f]) * (dof - f + 1) + lut[f+1]`` with f = floor(dof);
    dof < 6: retval = 1.21 (dLh * 1.1); dof > 500: retval = 1 + 1.0321 / dof."""
    if dof < 6:
        return 1.1 ** 2
    if dof > 500:
        return 1.0321 / dof + 1.0
    xs = np.array(sorted(_SMOOTHEST_LUT))
    ys = np.array([_SMOOTHEST_LUT[k] for k in xs])
    lut = lambda i: float(np.interp(i, xs, ys))  # noqa: E731
    f = math.floor(dof)
    return (lut(f + 1) - lut(f)) * (dof - f + 1) + lut(f + 1)


def estimate_smoothness(resid, mask, dof=None, voxel_size=(1.0, 1.0, 1.0)):
    """Smoothness of a 4-D residual image as DPABI's y_Smoothest (FSL smoothest, Flitney & Jenkinson 2000).

    ``resid``: (n, V) residuals over the mask voxels (or (V,) for a single Z image). Each voxel's series is
    standardised over subjects; with voxels c whose x-, y- and z-predecessors are all in the mask::

        SSminus_d = sum_{c,t} r(c) r(c - e_d),  S2_d = sum_{c,t} (r(c)^2 + r(c - e_d)^2) / 2
        sigma_d^2 = -1 / (4 ln(SSminus_d / S2_d))          (voxels^2)
        dLh = (sigma_x^2 sigma_y^2 sigma_z^2)^(-1/2) * 8^(-1/2)  [= sqrt(det Lambda)],  * sqrt(retval(dof))
        FWHM_d = sqrt(8 ln 2 sigma_d^2)  (voxels; times voxel size for mm), resels = FWHMx FWHMy FWHMz

    Returns dict(dLh, fwhm_vox, fwhm_mm, resels, n_voxels, dof)."""
    mask = np.asarray(mask, dtype=bool)
    R = np.atleast_2d(np.asarray(resid, dtype=float))
    if R.shape[1] != int(mask.sum()):
        R = R.T
    nt = R.shape[0]
    if nt > 2:
        R = (R - R.mean(axis=0)) / R.std(axis=0, ddof=1)
        R[~np.isfinite(R)] = 0
    idx = np.full(mask.shape, -1, dtype=np.int64)
    idx[mask] = np.arange(int(mask.sum()))
    core = mask.copy()
    core[0, :, :] = core[:, 0, :] = core[:, :, 0] = False
    sh = np.zeros_like(mask)
    for ax in range(3):
        sl = [slice(None)] * 3
        sl_prev = [slice(None)] * 3
        sl[ax] = slice(1, None)
        sl_prev[ax] = slice(0, -1)
        sh[:] = False
        sh[tuple(sl)] = mask[tuple(sl_prev)]
        core &= sh
    c = idx[core]
    ijk = np.argwhere(core)
    ssm = np.zeros(3)
    s2 = np.zeros(3)
    for ax in range(3):
        prev = ijk.copy()
        prev[:, ax] -= 1
        p = idx[prev[:, 0], prev[:, 1], prev[:, 2]]
        a = R[:, c]
        b = R[:, p]
        ssm[ax] = np.sum(a * b)
        s2[ax] = np.sum(0.5 * (a * a + b * b))
    if np.any(s2 <= 0):
        raise ValueError("smoothness cannot be estimated: no pair of neighbouring mask voxels with signal")
    ssm = np.minimum(ssm, 0.99999999 * s2)
    sigmasq = -1.0 / (4.0 * np.log(np.abs(ssm / s2)))
    dLh = float(np.prod(sigmasq) ** -0.5 * 8 ** -0.5)
    if nt > 1:
        dLh *= math.sqrt(_dof_correction(dof if dof is not None else 100))
    fwhm = np.sqrt(8 * math.log(2) * sigmasq)
    return {
        "dLh": dLh,
        "fwhm_vox": fwhm.tolist(),
        "fwhm_mm": (fwhm * np.asarray(voxel_size, dtype=float)).tolist(),
        "resels": float(np.prod(fwhm)),
        "n_voxels": int(mask.sum()),
        "dof": dof,
    }


def grf_params(n_voxels, dLh, z_thr, D=3):
    """Friston et al. (1994) / FSL cluster parameters: expected number of clusters Em, of voxels EN, and Beta.

    ``Em = V (2 pi)^(-(D+1)/2) dLh (z^2 - 1)^((D-1)/2) exp(-z^2/2)``, ``EN = V (1 - Phi(z))``,
    ``Beta = (Gamma(D/2 + 1) Em / EN)^(2/D)``."""
    z = float(z_thr)
    Em = n_voxels * (2 * math.pi) ** (-(D + 1) / 2) * dLh * (z * z - 1) ** ((D - 1) / 2) * math.exp(-z * z / 2)
    EN = n_voxels * stats.norm.sf(z)
    beta = (math.gamma(D / 2 + 1) * Em / EN) ** (2 / D)
    return Em, EN, beta


def grf_cluster_p(k, n_voxels, dLh, z_thr, D=3):
    """P(largest cluster >= k voxels) = 1 - exp(-Em exp(-Beta k^(2/D))) (one tail)."""
    Em, _, beta = grf_params(n_voxels, dLh, z_thr, D)
    k = np.asarray(k, dtype=float)
    return -np.expm1(-Em * np.exp(-beta * k ** (2.0 / D)))


def grf_min_cluster_size(n_voxels, dLh, z_thr, cluster_p, D=3, max_k=10**7):
    """Smallest k with one-tailed cluster p < ``cluster_p`` (DPABI's loop: k = 1, 2, ... while p >= cluster_p)."""
    Em, _, beta = grf_params(n_voxels, dLh, z_thr, D)
    if Em <= 0:
        return 1
    # p(k) < cp  <=>  k^(2/D) > -ln(-ln(1-cp)/Em) / beta
    target = -math.log1p(-cluster_p)
    bound = -math.log(target / Em) / beta
    k0 = 1 if bound <= 0 else max(1, int(math.floor(bound ** (D / 2))) - 2)
    k = k0
    while k < max_k and float(grf_cluster_p(k, n_voxels, dLh, z_thr, D)) >= cluster_p:
        k += 1
    while k > 1 and float(grf_cluster_p(k - 1, n_voxels, dLh, z_thr, D)) < cluster_p:
        k -= 1
    return int(k)


def t_to_z(t, dof):
    """Signed Z with the same one-tailed p as |t| (DPABI y_TFRtoZ), computed from log p for extreme values."""
    t = np.asarray(t, dtype=float)
    logp = stats.t.logsf(np.abs(t), dof)
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        z = stats.norm.isf(np.exp(logp))
        tiny = logp < -700   # exp underflows: asymptotic inverse of the normal tail
        if np.any(tiny):
            lp = -logp[tiny]
            zz = np.sqrt(2 * lp)
            for _ in range(3):  # Newton on log(sf(z)) = logp with sf(z) ~ phi(z)/z
                zz = np.sqrt(2 * lp - np.log(2 * np.pi) - 2 * np.log(zz))
            z = np.array(z, dtype=float)
            z[tiny] = zz
    return np.sign(t) * z


def grf_cluster_inference(t, dof, resid, mask, voxel_p=0.001, cluster_p=0.05, two_tailed=True,
                          connectivity=26, voxel_size=(1.0, 1.0, 1.0), resid_dof=None):
    """DPABI-style GRF cluster correction of a t map (over the mask voxels).

    t -> Z (same tail p); smoothness (dLh) from the residuals (:func:`estimate_smoothness`, DOF = n - rank);
    z threshold = Phi^-1(1 - voxel_p/2) two-tailed (Phi^-1(1 - voxel_p) one-tailed); cluster threshold per tail
    = cluster_p / 2 two-tailed; the minimal size k_min is the smallest k with 1 - exp(-Em exp(-Beta k^(2/3)))
    < cluster threshold (Friston et al. 1994 with Em, Beta of :func:`grf_params`, V = number of mask voxels);
    clusters (26-connectivity, Z >= z_thr and Z <= -z_thr separately) with >= k_min voxels survive. The
    reported cluster p is two-tailed: min(1, 2 * p_tail) (one-tailed: p_tail), so it is < cluster_p exactly
    for the surviving clusters.

    Returns dict(z, labels (V,), clusters (list with p), k_min, z_thr, smoothness, p (V,))."""
    mask = np.asarray(mask, dtype=bool)
    z = t_to_z(t, dof)
    sm = estimate_smoothness(resid, mask, dof=resid_dof if resid_dof is not None else dof, voxel_size=voxel_size)
    nvox = sm["n_voxels"]
    z_thr = float(stats.norm.isf(voxel_p / 2 if two_tailed else voxel_p))
    cp_tail = cluster_p / 2 if two_tailed else cluster_p
    kmin = grf_min_cluster_size(nvox, sm["dLh"], z_thr, cp_tail)
    z3 = np.zeros(mask.shape)
    z3[mask] = z
    st = structure(connectivity)
    labels = np.zeros(mask.shape, dtype=np.int32)
    clusters = []
    signs = (1, -1) if two_tailed else (1,)
    raw = []
    for sign in signs:
        lab, nlab = ndimage.label(sign * z3 >= z_thr, st)
        if nlab == 0:
            continue
        sizes = np.bincount(lab.ravel(), minlength=nlab + 1)
        for lb in range(1, nlab + 1):
            raw.append((sign, int(sizes[lb]), lab, lb))
    raw.sort(key=lambda r: (-r[0], -r[1]))
    i = 0
    p3 = np.ones(mask.shape)
    for sign, k, lab, lb in raw:
        p_tail = float(grf_cluster_p(k, nvox, sm["dLh"], z_thr))
        p = min(1.0, 2 * p_tail) if two_tailed else p_tail
        vox = lab == lb
        p3[vox] = p                    # p of every supra-threshold cluster (the p map); survivors are listed
        if k < kmin:
            continue
        i += 1
        labels[vox] = i
        ijk = np.argwhere(vox)
        vals = z3[vox]
        j = int(np.argmax(np.abs(vals)))
        clusters.append({"label": i, "sign": sign, "size": k, "p": p, "p_tail": p_tail,
                         "peak_ijk": tuple(int(v) for v in ijk[j])})
    pv = p3[mask]
    return {"z": z, "labels": labels[mask], "clusters": clusters, "k_min": kmin, "z_thr": z_thr,
            "cluster_p_tail": cp_tail, "smoothness": sm, "p": pv}
