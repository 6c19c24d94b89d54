"""Drivers of the transcriptomics rules, one function per rule (the scripts only unpack ``snakemake``): each loads
its inputs, calls the library (:mod:`~fcect.transcriptomics.ahba`, :mod:`~fcect.transcriptomics.regions`,
:mod:`~fcect.transcriptomics.nulls`, :mod:`~fcect.transcriptomics.pls`, :mod:`~fcect.transcriptomics.calibration`)
and writes its outputs. Also the pls.json record and its methods paragraph.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from fcect.core.io import save_json, save_tsv
from fcect.report.methods import transcriptomics_paragraph
from fcect.transcriptomics import ahba
from fcect.transcriptomics import enrichment as en
from fcect.transcriptomics.calibration import enrichment_tables, spatial_calibration
from fcect.transcriptomics.nulls import make_nulls
from fcect.transcriptomics.pls import pls_analysis
from fcect.transcriptomics.regions import label_centroids_mm, regional_response

# one independent random stream per step, all from the workflow's random seed
STEP = {"nulls": 1, "bootstrap": 2, "calibration": 3, "gsea": 4}


def rng_for(random_seed: int, step: str):
    """The random generator of one step (``STEP``) of the stage."""
    return np.random.default_rng([int(random_seed), STEP[step]])


# ------------------------------------------------------------------------------------------------ data
def run_fetch(out_dir, archive=None, data_dir=None, cache_dir="resources/downloads", sha256=ahba.ITX_SHA256,
              version=ahba.ITX_VERSION, timeout=900, log=None):
    t0 = time.time()
    got = ahba.fetch_itx(out_dir, archive=archive, data_dir=data_dir, cache_dir=cache_dir, sha256=sha256,
                         version=version, timeout=timeout)
    if log:
        log.info("imaging-transcriptomics %s data in %s (%d files, %.1f s)", version, out_dir, len(got),
                 time.time() - t0)
    return got


def run_download(dest, sha256=ahba.ITX_SHA256, version=ahba.ITX_VERSION, timeout=900, log=None):
    ahba.download_itx_archive(dest, sha256=sha256, version=version, timeout=timeout)
    if log:
        log.info("downloaded %s (sha256 %s verified)", dest, sha256)


def run_geneset(name, out_gmt, itx_dir=None, gmt=None, log=None):
    """Write library ``name`` as .gmt: blitzgsea-bundled, cell types from the archive, or a user gmt."""
    if gmt:
        lib = ahba.read_gmt(gmt)
        src = str(gmt)
    elif name in ahba.BLITZGSEA_LIBRARIES:
        lib = ahba.export_blitzgsea_library(name, out_gmt)
        src = "blitzgsea package data"
    elif name in ahba.CELLTYPE_LIBRARIES:
        p = Path(itx_dir) / ahba.CELLTYPE_LIBRARIES[name]
        lib = ahba.read_gmt(p)
        src = str(p)
    else:
        raise ValueError(f"gene-set library {name!r} is neither bundled ({list(ahba.BLITZGSEA_LIBRARIES)}, "
                         f"{list(ahba.CELLTYPE_LIBRARIES)}) nor given a gmt path in the config")
    if name not in ahba.BLITZGSEA_LIBRARIES or gmt:
        ahba.write_gmt(lib, out_gmt)
    if log:
        log.info("library %s: %d sets from %s", name, len(lib), src)
    return lib


# ------------------------------------------------------------------------------------------------ response
def run_response(tmap, atlas, labels_csv, out_tsv, mask=None, include_subcortex=False, min_voxels=5, log=None):
    labels = ahba.read_dk_labels(labels_csv)
    regions = ahba.select_regions(labels, "L", include_subcortex)
    if regions.empty:
        raise ValueError(f"{labels_csv}: no left-hemisphere regions to analyse")
    rr = regional_response(tmap, atlas, regions, mask, min_voxels)
    save_tsv(rr.reset_index(), out_tsv)
    if log:
        log.info("regional response: %d/%d regions with >= %d voxels", int(rr["included"].sum()), len(rr),
                 min_voxels)
        dropped = rr.index[~rr["included"]].tolist()
        if dropped:
            log.warning("regions dropped (too few voxels in the t map / mask): %s",
                        rr.loc[dropped, "label"].tolist())
    return rr


def load_inputs(response_tsv, expr_csv, labels_csv):
    """Regions (included, with expression) and the matching expression matrix (cleaned)."""
    rr = pd.read_csv(response_tsv, sep="\t", na_values=["n/a"]).set_index("id")
    labels = ahba.read_dk_labels(labels_csv)
    expr = ahba.read_expression(expr_csv, labels)
    keep = [i for i in rr.index[rr["included"].astype(bool)] if i in expr.index]
    missing = [int(i) for i in rr.index[rr["included"].astype(bool)] if i not in expr.index]
    X, info = ahba.clean_expression(expr.loc[keep])
    info["no_expression"] = missing
    regions = rr.loc[X.index]
    if len(regions) < 5:
        raise ValueError(f"only {len(regions)} regions with both a response and expression: too few for PLS")
    return regions, X, info


# ------------------------------------------------------------------------------------------------ PLS
ONE_BLAS_THREAD = """The PLS fits, its nulls' R2, the bootstrap and the calibration run with one BLAS thread, whatever
the job's threads: OpenBLAS with 2 threads sums in another order, and the null R2 and bootstrap SDs then differ in
the last bits from a 1-thread run (measured on 34 regions x 200-15,633 genes), so the results would depend on
--cores. The job's threads go where the result does not depend on them: the KD-tree queries of the spin nulls
(``workers``) and blitzgsea's processes."""


