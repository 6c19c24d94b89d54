"""One simulated scan: BOLD image, brain mask, fMRIPrep-style confounds and the realised couplings, written in the
fMRIPrep-derivatives layout.

Signal model (per scan, in percent signal change on a simulated acquisition grid):

* latent time courses, band-limited to 0.01-0.1 Hz and of unit variance: one driver ``S_j`` per cerebellar seed,
  one own signal ``U_r`` per cerebral target region, a global signal ``G``;
* each target region's driver ``D_r = sum_j c_jr S_j + sqrt(1 - sum_j c_jr^2) U_r``; the coupling ``c_jr`` of
  seed ``j`` with target ``r`` is subject- and session-specific (this is where the planted effects live);
* voxel neural signal ``n_v = w_v D_r (or S_j in a seed) + sqrt(1 - w_v^2) E_v`` with ``E`` spatially smooth,
  band-limited noise and ``w_v`` a Gaussian profile around each region centre;
* BOLD% = gm_v (n_v + a_g G) + physiological WM/CSF signals (leaking into GM) + motion artefacts linear and
  quadratic in the six realignment parameters and their derivatives (so Friston-24 explains them) + thermal
  white noise + a linear drift; plus a T1 saturation decay over the first (non-steady-state) volumes.

The realised coupling of every scan (Fisher z of the correlation between the noise-free seed and target signals,
band-passed like the analysis) is written next to the planted values, so every downstream estimate can be
compared with the truth.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
from types import SimpleNamespace

from fcect.core.io import save_columns_tsv, save_json, save_nifti
from fcect.core.motion import MOTION, fd_power
from fcect.simulate.anatomy import read_tissue, region_profile, sim_grid, sim_tissue
from fcect.simulate.params import CONTROL_REGION, REGIONS, SimParams, hash_str


# --------------------------------------------------------------------------------------------- signals
def bandlimited(rng, n, T, tr, low=0.01, high=0.1):
    """n independent Gaussian series band-limited to [low, high] Hz, unit variance, shape (n, T)."""
    x = rng.standard_normal((n, T))
    f = np.fft.rfftfreq(T, d=tr)
    X = np.fft.rfft(x, axis=-1)
    X[..., (f < low) | (f > high)] = 0
    y = np.fft.irfft(X, n=T, axis=-1)
    y -= y.mean(axis=-1, keepdims=True)
    y /= y.std(axis=-1, keepdims=True) + 1e-12
    return y


def motion_params(rng, T, tr, scale=1.0, outlier=False):
    """Six realignment parameters (trans mm, rot rad) as fMRIPrep reports them, shape (T, 6)."""
    step = np.array([0.015, 0.015, 0.02, 0.00025, 0.00025, 0.0002]) * scale
    m = np.cumsum(rng.standard_normal((T, 6)) * step, axis=0)
    n_jumps = rng.poisson(2)
    for _ in range(n_jumps):
        t0 = rng.integers(1, T)
        m[t0:] += rng.standard_normal(6) * step * 8
    if outlier:
        # a slow drift reaching ~3 mm / ~2.5 deg: exceeds the default 2 mm / 2 deg exclusion thresholds
        ramp = np.linspace(0, 1, T)[:, None]
        m += ramp * np.array([0.5, 3.0, 1.0, 0.045, 0.01, 0.005])
    m -= m[0]
    return m


def _derivs(name, x):
    """A confound column with its derivative, square and squared derivative, named as fMRIPrep names them."""
    d = np.concatenate([[np.nan], np.diff(x)])
    return {name: x, f"{name}_derivative1": d, f"{name}_power2": x ** 2, f"{name}_derivative1_power2": d ** 2}


# --------------------------------------------------------------------------------------------- one scan
def read_scan_couplings(path, participant_id: str, session: str) -> tuple[list[dict], bool]:
    """The planted couplings of one scan from ``sourcedata/subject_couplings.tsv`` (rule simulate_participants):
    its rows' seed, target and coupling, and whether the scan is a planted motion outlier (its
    ``motion_outlier_sessions`` is ``session``). Read with the csv module, not pandas (see :func:`_records`)."""
    import csv

    with open(path, newline="") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t")
                if r["participant_id"] == participant_id and r["session"] == session]
    if not rows:
        raise ValueError(f"{path}: no couplings for {participant_id} {session}")
    outlier = rows[0].get("motion_outlier_sessions", "") == session
    return [dict(seed=r["seed"], target=r["target"], coupling=float(r["coupling"])) for r in rows], outlier


def _records(table) -> list:
    """The rows of ``table`` (a DataFrame, or a sequence of dicts) as objects with attribute access: a
    simulate_scan job passes dicts, so that it does not import pandas (~0.35 s of its ~2 s; bench/README.md)."""
    if hasattr(table, "itertuples"):
        return list(table.itertuples(index=False))
    return [SimpleNamespace(**dict(r)) for r in table]


def simulate_scan(p: SimParams, sub: str, ses: str, sub_couplings, outlier: bool, seeds,
                  tissue: dict | None = None):
    """Generate one scan. Returns (bold_img, mask_img, confounds DataFrame, truth dict). ``sub_couplings``
    (seed, target, coupling) and ``seeds`` (seed_id, x, y, z, radius_mm): DataFrames or sequences of dicts."""
    import pandas as pd

    img, mask_img, cols, truth = _simulate(p, sub, ses, sub_couplings, outlier, seeds, tissue)
    return img, mask_img, pd.DataFrame(cols), truth


def _simulate(p: SimParams, sub: str, ses: str, sub_couplings, outlier: bool, seeds, tissue: dict | None = None):
    """:func:`simulate_scan` with the confounds as a dict of columns (name -> array), without pandas."""
    from scipy import ndimage

    seeds = _records(seeds)
    sub_couplings = _records(sub_couplings)

    if tissue is None:
        tissue = sim_tissue(p)
    ses_idx = 0 if ses == p.ses_pre else 1
    rng = np.random.default_rng(np.random.SeedSequence([p.seed, 10, int(sub) if sub.isdigit() else hash_str(sub),
                                                        ses_idx]))
    affine, shape = sim_grid(p.voxel_mm)
    T, tr = p.n_volumes, p.tr
    brain_p, gm, wm, csf = (tissue[k] for k in ("brain", "gm", "wm", "csf"))
    brain = brain_p > 0.5
    idx = np.flatnonzero(brain.ravel())
    ijk = np.array(np.unravel_index(idx, shape)).T
    xyz = nib.affines.apply_affine(affine, ijk)
    V = len(idx)
    gmv, wmv, csfv = gm.ravel()[idx], wm.ravel()[idx], csf.ravel()[idx]

    seed_ids = [row.seed_id for row in seeds]
    regions = list(REGIONS)
    cmat = np.zeros((len(seed_ids), len(regions)))
    for r in sub_couplings:
        if r.seed in seed_ids:
            cmat[seed_ids.index(r.seed), regions.index(r.target)] = r.coupling

    S = bandlimited(rng, len(seed_ids), T, tr)
    U = bandlimited(rng, len(regions), T, tr)
    G = bandlimited(rng, 1, T, tr)[0]
    own = np.sqrt(np.clip(1 - (cmat ** 2).sum(axis=0), 0.05, 1))
    D = cmat.T @ S + own[:, None] * U

    # spatial weights: targets (Gaussian profile), seeds (cerebellar GM near the seed centre)
    W = np.zeros((V, len(regions) + len(seed_ids)), dtype=np.float32)
    for k, name in enumerate(regions):
        W[:, k] = 0.8 * region_profile(xyz, REGIONS[name]["centers"], REGIONS[name]["radius"])
    cereb = tissue["cerebellum"].ravel()[idx] > 0.5
    for j, row in enumerate(seeds):
        prof = region_profile(xyz, [(row.x, row.y, row.z)], float(row.radius_mm) + 4.0)
        W[:, len(regions) + j] = 0.9 * np.where(cereb, np.minimum(1.0, prof * 1.5), 0)
    wtot = np.clip(np.sqrt((W ** 2).sum(axis=1)), 0, 0.95)
    W *= (wtot / np.maximum(np.sqrt((W ** 2).sum(axis=1)), 1e-9))[:, None]
    drivers = np.vstack([D, S]).astype(np.float32)

    # smooth band-limited noise field
    E = np.zeros(shape + (T,), dtype=np.float32)
    E[brain] = bandlimited(rng, V, T, tr).astype(np.float32)
    sigma_vox = p.smooth_noise_fwhm / 2.3548 / p.voxel_mm
    E = ndimage.gaussian_filter(E, sigma=(sigma_vox, sigma_vox, sigma_vox, 0), mode="constant")
    En = E.reshape(-1, T)[idx]
    del E
    En -= En.mean(axis=1, keepdims=True)
    En /= En.std(axis=1, keepdims=True) + 1e-6
    En *= np.sqrt(1 - wtot ** 2)[:, None]
    neural = W @ drivers
    neural += En
    del En
    clean = neural + p.global_amplitude * G[None, :]
    del neural
    clean *= gmv[:, None]  # noise-free BOLD%, for the truth

    # physiological signals (broadband up to 0.2 Hz) in WM and CSF, leaking into GM
    P = bandlimited(rng, 2, T, tr, low=0.005, high=0.2)
    physio = (wmv * 1.5 + 0.8 * gmv)[:, None] * P[0] + (csfv * 2.0 + 0.8 * gmv)[:, None] * P[1]

    # motion artefacts: smooth random spatial maps, larger at the brain edge
    m = motion_params(rng, T, tr, scale=p.motion_scale, outlier=outlier)
    mm = m.copy()
    mm[:, 3:] *= 50.0  # rotations as displacement at 50 mm
    edge = np.clip(1.0 - ndimage.gaussian_filter(brain_p, 1.5), 0, 1).ravel()[idx] * 4 + 0.5
    beta = np.zeros(shape + (18,), dtype=np.float32)
    beta[brain] = rng.standard_normal((V, 18)).astype(np.float32)
    beta = ndimage.gaussian_filter(beta, sigma=(2, 2, 2, 0)).reshape(-1, 18)[idx]
    beta /= beta.std(axis=0, keepdims=True) + 1e-9
    dm = np.vstack([np.zeros((1, 6)), np.diff(mm, axis=0)])
    mreg = np.hstack([mm * 3.0, (mm - mm.mean(0)) ** 2 * 2.0, dm * 10.0])  # linear, quadratic, derivative
    motion_art = (edge[:, None] * beta) @ mreg.T

    # the sums and products below run in place, in the order (and so with the rounding) of
    # base * (1 + 0.01 * (clean + physio + motion_art + thermal + drift)) * sat
    pct = clean + physio
    del physio
    pct += motion_art
    del motion_art
    thermal = rng.standard_normal((V, T)).astype(np.float32)
    thermal *= np.float32(0.5)
    pct += thermal
    del thermal
    pct += rng.standard_normal(V)[:, None] * np.linspace(-1, 1, T)[None, :]  # linear drift
    base = 800 * gmv + 600 * wmv + 1200 * csfv + 50
    sat = np.ones(T)
    sat[: p.n_dummy] += 0.3 * np.exp(-np.arange(p.n_dummy) / 2.0)
    vals = pct
    vals *= 0.01
    vals += 1
    vals *= base[:, None]
    vals *= sat[None, :]
    del pct
    data = np.zeros((int(np.prod(shape)), T), dtype=np.float32)
    data[idx] = vals
    data = data.reshape(shape + (T,))
    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = tr
    img.set_data_dtype(np.int16)  # scaled int16, as scanners and many pipelines store BOLD
    mask_img = nib.Nifti1Image(brain.astype(np.uint8), affine)

    conf = _confounds(m, vals, wmv, csfv, T, tr, p.n_dummy)
    W_seeds = W[:, len(regions):]
    truth = _realised_couplings(clean, seeds, W_seeds, xyz, gmv, cereb, idx, affine, shape, tr,
                                keep=slice(p.n_dummy, T))
    truth_out = dict(participant_id=f"sub-{sub}", session=ses, realised_fc_z=truth,
                     planted_coupling={f"{r.seed}-{r.target}": r.coupling
                                       for r in sub_couplings},
                     motion_outlier=bool(outlier))
    return img, mask_img, conf, truth_out


def _confounds(m, vals, wmv, csfv, T, tr, n_dummy) -> dict:
    """Confounds, as fMRIPrep computes them from the image: realignment parameters (``m``, shape (T, 6)),
    WM/CSF/global means of the voxel signals ``vals`` (brain voxels x T), FD, aCompCor, cosine and
    non-steady-state regressors."""
    cols = {}
    names = MOTION
    for k, nme in enumerate(names):
        cols.update(_derivs(nme, m[:, k]))
    wm_mask = (wmv > 0.9)
    csf_mask = (csfv > 0.5)
    cols.update(_derivs("white_matter", vals[wm_mask].mean(axis=0)))
    cols.update(_derivs("csf", vals[csf_mask].mean(axis=0)))
    cols.update(_derivs("global_signal", vals.mean(axis=0)))
    cols["framewise_displacement"] = fd_power(m, first=np.nan)
    # aCompCor: top principal components of high-pass-filtered WM+CSF voxel signals
    noise_vox = vals[wm_mask | csf_mask].T
    noise_vox = noise_vox - noise_vox.mean(axis=0)
    tt = np.arange(T)
    dct = np.array([np.cos(np.pi * (tt + 0.5) * k / T) for k in range(1, max(2, int(2 * T * tr / 128) + 1))]).T
    noise_vox = noise_vox - dct @ np.linalg.lstsq(dct, noise_vox, rcond=None)[0]
    nv = noise_vox / (noise_vox.std(axis=0) + 1e-9)
    evals, evecs = np.linalg.eigh(nv @ nv.T)  # left singular vectors via the small T x T Gram matrix
    u = evecs[:, ::-1]
    for k in range(5):
        cols[f"a_comp_cor_{k:02d}"] = u[:, k] * np.sign(u[np.argmax(np.abs(u[:, k])), k])
    for k in range(dct.shape[1]):
        cols[f"cosine{k:02d}"] = dct[:, k]
    for k in range(n_dummy):
        v = np.zeros(T)
        v[k] = 1
        cols[f"non_steady_state_outlier{k:02d}"] = v
    return cols


def _realised_couplings(clean, seeds, W_seeds, xyz, gmv, cereb, idx, affine, shape, tr, keep) -> dict:
    """Realised couplings ``{"<seed>-<target>": Fisher z}``: correlation of the band-passed noise-free seed and
    target means (``clean``: brain voxels x T) over the retained volumes ``keep``; targets are the planted
    regions and the control region. ``W_seeds`` holds each seed's spatial weight (fallback seed mask)."""
    truth = {}
    seed_means = {}
    inv = np.linalg.inv(affine)
    for j, row in enumerate(seeds):
        sm = _sphere_in(xyz, idx, (row.x, row.y, row.z), float(row.radius_mm), inv, shape) & cereb
        if sm.sum() == 0:
            sm = W_seeds[:, j] > 0.5 * W_seeds[:, j].max()
        seed_means[row.seed_id] = clean[sm].mean(axis=0)

    def core(centers, radius):
        prof = region_profile(xyz, centers, radius) * (gmv > 0.2)
        return prof >= 0.5 * prof.max()

    target_means = {name: clean[core(REGIONS[name]["centers"], REGIONS[name]["radius"])].mean(axis=0)
                    for name in REGIONS}
    target_means[CONTROL_REGION["name"]] = clean[core(CONTROL_REGION["centers"],
                                                      CONTROL_REGION["radius"])].mean(axis=0)

    # band-pass every mean at once (nilearn.signal.butterworth's filter: order 5, odd padding, zero phase)
    means = list(seed_means.values()) + list(target_means.values())
    filtered = _bandpass(np.array([m[keep] for m in means], dtype=float), tr, 0.01, 0.08)
    seed_f = dict(zip(seed_means, filtered[: len(seed_means)]))
    target_f = dict(zip(target_means, filtered[len(seed_means):]))
    for s_id, sx in seed_f.items():
        for t_name, tx in target_f.items():
            r = np.corrcoef(sx, tx)[0, 1]
            truth[f"{s_id}-{t_name}"] = float(np.arctanh(np.clip(r, -0.999999, 0.999999)))
    return truth


