"""Snakemake script: one simulated scan in the fMRIPrep-derivatives layout, plus its realised couplings.

Imports nothing it does not need (no pandas: the couplings are read with the csv module and the seeds come from
the rule's params), since a job of the default cohort spends about half its CPU on start-up and imports."""
from threadpoolctl import threadpool_limits

from fcect.core.io import run_logged
from fcect.simulate.params import SimParams
from fcect.simulate.scan import read_scan_couplings, write_scan


def main(snakemake, log):
    w = snakemake.wildcards
    p = SimParams.from_config(snakemake.params.sim, snakemake.params.seed, sessions=snakemake.params.sessions)
    couplings, outlier = read_scan_couplings(snakemake.input.couplings, f"sub-{w.sub}", w.ses)
    # BLAS limited to the job's threads: two jobs with two BLAS threads each on two cores took twice as long
    with threadpool_limits(int(snakemake.threads)):
        truth = write_scan(p, w.sub, w.ses, couplings, outlier, snakemake.params.seeds,
                           dict(snakemake.output.items()), snakemake.output.truth, snakemake.input.tissue)
    log.info("simulated sub-%s ses-%s (motion outlier: %s)", w.sub, w.ses, truth["motion_outlier"])


run_logged(snakemake, main)  # noqa: F821