def run_pls(response_tsv, expr_csv, labels_csv, out_json, out_genes, out_nulls, cfg, random_seed, seed_id,
            contrast, counts_csv=None, atlas=None, source="itx", threads=1, log=None):
    t0 = time.time()
    regions, X, info = load_inputs(response_tsv, expr_csv, labels_csv)
    y = regions["response"].to_numpy(float)
    if np.std(y) == 0:
        raise ValueError(f"{response_tsv}: the regional response is constant (t map empty?)")
    ncomp = int(cfg["pls"]["n_components"])
    ncfg = cfg["nulls"]
    vol_cent = None
    if ncfg["method"] == "variogram" and (regions["structure"] != "cortex").any():
        vol_cent = label_centroids_mm(atlas, regions.index)
    Ynull, ninfo = make_nulls(y, regions, int(ncfg["n"]), rng_for(random_seed, "nulls"), ncfg["method"],
                              ncfg["reassignment"], ncfg["centroid"], ncfg.get("variogram"), vol_cent,
                              workers=int(threads), medial=ncfg.get("medial_wall", "drop"))
    t1 = time.time()
    with threadpool_limits(1):  # one BLAS thread, whatever ``threads``: see ONE_BLAS_THREAD
        res = pls_analysis(X.to_numpy(float), y, Ynull, ncomp, int(cfg["bootstrap"]["n"]),
                           rng_for(random_seed, "bootstrap"), float(cfg["bootstrap"]["fdr_alpha"]),
                           genes=list(X.columns))
    t2 = time.time()
    save_tsv(res["genes"].reset_index(), out_genes)
    save_tsv(null_table(Ynull, res["null_r2"], regions.index), out_nulls, float_format="%.8g")
    counts = None
    if counts_csv:
        c = pd.read_csv(counts_csv, index_col=0)
        counts = c.sum(axis=1).reindex(regions.index)
    out = pls_record(res, regions, y, X.shape[1], counts, info, ninfo, cfg, random_seed, seed_id, contrast,
                     source, timing_s={"nulls": round(t1 - t0, 2), "pls_bootstrap": round(t2 - t1, 2)})
    out["methods"] = methods_text(out, cfg)
    save_json(out, out_json)
    if log:
        log.info("PLS1 explains %.1f%% of the response variance (p_spatial = %.4g, %d nulls); %d PLS1+ / %d "
                 "PLS1- genes", 100 * out["pls1_var_explained"], out["pls1_p_spatial"], int(ncfg["n"]),
                 out["n_pls1_pos"], out["n_pls1_neg"])
    return out


