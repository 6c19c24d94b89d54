"""Snakemake script: registration QC of every raw scan (worst run), and which scans the thresholds exclude."""
from fcect.core.io import run_logged, save_tsv
from fcect.preprocess.run import per_scan
from fcect.raw.qc import registration_table


def main(snakemake, log):
    q = snakemake.params.qc
    table = registration_table(snakemake.params.scans, per_scan(snakemake.input.qc, snakemake.params.n_runs),
                               q["min_dice"], q["min_correlation"])
    save_tsv(table, snakemake.output.table, float_format="%.6g")
    log.info("scans: %d, registration failures: %d", len(table), int((~table.registration_ok).sum()))


run_logged(snakemake, main)  # noqa: F821
