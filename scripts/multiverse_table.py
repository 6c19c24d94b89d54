"""Rule multiverse_table: results/multiverse/specifications.tsv and its HTML copy for the report."""
from fcect.core.html import table_html
from fcect.core.io import run_logged, save_text, save_tsv
from fcect.multiverse.run import read_headline
from fcect.multiverse.table import spec_table


def main(smk, log):
    table = spec_table([read_headline(p) for p in smk.input.headline])
    save_tsv(table, smk.output.tsv, float_format="%.6g")
    save_text(table_html(table, "Multiverse: one row per specification and headline result"), smk.output.html)
    log.info("%d specifications, %d rows", table["spec"].nunique(), len(table))


run_logged(snakemake, main)  # noqa: F821