def null_table(Ynull, null_r2, region_ids) -> pd.DataFrame:
    """null_responses.tsv: one row per null, the variance explained by each component, then the null response of
    every region (columns named by region id)."""
    null_df = pd.DataFrame(Ynull, columns=[str(i) for i in region_ids])
    for k in range(null_r2.shape[1]):
        null_df.insert(k, f"PLS{k + 1}_var_explained", null_r2[:, k])
    return null_df


def pls_record(res, regions, y, n_genes, counts, info, ninfo, cfg, random_seed, seed_id, contrast, source,
               timing_s) -> dict:
    """The pls.json record (without its methods paragraph) from :func:`pls_analysis`'s result: per component the
    variance explained and spatial p, per region the response and PLS1 score, the gene-list sizes, the parameters."""
    fit = res["fit"]
    ncomp = len(fit.var_explained)
    comps = []
    for k in range(ncomp):
        comps.append({"component": f"PLS{k + 1}", "var_explained": float(fit.var_explained[k]),
                      "cum_var_explained": float(fit.cum_var_explained[k]),
                      "p_spatial": float(res["p_null"][k]), "p_spatial_cumulative": float(res["p_null_cumulative"][k]),
                      "null_var_explained_mean": float(res["null_r2"][:, k].mean()),
                      "null_var_explained_p95": float(np.percentile(res["null_r2"][:, k], 95)),
                      "r_scores_response": float(np.corrcoef(fit.x_scores[:, k], y)[0, 1])})
    reg = []
    for j, (rid, r) in enumerate(regions.iterrows()):
        reg.append({"id": int(rid), "label": r["label"], "structure": r["structure"], "n_voxels": int(r["n_voxels"]),
                    "response": float(r["response"]), "pls1_score": float(fit.x_scores[j, 0]),
                    "n_samples": None if counts is None or not np.isfinite(counts.get(rid, np.nan))
                    else int(counts[rid])})
    lists = res["genes"]["list"].value_counts()
    return {
        "seed": seed_id, "contrast": contrast, "expression_source": source,
        "n_regions": int(len(regions)), "n_genes": int(n_genes),
        "components": comps,
        "pls1_var_explained": comps[0]["var_explained"], "pls1_p_spatial": comps[0]["p_spatial"],
        "n_pls1_pos": int(lists.get("PLS1+", 0)), "n_pls1_neg": int(lists.get("PLS1-", 0)),
        "n_bootstrap_valid": [int(v) for v in res["n_boot_valid"]],
        "regions": reg, "dropped": info,
        "null_model": ninfo,
        "parameters": {"n_components": ncomp, "nulls": cfg["nulls"], "bootstrap": cfg["bootstrap"],
                       "include_subcortex": cfg["regions"]["include_subcortex"],
                       "min_voxels": cfg["regions"]["min_voxels"], "random_seed": int(random_seed)},
        "timing_s": timing_s,
    }


def methods_text(out, cfg) -> str:
    """The methods paragraph of methods.md (fcect.report.methods.transcriptomics_paragraph: one text, from the
    config) followed by this run's results."""
    c = out["components"][0]
    return (transcriptomics_paragraph({**cfg, "contrast": out["contrast"], "seed": out["seed"]}, heading=False)
            + f" In {out['n_regions']} regions and {out['n_genes']} genes, PLS1 explained "
            f"{100 * c['var_explained']:.1f}% of the variance in the response (spatial-null p = {c['p_spatial']:.3g});"
            f" the PLS1+ and PLS1- lists held {out['n_pls1_pos']} and {out['n_pls1_neg']} genes.")


