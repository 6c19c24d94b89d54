"""Rule clinical_correlations: cluster values per participant and their clinical correlations."""
from fcect.core.images import index_fc_maps
from fcect.clinical import correlations as C
from fcect.clinical.loso import loso_table
from fcect.core.io import read_tsv, run_logged, save_tsv


def main(smk, log):
    p = smk.params
    part = read_tsv(smk.input.participants)
    fc_index = index_fc_maps(smk.input.fc)
    label_paths = {tuple(k): path for k, path in zip(p.label_keys, smk.input.labels)}
    values, clusters = C.cluster_values_table(part, fc_index, label_paths, p.ses_pre, p.ses_post,
                                              p.reduction)
    group_tables = {tuple(k): read_tsv(path) for k, path in zip(p.label_keys, smk.input.tables)}
    clusters = C.attach_group_info(clusters, group_tables)
    log.info("%d clusters over %d (contrast, seed) label images; %d value rows",
             len(clusters), len(label_paths), len(values))
    table = C.correlations_from_values(values, clusters, part, p.analyses, p.measures,
                                       p.covariates, p.bonferroni_scope, p.alpha)
    loso = None
    loso_keys = {k: v for k, v in label_paths.items() if k[0] == "ect"
                 and "ect" in p.analyses.get("delta_fc_vs_reduction", [])}
    if p.loso and loso_keys:
        loso, infos = loso_table(part, fc_index, smk.input.mask, loso_keys, p.loso_voxel_p, p.connectivity,
                                 p.ses_pre, p.ses_post)
        for i in infos:
            log.info("LOSO seed-%s cluster %d: threshold t = %.3f, no cluster for %d of %d, median size %s, "
                     "median Dice with the full-sample cluster %.2f", i["seed"], i["cluster_id"], i["threshold_t"],
                     i["n_without_value"], i["n"], i["loso_size_median"], i["loso_dice_median"])
    table = C.add_loso(table, values, loso, clusters, part, p.measures, p.covariates)
    values = C.values_with_loso(values, loso)
    for r in table[table["measure"] == "pearson"].itertuples():
        log.info("%s %s seed-%s cluster %d: r = %.3f, p = %.4g, p_bonf = %.4g (n = %d); LOSO r = %.3f, "
                 "p = %.4g (n = %s)", r.analysis, r.cluster_contrast, r.seed, r.cluster_id, r.r, r.p,
                 r.p_bonferroni, r.n, r.r_loso, r.p_loso, r.n_loso)
    save_tsv(values, smk.output.values, float_format="%.6g")
    save_tsv(clusters, smk.output.clusters, float_format="%.6g")
    save_tsv(table, smk.output.table, float_format="%.6g")


run_logged(snakemake, main)  # noqa: F821
