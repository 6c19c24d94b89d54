"""Rule multiverse_seeds: seed spheres of one multiverse radius (fcect.multiverse.run.variant_seeds)."""
from fcect.core.io import run_logged
from fcect.multiverse.run import variant_seeds


def main(smk, log):
    out = variant_seeds(smk.input.seeds, float(smk.wildcards.radius), smk.input.cerebellum, smk.params.min_voxels,
                        smk.output.seeds, smk.output.seeds_tsv)
    log.info("radius %s mm: seed voxels %s", smk.wildcards.radius, dict(zip(out.seed_id, out.n_voxels)))


run_logged(snakemake, main)  # noqa: F821
