"""Snakemake script: one gene-set library as .gmt (blitzgsea package data, archive cell types or a user gmt)."""
from pathlib import Path

from fcect.core.io import run_logged
from fcect.transcriptomics.run import run_geneset


def main(snakemake, log):
    itx = snakemake.input.get("itx_labels")
    run_geneset(snakemake.wildcards.library, snakemake.output.gmt, Path(itx).parent if itx else None,
                snakemake.params.gmt, log)


run_logged(snakemake, main)  # noqa: F821
