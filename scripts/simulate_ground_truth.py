"""Snakemake script: collect the planted values and every realised coupling into ground_truth.json."""
from fcect.core.io import run_logged
from fcect.simulate.cohort import write_ground_truth
from fcect.simulate.params import SimParams


def main(snakemake, log):
    p = SimParams.from_config(snakemake.params.sim, snakemake.params.seed, sessions=snakemake.params.sessions)
    gt = write_ground_truth(p, snakemake.input.couplings, snakemake.input.truths, snakemake.output[0])
    log.info("ground truth: %d scans; clinical %s", len(gt["scans"]), gt.get("clinical"))


run_logged(snakemake, main)  # noqa: F821
