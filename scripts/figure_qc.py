"""Rule figure_qc: head motion per scan, exclusion thresholds and scans kept (fcect.figures.qc.qc_figure)."""
from fcect.core.io import read_tsv, run_logged
from fcect.figures.qc import qc_figure
from fcect.figures.style import save_figure


def main(smk, log):
    q = smk.params.qc
    motion = read_tsv(smk.input.motion)
    fig = qc_figure(motion, read_tsv(smk.input.participants), max_translation=q["max_translation_mm"],
                    max_rotation=q["max_rotation_deg"], max_mean_fd=q.get("max_mean_fd"),
                    fd_method=q.get("fd_method", "power"), sessions=tuple(smk.params.sessions))
    save_figure(fig, smk.output.png, smk.output.vector, dpi=smk.params.dpi)
    log.info("QC figure: %d scans -> %s", len(motion), smk.output.png)


run_logged(snakemake, main)  # noqa: F821
