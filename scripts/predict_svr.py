"""Rule predict_svr: LOO SVR of the HAMD reduction from baseline FC for one mode."""
import pandas as pd

from fcect.prediction import run as R
from fcect.prediction import selection as S
from fcect.prediction import svr as P
from fcect.core.images import index_fc_maps
from fcect.core.io import read_tsv, run_logged, save_json, save_tsv


def main(smk, log):
    p = smk.params
    mode = smk.wildcards.mode
    part = read_tsv(smk.input.participants)
    d = R.prediction_data(part, index_fc_maps(smk.input.fc), smk.input.mask, p.seed, p.sample,
                          p.ses_pre, p.ses_post, p.reduction, labels_path=smk.input.labels,
                          need_diff=(mode == "nested"))
    log.info("mode %s, seed %s, sample %s: n = %d, full-sample clusters %s", mode, p.seed,
             p.sample, len(d["y"]), d["cluster_ids"])
    common = dict(C=p.C, epsilon=p.epsilon, n_perm=p.n_permutations, n_splits=p.n_splits,
                  n_repeats=p.n_repeats, seed=p.random_seed, n_jobs=smk.threads,
                  log=log.info)
    summary = dict(mode=mode, seed=p.seed, sample=p.sample,
                   sample_description=d["sample_description"], n=int(len(d["y"])),
                   target=p.target_description, full_sample_cluster_ids=d["cluster_ids"],
                   model=dict(estimator="Pipeline(StandardScaler(), SVR(kernel='linear'))",
                              C=p.C, epsilon=p.epsilon, solver=P.solver_name()),
                   cv="leave-one-out", n_permutations=p.n_permutations,
                   permutation_seed=p.random_seed,
                   repeated_kfold=dict(n_splits=p.n_splits, n_repeats=p.n_repeats))
    if mode == "as_published":
        if not d["cluster_ids"]:
            log.warning("no significant full-sample cluster for seed %s: as_published skipped",
                        p.seed)
            res = None
        else:
            feats = S.features_from_labels(d["B"], d["labels"])
            res = R.run_mode(d["y"], features=feats, **common)
    else:
        summary["nested_selection"] = dict(p.nested)
        res = R.run_mode(d["y"], B=d["B"], D=d["D"], has_diff=d["has_diff"], geom=d["geom"],
                         reference_labels=d["labels"], nested=dict(p.nested), **common)
    if res is None:
        summary["status"] = "skipped: no full-sample cluster"
        empty = pd.DataFrame()
        save_tsv(pd.DataFrame(columns=["participant_id", "observed", "predicted"]),
                 smk.output.predictions)
        save_tsv(pd.DataFrame(columns=list(P.NULL_COLUMNS)), smk.output.null)
        save_tsv(pd.DataFrame(columns=["repeat", *P.NULL_COLUMNS]), smk.output.kfold)
        save_tsv(empty, smk.output.folds)
    else:
        summary.update(status="ok", loo=res["loo"], p_permutation=res["p_permutation"],
                       repeated_kfold_summary=res["repeated_kfold_summary"],
                       full_sample_model=res["full_sample_model"],
                       full_sample_selection=res["full_sample_selection"],
                       timings_s=res["timings_s"])
        if mode == "nested":
            f = pd.DataFrame(res["folds"])
            summary["nested_folds"] = dict(
                n_fallback=int(f["fallback"].sum()),
                n_features=P.summarise(f["n_features"]),
                dice_with_full_sample=P.summarise(f.get("dice_with_full_sample", pd.Series([]))))
        save_tsv(pd.DataFrame(dict(participant_id=d["participant_id"], observed=d["y"],
                                   predicted=res["predictions"])),
                 smk.output.predictions, float_format="%.6g")
        save_tsv(pd.DataFrame(res["null"], columns=list(P.NULL_COLUMNS)), smk.output.null,
                 float_format="%.6g")
        save_tsv(pd.DataFrame(res["repeated_kfold"]), smk.output.kfold, float_format="%.6g")
        folds = pd.DataFrame(res["folds"])
        folds.insert(0, "participant_id", d["participant_id"][folds["left_out"].to_numpy()])
        save_tsv(folds, smk.output.folds, float_format="%.6g")
        log.info("LOO r = %.3f (perm p = %.4g), MAE = %.4f (perm p = %.4g); %d-fold x %d r = "
                 "%.3f +- %.3f", res["loo"]["r"], res["p_permutation"]["r"], res["loo"]["mae"],
                 res["p_permutation"]["mae"], p.n_splits, p.n_repeats,
                 res["repeated_kfold_summary"]["r"]["mean"],
                 res["repeated_kfold_summary"]["r"]["sd"])
    save_json(R.json_safe(summary), smk.output.json)


run_logged(snakemake, main)  # noqa: F821
