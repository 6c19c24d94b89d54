"""Transcriptomics stage, composed from the library: what the rule scripts call.

1. :func:`regional_response` - DK regional means of the group t map.
2. :func:`pls_analysis` - PLS fit, spatial-null p per component, bootstrap Z and PLS1+/PLS1- lists.
3. :func:`spatial_calibration` - each term statistic recomputed on PLS runs with null responses.
4. :func:`enrichment_tables` - ORA (PLS1+, PLS1-) and preranked GSEA tables with gene-permutation and spatial p.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from fcect.transcriptomics import enrichment as en
from fcect.transcriptomics import nulls as spin
from fcect.transcriptomics import pls as tx

LISTS = ("pls1pos", "pls1neg", "gsea")


def regional_response(stat_img, atlas_img, labels: pd.DataFrame, mask_img=None, min_voxels: int = 5):
    """Regional mean t for the regions in ``labels`` (rows indexed by atlas id). Regions with fewer than
    ``min_voxels`` voxels get NaN and ``included = False``."""
    rm = tx.regional_means(stat_img, atlas_img, labels.index, mask_img)
    out = labels[["label", "hemisphere", "structure"]].join(rm)
    out["included"] = (out["n_voxels"] >= min_voxels) & np.isfinite(out["response"])
    out.loc[~out["included"], "response"] = np.nan
    out.index.name = "id"
    return out


def make_nulls(y, regions: pd.DataFrame, n_null: int, rng, method="spin", reassignment="vertex",
               centroid="surface", variogram_kw=None, volume_centroids=None, workers=1):
    """Null responses (n_null, n) for the included regions (``regions``: label, structure, in y's order)."""
    # subcortical regions are shuffled within their structure class (subcortex/brainstem), not per label
    structure = np.where(regions["structure"].eq("cortex"), "cortex", regions["structure"].astype(str))
    names = regions.loc[regions["structure"].eq("cortex"), "label"].tolist()
    cent = None
    if reassignment in ("hungarian", "vasa") or method == "variogram":
        cent = spin.dk_left_centroids(names, centroid)
    dist = None
    if method == "variogram" and (structure != "cortex").any():
        if volume_centroids is None:
            raise ValueError("variogram nulls with subcortex need volumetric centroids")
        dist = spin.euclidean_distance(volume_centroids)
    return spin.null_maps(y, structure, n_null, rng, method=method, cortex_centroids=cent,
                          reassignment=reassignment, distance=dist, variogram_kw=variogram_kw, cortex_names=names,
                          workers=workers)


def pls_analysis(X, y, Ynull, n_components=2, n_boot=5000, rng=None, fdr_alpha=0.05, genes=None, chunk=250):
    """PLS on (X, y), spatial-null p per component from Ynull (B, n), bootstrap gene table."""
    rng = np.random.default_rng(rng)
    res = tx.pls_fit(X, y, n_components)
    Xz = tx.zscore(X)
    K = Xz @ Xz.T
    null_r2 = tx.pls_null_r2(Xz, np.asarray(Ynull).T, n_components, K=K)
    p_null = tx.null_pvalue(res.var_explained, null_r2)
    cum_null = np.cumsum(null_r2, axis=1)
    p_cum = tx.null_pvalue(res.cum_var_explained, cum_null)
    sd, nvalid = tx.pls_bootstrap(X, y, n_boot, n_components, rng, ref=res.x_weights, chunk=chunk)
    genes = genes if genes is not None else [f"g{i}" for i in range(X.shape[1])]
    table = tx.gene_weight_table(genes, res.x_weights, sd, fdr_alpha)
    return {"fit": res, "null_r2": null_r2, "p_null": p_null, "p_null_cumulative": p_cum,
            "boot_sd": sd, "n_boot_valid": nvalid, "genes": table}


def spatial_calibration(X, y, Ynull, gene_sets: dict, n_boot=100, rng=None, fdr_alpha=0.05, chunk=100):
    """Observed and null term statistics for every library, computed identically.

    Each response (observed and every null) goes through: PLS1 weights -> bootstrap Z with a shared resampling
    plan of ``n_boot`` resamples -> PLS1+/PLS1- lists (BH q < fdr_alpha) -> per term -log10 hypergeometric p
    (ORA) and GSEA ES on Z. Returns {library: {list: (obs (T,), null (T, B))}} and the observed calibration Z.
    """
    rng = np.random.default_rng(rng)
    n = X.shape[0]
    plan = tx.BootstrapPlan(X, tx.bootstrap_indices(n, n_boot, rng))
    Yall = np.column_stack([np.asarray(y, float), np.asarray(Ynull, float).T])    # (n, 1 + B)
    stats = {lib: {k: [] for k in LISTS} for lib in gene_sets}
    for s in range(0, Yall.shape[1], chunk):
        Z = tx.null_gene_z(plan, Yall[:, s:s + chunk])                            # (b, p)
        pos = np.empty(Z.shape, bool); neg = np.empty(Z.shape, bool)
        for i in range(Z.shape[0]):
            pos[i], neg[i] = tx.z_lists(Z[i], fdr_alpha)
        for lib, gs in gene_sets.items():
            _, lp = en.ora_stats(gs, pos)
            stats[lib]["pls1pos"].append(-lp / np.log(10))
            _, ln = en.ora_stats(gs, neg)
            stats[lib]["pls1neg"].append(-ln / np.log(10))
            stats[lib]["gsea"].append(en.gsea_es(gs, Z))
        if s == 0:
            z_obs = Z[0]
    out = {}
    for lib in gene_sets:
        out[lib] = {}
        for k in LISTS:
            a = np.concatenate(stats[lib][k], axis=1)
            out[lib][k] = (a[:, 0], a[:, 1:])
    return out, z_obs


def enrichment_tables(gene_table: pd.DataFrame, gs: en.GeneSets, calib: dict | None = None, gsea_permutations=2000,
                      processes=2, seed=0, run_blitzgsea=True):
    """ORA tables for PLS1+ / PLS1- and a GSEA table on PLS1 Z, with p_spatial / q_spatial when ``calib``."""
    gt = gene_table.reindex(gs.genes)
    z = gt["PLS1_z"].to_numpy(float)
    z = np.where(np.isfinite(z), z, 0.0)
    tables = {}
    for key, lab in (("pls1pos", "PLS1+"), ("pls1neg", "PLS1-")):
        df = en.ora_table(gs, gt["list"].eq(lab).to_numpy(), lab)
        tables[key] = df
    es = en.gsea_es(gs, z)[:, 0]
    g = pd.DataFrame({"list": "PLS1_z", "term": gs.terms, "set_size": gs.sizes, "es": es})
    if run_blitzgsea and len(gs):
        res = en.gsea_blitz(gs, z, permutations=gsea_permutations, processes=processes, seed=seed)
        res = res.reindex(gs.terms)
        g["nes"] = res["nes"].to_numpy(float)
        g["p_geneperm"] = res["pval"].to_numpy(float)
        g["q_geneperm"] = tx.bh_fdr(g["p_geneperm"].to_numpy())
        g["leading_edge"] = res["leading_edge"].to_numpy()
    else:
        g["nes"] = np.nan; g["p_geneperm"] = np.nan; g["q_geneperm"] = np.nan
        g["leading_edge"] = en.leading_edge(gs, z)
    tables["gsea"] = g
    for key, df in tables.items():
        if calib is not None:
            obs, null = calib[key]
            p = en.spatial_p_signed(obs, null) if key == "gsea" else en.spatial_p_greater(obs, null)
            if key != "gsea":
                p = np.where(obs > 0, p, 1.0)           # no overlap: nothing to calibrate
            df["stat_calibration"] = obs
            df["p_spatial"] = p
            df["q_spatial"] = tx.bh_fdr(p)
            df["n_spatial_nulls"] = null.shape[1]
        else:
            df["stat_calibration"] = np.nan; df["p_spatial"] = np.nan; df["q_spatial"] = np.nan
            df["n_spatial_nulls"] = 0
        sort = "p_spatial" if calib is not None else "p_geneperm"
        tables[key] = df.sort_values([sort, "p_geneperm"], kind="stable").reset_index(drop=True)
    return tables
