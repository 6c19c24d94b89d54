"""Snakemake script: analysis mask, cerebellar grey matter and seed spheres on the analysis grid."""
import nibabel as nib
import numpy as np

from fcect.core.io import run_logged, save_nifti, save_tsv
from fcect.preprocess.masks import make_masks, seed_masks
from fcect.preprocess.seeds import read_seeds


def main(snakemake, log):
    a = snakemake.params.analysis
    seeds = read_seeds(snakemake.input.seeds, snakemake.params.radius_override)
    affine, analysis, cereb = make_masks(a["voxel_mm"], a["exclude_cerebellum"], a["gm_threshold"])
    sm = seed_masks(seeds, affine, analysis.shape, cereb, snakemake.params.min_voxels, snakemake.input.seeds)
    overlap = (sm.sum(axis=-1) > 1).sum()
    if overlap:
        log.warning("%d voxels belong to more than one seed sphere", overlap)
    save_nifti(nib.Nifti1Image(analysis.astype(np.uint8), affine), snakemake.output.analysis)
    save_nifti(nib.Nifti1Image(cereb.astype(np.uint8), affine), snakemake.output.cerebellum)
    save_nifti(nib.Nifti1Image(sm.astype(np.uint8), affine), snakemake.output.seeds)
    out = seeds.copy()
    out["n_voxels"] = sm.sum(axis=(0, 1, 2))
    save_tsv(out, snakemake.output.seeds_tsv)
    log.info("analysis mask: %d voxels; seeds: %s", analysis.sum(), dict(zip(out.seed_id, out.n_voxels)))


run_logged(snakemake, main)  # noqa: F821
