"""Rule predict_rule: one selection rule, applied on the full sample (as_published) and inside each LOO fold
(nested), with the LOO SVR of the HAMD reduction from baseline FC in both modes."""
import pandas as pd

from fcect.core.images import index_fc_maps
from fcect.core.io import read_tsv, run_logged, save_json, save_tsv
from fcect.prediction import run as R
from fcect.prediction import svr as P


def main(smk, log):
    p = smk.params
    spec = dict(p.spec)
    part = read_tsv(smk.input.participants)
    d = R.prediction_data(part, index_fc_maps(smk.input.fc), smk.input.mask, p.seed, p.sample, p.ses_pre,
                          p.ses_post, p.reduction, labels_path=smk.input.labels, need_diff=True)
    log.info("rule %s (%s), seed %s, sample %s: n = %d", spec["name"], spec["method"], p.seed, p.sample,
             len(d["y"]))
    res = R.run_rule(d["y"], d["B"], d["D"], d["has_diff"], d["geom"], spec, reference_labels=d["labels"],
                     C=p.C, epsilon=p.epsilon, n_perm=p.n_permutations, seed=p.random_seed, n_jobs=smk.threads,
                     log=log.info)
    summary = dict(rule=spec, seed=p.seed, sample=p.sample, sample_description=d["sample_description"],
                   n=int(len(d["y"])), target=p.target_description, cv="leave-one-out",
                   model=dict(estimator="Pipeline(StandardScaler(), SVR(kernel='linear'))", C=p.C,
                              epsilon=p.epsilon, solver=P.solver_name()),
                   n_permutations=p.n_permutations, permutation_seed=p.random_seed, status="ok",
                   as_published=res["as_published"], nested=res["nested"], difference=res["difference"],
                   timings_s=res["timings_s"])
    save_tsv(pd.DataFrame(dict(participant_id=d["participant_id"], observed=d["y"],
                               predicted_as_published=res["predictions"]["as_published"],
                               predicted_nested=res["predictions"]["nested"])),
             smk.output.predictions, float_format="%.6g")
    folds = pd.DataFrame(res["folds"])
    folds.insert(0, "participant_id", d["participant_id"][folds["left_out"].to_numpy()])
    save_tsv(folds, smk.output.folds, float_format="%.6g")
    save_json(R.json_safe(summary), smk.output.json)


run_logged(snakemake, main)  # noqa: F821
