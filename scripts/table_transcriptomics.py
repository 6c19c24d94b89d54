"""Rule table_transcriptomics: PLS components, regions and the top genes of each list (TSV + HTML)."""
import json

import pandas as pd

from fcect.core.html import page, table_fragment
from fcect.core.io import read_tsv, run_logged, save_text, save_tsv


def main(smk, log):
    with open(smk.input.pls) as fh:
        pls = json.load(fh)
    comps = pd.DataFrame(pls.get("components", []))
    save_tsv(comps, smk.output.tsv, float_format="%.6g")
    regions = pd.DataFrame(pls.get("regions", []))
    genes = read_tsv(smk.input.genes)
    n = smk.params.top_genes
    cols = [c for c in ("gene", "PLS1_weight", "PLS1_z", "PLS1_q", "list") if c in genes.columns]
    g = genes.dropna(subset=["PLS1_z"]).sort_values("PLS1_z")
    top = pd.concat([g.tail(n).iloc[::-1], g.head(n)])[cols]
    comps_title = (f"PLS components: seed {pls.get('seed')}, {pls.get('contrast')} contrast, "
                   f"{pls.get('n_regions')} regions x {pls.get('n_genes')} genes")
    body = (table_fragment(comps, comps_title, pls.get("methods", ""))
            + table_fragment(top, f"Top {n} positive and negative PLS1 genes by bootstrap Z")
            + table_fragment(regions, "Regions: response and PLS1 score"))
    save_text(page(comps_title, body), smk.output.html)
    log.info("PLS table: %d components, %d regions", len(comps), len(regions))


run_logged(snakemake, main)  # noqa: F821
