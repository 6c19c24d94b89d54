"""Group stage: one contrast (baseline TRD vs HC, or ECT post - pre) for one seed, from FC maps to outputs.

Outputs in ``results/group/<contrast>/seed-<id>/`` (docs/ARCHITECTURE.md):

* ``stat-t.nii.gz``: OLS t of the contrast (baseline: TRD - HC, adjusted for the covariates; ECT: post - pre);
* ``stat-effsize.nii.gz``: Hedges' g (baseline: adjusted mean difference / residual SD x (1 - 3 / (4 dof - 1)))
  or Cohen's d (ECT: mean difference / SD of the differences, covariate-adjusted if covariates are given);
* ``logp-fwe_method-<m>.nii.gz``: -log10 FWE p per voxel (maxt, tfce: voxel-wise; cluster_extent, cluster_mass:
  the p of the supra-threshold cluster containing the voxel; grf: the GRF cluster p, two-tailed); 0 = p 1;
* ``clusters.tsv``: significant clusters of every method (inference_tables.TABLE_COLUMNS);
* ``cluster_labels.nii.gz``: int32 labels of the significant clusters of ``feed_method``; values = cluster_id;
* ``group.json``: design, sample, settings and the numbers behind them.
"""

from __future__ import annotations

import time
import zlib
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from fcect.group import inference as inf
from fcect.group import tables as tab
from fcect.core.images import index_fc_maps, load_maps
from fcect.core.io import InputError, read_tsv, save_json, save_nifti, save_tsv
from fcect.core.participants import as_bool, participant_id
from fcect.core.paths import logp_name
from fcect.core.vocabulary import DIRECTIONS, PERMUTATION_METHODS



def fc_inputs(contrast, seed, scans, ses_pre, ses_post, fc_map):
    """FC maps a group job may use (the script keeps the QC-included participants): baseline = every ses-pre
    map; ect = ses-pre and ses-post maps of every participant with a post-ECT scan."""
    if contrast == "baseline":
        return [fc_map(s, t, seed) for s, t in scans if t == ses_pre]
    post = {s for s, t in scans if t == ses_post}
    return [fc_map(s, t, seed) for s, t in scans if s in post]


def permutation_seed(random_seed, offset, contrast, seed_id):
    """Seed of one analysis: master seed + offset + a stable hash of (contrast, seed id)."""
    return int(random_seed) + int(offset) + zlib.crc32(f"{contrast}:{seed_id}".encode()) % 1_000_000


def covariate_column(part, name, contrast, path="participants_included.tsv"):
    """Numeric covariate values. Derived names: ``mean_fd`` (baseline: mean FD of the ses-pre scan; ECT: mean of
    pre and post), ``mean_fd_delta`` (post - pre); ``sex`` is coded M = 1, F = 0."""
    if name == "mean_fd":
        if contrast == "baseline":
            col = pd.to_numeric(part["mean_fd_pre"], errors="coerce")
        else:
            col = (pd.to_numeric(part["mean_fd_pre"], errors="coerce")
                   + pd.to_numeric(part["mean_fd_post"], errors="coerce")) / 2
    elif name == "mean_fd_delta":
        col = pd.to_numeric(part["mean_fd_post"], errors="coerce") - pd.to_numeric(part["mean_fd_pre"],
                                                                                   errors="coerce")
    elif name == "sex" and name in part:
        s = part["sex"].astype(str).str.strip().str.upper()
        bad = ~s.isin(["M", "F"])
        if bad.any():
            raise InputError(path, f"sex must be M or F (participant {part['participant_id'][bad].iloc[0]})")
        col = (s == "M").astype(float)
    elif name in part:
        col = pd.to_numeric(part[name], errors="coerce")
    else:
        raise InputError(path, f"covariate {name!r} is not a column (nor mean_fd / mean_fd_delta)")
    col = np.asarray(col, dtype=float)
    if not np.all(np.isfinite(col)):
        who = part["participant_id"].to_numpy()[~np.isfinite(col)]
        raise InputError(path, f"covariate {name!r} missing for {', '.join(map(str, who[:5]))}")
    return col


