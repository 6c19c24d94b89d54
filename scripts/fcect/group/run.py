"""Group stage driver: one contrast (baseline TRD vs HC, or ECT post - pre) for one seed, from FC maps to outputs.

Outputs in ``results/group/<contrast>/seed-<id>/`` (docs/ARCHITECTURE.md):

* ``stat-t.nii.gz``: OLS t of the contrast (baseline: TRD - HC, adjusted for the covariates; ECT: post - pre);
* ``stat-effsize.nii.gz``: Hedges' g (baseline: adjusted mean difference / residual SD x (1 - 3 / (4 dof - 1)))
  or Cohen's d (ECT: mean difference / SD of the differences, covariate-adjusted if covariates are given);
* ``logp-fwe_method-<m>.nii.gz``: -log10 FWE p per voxel (maxt, tfce: voxel-wise; cluster_extent, cluster_mass:
  the p of the supra-threshold cluster containing the voxel; grf: the GRF cluster p, two-tailed); 0 = p 1;
* ``clusters.tsv``: significant clusters of every method (:data:`fcect.group.tables.TABLE_COLUMNS`);
* ``cluster_labels.nii.gz``: int32 labels of the significant clusters of ``feed_method``; values = cluster_id;
* ``group.json``: design, sample, settings and the numbers behind them.
"""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import nibabel as nib
import numpy as np

from fcect.core.images import index_fc_maps, load_maps
from fcect.core.io import InputError, save_json, save_nifti, save_tsv
from fcect.core.participants import participant_id
from fcect.core.paths import logp_name
from fcect.core.vocabulary import CONTRAST_DATA, DIRECTIONS, PERMUTATION_METHODS
from fcect.group import tables
from fcect.group.design import design, read_included, restrict_mask
from fcect.group.glm import ols_t, residuals
from fcect.group.grf import grf_cluster_inference
from fcect.group.permutation import permutation_inference

#: group.json's description of the TFCE step of each ``group.tfce_steps``
TFCE_DH = {"per_map_dh": "dh = max|t| / 100 of each map (observed and permuted); sum x dh",
           "observed_thresholds": "dh = max|t_obs| / 100 of the observed map for every map; sum x dh",
           "nilearn": "dh = max|t| / 100 of each map; sum not multiplied by dh (nilearn 0.13)"}


def fc_inputs(contrast, seed, scans, ses_pre, ses_post, fc_map):
    """FC maps a group job may use (the script keeps the QC-included participants): a contrast of ses-pre maps
    (baseline) gets every ses-pre map; a contrast of changes (ect) the ses-pre and ses-post maps of every
    participant with a post-ECT scan (vocabulary.CONTRAST_DATA)."""
    if CONTRAST_DATA[contrast] == "pre":
        return [fc_map(s, t, seed) for s, t in scans if t == ses_pre]
    post = {s for s, t in scans if t == ses_post}
    return [fc_map(s, t, seed) for s, t in scans if s in post]


def permutation_seed(random_seed, offset, contrast, seed_id):
    """Seed of one analysis: master seed + offset + a stable hash of (contrast, seed id)."""
    return int(random_seed) + int(offset) + zlib.crc32(f"{contrast}:{seed_id}".encode()) % 1_000_000


@dataclass
class Settings:
    """The ``group`` configuration of one analysis; alpha and the GRF cluster p are divided by the number of
    seeds when ``bonferroni_seeds`` is set."""

    methods: list
    perm_methods: list
    feed: str
    covariates: list
    alpha: float
    grf_voxel_p: float
    grf_cluster_p: float
    connectivity: int
    n_perm: int
    cluster_forming_p: float
    threads: int | None
    tfce_steps: str = "per_map_dh"

    @classmethod
    def from_config(cls, cfg, contrast, n_seeds):
        methods = list(cfg["methods"])
        feed = cfg["feed_method"]
        if feed not in methods:
            raise ValueError(f"group.feed_method {feed!r} is not among group.methods {methods}")
        bonferroni = n_seeds if cfg.get("bonferroni_seeds") else 1
        grf_cfg = cfg.get("grf", {})
        return cls(methods=methods, perm_methods=[m for m in methods if m in PERMUTATION_METHODS], feed=feed,
                   covariates=list(cfg["covariates"] if CONTRAST_DATA[contrast] == "pre"
                                   else cfg.get("ect_covariates", [])),
                   alpha=float(cfg["alpha"]) / bonferroni, grf_voxel_p=float(grf_cfg.get("voxel_p", 0.001)),
                   grf_cluster_p=float(grf_cfg.get("cluster_p", 0.05)) / bonferroni,
                   connectivity=int(cfg.get("connectivity", 26)), n_perm=int(cfg["n_perm"]),
                   cluster_forming_p=float(cfg["cluster_forming_p"]), threads=cfg.get("threads"),
                   tfce_steps=str(cfg.get("tfce_steps", "per_map_dh")))

    @property
    def alphas(self):
        """Significance level of each method."""
        return {m: (self.grf_cluster_p if m == "grf" else self.alpha) for m in self.methods}


