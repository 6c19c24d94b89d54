"""Rule multiverse_headline: one specification's headline numbers (fcect.multiverse.run.headline)."""
from pathlib import Path

from fcect.core.io import run_logged, save_text
from fcect.multiverse.run import headline


def main(smk, log):
    i, p = smk.input, smk.params
    tx = {k[3:]: i[k] for k in ("tx_atlas", "tx_expression", "tx_labels") if k in i.keys()} or None
    headline(p.spec, i.participants, list(i.fc), i.mask, dict(zip(p.baseline_seeds, i.baseline)),
             str(Path(i.ect[0]).parent), p.seed, p.cfg, smk.output.json, out_response=smk.output.response,
             tx_files=tx, log=log)
    if tx is None:
        save_text("id\tresponse\n", smk.output.response)  # multiverse.pls: false


run_logged(snakemake, main)  # noqa: F821
