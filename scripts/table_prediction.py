"""Rule table_prediction: the SVR results of every mode, and of every like-for-like selection rule, as TSV and
HTML (fcect.prediction.table)."""
import json

from fcect.core.html import table_html
from fcect.core.io import run_logged, save_text, save_tsv
from fcect.prediction.table import prediction_table


def main(smk, log):
    with open(smk.input.svr) as fh:
        svr = json.load(fh)
    t = prediction_table(svr)
    save_tsv(t, smk.output.tsv, float_format="%.6g")
    note = " ".join(x for x in (svr.get("note", ""), svr.get("rules_note", "")) if x)
    save_text(table_html(t, "SVR prediction of the HAMD reduction", note), smk.output.html)
    log.info("prediction table: %d rows (%d selection rules)", len(t), len(svr.get("rules") or {}))


run_logged(snakemake, main)  # noqa: F821