def run_group(contrast, seed_id, participants, fc_paths, mask_path, out_dir, cfg, random_seed, n_seeds,
              sessions=("pre", "post"), baseline_labels=None, log=None):
    """Run one contrast for one seed and write every output into ``out_dir``. Returns the group.json dict."""
    t0 = time.perf_counter()
    say = log.info if log is not None else (lambda *a: None)
    s = Settings.from_config(cfg, contrast, n_seeds)
    # load
    sub, x, Z, desc, counts = design(read_included(participants), contrast, s.covariates, participants)
    mask_img = nib.load(str(mask_path))
    mask_full = np.asarray(mask_img.dataobj).reshape(mask_img.shape[:3]) > 0
    fc = index_fc_maps(fc_paths)
    mask, mask_note = restrict_mask(mask_full, contrast, cfg, seed_id, baseline_labels)
    say("%s seed-%s: %s, %d voxels (%s)", contrast, seed_id, counts, int(mask.sum()), mask_note)
    pids = [participant_id(v) for v in sub["participant_id"]]
    rs = permutation_seed(random_seed, cfg.get("seed_offset", 0), contrast, seed_id)
    info = {
        "contrast": contrast, "seed": seed_id, "direction": {"positive_t": DIRECTIONS[contrast][0],
                                                             "negative_t": DIRECTIONS[contrast][1]},
        "n": int(len(sub)), "counts": counts, "participants": pids, "design_columns": desc,
        "covariates": s.covariates, "mask": mask_note, "n_voxels": int(mask.sum()), "methods": s.methods,
        "feed_method": s.feed, "alpha": s.alpha, "alpha_unadjusted": float(cfg["alpha"]),
        "bonferroni_seeds": bool(cfg.get("bonferroni_seeds", False)), "n_seeds": int(n_seeds),
        "cluster_forming_p": s.cluster_forming_p, "connectivity": s.connectivity,
        "tfce": {"E": 0.5, "H": 2.0, "steps": 100, "tfce_steps": s.tfce_steps, "dh": TFCE_DH[s.tfce_steps]},
        "random_state": rs,
    }
    # compute
    V = int(mask.sum())
    if V == 0:
        info["skipped"] = "empty mask (no baseline cluster for this seed)"
        say("empty mask: writing empty outputs")
        t_vec, eff, p_maps, method_clusters = np.zeros(V), np.zeros(V), {m: np.ones(V) for m in s.methods}, {}
    else:
        Y = _data(contrast, fc, pids, seed_id, sessions, mask_img, mask, participants)
        voxel_size = tuple(np.sqrt((mask_img.affine[:3, :3] ** 2).sum(axis=0)))
        t_vec, eff, p_maps, method_clusters = _statistics(Y, x, Z, mask, voxel_size, contrast, s, rs, info, say)
    table, labels3d = _cluster_outputs(method_clusters, mask, mask_img.affine, t_vec, eff, contrast, s)
    info["n_clusters"] = {m: len(method_clusters.get(m, (None, []))[1]) for m in s.methods}
    info["elapsed_s"] = round(time.perf_counter() - t0, 2)
    # write
    _write(Path(out_dir), mask, mask_img.affine, t_vec, eff, p_maps, table, labels3d, info)
    say("done in %.1f s; significant clusters: %s", info["elapsed_s"], info["n_clusters"])
    return info


def _data(contrast, fc, pids, seed_id, sessions, mask_img, mask, participants):
    """(n, V) float32 data of the contrast over the mask: ses-pre maps or post - pre (vocabulary.CONTRAST_DATA)."""
    def get(pid, ses):
        if (pid, ses, seed_id) not in fc:
            raise InputError(participants, f"{pid} ses-{ses} is included but its seed-{seed_id} FC map is not "
                                           "among the inputs")
        return fc[(pid, ses, seed_id)]

    def load(ses):
        return load_maps([get(p, ses) for p in pids], mask_img.shape[:3], mask_img.affine, mask.ravel(),
                         dtype=np.float32)

    ses_pre, ses_post = sessions
    return load(ses_pre) if CONTRAST_DATA[contrast] == "pre" else load(ses_post) - load(ses_pre)


