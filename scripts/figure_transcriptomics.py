"""Rule figure_transcriptomics: PLS1 against its spatial null, regional response vs PLS1 score, top genes (Figure 6)
and the DK maps of the response and the PLS1 score on the fsaverage5 surface."""
import json

import pandas as pd

from fcect.core.io import read_tsv, run_logged
from fcect.core.vocabulary import RESPONSE_LABEL
from fcect.figures.style import save_figure
from fcect.figures.transcriptomics import pls_figure, surface_figure


def main(smk, log):
    p = smk.params
    with open(smk.input.pls) as fh:
        pls = json.load(fh)
    nulls = pd.read_csv(smk.input.nulls, sep="\t", usecols=lambda c: c == "PLS1_var_explained")
    null_var = nulls["PLS1_var_explained"].to_numpy(float) if "PLS1_var_explained" in nulls else None
    label = RESPONSE_LABEL.get(pls.get("contrast"), "regional mean t")
    fig = pls_figure(pls, null_var, read_tsv(smk.input.genes), top_genes=p.top_genes, response_label=label)
    save_figure(fig, smk.output.pls, smk.output.pls_vector, dpi=p.dpi)
    save_figure(surface_figure(pls, response_label=label), smk.output.surface, smk.output.surface_vector, dpi=p.dpi)
    log.info("transcriptomics figures: %d regions, PLS1 %.3f", len(pls.get("regions", [])),
             pls.get("pls1_var_explained", float("nan")))


run_logged(snakemake, main)  # noqa: F821
