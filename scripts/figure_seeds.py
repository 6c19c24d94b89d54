"""Rule figure_seeds: the cerebellar seed spheres on the MNI template (fcect.figures.seeds.seeds_figure)."""
import nibabel as nib

from fcect.core.io import read_tsv, run_logged
from fcect.figures.seeds import seeds_figure
from fcect.figures.style import save_figure


def main(smk, log):
    seeds = read_tsv(smk.input.seeds_tsv)
    r = smk.params.radius_override
    radii = sorted({float(v) for v in seeds["radius_mm"]}) if "radius_mm" in seeds else []
    if r:
        note = f"{r:g} mm spheres"
    elif len(radii) == 1:
        note = f"{radii[0]:g} mm spheres"
    else:
        note = "spheres of radius " + ", ".join(f"{v:g}" for v in radii) + " mm"
    fig = seeds_figure(nib.load(smk.input.seeds), seeds, nib.load(smk.input.cerebellum), radius_note=note)
    save_figure(fig, smk.output.png, smk.output.vector, dpi=smk.params.dpi)
    log.info("seed figure: %d seeds -> %s", len(seeds), smk.output.png)


run_logged(snakemake, main)  # noqa: F821
