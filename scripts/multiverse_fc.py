"""Rule multiverse_fc: one scan's FC maps of one multiverse FC variant (fcect.multiverse.run.variant_fc)."""
from fcect.core.io import run_logged
from fcect.multiverse.run import variant_fc


def main(smk, log):
    i, p = smk.input, smk.params
    info = variant_fc(i.bold, i.confounds, i.bold_json, i.analysis_mask, i.seeds, i.seeds_tsv, p.denoise, p.choice,
                      p.seed_ids, list(smk.output.maps), smk.output.info, runs=p.runs)
    log.info("%s: %s", smk.wildcards.fcv, info)


run_logged(snakemake, main)  # noqa: F821
