"""Snakemake script: one simulated scan written as raw BIDS in the subject's native space (simulate.mode raw)."""
import pandas as pd

from fcect.core.io import run_logged
from fcect.preprocess.seeds import read_seeds
from fcect.simulate.params import SimParams
from fcect.simulate.raw import write_raw_scan


def main(snakemake, log):
    w = snakemake.wildcards
    p = SimParams.from_config(snakemake.params.sim, snakemake.params.seed, sessions=snakemake.params.sessions)
    table = pd.read_csv(snakemake.input.couplings, sep="\t", na_values=["n/a"], dtype={"participant_id": str})
    rows = table[(table.participant_id == f"sub-{w.sub}") & (table.session == w.ses)]
    outlier = str(rows["motion_outlier_sessions"].fillna("").iloc[0]) == w.ses
    seeds = read_seeds(snakemake.input.seeds, snakemake.params.radius_override)
    truth = write_raw_scan(p, w.sub, w.ses, rows[["seed", "target", "coupling"]], outlier, seeds,
                           dict(snakemake.output.items()), snakemake.output.truth, snakemake.input.tissue,
                           snakemake.params.sim.get("raw", {}))
    log.info("simulated raw sub-%s ses-%s (motion outlier: %s)", w.sub, w.ses, truth["motion_outlier"])


run_logged(snakemake, main)  # noqa: F821
