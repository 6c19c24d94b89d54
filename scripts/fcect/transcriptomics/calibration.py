"""Spatial-null calibration of the gene-set enrichment, and the enrichment tables of the workflow.

Gene-permutation p values of ORA and GSEA on AHBA data are inflated (co-expressed genes travel together; see
:mod:`fcect.transcriptomics.enrichment`). :func:`spatial_calibration` therefore recomputes every term statistic on
the PLS runs of null responses, exactly as for the observed response; :func:`enrichment_tables` turns the observed
PLS gene table into the ORA (PLS1+, PLS1-) and preranked GSEA tables with gene-permutation p and, given the
calibration, p_rank (rank among the nulls), p_tail (generalised Pareto tail, :mod:`fcect.transcriptomics.tail`,
where the observed statistic beats all but a few nulls), fit_method, and p_spatial (the final p: p_tail where it
was estimated, else p_rank) / q_spatial (BH of p_spatial). Lists: :data:`fcect.core.vocabulary.GENE_LISTS`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from fcect.core.vocabulary import GENE_LISTS
from fcect.transcriptomics import enrichment as en
from fcect.transcriptomics import pls as tx
from fcect.transcriptomics.tail import tail_pvalues


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
    stats = {lib: {k: [] for k in GENE_LISTS} for lib in gene_sets}
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
        for k in GENE_LISTS:
            a = np.concatenate(stats[lib][k], axis=1)
            out[lib][k] = (a[:, 0], a[:, 1:])
    return out, z_obs


def enrichment_tables(gene_table: pd.DataFrame, gs: en.GeneSets, calib: dict | None = None, gsea_permutations=2000,
                      processes=2, seed=0, run_blitzgsea=True, tail: dict | None = None):
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
            tcfg = {"enabled": True, "max_exceed": 10, "start": 250, "frac": 0.1, "min_exceedances": 50, "min_shape": 0.0,
                    "include_observed": False, **(tail or {})}
            tp = tail_pvalues(obs, null, signed=key == "gsea",
                              m_min=int(tcfg["max_exceed"]) if tcfg["enabled"] else 0,
                              start=int(tcfg["start"]), frac=float(tcfg["frac"]),
                              min_exc=int(tcfg["min_exceedances"]),
                              include_observed=bool(tcfg["include_observed"]),
                              min_shape=None if tcfg["min_shape"] is None else float(tcfg["min_shape"]))
            p_rank, p_tail, p, method = tp["p_rank"], tp["p_tail"], tp["p"], tp["fit_method"]
            if key != "gsea":                           # no overlap: nothing to calibrate
                none = ~(obs > 0)
                p_rank = np.where(none, 1.0, p_rank); p = np.where(none, 1.0, p)
                p_tail = np.where(none, np.nan, p_tail); method = np.where(none, "no_overlap", method)
            df["stat_calibration"] = obs
            df["p_rank"] = p_rank
            df["p_tail"] = p_tail
            df["fit_method"] = method
            df["p_spatial"] = p
            df["q_spatial"] = tx.bh_fdr(p)
            df["n_spatial_nulls"] = null.shape[1]
        else:
            df["stat_calibration"] = np.nan; df["p_rank"] = np.nan; df["p_tail"] = np.nan
            df["fit_method"] = "none"; df["p_spatial"] = np.nan; df["q_spatial"] = np.nan
            df["n_spatial_nulls"] = 0
        sort = "p_spatial" if calib is not None else "p_geneperm"
        tables[key] = df.sort_values([sort, "p_geneperm"], kind="stable").reset_index(drop=True)
    return tables
