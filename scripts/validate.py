"""Snakemake script: validate every input before any heavy job; all problems of the cohort in one table and, on
errors, one message."""
from fcect.core.io import run_logged
from fcect.preprocess.validate import run_validation


def main(snakemake, log):
    p = snakemake.params
    run_validation(p.fmriprep_dir, snakemake.input.participants, p.scans, task=p.task, space=p.space, res=p.res,
                   sessions=p.sessions, denoise=p.denoise, settings=p.validate, schema=p.schema,
                   out_table=snakemake.output.table, log_table=snakemake.log.table, threads=snakemake.threads,
                   log=log, runs=p.runs)


run_logged(snakemake, main)  # noqa: F821
