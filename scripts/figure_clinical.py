"""Rule figure_clinical: FC change vs HAMD reduction per cluster (Figure 4a) and HAMD before / after ECT (4b)."""
from fcect.figures import plots as F
from fcect.core.io import read_tsv, run_logged


def main(smk, log):
    p = smk.params
    corr = read_tsv(smk.input.correlations)
    label = "HAMD reduction rate" if p.reduction == "rate" else "HAMD reduction (points)"
    fig = F.clinical_scatter_figure(read_tsv(smk.input.values), corr, measure=p.measure,
                                    max_panels=p.max_panels, reduction_label=label)
    F.save_figure(fig, smk.output.scatter, smk.output.scatter_vector, dpi=p.dpi)
    fig = F.hamd_paired_figure(read_tsv(smk.input.participants), reduction=p.reduction)
    F.save_figure(fig, smk.output.hamd, smk.output.hamd_vector, dpi=p.dpi)
    log.info("clinical figures: %d correlation rows", len(corr))


run_logged(snakemake, main)  # noqa: F821
