"""Rule table_prediction: the SVR results of every mode as TSV and HTML."""
import json

import pandas as pd

from fcect.core.html import table_html
from fcect.core.io import run_logged, save_text, save_tsv


def main(smk, log):
    with open(smk.input.svr) as fh:
        svr = json.load(fh)
    rows = []
    for mode, res in svr.get("modes", {}).items():
        loo, pp = res.get("loo") or {}, res.get("p_permutation") or {}
        rk = (res.get("repeated_kfold_summary") or {}).get("r") or {}
        rows.append(dict(mode=mode, status=res.get("status"), seed=svr.get("seed"), n=res.get("n"),
                         r=loo.get("r"), p_perm_r=pp.get("r"), mae=loo.get("mae"), p_perm_mae=pp.get("mae"),
                         rmse=loo.get("rmse"), r2=loo.get("r2"), n_permutations=res.get("n_permutations"),
                         kfold_r_mean=rk.get("mean"), kfold_r_sd=rk.get("sd")))
    t = pd.DataFrame(rows)
    save_tsv(t, smk.output.tsv, float_format="%.6g")
    save_text(table_html(t, "SVR prediction of the HAMD reduction", svr.get("note", "")), smk.output.html)
    log.info("prediction table: %d modes", len(t))


run_logged(snakemake, main)  # noqa: F821
