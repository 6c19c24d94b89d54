"""Snakemake script: denoise one scan (each of its runs, concatenated, with inputs.run: concatenate) and write its
Fisher-z seed-to-voxel FC map for every seed."""
from fcect.core.io import run_logged
from fcect.preprocess.run import denoise_and_fc


def main(snakemake, log):
    i = snakemake.input
    info = denoise_and_fc(i.bold, i.confounds, i.bold_json, i.analysis_mask, i.seeds, i.seeds_tsv,
                          snakemake.params.denoise, snakemake.params.seed_ids, list(snakemake.output.maps),
                          snakemake.output.info, runs=snakemake.params.runs)
    log.info("%s", info)


run_logged(snakemake, main)  # noqa: F821