def _statistics(Y, x, Z, mask, voxel_size, contrast, s, rs, info, say):
    """t map, effect size, FWE p maps and significant clusters of every method; their numbers go into ``info``."""
    V = Y.shape[1]
    p_maps = {m: np.ones(V) for m in s.methods}
    res = permutation_inference(
        Y, x, Z, mask=mask, methods=s.perm_methods or ("maxt",), n_perm=s.n_perm,
        cluster_forming_p=s.cluster_forming_p, random_state=rs, connectivity=s.connectivity, n_threads=s.threads,
        tfce_steps=s.tfce_steps,
    ) if s.perm_methods else None
    if res is None:
        o = ols_t(Y, x, Z)
        t_vec, dof = o["t"], o["dof"]
        eff_kind = "cohens_d" if CONTRAST_DATA[contrast] == "change" else "hedges_g"
        eff = o[eff_kind]
    else:
        t_vec, dof, eff, eff_kind = res.t, res.dof, res.effsize, res.effsize_kind
        info.update({"scheme": res.scheme, "n_perm": res.n_perm, "n_perm_requested": s.n_perm,
                     "exact_enumeration": res.exact, "cluster_threshold_t": res.cluster_threshold_t,
                     "timings_s": {k: round(v, 3) for k, v in res.timings.items()},
                     "null_max_quantile_95": {m: float(np.quantile(res.null[m], 0.95)) if res.n_perm
                                              else None for m in s.perm_methods}})
        for m in s.perm_methods:
            p_maps[m] = res.p_fwe[m]
    info.update({"dof": int(dof), "effect_size": eff_kind,
                 "effect_size_definition": "Hedges' g = adjusted difference / residual SD x (1 - 3/(4 dof - 1))"
                 if eff_kind == "hedges_g" else "Cohen's d = (adjusted) mean difference / residual SD"})
    grf = _grf(Y, x, Z, mask, voxel_size, t_vec, dof, s, info, say) if "grf" in s.methods else None
    if grf is not None:
        p_maps["grf"] = grf["p"]
    method_clusters = {}
    for m in s.methods:
        if m == "grf" and grf is None:
            method_clusters[m] = (np.zeros(V, np.int32), [])
            continue
        method_clusters[m] = tables.significant_clusters(m, mask, t_vec, s.alphas[m], p_fwe=p_maps[m], result=res,
                                                         grf=grf, connectivity=s.connectivity)
    return t_vec, eff, p_maps, method_clusters


def _grf(Y, x, Z, mask, voxel_size, t_vec, dof, s, info, say):
    """GRF cluster inference (None, with the reason in ``info``, when the smoothness cannot be estimated)."""
    try:
        grf = grf_cluster_inference(t_vec, dof, residuals(Y, x, Z), mask, voxel_p=s.grf_voxel_p,
                                    cluster_p=s.grf_cluster_p, two_tailed=True, connectivity=s.connectivity,
                                    voxel_size=voxel_size)
    except ValueError as exc:
        info["grf"] = {"skipped": str(exc)}
        say("GRF skipped: %s", exc)
        return None
    info["grf"] = {"voxel_p": s.grf_voxel_p, "cluster_p": s.grf_cluster_p, "z_threshold": grf["z_thr"],
                   "cluster_p_per_tail": grf["cluster_p_tail"], "min_cluster_size_voxels": grf["k_min"],
                   "min_cluster_size_mm3": float(grf["k_min"] * np.prod(voxel_size)),
                   **{k: grf["smoothness"][k] for k in ("dLh", "fwhm_mm", "fwhm_vox", "resels", "n_voxels", "dof")}}
    return grf


def _cluster_outputs(method_clusters, mask, affine, t_vec, eff, contrast, s):
    """The clusters table (AAL labels) and the 3-D label image of the feed method's clusters."""
    from fcect.core.atlas import load_aal

    table, idmap = tables.cluster_table(method_clusters, mask, affine, t_vec, eff, atlas=load_aal(affine, mask.shape),
                                        direction=DIRECTIONS[contrast], feed_method=s.feed, alpha=s.alphas)
    return table, tables.feed_label_image(method_clusters, idmap, s.feed, mask)


def _write(out, mask, affine, t_vec, eff, p_maps, table, labels3d, info):
    """Write the stage's outputs into ``out``."""
    def vol(vec, dtype=np.float32):
        a = np.zeros(mask.shape, dtype=dtype)
        a[mask] = vec
        return nib.Nifti1Image(a, affine)

    out.mkdir(parents=True, exist_ok=True)
    save_nifti(vol(t_vec), out / "stat-t.nii.gz")
    save_nifti(vol(eff), out / "stat-effsize.nii.gz")
    for m, p in p_maps.items():
        save_nifti(vol(-np.log10(np.clip(p, 1e-300, 1.0))), out / logp_name(m))
    save_tsv(table, out / "clusters.tsv")
    save_nifti(nib.Nifti1Image(labels3d.astype(np.int32), affine), out / "cluster_labels.nii.gz")
    save_json(info, out / "group.json")
