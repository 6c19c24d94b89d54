"""Snakemake script: the group stage for one contrast and seed (logic in fcect.group.run)."""
from fcect.group.run import run_group
from fcect.core.io import run_logged


def main(snakemake, log):
    wc = snakemake.wildcards
    group = dict(snakemake.params.group)
    group["threads"] = min(int(group.get("threads", 1)), int(snakemake.threads))
    run_group(wc.contrast, wc.seed, snakemake.input.participants, list(snakemake.input.maps),
              snakemake.input.mask, snakemake.params.out_dir, group, snakemake.params.random_seed,
              snakemake.params.n_seeds, sessions=tuple(snakemake.params.sessions),
              baseline_labels=snakemake.input.get("baseline_labels"), log=log)


run_logged(snakemake, main)  # noqa: F821
