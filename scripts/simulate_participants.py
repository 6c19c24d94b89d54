"""Snakemake script: participants.tsv, planted per-subject couplings, dataset_description.json."""
from fcect.core.io import run_logged
from fcect.simulate.cohort import write_participants
from fcect.simulate.params import SimParams


def main(snakemake, log):
    p = SimParams.from_config(snakemake.params.sim, snakemake.params.seed, sessions=snakemake.params.sessions)
    write_participants(p, snakemake.output.participants, snakemake.output.couplings,
                       snakemake.output.description, snakemake.output.tissue)
    log.info("wrote %s", snakemake.output.participants)


run_logged(snakemake, main)  # noqa: F821
