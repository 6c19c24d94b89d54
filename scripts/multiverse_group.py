"""Rule multiverse_group: one specification's group maps (fcect.group.run.run_group per contrast and seed)."""
from fcect.core.io import run_logged
from fcect.multiverse.run import spec_group


def main(smk, log):
    p = smk.params
    group = dict(p.group)
    group["threads"] = min(int(group.get("threads", 1)), int(smk.threads))
    pairs = [tuple(x) for x in p.pairs]
    maps = list(smk.input.maps)
    spec_group(pairs, {k: maps for k in pairs}, smk.input.participants, smk.input.mask, p.out_dirs, group,
               p.random_seed, p.n_seeds, p.sessions, log=log)


run_logged(snakemake, main)  # noqa: F821
