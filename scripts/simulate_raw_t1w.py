"""Snakemake script: a simulated subject's native T1w (the MNI152 template through the subject's map)."""
from fcect.core.io import run_logged, save_nifti
from fcect.simulate.params import SimParams
from fcect.simulate.raw import t1w_image


def main(snakemake, log):
    p = SimParams.from_config(snakemake.params.sim, snakemake.params.seed, sessions=snakemake.params.sessions)
    save_nifti(t1w_image(p.seed, snakemake.wildcards.sub, snakemake.params.sim.get("raw", {})),
               snakemake.output.t1w)
    log.info("simulated T1w of sub-%s", snakemake.wildcards.sub)


run_logged(snakemake, main)  # noqa: F821