def _sphere_in(xyz, idx, center, radius, inv_affine, shape):
    """Which of the points ``xyz`` (flat grid indices ``idx``) lie within ``radius`` mm of ``center``, by
    :func:`fcect.preprocess.masks.sphere_mask`'s rule (the grid voxel nearest the centre always counts), computed on
    these points only instead of the whole grid."""
    inside = np.linalg.norm(xyz - np.asarray(center, float), axis=1) <= radius
    nearest = np.round(nib.affines.apply_affine(inv_affine, center)).astype(int)
    if np.all(nearest >= 0) and np.all(nearest < np.array(shape)):
        inside[idx == np.ravel_multi_index(tuple(nearest), shape)] = True
    return inside


def _bandpass(x, tr, high_pass, low_pass, order=5):
    """Zero-phase Butterworth band-pass of each row of ``x`` (shape (n, T)): the filter of
    ``nilearn.signal.butterworth`` (``scipy.signal.butter(order, band, output="sos")`` run forwards and backwards
    by ``sosfiltfilt`` with odd padding of 3 x (2 x sections + 1) samples and steady-state initial conditions),
    written with numpy alone: importing scipy.signal imports scipy.stats, a second of every simulation job.
    Equals scipy's result to rounding (``tests/unit/simulate``)."""
    sos = _butter_bandpass_sos(order, high_pass, low_pass, 1.0 / tr)
    zi = _sos_zi(sos)
    pad = 3 * (2 * len(sos) + 1)  # no section has a zero b2 or a2
    x = np.asarray(x, dtype=float)
    if x.shape[-1] <= pad:
        raise ValueError(f"band-pass needs more than {pad} samples, got {x.shape[-1]}")
    ext = np.concatenate([2 * x[:, :1] - x[:, pad:0:-1], x, 2 * x[:, -1:] - x[:, -2:-pad - 2:-1]], axis=1)
    y = _sosfilt(sos, ext, zi[:, None, :] * ext[:, 0][None, :, None])
    y = _sosfilt(sos, y[:, ::-1], zi[:, None, :] * y[:, -1][None, :, None])[:, ::-1]
    return y[:, pad:-pad]


