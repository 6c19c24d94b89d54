"""Snakemake script: PLS of the regional response on AHBA expression, spatial nulls, bootstrap gene Z."""
from threadpoolctl import threadpool_limits

from fcect.core.io import run_logged
from fcect.transcriptomics.run import run_pls


def main(snakemake, log):
    i, o, p = snakemake.input, snakemake.output, snakemake.params
    with threadpool_limits(int(snakemake.threads)):
        run_pls(i.response, i.expression, i.labels, o.json, o.genes, o.nulls, p.cfg, p.random_seed, p.seed,
                p.contrast, counts_csv=i.get("counts"), atlas=i.atlas, source=p.source,
                threads=snakemake.threads, log=log)


run_logged(snakemake, main)  # noqa: F821
