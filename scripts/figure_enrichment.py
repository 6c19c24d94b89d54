"""Rule figure_enrichment: top terms per list for one gene-set library (Figure 7) and its HTML table."""
import pandas as pd

from fcect.core.html import table_html
from fcect.core.io import read_tsv, run_logged, save_text
from fcect.figures.style import save_figure
from fcect.figures.transcriptomics import enrichment_figure

SHOW = ["list", "term", "set_size", "overlap", "fold_enrichment", "es", "nes", "p_geneperm", "q_geneperm",
        "p_spatial", "q_spatial", "n_spatial_nulls", "genes", "leading_edge"]


def main(smk, log):
    p, lib = smk.params, smk.wildcards.library
    tables = {k: read_tsv(path) for k, path in zip(p.lists, smk.input.tables)}
    fig = enrichment_figure(tables, lib, top_terms=p.top_terms, alpha=p.alpha)
    save_figure(fig, smk.output.png, smk.output.vector, dpi=p.dpi)
    parts = []
    for k, t in tables.items():
        q = "q_spatial" if "q_spatial" in t and t["q_spatial"].notna().any() else "q_geneperm"
        t = t.sort_values(q, kind="stable").head(30).copy()
        for c in ("genes", "leading_edge"):
            if c in t:
                t[c] = t[c].astype(str).str.slice(0, 120)
        parts.append(t[[c for c in SHOW if c in t.columns]])
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=SHOW)
    save_text(table_html(table, f"Enrichment, {lib}: top 30 terms per list",
                           "Sorted by the spatially calibrated q (q_spatial) where available; p_geneperm / "
                           "q_geneperm: hypergeometric (ORA) or gene-permutation (GSEA) p. Full tables: "
                           f"results/transcriptomics/enrichment_<list>_{lib}.tsv."), smk.output.html)
    log.info("%s: %s terms", lib, {k: len(t) for k, t in tables.items()})


run_logged(snakemake, main)  # noqa: F821