def _butter_bandpass_sos(order, low, high, fs):
    """Second-order sections (rows b0 b1 b2 a0 a1 a2) of the digital Butterworth band-pass [low, high] Hz:
    analog prototype poles, band-pass transform and bilinear transform of the pre-warped band, as
    ``scipy.signal.butter`` computes them; each section holds the zeros +1 and -1 and a conjugate (or real)
    pair of poles, the gain goes to the first."""
    fs = float(fs)
    wl, wh = 2 * fs * np.tan(np.pi * np.array([low, high], dtype=float) / fs)
    proto = -np.exp(1j * np.pi * np.arange(-order + 1, order, 2) / (2 * order))
    bw, wo = wh - wl, np.sqrt(wl * wh)
    p_lp = proto * bw / 2
    root = np.sqrt(p_lp ** 2 - wo ** 2 + 0j)
    p = np.concatenate([p_lp + root, p_lp - root])
    fs2 = 2 * fs
    pz = (fs2 + p) / (fs2 - p)
    gain = bw ** order * np.real(fs2 ** order / np.prod(fs2 - p))
    tol = 1e-12
    cplx = np.sort_complex(pz[pz.imag > tol])
    real = np.sort(pz[np.abs(pz.imag) <= tol].real)
    if len(real) % 2:
        raise ValueError("unpaired real pole in the Butterworth band-pass design")
    den = [[1.0, -2 * q.real, abs(q) ** 2] for q in cplx]
    den += [[1.0, -(real[i] + real[i + 1]), real[i] * real[i + 1]] for i in range(0, len(real), 2)]
    sos = np.array([[1.0, 0.0, -1.0] + d for d in den])
    sos[0, :3] *= gain
    return sos


