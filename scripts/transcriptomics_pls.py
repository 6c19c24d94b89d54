"""Snakemake script: PLS of the regional response on AHBA expression, spatial nulls, bootstrap gene Z."""
from fcect.core.io import run_logged
from fcect.transcriptomics.run import run_pls


def main(snakemake, log):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    # the job's threads serve the spin nulls' KD-tree queries; BLAS runs with one thread inside, so that no result
    # depends on them (fcect.transcriptomics.run.ONE_BLAS_THREAD)
    run_pls(i.response, i.expression, i.labels, o.json, o.genes, o.nulls, p.cfg, p.random_seed, p.seed,
            p.contrast, counts_csv=i.get("counts"), atlas=i.atlas, source=p.source,
            threads=snakemake.threads, log=log)


run_logged(snakemake, main)  # noqa: F821
