"""The steps of one specification, each a call of the stage libraries: seed masks of another radius
(:func:`variant_seeds`), one scan's FC maps of an FC variant (:func:`variant_fc`), the spec's group maps
(:func:`spec_group`: :func:`fcect.group.run.run_group` per contrast and seed) and its headline numbers
(:func:`headline`: clinical r, SVR r and PLS1 from fcect.clinical, fcect.prediction and fcect.transcriptomics).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from fcect.core.images import index_fc_maps
from fcect.core.io import read_tsv, save_json, save_nifti, save_tsv
from fcect.multiverse.specs import GSR_COLUMN, GSR_SUFFIX

# the headline results, in table order; `estimate` of each (docs: config/README.md, multiverse)
RESULTS = {
    "baseline_clusters": "number of significant baseline (TRD vs HC) clusters of the seed",
    "ect_cluster": "size (voxels) of the largest significant ECT (post - pre) cluster of the headline seed; 0: none",
    "clinical_r": "Pearson r of delta FC in that cluster with the HAMD reduction (completers)",
    "svr_r": "leave-one-out r of the linear SVR (as_published features: the spec's ECT clusters, baseline FC)",
    "pls1": "fraction of the regional response variance explained by PLS1 (AHBA expression)",
}
ROW_COLUMNS = ["result", "seed", "estimate", "holds", "n_clusters", "size_voxels", "peak_t", "peak_x", "peak_y",
               "peak_z", "r", "p", "n"]


# ------------------------------------------------------------------------------------------------ FC variants
def register_gsr_preset(name: str) -> str:
    """Make ``<preset>+gsr`` a preset of :data:`fcect.preprocess.denoise.PRESETS` (the base preset's settings with
    fMRIPrep's ``global_signal`` column added to its confounds) and return its name; a plain preset is returned
    unchanged."""
    from fcect.preprocess.denoise import PRESETS

    if not name.endswith(GSR_SUFFIX) or name in PRESETS:
        return name
    base = name[:-len(GSR_SUFFIX)]
    if base not in PRESETS:
        raise ValueError(f"unknown denoising preset {base!r} (in {name!r}); choose one of {sorted(PRESETS)}")
    if GSR_COLUMN in PRESETS[base]["columns"]:
        raise ValueError(f"preset {base!r} already regresses {GSR_COLUMN}")
    PRESETS[name] = dict(PRESETS[base], columns=list(PRESETS[base]["columns"]) + [GSR_COLUMN])
    return name


def variant_seeds(seeds_table, radius, cerebellum, min_voxels, out_seeds, out_tsv):
    """Seed spheres of radius ``radius`` (mm) within the main run's cerebellar grey matter (fcect.preprocess.masks),
    written like rule masks writes them."""
    from fcect.preprocess.masks import seed_masks
    from fcect.preprocess.seeds import read_seeds

    img = nib.load(str(cerebellum))
    cereb = np.asarray(img.dataobj) > 0
    seeds = read_seeds(seeds_table, float(radius))
    sm = seed_masks(seeds, img.affine, cereb.shape, cereb, min_voxels, seeds_table)
    save_nifti(nib.Nifti1Image(sm.astype(np.uint8), img.affine), out_seeds)
    out = seeds.copy()
    out["n_voxels"] = sm.sum(axis=(0, 1, 2))
    save_tsv(out, out_tsv)
    return out


def variant_fc(bold, confounds, bold_json, analysis_mask, seeds, seeds_tsv, denoise_cfg, choice, seed_ids,
               out_maps, out_info, runs=None):
    """One scan's FC maps of one FC variant: :func:`fcect.preprocess.run.denoise_and_fc` with the main ``denoise``
    settings and the variant's preset (``<preset>+gsr``: with global signal regression)."""
    from fcect.preprocess.run import denoise_and_fc

    params = dict(denoise_cfg, preset=register_gsr_preset(choice))
    return denoise_and_fc(bold, confounds, bold_json, analysis_mask, seeds, seeds_tsv, params, seed_ids,
                          out_maps, out_info, runs=runs)


# ------------------------------------------------------------------------------------------------ group
def spec_group(pairs, fc_paths, participants, mask, out_dirs, group_cfg, random_seed, n_seeds, sessions, log=None):
    """The spec's group maps: :func:`fcect.group.run.run_group` for each (contrast, seed) of ``pairs`` (in order;
    a baseline pair before the ECT pair of the same seed, so that ``ect_mask: baseline_clusters`` reads the spec's
    own baseline clusters), each into its ``out_dirs`` entry. ``fc_paths``: {(contrast, seed): FC maps}."""
    from fcect.group.run import run_group

    infos = {}
    for (contrast, seed), out in zip(pairs, out_dirs):
        base = None
        if contrast == "ect" and group_cfg.get("ect_mask") == "baseline_clusters":
            base = str(Path(out).parents[1] / "baseline" / f"seed-{seed}" / "cluster_labels.nii.gz")
        infos[(contrast, seed)] = run_group(contrast, seed, participants, list(fc_paths[(contrast, seed)]), mask,
                                            out, group_cfg, random_seed, n_seeds, sessions=tuple(sessions),
                                            baseline_labels=base, log=log)
    return infos


# ------------------------------------------------------------------------------------------------ headline numbers
def _row(result, seed, **kw):
    row = dict.fromkeys(ROW_COLUMNS, np.nan)
    row.update(result=result, seed=seed, holds=None)
    row.update(kw)
    return row


def cluster_rows(result, seed, clusters: pd.DataFrame) -> dict:
    """One row from a group clusters.tsv (the spec's single method): the count, and the largest cluster's size,
    peak t and peak MNI coordinates; estimate = count (baseline) or largest size (ECT)."""
    n = int(len(clusters))
    kw = dict(n_clusters=n, holds=n > 0, size_voxels=0)
    if n:
        big = clusters.sort_values(["size_voxels", "peak_t"], ascending=[False, False]).iloc[0]
        kw.update(size_voxels=int(big["size_voxels"]), peak_t=float(big["peak_t"]), peak_x=float(big["peak_x"]),
                  peak_y=float(big["peak_y"]), peak_z=float(big["peak_z"]))
    kw["estimate"] = float(n if result == "baseline_clusters" else kw["size_voxels"])
    return _row(result, seed, **kw)


def clinical_row(part, fc_index, labels_path, seed, ses_pre, ses_post, reduction, alpha) -> dict:
    """Pearson r of delta FC (mean over the largest ECT cluster) with the HAMD reduction in the completers
    (fcect.clinical.correlations.cluster_values_table + fcect.clinical.stats.corr_test); holds: p < alpha."""
    from fcect.clinical.correlations import cluster_values_table
    from fcect.clinical.stats import corr_test

    values, clusters = cluster_values_table(part, fc_index, {("ect", seed): labels_path}, ses_pre, ses_post,
                                            reduction)
    if clusters.empty:
        return _row("clinical_r", seed, holds=False)
    cid = int(clusters.sort_values("size_voxels", ascending=False).iloc[0]["cluster_id"])
    v = values[(values["cluster_id"] == cid) & values["included_ect"].astype(bool)]
    v = v[np.isfinite(v["delta_fc"].astype(float)) & np.isfinite(v["hamd_reduction"].astype(float))]
    if len(v) < 4:
        return _row("clinical_r", seed, holds=False, n=len(v))
    res = corr_test(v["delta_fc"].to_numpy(float), v["hamd_reduction"].to_numpy(float), method="pearson")
    d = res.as_dict()
    return _row("clinical_r", seed, estimate=float(d["r"]), r=float(d["r"]), p=float(d["p"]), n=int(d["n"]),
                holds=bool(d["p"] < alpha))


def svr_row(part, fc_index, mask, labels_path, seed, pred_cfg, n_perm, random_seed, ses_pre, ses_post, reduction,
            alpha) -> dict:
    """Leave-one-out SVR r of the HAMD reduction from baseline FC in the spec's ECT clusters (the as_published
    mode: fcect.prediction.run.prediction_data and fcect.prediction.svr), with ``n_perm`` target permutations;
    holds: r > 0 and permutation p < alpha."""
    from fcect.prediction import svr as S
    from fcect.prediction.run import prediction_data
    from fcect.prediction.selection import features_from_labels

    d = prediction_data(part, fc_index, mask, seed, pred_cfg["sample"], ses_pre, ses_post, reduction,
                        labels_path=labels_path, need_diff=False)
    if not d["cluster_ids"]:
        return _row("svr_r", seed, holds=False, n=len(d["y"]))
    folds = S.prepare_folds(features_from_labels(d["B"], d["labels"]), S.loo_splits(len(d["y"])))
    C, eps = pred_cfg["svr"]["C"], pred_cfg["svr"]["epsilon"]
    obs = S.metrics(d["y"], S.cv_predict(folds, d["y"], C, eps))
    p = np.nan
    if n_perm:
        null = S.permutation_null(folds, d["y"], int(n_perm), int(random_seed), 1, C, eps)
        p = float(S.permutation_p(obs, null)["r"])
    r = float(obs["r"])
    return _row("svr_r", seed, estimate=r, r=r, p=p, n=int(len(d["y"])),
                holds=bool(np.isfinite(r) and r > 0 and np.isfinite(p) and p < alpha))


def pls_row(tmap, atlas, expr_csv, labels_csv, mask, tx_cfg, out_response, seed, n_nulls=0, random_seed=0,
            alpha=0.05) -> dict:
    """PLS1 of the spec's ECT t map (regional response, fcect.transcriptomics.run.run_response; expression,
    load_inputs; fcect.transcriptomics.pls.pls_fit): variance explained, and r of the PLS1 scores with the
    response. With ``n_nulls`` > 0, its p against that many spatial nulls of the response, made as the
    transcriptomics stage makes them (``tx_cfg['nulls']``: method, reassignment, medial wall; the same random
    stream, so the first ``n_nulls`` of the stage's nulls when the regions agree), and PLS1 holds at p < ``alpha``;
    with 0, holds is left undefined."""
    from fcect.transcriptomics.pls import pls_fit
    from fcect.transcriptomics.run import load_inputs, run_response

    run_response(tmap, atlas, labels_csv, out_response, mask=mask,
                 include_subcortex=tx_cfg["regions"]["include_subcortex"], min_voxels=tx_cfg["regions"]["min_voxels"])
    regions, X, _ = load_inputs(out_response, expr_csv, labels_csv)
    y = regions["response"].to_numpy(float)
    if np.std(y) == 0:
        return _row("pls1", seed, n=len(y))
    Xa = X.to_numpy(float)
    res = pls_fit(Xa, y, 1)
    r = float(np.corrcoef(res.x_scores[:, 0], y)[0, 1])
    var = float(res.var_explained[0])
    if not n_nulls:
        return _row("pls1", seed, estimate=var, r=r, n=int(len(y)))
    vol_cent = None
    if tx_cfg["nulls"]["method"] == "variogram" and (regions["structure"] != "cortex").any():
        from fcect.transcriptomics.regions import label_centroids_mm
        vol_cent = label_centroids_mm(atlas, regions.index)
    p = pls1_spatial_p(Xa, y, regions, int(n_nulls), tx_cfg["nulls"], random_seed, vol_cent)
    return _row("pls1", seed, estimate=var, r=r, p=p, n=int(len(y)), holds=bool(p < alpha))


def pls1_spatial_p(X, y, regions, n_nulls, nulls_cfg, random_seed, volume_centroids=None) -> float:
    """p of PLS1's variance explained in ``y`` (regions) by ``X`` (regions x genes) against ``n_nulls`` spatial
    nulls of ``y`` (fcect.transcriptomics.nulls.make_nulls with ``nulls_cfg``: method, reassignment, centroid,
    variogram, medial_wall; random stream ``rng_for(random_seed, 'nulls')`` as the transcriptomics stage):
    (1 + #{null >= observed}) / (1 + n_nulls), the observed and the null variances from one region-space PLS
    (fcect.transcriptomics.pls.pls_null_r2)."""
    from fcect.transcriptomics.nulls import make_nulls
    from fcect.transcriptomics.pls import null_pvalue, pls_null_r2
    from fcect.transcriptomics.run import rng_for

    Ynull, _ = make_nulls(y, regions, int(n_nulls), rng_for(random_seed, "nulls"), nulls_cfg["method"],
                          nulls_cfg["reassignment"], nulls_cfg.get("centroid", "surface"), nulls_cfg.get("variogram"),
                          volume_centroids, medial=nulls_cfg.get("medial_wall", "drop"))
    r2 = pls_null_r2(X, np.column_stack([y, np.asarray(Ynull, float).T]), 1)[:, 0]
    return float(null_pvalue(r2[0], r2[1:]))


def headline(spec, participants, fc_paths, mask, baseline_tables: dict, ect_dir, hseed, cfg, out_json,
             out_response=None, tx_files=None, log=None) -> list[dict]:
    """Every headline row of one specification (:data:`RESULTS`), written to ``out_json`` with the spec's choices.

    ``baseline_tables``: {seed: clusters.tsv}; ``ect_dir``: the spec's ECT group folder of ``hseed``; ``cfg``: dict
    with ``clinical``, ``prediction``, ``transcriptomics``, ``sessions`` (pre, post), ``reduction``, ``alpha``,
    ``n_permutations``, ``random_seed``, ``pls_nulls``; ``tx_files``: {tmap-free transcriptomics inputs: atlas, expression, labels}
    or None (PLS1 not computed)."""
    t0 = time.perf_counter()
    part = read_tsv(participants)
    fc_index = index_fc_maps(fc_paths)
    ses_pre, ses_post = cfg["sessions"]
    rows = [cluster_rows("baseline_clusters", s, read_tsv(t)) for s, t in baseline_tables.items()]
    ect = Path(ect_dir)
    rows.append(cluster_rows("ect_cluster", hseed, read_tsv(ect / "clusters.tsv")))
    labels = str(ect / "cluster_labels.nii.gz")
    rows.append(clinical_row(part, fc_index, labels, hseed, ses_pre, ses_post, cfg["reduction"], cfg["alpha"]))
    rows.append(svr_row(part, fc_index, mask, labels, hseed, cfg["prediction"], cfg["n_permutations"],
                        cfg["random_seed"], ses_pre, ses_post, cfg["reduction"], cfg["alpha"]))
    if tx_files:
        rows.append(pls_row(str(ect / "stat-t.nii.gz"), tx_files["atlas"], tx_files["expression"],
                            tx_files["labels"], mask, cfg["transcriptomics"], out_response, hseed,
                            int(cfg.get("pls_nulls", 0)), cfg.get("tx_random_seed", cfg["random_seed"]), cfg["alpha"]))
    else:
        rows.append(_row("pls1", hseed))
    out = dict(spec={k: spec[k] for k in spec}, rows=rows, elapsed_s=round(time.perf_counter() - t0, 2))
    save_json(_jsonable(out), out_json)
    if log is not None:
        for r in rows:
            log.info("%s %s %s: estimate %s, holds %s", spec["id"], r["result"], r["seed"], r["estimate"], r["holds"])
    return rows


def _jsonable(o):
    if isinstance(o, dict):
        return {str(k): _jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_jsonable(v) for v in o]
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating, float)):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    return o


def read_headline(path) -> dict:
    with open(path) as fh:
        return json.load(fh)
