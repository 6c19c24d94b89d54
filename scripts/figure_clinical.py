"""Rule figure_clinical: FC change vs HAMD reduction per cluster (Figure 4a) and HAMD before / after ECT (4b)."""
from fcect.core.io import read_tsv, run_logged
from fcect.figures.clinical import clinical_scatter_figure, hamd_paired_figure
from fcect.figures.style import save_figure


def main(smk, log):
    p = smk.params
    corr = read_tsv(smk.input.correlations)
    fig = clinical_scatter_figure(read_tsv(smk.input.values), corr, measure=p.measure, max_panels=p.max_panels,
                                  reduction=p.reduction)
    save_figure(fig, smk.output.scatter, smk.output.scatter_vector, dpi=p.dpi)
    fig = hamd_paired_figure(read_tsv(smk.input.participants), reduction=p.reduction)
    save_figure(fig, smk.output.hamd, smk.output.hamd_vector, dpi=p.dpi)
    log.info("clinical figures: %d correlation rows", len(corr))


run_logged(snakemake, main)  # noqa: F821
