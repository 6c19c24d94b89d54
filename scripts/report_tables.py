"""Rules table_correlations / table_prediction: result tables as TSV (where not already one) and HTML."""
import json

import pandas as pd

from fcect.figures import plots as F
from fcect.core.io import read_tsv, run_logged, save_text, save_tsv

CORR_COLUMNS = ["analysis", "exploratory", "seed", "cluster_contrast", "cluster_id", "group_aal_peak", "group_peak_x",
                "group_peak_y", "group_peak_z", "size_voxels", "measure", "covariates", "n", "r", "ci_low", "ci_high",
                "p", "n_tests", "p_bonferroni", "significant_bonferroni"]


def correlations(smk, log):
    t = read_tsv(smk.input.table)
    cols = [c for c in CORR_COLUMNS if c in t.columns]
    note = ("One row per analysis, seed, cluster and measure. delta_fc_vs_reduction: FC change (post - pre) vs HAMD "
            "reduction in completers; baseline_fc_vs_hamd_pre (exploratory): baseline FC vs baseline HAMD in "
            "patients. p_bonferroni: Bonferroni over the n_tests clusters of the family. 95% CI by Fisher z.")
    save_text(F.table_html(t[cols], "Clinical correlations", note), smk.output.html)
    log.info("correlations: %d rows", len(t))


def prediction(smk, log):
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
    save_text(F.table_html(t, "SVR prediction of the HAMD reduction", svr.get("note", "")), smk.output.html)
    log.info("prediction table: %d modes", len(t))


def main(smk, log):
    {"correlations": correlations, "prediction": prediction}[smk.params.kind](smk, log)


run_logged(snakemake, main)  # noqa: F821
