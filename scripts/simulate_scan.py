"""Snakemake script: one simulated scan in the fMRIPrep-derivatives layout, plus its realised couplings."""
import pandas as pd
from threadpoolctl import threadpool_limits

from fcect.core.io import run_logged
from fcect.preprocess.seeds import read_seeds
from fcect.simulate.params import SimParams
from fcect.simulate.scan import write_scan


def main(snakemake, log):
    w = snakemake.wildcards
    p = SimParams.from_config(snakemake.params.sim, snakemake.params.seed, sessions=snakemake.params.sessions)
    table = pd.read_csv(snakemake.input.couplings, sep="\t", na_values=["n/a"], dtype={"participant_id": str})
    sub_rows = table[(table.participant_id == f"sub-{w.sub}") & (table.session == w.ses)]
    outlier = str(sub_rows["motion_outlier_sessions"].fillna("").iloc[0]) == w.ses
    seeds = read_seeds(snakemake.input.seeds, snakemake.params.radius_override)
    # BLAS limited to the job's threads: two jobs with two BLAS threads each on two cores took twice as long
    with threadpool_limits(int(snakemake.threads)):
        truth = write_scan(p, w.sub, w.ses, sub_rows[["seed", "target", "coupling"]], outlier, seeds,
                           dict(snakemake.output.items()), snakemake.output.truth,
                           snakemake.input.tissue)
    log.info("simulated sub-%s ses-%s (motion outlier: %s)", w.sub, w.ses, truth["motion_outlier"])


run_logged(snakemake, main)  # noqa: F821
