"""Snakemake script: ORA (PLS1+ / PLS1-) and preranked GSEA per library, with spatial-null calibrated p."""
from pathlib import Path

from fcect.core.io import run_logged
from fcect.transcriptomics.run import run_enrichment


def main(snakemake, log):
    i, p = snakemake.input, snakemake.params
    gmts = {Path(g).name[:-4]: g for g in i.gmts}
    # the job's threads are blitzgsea's processes; BLAS runs with one thread inside, so that no result depends on
    # them (fcect.transcriptomics.run.ONE_BLAS_THREAD)
    run_enrichment(i.genes, i.response, i.expression, i.labels, i.nulls, gmts, p.libraries, p.cfg,
                   p.random_seed, Path(snakemake.output[0]).parent, threads=snakemake.threads, log=log)


run_logged(snakemake, main)  # noqa: F821
