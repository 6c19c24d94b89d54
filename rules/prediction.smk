# Stage prediction: leave-one-out linear epsilon-SVR of the HAMD reduction from baseline FC, permutation test and
# repeated k-fold, in the modes as_published and nested; the prediction figure and table.
# Library: fcect.prediction (+ fcect.figures.prediction). Config section: `prediction`. Report category: Prediction.

from fcect.prediction.rules import rule_spec

PRED = config["prediction"]
PRED_MODES = list(PRED["modes"])
PRED_SEED_RANDOM = PRED["random_seed"] if PRED["random_seed"] is not None else config["random_seed"]
if PRED["seed"] not in SEED_IDS:
    raise ValueError(f"prediction.seed: {PRED['seed']!r} is not a seed of {SEEDS_TABLE} ({SEED_IDS})")
if "nested" in PRED_MODES and PRED["cluster_contrast"] != "ect":
    raise ValueError("prediction: the nested mode re-derives ECT (post - pre) clusters; "
                     "set prediction.cluster_contrast to 'ect' or drop 'nested' from prediction.modes")
# like-for-like selection rules: each applied on the full sample (as_published) and inside each fold (nested)
PRED_RULES = {}
for _r in PRED["selection_rules"]:
    _spec = rule_spec(_r)
    if _spec["name"] in PRED_RULES:
        raise ValueError(f"prediction.selection_rules: two rules are named {_spec['name']!r}; give them distinct names")
    PRED_RULES[_spec["name"]] = _spec
if PRED_RULES and (PRED["cluster_contrast"] != "ect" or "ect" not in GROUP_CONTRASTS):
    raise ValueError("prediction.selection_rules select ECT (post - pre) clusters; set prediction.cluster_contrast "
                     "to 'ect' (with ect among group.contrasts) or set prediction.selection_rules to []")

if PRED["cluster_contrast"] not in GROUP_CONTRASTS:
    raise ValueError(f"prediction.cluster_contrast {PRED['cluster_contrast']!r} is not among group.contrasts")


rule predict_svr:
    input:
        participants=PARTICIPANTS_INCLUDED,
        mask=MASKS["analysis"],
        fc=all_fc_maps(PRED["seed"]),
        labels=P.group_file("cluster_labels.nii.gz", PRED["cluster_contrast"], PRED["seed"]),
        code=library("predict_svr.py"),
    output:
        json=P.prediction_file("svr.json"),
        predictions=P.prediction_file("predictions.tsv"),
        null=P.prediction_file("null.tsv"),
        kfold=P.prediction_file("repeated_kfold.tsv"),
        folds=P.prediction_file("folds.tsv"),
    params:
        seed=PRED["seed"],
        sample=PRED["sample"],
        C=PRED["svr"]["C"],
        epsilon=PRED["svr"]["epsilon"],
        n_permutations=PRED["n_permutations"],
        n_splits=PRED["repeated_kfold"]["n_splits"],
        n_repeats=PRED["repeated_kfold"]["n_repeats"],
        nested=PRED["nested"],
        random_seed=PRED_SEED_RANDOM,
        reduction=HAMD_REDUCTION,
        target_description=V.reduction_label(HAMD_REDUCTION, with_formula=True),
        ses_pre=SES_PRE,
        ses_post=SES_POST,
    log:
        "logs/prediction/svr_{mode}.log",
    benchmark:
        "benchmarks/prediction/svr_{mode}.tsv"
    threads: job_threads(PRED["threads"])
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/predict_svr.py"


rule predict_rule:
    input:
        participants=PARTICIPANTS_INCLUDED,
        mask=MASKS["analysis"],
        fc=all_fc_maps(PRED["seed"]),
        labels=P.group_file("cluster_labels.nii.gz", PRED["cluster_contrast"], PRED["seed"]),
        code=library("predict_rule.py"),
    output:
        json=P.prediction_rule_file("svr.json"),
        predictions=P.prediction_rule_file("predictions.tsv"),
        folds=P.prediction_rule_file("folds.tsv"),
    params:
        spec=lambda wc: PRED_RULES[wc.rule],
        seed=PRED["seed"],
        sample=PRED["sample"],
        C=PRED["svr"]["C"],
        epsilon=PRED["svr"]["epsilon"],
        n_permutations=PRED["n_permutations"],
        random_seed=PRED_SEED_RANDOM,
        reduction=HAMD_REDUCTION,
        target_description=V.reduction_label(HAMD_REDUCTION, with_formula=True),
        ses_pre=SES_PRE,
        ses_post=SES_POST,
    wildcard_constraints:
        rule="[A-Za-z0-9_.-]+",
    log:
        "logs/prediction/rule_{rule}.log",
    benchmark:
        "benchmarks/prediction/rule_{rule}.tsv"
    threads: job_threads(PRED["threads"])
    resources:
        mem_mb=4000,
        runtime=120,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/predict_rule.py"


rule predict_summary:
    input:
        rules=expand(P.prediction_rule_file("svr.json"), rule=list(PRED_RULES)),
        json=expand(P.prediction_file("svr.json"), mode=PRED_MODES),
        predictions=expand(P.prediction_file("predictions.tsv"), mode=PRED_MODES),
        null=expand(P.prediction_file("null.tsv"), mode=PRED_MODES),
        kfold=expand(P.prediction_file("repeated_kfold.tsv"), mode=PRED_MODES),
        folds=expand(P.prediction_file("folds.tsv"), mode=PRED_MODES),
        code=library("predict_summary.py"),
    output:
        json=P.PREDICTION_SUMMARY,
    params:
        modes=PRED_MODES,
        rules=list(PRED_RULES),
    log:
        "logs/prediction/summary.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/predict_summary.py"


rule figure_prediction:
    input:
        svr=P.PREDICTION_SUMMARY,
        predictions=expand(P.prediction_file("predictions.tsv"), mode=PRED_MODES),
        null=expand(P.prediction_file("null.tsv"), mode=PRED_MODES),
        code=library("figure_prediction.py"),
    output:
        png=report(P.figure("prediction"), caption="../report/prediction.rst", category="Prediction",
                   subcategory="SVR", labels={"figure": "predicted vs observed, permutation null"}),
        vector=P.figure("prediction", FIG_EXT),
    params:
        dpi=FIG["dpi"],
        modes=PRED_MODES,
        reduction=HAMD_REDUCTION,
    log:
        "logs/figures/prediction.log",
    threads: 1
    resources:
        **FIG_RES,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/figure_prediction.py"


rule table_prediction:
    input:
        svr=P.PREDICTION_SUMMARY,
        code=library("table_prediction.py"),
    output:
        tsv=P.table("prediction"),
        html=report(P.table("prediction", "html"), caption="../report/table_prediction.rst", category="Prediction",
                    subcategory="SVR", labels={"table": "SVR"}),
    log:
        "logs/figures/table_prediction.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/table_prediction.py"


TARGETS["prediction"] = (
    [P.PREDICTION_SUMMARY] + expand(P.prediction_file("predictions.tsv"), mode=PRED_MODES)
    + expand(P.prediction_rule_file("predictions.tsv"), rule=list(PRED_RULES))
    + figure_outputs("prediction") + [P.table("prediction", e) for e in ("tsv", "html")]
)