def _sos_zi(sos):
    """Steady-state initial conditions of the cascade for a unit step (``scipy.signal.sosfilt_zi``)."""
    zi = np.zeros((len(sos), 2))
    scale = 1.0
    for k, (b0, b1, b2, _, a1, a2) in enumerate(sos):
        zi[k] = scale * np.linalg.solve([[1 + a1, -1.0], [a2, 1.0]], [b1 - a1 * b0, b2 - a2 * b0])
        scale *= (b0 + b1 + b2) / (1 + a1 + a2)
    return zi


def _sosfilt(sos, x, zi):
    """Cascade of second-order sections, transposed direct form II, along the last axis of ``x`` (n, T);
    ``zi`` (sections, n, 2) are the initial states."""
    y = np.array(x, dtype=float)
    for k, (b0, b1, b2, _, a1, a2) in enumerate(sos):
        z0, z1 = zi[k, :, 0].copy(), zi[k, :, 1].copy()
        for t in range(y.shape[1]):
            xt = y[:, t].copy()
            yt = b0 * xt + z0
            z0 = b1 * xt - a1 * yt + z1
            z1 = b2 * xt - a2 * yt
            y[:, t] = yt
    return y


# --------------------------------------------------------------------------------------------- writing
def write_scan(p: SimParams, sub, ses, sub_couplings, outlier, seeds, out_paths: dict, truth_path,
               tissue_path=None):
    """Simulate one scan and write it in the fMRIPrep-derivatives layout (``out_paths``: bold, mask, confounds,
    bold_json) plus its truth JSON; the tissue maps are read from ``tissue_path`` or computed. Returns the truth."""
    tissue = read_tissue(tissue_path) if tissue_path else None
    img, mask, conf, truth = _simulate(p, sub, ses, sub_couplings, outlier, seeds, tissue)
    save_nifti(img, out_paths["bold"])
    save_nifti(mask, out_paths["mask"])
    save_columns_tsv(conf, out_paths["confounds"], float_format="%.6g")
    save_json({"RepetitionTime": p.tr, "TaskName": p.task, "SkullStripped": False,
               "SimulatedBy": "fcect.simulate"}, out_paths["bold_json"])
    save_json(truth, truth_path)
    return truth
