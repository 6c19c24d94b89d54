"""Simulated cohort with planted, known effects, written in the fMRIPrep-derivatives layout.

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

import json
from dataclasses import dataclass

import nibabel as nib
import numpy as np
import pandas as pd

from fcect.core.motion import MOTION, fd_power
from fcect.core.io import atomic_path, save_json, save_nifti, save_tsv

# --------------------------------------------------------------------------------------------- the planted world
# Cerebral target regions: centres (MNI mm; several for bilateral regions), radius of the Gaussian profile.
REGIONS = {
    "mSFG": dict(centers=[(-6, 48, 32), (6, 48, 32)], radius=10.0, network="default_mode",
                 label="bilateral medial superior frontal gyrus (AAL Frontal_Sup_Medial)"),
    "PCC": dict(centers=[(-6, -54, 30), (6, -54, 30)], radius=10.0, network="default_mode",
                label="posterior cingulate / precuneus"),
    "SMC": dict(centers=[(-38, -22, 56), (38, -22, 56)], radius=12.0, network="sensorimotor",
                label="bilateral pre/postcentral gyrus"),
    "DLPFCL": dict(centers=[(-44, 30, 30)], radius=10.0, network="executive", label="left middle frontal gyrus"),
    "DLPFCR": dict(centers=[(44, 30, 30)], radius=10.0, network="executive", label="right middle frontal gyrus"),
    "ACC": dict(centers=[(-4, 36, 8), (4, 36, 8)], radius=8.0, network="affective_limbic",
                label="pregenual anterior cingulate"),
}
# A control region that no seed drives (used to check that FC with planted targets exceeds FC elsewhere).
CONTROL_REGION = dict(name="V1", centers=[(-8, -88, 4), (8, -88, 4)], radius=8.0)

# Baseline couplings (seed, target) -> c for healthy controls and patients before ECT, unless an effect changes it.
COUPLINGS = [
    ("Exec1L", "DLPFCR", 0.5),
    ("Exec1R", "DLPFCL", 0.5),   # Exec1R is the null seed: same coupling in every group and session
    ("Exec2L", "DLPFCR", 0.3),
    ("Exec2L", "mSFG", 0.3),     # ECT effect: rises after ECT, rise ~ HAMD reduction, baseline predicts it
    ("Exec2R", "DLPFCL", 0.3),
    ("DMN9L", "PCC", 0.5),       # baseline effect: TRD < HC
    ("DMN9L", "SMC", 0.45),      # baseline effect: TRD < HC
    ("DMN9R", "PCC", 0.4),
    ("Limb6V", "ACC", 0.5),
]
BASELINE_EFFECT_PAIRS = [("DMN9L", "PCC"), ("DMN9L", "SMC")]
ECT_EFFECT_PAIR = ("Exec2L", "mSFG")
NULL_SEEDS = ["Exec1R"]


@dataclass
class SimParams:
    name: str = "default"
    seed: int = 20260101
    n_trd: int = 72
    n_completers: int = 53
    n_hc: int = 64
    motion_outliers: dict = None
    voxel_mm: float = 4.0
    n_volumes: int = 200
    n_dummy: int = 10
    tr: float = 2.0
    smooth_noise_fwhm: float = 6.0
    null_cohort: bool = False
    coupling_sd: float = 0.08
    baseline_effect: float = 0.2
    ect_effect: float = 0.5
    ect_effect_sd: float = 0.15
    clinical_r: float = 0.8
    baseline_predicts_r: float = -0.8
    ect_baseline_sd: float = 0.15
    max_coupling: float = 0.95
    global_amplitude: float = 0.5
    motion_scale: float = 1.0
    task: str = "rest"
    space: str = "MNI152NLin2009cAsym"
    res: str = "2"
    ses_pre: str = "pre"
    ses_post: str = "post"

    @classmethod
    def from_config(cls, cfg: dict, random_seed: int, sessions=("pre", "post"), task="rest",
                    space="MNI152NLin2009cAsym", res="2"):
        fields = {k: v for k, v in cfg.items() if k in cls.__dataclass_fields__ and k != "effects"}
        fields.update({k: v for k, v in (cfg.get("effects") or {}).items() if k in cls.__dataclass_fields__})
        fields.update(seed=int(random_seed), ses_pre=sessions[0], ses_post=sessions[1], task=task, space=space,
                      res=str(res))
        return cls(**fields)

    def effects(self):
        if self.null_cohort:
            return dict(baseline_effect=0.0, ect_effect=0.0, ect_effect_sd=0.0)
        return dict(baseline_effect=self.baseline_effect, ect_effect=self.ect_effect,
                    ect_effect_sd=self.ect_effect_sd)


# --------------------------------------------------------------------------------------------- cohort table
def cohort_table(p: SimParams) -> pd.DataFrame:
    """Participants, sessions and per-subject planted couplings. Cheap and deterministic: it is called at DAG
    construction time to know which scans exist."""
    rng = np.random.default_rng(np.random.SeedSequence([p.seed, 1]))
    n = p.n_trd + p.n_hc
    if p.n_completers > p.n_trd:
        raise ValueError("simulate.n_completers cannot exceed simulate.n_trd")
    groups = np.array(["TRD"] * p.n_trd + ["HC"] * p.n_hc)
    order = rng.permutation(n)
    groups = groups[order]
    ids = [f"{i + 1:03d}" for i in range(n)]
    trd_idx = np.flatnonzero(groups == "TRD")
    completers = set(rng.choice(trd_idx, size=p.n_completers, replace=False).tolist())
    age = np.clip(rng.normal(np.where(groups == "TRD", 41, 39), 11), 18, 65).round().astype(int)
    sex = np.where(rng.random(n) < 0.6, "F", "M")
    education = np.clip(rng.normal(np.where(groups == "TRD", 12, 13), 3), 6, 20).round().astype(int)

    eff = p.effects()
    # responsiveness R drives the ECT rise; HAMD reduction correlates with R at clinical_r
    R = rng.standard_normal(n)
    eps = rng.standard_normal(n)
    rate = np.clip(0.55 + 0.2 * (p.clinical_r * R + np.sqrt(1 - p.clinical_r ** 2) * eps), 0.0, 1.0)
    hamd_pre = np.where(groups == "TRD", np.clip(rng.normal(24, 4, n), 18, 38),
                        np.clip(rng.normal(3, 2, n), 0, 7)).round().astype(int)
    hamd_post = np.round(hamd_pre * (1 - rate)).astype(float)
    is_completer = np.array([i in completers for i in range(n)])
    hamd_post[~is_completer] = np.nan

    rows = []
    for i in range(n):
        row = dict(participant_id=f"sub-{ids[i]}", group=groups[i], age=int(age[i]), sex=sex[i],
                   education=int(education[i]), hamd_pre=int(hamd_pre[i]), hamd_post=hamd_post[i])
        rows.append(row)
    part = pd.DataFrame(rows)

    # per-subject couplings per session (the null cohort treats the ECT pair like every other pair: no rise, no
    # link of baseline coupling with responsiveness, the same session-to-session variability)
    sub_rows = []
    for i in range(n):
        trd = groups[i] == "TRD"
        sessions = [p.ses_pre] + ([p.ses_post] if is_completer[i] else [])
        for ses in sessions:
            post = ses == p.ses_post
            for seed, target, c0 in COUPLINGS:
                srng = np.random.default_rng(np.random.SeedSequence([p.seed, 2, i, hash_str(seed + target)]))
                c = c0 + p.coupling_sd * srng.standard_normal()
                if trd and (seed, target) in BASELINE_EFFECT_PAIRS:
                    c -= eff["baseline_effect"]
                ect_pair = (seed, target) == ECT_EFFECT_PAIR and not p.null_cohort
                if ect_pair:
                    # baseline coupling of patients tracks responsiveness (so it predicts the reduction)
                    if trd:
                        b = p.baseline_predicts_r
                        z = b * R[i] + np.sqrt(1 - b ** 2) * srng.standard_normal()
                        c = c0 + p.ect_baseline_sd * z
                        if post:
                            c += eff["ect_effect"] + eff["ect_effect_sd"] * R[i]
                if post and not ect_pair:
                    # session-to-session variability without any systematic change
                    c += 0.5 * p.coupling_sd * np.random.default_rng(
                        np.random.SeedSequence([p.seed, 3, i, hash_str(seed + target)])).standard_normal()
                sub_rows.append(dict(participant_id=f"sub-{ids[i]}", session=ses, seed=seed, target=target,
                                     coupling=float(np.clip(c, 0.0, p.max_coupling))))
    couplings = pd.DataFrame(sub_rows)
    part["responsiveness"] = R
    part["hamd_reduction_planted"] = np.where(is_completer, rate, np.nan)

    # motion outliers: assign to random scans of the named category
    mo = dict(p.motion_outliers or {})
    part["motion_outlier_sessions"] = ""
    orng = np.random.default_rng(np.random.SeedSequence([p.seed, 4]))
    cats = {"hc_pre": (np.flatnonzero(groups == "HC"), p.ses_pre),
            "trd_pre": (np.flatnonzero((groups == "TRD") & ~is_completer), p.ses_pre),
            "trd_post": (np.flatnonzero(is_completer), p.ses_post)}
    for key, k in mo.items():
        if key not in cats:
            raise ValueError(f"simulate.motion_outliers: unknown category {key!r} (use {sorted(cats)})")
        idx, ses = cats[key]
        for j in orng.choice(idx, size=min(int(k), len(idx)), replace=False):
            part.loc[j, "motion_outlier_sessions"] = ses
    return part, couplings


def hash_str(s: str) -> int:
    """Stable small integer from a string (Python's hash() is salted per process)."""
    return int.from_bytes(s.encode(), "little") % (2 ** 31)


def scans_of(part: pd.DataFrame, p: SimParams):
    out = []
    for row in part.itertuples(index=False):
        sub = row.participant_id[4:]
        out.append((sub, p.ses_pre))
        if row.group == "TRD" and not pd.isna(row.hamd_post):
            out.append((sub, p.ses_post))
    return out


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


def sim_grid(voxel_mm):
    """Simulated acquisition grid: brain bounding box, oblique-free but not aligned with the analysis grid."""
    v = float(voxel_mm)
    lo = np.array([-76.0, -114.0, -62.0]) + v / 3.0  # deliberately off the analysis lattice
    hi = np.array([78.0, 80.0, 86.0])
    shape = tuple(int(np.ceil((h - l) / v)) + 1 for l, h in zip(lo, hi))
    affine = np.diag([v, v, v, 1.0])
    affine[:3, 3] = lo
    return affine, shape


def _profile(xyz, centers, radius):
    sig = radius / 2.0
    w = np.zeros(len(xyz), dtype=np.float32)
    for c in centers:
        d2 = np.sum((xyz - np.asarray(c, float)) ** 2, axis=1)
        w = np.maximum(w, np.exp(-d2 / (2 * sig ** 2)) * (d2 <= (1.5 * radius) ** 2))
    return w


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
    d = np.concatenate([[np.nan], np.diff(x)])
    return {name: x, f"{name}_derivative1": d, f"{name}_power2": x ** 2, f"{name}_derivative1_power2": d ** 2}


def sim_tissue(p: SimParams) -> dict:
    """Tissue maps on the simulated grid (brain, gm, wm, csf probabilities; cerebellum labels)."""
    from fcect.core.atlas import aal_on_grid, cerebellum_labels
    from fcect.preprocess.masks import tissue_probability

    affine, shape = sim_grid(p.voxel_mm)
    out = {k: tissue_probability(k, affine, shape) for k in ("brain", "gm", "wm", "csf")}
    out["cerebellum"] = np.isin(aal_on_grid(affine, shape), cerebellum_labels()).astype(np.float32)
    return out


TISSUE_KEYS = ("brain", "gm", "wm", "csf", "cerebellum")


def write_tissue(p: SimParams, path):
    affine, _ = sim_grid(p.voxel_mm)
    t = sim_tissue(p)
    save_nifti(nib.Nifti1Image(np.stack([t[k] for k in TISSUE_KEYS], axis=-1).astype(np.float32), affine), path)


def read_tissue(path) -> dict:
    data = np.asarray(nib.load(str(path)).dataobj, dtype=np.float32)
    return {k: data[..., i] for i, k in enumerate(TISSUE_KEYS)}


def simulate_scan(p: SimParams, sub: str, ses: str, sub_couplings: pd.DataFrame, outlier: bool,
                  seeds: pd.DataFrame, tissue: dict | None = None):
    """Generate one scan. Returns (bold_img, mask_img, confounds DataFrame, truth dict)."""
    from scipy import ndimage

    from fcect.preprocess.masks import sphere_mask

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

    seed_ids = list(seeds["seed_id"])
    regions = list(REGIONS)
    cmat = np.zeros((len(seed_ids), len(regions)))
    for r in sub_couplings.itertuples(index=False):
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
        W[:, k] = 0.8 * _profile(xyz, REGIONS[name]["centers"], REGIONS[name]["radius"])
    cereb = tissue["cerebellum"].ravel()[idx] > 0.5
    for j, row in enumerate(seeds.itertuples(index=False)):
        prof = _profile(xyz, [(row.x, row.y, row.z)], float(row.radius_mm) + 4.0)
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
    neural = W @ drivers + np.sqrt(1 - wtot ** 2)[:, None] * En
    del En
    clean = gmv[:, None] * (neural + p.global_amplitude * G[None, :])  # noise-free BOLD%, for the truth

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

    thermal = rng.standard_normal((V, T)).astype(np.float32) * 0.5
    drift = rng.standard_normal(V)[:, None] * np.linspace(-1, 1, T)[None, :]
    pct = clean + physio + motion_art + thermal + drift
    base = 800 * gmv + 600 * wmv + 1200 * csfv + 50
    sat = np.ones(T)
    sat[: p.n_dummy] += 0.3 * np.exp(-np.arange(p.n_dummy) / 2.0)
    vals = base[:, None] * (1 + 0.01 * pct) * sat[None, :]
    data = np.zeros((int(np.prod(shape)), T), dtype=np.float32)
    data[idx] = vals
    data = data.reshape(shape + (T,))
    img = nib.Nifti1Image(data, affine)
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = tr
    img.set_data_dtype(np.int16)  # scaled int16, as scanners and many pipelines store BOLD
    mask_img = nib.Nifti1Image(brain.astype(np.uint8), affine)

    # confounds, as fMRIPrep computes them from the image
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
    for k in range(p.n_dummy):
        v = np.zeros(T)
        v[k] = 1
        cols[f"non_steady_state_outlier{k:02d}"] = v
    conf = pd.DataFrame(cols)

    # realised couplings: band-passed noise-free seed and target means, over the retained volumes
    from nilearn.signal import butterworth

    keep = slice(p.n_dummy, T)
    truth = {}
    seed_means = {}
    for j, row in enumerate(seeds.itertuples(index=False)):
        sm = sphere_mask((row.x, row.y, row.z), float(row.radius_mm), affine, shape).ravel()[idx] & cereb
        if sm.sum() == 0:
            sm = W[:, len(regions) + j] > 0.5 * W[:, len(regions) + j].max()
        seed_means[row.seed_id] = clean[sm].mean(axis=0)
    def core(centers, radius):
        prof = _profile(xyz, centers, radius) * (gmv > 0.2)
        return prof >= 0.5 * prof.max()

    target_means = {name: clean[core(REGIONS[name]["centers"], REGIONS[name]["radius"])].mean(axis=0)
                    for name in regions}
    target_means[CONTROL_REGION["name"]] = clean[core(CONTROL_REGION["centers"],
                                                      CONTROL_REGION["radius"])].mean(axis=0)

    def bp(x):
        return butterworth(x[keep][:, None].astype(float), sampling_rate=1.0 / tr, low_pass=0.08,
                           high_pass=0.01)[:, 0]

    for s_id, sx in seed_means.items():
        for t_name, tx in target_means.items():
            r = np.corrcoef(bp(sx), bp(tx))[0, 1]
            truth[f"{s_id}-{t_name}"] = float(np.arctanh(np.clip(r, -0.999999, 0.999999)))
    truth_out = dict(participant_id=f"sub-{sub}", session=ses, realised_fc_z=truth,
                     planted_coupling={f"{r.seed}-{r.target}": r.coupling
                                       for r in sub_couplings.itertuples(index=False)},
                     motion_outlier=bool(outlier))
    return img, mask_img, conf, truth_out


# --------------------------------------------------------------------------------------------- writing
def write_scan(p: SimParams, sub, ses, sub_couplings, outlier, seeds, out_paths: dict, truth_path,
               tissue_path=None):
    tissue = read_tissue(tissue_path) if tissue_path else None
    img, mask, conf, truth = simulate_scan(p, sub, ses, sub_couplings, outlier, seeds, tissue)
    save_nifti(img, out_paths["bold"])
    save_nifti(mask, out_paths["mask"])
    save_tsv(conf, out_paths["confounds"], float_format="%.6g")
    save_json({"RepetitionTime": p.tr, "TaskName": p.task, "SkullStripped": False,
               "SimulatedBy": "fcect.simulate"}, out_paths["bold_json"])
    save_json(truth, truth_path)
    return truth


def write_participants(p: SimParams, participants_path, couplings_path, description_path, tissue_path=None):
    part, couplings = cohort_table(p)
    if tissue_path:
        write_tissue(p, tissue_path)
    public = part[["participant_id", "group", "age", "sex", "education", "hamd_pre", "hamd_post"]].copy()
    public["hamd_post"] = public["hamd_post"].map(lambda v: "n/a" if pd.isna(v) else str(int(v)))
    save_tsv(public, participants_path)
    save_tsv(part.merge(couplings, on="participant_id"), couplings_path, float_format="%.6g")
    save_json({"Name": f"fcect simulated cohort '{p.name}'", "BIDSVersion": "1.8.0", "DatasetType": "derivative",
               "GeneratedBy": [{"Name": "fcect.simulate", "Description": "simulated fMRIPrep-like derivatives "
                                "with planted effects; not real data"}]}, description_path)


def ground_truth(p: SimParams, part: pd.DataFrame, couplings: pd.DataFrame, scan_truths: list) -> dict:
    """Planted values plus every realised per-scan coupling, and the derived sampling-error statements."""
    eff = p.effects()
    realised = pd.DataFrame([dict(participant_id=t["participant_id"], session=t["session"], pair=k, z=v)
                             for t in scan_truths for k, v in t["realised_fc_z"].items()])
    out = dict(
        description="Planted effects of the fcect simulated cohort. Couplings c are the correlation-scale "
                    "weights of a seed's driver in a target region's signal; realised_fc_z is the Fisher z of "
                    "the noise-free seed-target correlation of each scan (band-passed, dummy volumes dropped).",
        null_cohort=bool(p.null_cohort), parameters={k: v for k, v in p.__dict__.items()},
        regions={k: dict(v) for k, v in REGIONS.items()}, control_region=CONTROL_REGION,
        couplings=[dict(seed=s, target=t, c=c) for s, t, c in COUPLINGS],
        null_seeds=NULL_SEEDS,
        effects=dict(
            baseline=[dict(seed=s, target=t, network=REGIONS[t]["network"], direction="HC>TRD",
                           delta_coupling=eff["baseline_effect"]) for s, t in BASELINE_EFFECT_PAIRS],
            ect=[dict(seed=ECT_EFFECT_PAIR[0], target=ECT_EFFECT_PAIR[1], direction="post>pre",
                      mean_delta_coupling=eff["ect_effect"], sd_delta_coupling=eff["ect_effect_sd"])],
        ),
    )
    # clinical: correlation of the realised ECT change with the HAMD reduction rate among completers whose scans
    # are both included (motion outliers are excluded by QC with default thresholds)
    pair = f"{ECT_EFFECT_PAIR[0]}-{ECT_EFFECT_PAIR[1]}"
    if not realised.empty:
        wide = realised[realised.pair == pair].pivot(index="participant_id", columns="session", values="z")
        outl = {t["participant_id"] for t in scan_truths if t["motion_outlier"]}
        if p.ses_post in wide.columns:
            w = wide.dropna()
            w = w[~w.index.isin(outl)]
            red = part.set_index("participant_id").loc[w.index, "hamd_reduction_planted"].astype(float)
            d = w[p.ses_post] - w[p.ses_pre]
            n = len(w)
            if n > 3 and not p.null_cohort:
                r = float(np.corrcoef(d, red)[0, 1])
                rb = float(np.corrcoef(w[p.ses_pre], red)[0, 1])
            else:
                r = rb = 0.0
            se = lambda rr: float((1 - rr ** 2) / np.sqrt(max(n - 1, 1)))  # noqa: E731
            out["clinical"] = dict(
                seed=ECT_EFFECT_PAIR[0], target=ECT_EFFECT_PAIR[1], n=n, measure="hamd_reduction_rate",
                planted_r_responsiveness=0.0 if p.null_cohort else p.clinical_r,
                realised_r_delta_fc=r, se_r_delta_fc=se(r),
                fisher_z_se=float(1 / np.sqrt(max(n - 3, 1))),
                realised_r_baseline_fc=rb, se_r_baseline_fc=se(rb),
                mean_delta_fc_z=float(d.mean()) if n else 0.0,
                note="realised_r_* use the noise-free couplings; estimates from the images carry extra "
                     "measurement noise, so compare within a few fisher_z_se, attenuated towards 0. "
                     "realised_r_baseline_fc carries the planted sign; a linear SVR's r(predicted, observed) "
                     "estimates its absolute value.")
    out["scans"] = scan_truths
    return out


def write_ground_truth(p: SimParams, couplings_path, truth_paths, out_path):
    part, couplings = cohort_table(p)
    truths = [json.loads(open(t).read()) for t in truth_paths]
    gt = ground_truth(p, part, couplings, truths)
    save_json(gt, out_path)
    return gt


__all__ = ["SimParams", "cohort_table", "scans_of", "simulate_scan", "write_scan", "write_participants",
           "write_ground_truth", "REGIONS", "COUPLINGS", "NULL_SEEDS", "atomic_path"]
