"""Rule figure_multiverse: the specification-curve figure (fcect.figures.multiverse)."""
from fcect.core.io import read_tsv, run_logged
from fcect.figures.multiverse import spec_curve_figure
from fcect.figures.style import save_figure


def main(smk, log):
    table = read_tsv(smk.input.table)
    save_figure(spec_curve_figure(table), smk.output.png, smk.output.vector, dpi=smk.params.dpi)
    log.info("specification curve: %d specifications", table["spec"].nunique())


run_logged(snakemake, main)  # noqa: F821
