"""Snakemake script: regional mean of the group t map in the left DK regions."""
from fcect.core.io import run_logged
from fcect.transcriptomics.run import run_response


def main(snakemake, log):
    i, p = snakemake.input, snakemake.params
    run_response(i.tmap, i.atlas, i.labels, snakemake.output.tsv, mask=i.mask,
                 include_subcortex=p.include_subcortex, min_voxels=p.min_voxels, log=log)


run_logged(snakemake, main)  # noqa: F821