def design(part, contrast, covariates, path="participants_included.tsv"):
    """Rows used, tested regressor, confounds (intercept + demeaned covariates for baseline; demeaned covariates
    or None for the one-sample ECT test) and a description of the columns."""
    part = part.reset_index(drop=True)
    grp = part["group"].astype(str).str.strip()
    if contrast == "baseline":
        use = as_bool(part["included_baseline"]) & grp.isin(["TRD", "HC"]).to_numpy()
        sub = part[use].reset_index(drop=True)
        x = (sub["group"].astype(str).str.strip() == "TRD").to_numpy(float)
        n1, n0 = int(x.sum()), int((1 - x).sum())
        if n1 < 2 or n0 < 2:
            raise InputError(path, f"baseline comparison needs >= 2 TRD and >= 2 HC included (got {n1}, {n0})")
        cols = [covariate_column(sub, c, contrast, path) for c in covariates]
        Z = np.column_stack([np.ones(len(sub))] + [c - c.mean() for c in cols])
        desc = ["TRD (1) / HC (0)", "intercept"] + [f"{c} (demeaned)" for c in covariates]
        counts = {"TRD": n1, "HC": n0}
    elif contrast == "ect":
        use = as_bool(part["included_ect"]) & (grp == "TRD").to_numpy()
        sub = part[use].reset_index(drop=True)
        if len(sub) < 3:
            raise InputError(path, f"ECT comparison needs >= 3 included completers (got {len(sub)})")
        x = np.ones(len(sub))
        cols = [covariate_column(sub, c, contrast, path) for c in covariates]
        Z = np.column_stack([c - c.mean() for c in cols]) if cols else None
        desc = ["post - pre mean (intercept)"] + [f"{c} (demeaned)" for c in covariates]
        counts = {"completers": len(sub)}
    else:
        raise ValueError(f"unknown contrast {contrast!r}")
    if Z is not None and np.linalg.matrix_rank(np.column_stack([x, Z])) < Z.shape[1] + 1:
        raise InputError(path, f"{contrast}: design is rank-deficient (a covariate is constant or collinear)")
    return sub, x, Z, desc, counts


