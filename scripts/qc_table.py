"""Snakemake script: per-scan motion table (over all runs of a scan), exclusions, and participants with inclusion
flags."""
from fcect.core.io import run_logged
from fcect.preprocess.run import per_scan, qc_tables


def main(snakemake, log):
    confounds = per_scan(snakemake.input.confounds, snakemake.params.n_runs)  # one list of run files per scan
    motion, part = qc_tables(snakemake.input.participants, snakemake.params.schema, snakemake.params.scans,
                             confounds, snakemake.params.qc, snakemake.params.denoise,
                             *snakemake.params.sessions, out_motion=snakemake.output.motion,
                             out_participants=snakemake.output.participants,
                             reduction=snakemake.params.reduction,
                             registration=getattr(snakemake.input, "registration", None))
    log.info("scans: %d, excluded: %d", len(motion), int((~motion.included).sum()))
    for r in motion[~motion.included].itertuples():
        log.info("excluded %s ses-%s: %s", r.participant_id, r.session, r.reason)


run_logged(snakemake, main)  # noqa: F821
