"""Rule table_correlations: the clinical correlations as an HTML table for the report."""
from fcect.core.html import table_html
from fcect.core.io import read_tsv, run_logged, save_text

COLUMNS = ["analysis", "exploratory", "seed", "cluster_contrast", "cluster_id", "group_aal_peak", "group_peak_x",
           "group_peak_y", "group_peak_z", "size_voxels", "measure", "covariates", "n", "r", "ci_low", "ci_high",
           "p", "n_tests", "p_bonferroni", "significant_bonferroni"]


def main(smk, log):
    t = read_tsv(smk.input.table)
    cols = [c for c in COLUMNS if c in t.columns]
    note = ("One row per analysis, seed, cluster and measure. delta_fc_vs_reduction: FC change (post - pre) vs HAMD "
            "reduction in completers; baseline_fc_vs_hamd_pre (exploratory): baseline FC vs baseline HAMD in "
            "patients. p_bonferroni: Bonferroni over the n_tests clusters of the family. 95% CI by Fisher z.")
    save_text(table_html(t[cols], "Clinical correlations", note), smk.output.html)
    log.info("correlations: %d rows", len(t))


run_logged(snakemake, main)  # noqa: F821