def run_group(contrast, seed_id, participants, fc_paths, mask_path, out_dir, cfg, random_seed, n_seeds,
              sessions=("pre", "post"), baseline_labels=None, log=None):
    """Run one contrast for one seed and write every output into ``out_dir``. Returns the group.json dict."""
    t0 = time.perf_counter()
    say = log.info if log is not None else (lambda *a: None)
    out = Path(out_dir)
    methods = list(cfg["methods"])
    perm_methods = [m for m in methods if m in PERMUTATION_METHODS]
    feed = cfg["feed_method"]
    if feed not in methods:
        raise ValueError(f"group.feed_method {feed!r} is not among group.methods {methods}")
    part = read_tsv(participants)
    for col in ("participant_id", "group", "included_baseline", "included_ect"):
        if col not in part:
            raise InputError(participants, f"missing column {col!r}")
    covs = list(cfg["covariates"] if contrast == "baseline" else cfg.get("ect_covariates", []))
    sub, x, Z, desc, counts = design(part, contrast, covs, participants)
    mask_img = nib.load(str(mask_path))
    mask_full = np.asarray(mask_img.dataobj).reshape(mask_img.shape[:3]) > 0
    fc = index_fc_maps(fc_paths)
    ses_pre, ses_post = sessions
    pids = [participant_id(v) for v in sub["participant_id"]]

    def get(pid, ses):
        if (pid, ses, seed_id) not in fc:
            raise InputError(participants, f"{pid} ses-{ses} is included but its seed-{seed_id} FC map is not "
                                           "among the inputs")
        return fc[(pid, ses, seed_id)]

    # analysis mask of this contrast
    mask = mask_full.copy()
    mask_note = "whole analysis mask"
    if contrast == "ect" and cfg.get("ect_mask", "whole") == "baseline_clusters":
        if baseline_labels is None:
            raise ValueError("ect_mask = baseline_clusters needs the baseline cluster_labels.nii.gz")
        bl = nib.load(str(baseline_labels))
        mask &= np.asarray(bl.dataobj).reshape(bl.shape[:3]) > 0
        mask_note = f"baseline clusters ({cfg['feed_method']}) of seed {seed_id}"
    say("%s seed-%s: %s, %d voxels (%s)", contrast, seed_id, counts, int(mask.sum()), mask_note)

    alpha = float(cfg["alpha"]) / (n_seeds if cfg.get("bonferroni_seeds") else 1)
    grf_cfg = cfg.get("grf", {})
    grf_cp = float(grf_cfg.get("cluster_p", 0.05)) / (n_seeds if cfg.get("bonferroni_seeds") else 1)
    alphas = {m: (grf_cp if m == "grf" else alpha) for m in methods}
    affine = mask_img.affine
    vox = np.sqrt((affine[:3, :3] ** 2).sum(axis=0))
    rs = permutation_seed(random_seed, cfg.get("seed_offset", 0), contrast, seed_id)

    info = {
        "contrast": contrast, "seed": seed_id, "direction": {"positive_t": DIRECTIONS[contrast][0],
                                                             "negative_t": DIRECTIONS[contrast][1]},
        "n": int(len(sub)), "counts": counts, "participants": pids, "design_columns": desc,
        "covariates": covs, "mask": mask_note, "n_voxels": int(mask.sum()), "methods": methods,
        "feed_method": feed, "alpha": alpha, "alpha_unadjusted": float(cfg["alpha"]),
        "bonferroni_seeds": bool(cfg.get("bonferroni_seeds", False)), "n_seeds": int(n_seeds),
        "cluster_forming_p": float(cfg["cluster_forming_p"]), "connectivity": int(cfg.get("connectivity", 26)),
        "tfce": {"E": 0.5, "H": 2.0, "steps": 100, "dh": "max|t| / 100"},
        "random_state": rs,
    }
    V = int(mask.sum())
    t_vec = np.zeros(V)
    eff = np.zeros(V)
    p_maps = {m: np.ones(V) for m in methods}
    method_clusters = {}
    if V == 0:
        info["skipped"] = "empty mask (no baseline cluster for this seed)"
        say("empty mask: writing empty outputs")
    else:
        def load(ses):
            return load_maps([get(p, ses) for p in pids], mask_img.shape[:3], mask_img.affine, mask.ravel(),
                             dtype=np.float32)

        Y = load(ses_pre) if contrast == "baseline" else load(ses_post) - load(ses_pre)
        res = inf.permutation_inference(
            Y, x, Z, mask=mask, methods=perm_methods or ("maxt",), n_perm=int(cfg["n_perm"]),
            cluster_forming_p=float(cfg["cluster_forming_p"]), random_state=rs,
            connectivity=int(cfg.get("connectivity", 26)), n_threads=cfg.get("threads"),
        ) if perm_methods else None
        if res is None:
            o = inf.ols_t(Y, x, Z)
            t_vec, dof = o["t"], o["dof"]
            eff = o["cohens_d"] if contrast == "ect" else o["hedges_g"]
            eff_kind = "cohens_d" if contrast == "ect" else "hedges_g"
        else:
            t_vec, dof, eff, eff_kind = res.t, res.dof, res.effsize, res.effsize_kind
            info.update({"scheme": res.scheme, "n_perm": res.n_perm, "n_perm_requested": int(cfg["n_perm"]),
                         "exact_enumeration": res.exact, "cluster_threshold_t": res.cluster_threshold_t,
                         "timings_s": {k: round(v, 3) for k, v in res.timings.items()},
                         "null_max_quantile_95": {m: float(np.quantile(res.null[m], 0.95)) if res.n_perm
                                                  else None for m in perm_methods}})
            for m in perm_methods:
                p_maps[m] = res.p_fwe[m]
        info.update({"dof": int(dof), "effect_size": eff_kind,
                     "effect_size_definition": "Hedges' g = adjusted difference / residual SD x (1 - 3/(4 dof - 1))"
                     if eff_kind == "hedges_g" else "Cohen's d = (adjusted) mean difference / residual SD"})
        grf = None
        if "grf" in methods:
            try:
                grf = inf.grf_cluster_inference(
                    t_vec, dof, inf.residuals(Y, x, Z), mask, voxel_p=float(grf_cfg.get("voxel_p", 0.001)),
                    cluster_p=grf_cp, two_tailed=True, connectivity=int(cfg.get("connectivity", 26)),
                    voxel_size=tuple(vox))
                p_maps["grf"] = grf["p"]
                info["grf"] = {"voxel_p": float(grf_cfg.get("voxel_p", 0.001)), "cluster_p": grf_cp,
                               "z_threshold": grf["z_thr"], "cluster_p_per_tail": grf["cluster_p_tail"],
                               "min_cluster_size_voxels": grf["k_min"],
                               "min_cluster_size_mm3": float(grf["k_min"] * np.prod(vox)),
                               **{k: grf["smoothness"][k] for k in ("dLh", "fwhm_mm", "fwhm_vox", "resels",
                                                                    "n_voxels", "dof")}}
            except ValueError as exc:
                info["grf"] = {"skipped": str(exc)}
                say("GRF skipped: %s", exc)
        for m in methods:
            if m == "grf" and grf is None:
                method_clusters[m] = (np.zeros(V, np.int32), [])
                continue
            method_clusters[m] = tab.significant_clusters(
                m, mask, t_vec, alphas[m], p_fwe=p_maps[m], result=res, grf=grf,
                connectivity=int(cfg.get("connectivity", 26)))
    from fcect.core.atlas import load_aal

    atlas = load_aal(affine, mask.shape)
    table, idmap = tab.cluster_table(method_clusters, mask, affine, t_vec, eff, atlas=atlas,
                                     direction=DIRECTIONS[contrast], feed_method=feed, alpha=alphas)
    labels3d = tab.feed_label_image(method_clusters, idmap, feed, mask)
    info["n_clusters"] = {m: len(method_clusters.get(m, (None, []))[1]) for m in methods}
    info["elapsed_s"] = round(time.perf_counter() - t0, 2)

    def vol(vec, dtype=np.float32):
        a = np.zeros(mask.shape, dtype=dtype)
        a[mask] = vec
        return nib.Nifti1Image(a, affine)

    out.mkdir(parents=True, exist_ok=True)
    save_nifti(vol(t_vec), out / "stat-t.nii.gz")
    save_nifti(vol(eff), out / "stat-effsize.nii.gz")
    for m in methods:
        save_nifti(vol(-np.log10(np.clip(p_maps[m], 1e-300, 1.0))), out / logp_name(m))
    save_tsv(table, out / "clusters.tsv")
    save_nifti(nib.Nifti1Image(labels3d.astype(np.int32), affine), out / "cluster_labels.nii.gz")
    save_json(info, out / "group.json")
    say("done in %.1f s; significant clusters: %s", info["elapsed_s"], info["n_clusters"])
    return info
