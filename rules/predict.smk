# Prediction stage: leave-one-out linear epsilon-SVR of the HAMD reduction from baseline FC,
# permutation test, repeated k-fold; modes as_published and nested. Library: scripts/fcect/predict.py.
# Config section: `prediction`.

PRED = config["prediction"]
PRED_MODES = list(PRED["modes"])
PRED_SEED_RANDOM = PRED["random_seed"] if PRED["random_seed"] is not None else config["random_seed"]
if PRED["seed"] not in SEED_IDS:
    raise ValueError(f"prediction.seed: {PRED['seed']!r} is not a seed of {SEEDS_TABLE} ({SEED_IDS})")
if "nested" in PRED_MODES and PRED["cluster_contrast"] != "ect":
    raise ValueError("prediction: the nested mode re-derives ECT (post - pre) clusters; "
                     "set prediction.cluster_contrast to 'ect' or drop 'nested' from prediction.modes")
if PRED["cluster_contrast"] not in config.get("group", {}).get("contrasts", ["baseline", "ect"]):
    raise ValueError(f"prediction.cluster_contrast {PRED['cluster_contrast']!r} is not among group.contrasts")
_RED = config["clinical"]["reduction"] or config.get("qc", {}).get("hamd_reduction", "rate")


rule predict_svr:
    input:
        participants="results/qc/participants_included.tsv",
        mask="results/masks/analysis_mask.nii.gz",
        fc=all_fc_maps(PRED["seed"]),
        labels=f"results/group/{PRED['cluster_contrast']}/seed-{PRED['seed']}/cluster_labels.nii.gz",
    output:
        json="results/prediction/{mode}/svr.json",
        predictions="results/prediction/{mode}/predictions.tsv",
        null="results/prediction/{mode}/null.tsv",
        kfold="results/prediction/{mode}/repeated_kfold.tsv",
        folds="results/prediction/{mode}/folds.tsv",
    wildcard_constraints:
        mode="as_published|nested",
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
        reduction=_RED,
        target_description=("HAMD reduction rate (pre - post) / pre" if _RED == "rate"
                            else "HAMD reduction pre - post"),
        ses_pre=SES_PRE,
        ses_post=SES_POST,
    log:
        "logs/prediction/svr_{mode}.log",
    benchmark:
        "benchmarks/prediction/svr_{mode}.tsv"
    threads: PRED["threads"]
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/predict_svr.py"


rule predict_summary:
    input:
        json=expand("results/prediction/{mode}/svr.json", mode=PRED_MODES),
        predictions=expand("results/prediction/{mode}/predictions.tsv", mode=PRED_MODES),
        null=expand("results/prediction/{mode}/null.tsv", mode=PRED_MODES),
        kfold=expand("results/prediction/{mode}/repeated_kfold.tsv", mode=PRED_MODES),
        folds=expand("results/prediction/{mode}/folds.tsv", mode=PRED_MODES),
    output:
        json="results/prediction/svr.json",
    params:
        modes=PRED_MODES,
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


# final outputs for rule all (a lambda: `snakemake --lint` flags functions mixed with rules)
predict_targets = lambda: ["results/prediction/svr.json"] + expand(
    "results/prediction/{mode}/predictions.tsv", mode=PRED_MODES)