# ------------------------------------------------------------------------------------------------ enrichment
def run_enrichment(gene_tsv, response_tsv, expr_csv, labels_csv, nulls_tsv, gmts: dict, lib_cfg: list, cfg,
                   random_seed, out_dir, threads=2, log=None):
    t0 = time.time()
    regions, X, _ = load_inputs(response_tsv, expr_csv, labels_csv)
    y = regions["response"].to_numpy(float)
    genes = pd.read_csv(gene_tsv, sep="\t", na_values=["n/a"], keep_default_na=False).set_index("gene")
    if list(genes.index.sort_values()) != sorted(X.columns):
        raise ValueError(f"{gene_tsv} and the expression matrix disagree on the gene list: rerun the PLS rule")
    Ynull = pd.read_csv(nulls_tsv, sep="\t")[[str(i) for i in regions.index]].to_numpy(float)
    gs = load_gene_sets(gmts, lib_cfg, X.columns, log)
    ecfg = cfg["enrichment"]
    ccfg = ecfg["calibration"]
    calib = None
    n_cal = Ynull.shape[0] if ccfg.get("n_nulls") is None else min(int(ccfg["n_nulls"]), Ynull.shape[0])
    if log and 0 < n_cal < Ynull.shape[0]:
        log.warning("calibration uses the first %d of the %d spatial nulls (enrichment.calibration.n_nulls); "
                    "null uses them all", n_cal, Ynull.shape[0])
    if n_cal > 0:
        with threadpool_limits(1):  # one BLAS thread, whatever ``threads``: see ONE_BLAS_THREAD
            calib, _ = spatial_calibration(X.to_numpy(float), y, Ynull[:n_cal], gs, int(ccfg["n_boot"]),
                                           rng_for(random_seed, "calibration"),
                                           float(cfg["bootstrap"]["fdr_alpha"]))
    t1 = time.time()
    out = {}
    gseed = int(rng_for(random_seed, "gsea").integers(0, 2 ** 31 - 1))
    for name, g in gs.items():
        with threadpool_limits(1):  # ONE_BLAS_THREAD; ``threads`` are blitzgsea's processes
            tables = enrichment_tables(genes, g, None if calib is None else calib[name],
                                       int(ecfg["gsea_permutations"]), max(1, int(threads)), gseed,
                                       tail=ccfg.get("tail"))
        for key, df in tables.items():
            df.insert(0, "library", name)
            save_tsv(df, Path(out_dir) / f"enrichment_{key}_{name}.tsv", float_format="%.6g")
            out[(key, name)] = df
        if log:
            top = tables["gsea"].iloc[0] if len(tables["gsea"]) else None
            log.info("%s: %d terms; top GSEA term %s (p_spatial %s)", name, len(g),
                     None if top is None else top["term"], None if top is None else top["p_spatial"])
            for key, df in tables.items():
                if "fit_method" in df:
                    log.info("%s %s: spatial p by method %s; %d terms with q_spatial < 0.05", name, key,
                             df["fit_method"].value_counts().to_dict(), int((df["q_spatial"] < 0.05).sum()))
    if log:
        log.info("calibration %.1f s (%d nulls x %d bootstraps); tables %.1f s", t1 - t0, n_cal, int(ccfg["n_boot"]),
                 time.time() - t1)
    return out


def load_gene_sets(gmts: dict, lib_cfg: list, genes, log=None) -> dict:
    """{library: GeneSets} of the configured libraries (``gmts``: name -> .gmt path), restricted to ``genes``
    (the expressed genes) and to the configured set sizes."""
    gs = {}
    for lc in lib_cfg:
        lib = ahba.read_gmt(gmts[lc["name"]])
        gs[lc["name"]] = en.GeneSets(lib, genes, int(lc.get("min_size", 10)), int(lc.get("max_size", 500)))
        if log:
            log.info("%s: %d of %d sets within [%s, %s] genes after restricting to %d expressed genes", lc["name"],
                     len(gs[lc["name"]]), len(lib), lc.get("min_size", 10), lc.get("max_size", 500), len(genes))
    return gs
