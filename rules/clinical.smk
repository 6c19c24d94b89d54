# Clinical stage: demographics table (Table 1), per-cluster FC values and clinical correlations.
# Library: scripts/fcect/{demographics,clinical}.py. Config section: `clinical`.

CLIN = config["clinical"]
HAMD_REDUCTION = CLIN["reduction"] or config.get("qc", {}).get("hamd_reduction", "rate")
CLIN_SEEDS = SEED_IDS if CLIN["seeds"] == "all" else list(CLIN["seeds"])
for _s in CLIN_SEEDS:
    if _s not in SEED_IDS:
        raise ValueError(f"clinical.seeds: {_s!r} is not a seed of {SEEDS_TABLE} ({SEED_IDS})")
# group contrasts actually computed by the group stage; analyses use only those
GROUP_CONTRASTS = list(config.get("group", {}).get("contrasts", ["baseline", "ect"]))
CLIN_ANALYSES = {a: [c for c in cs if c in GROUP_CONTRASTS] for a, cs in CLIN["analyses"].items()}
CLIN_ANALYSES = {a: cs for a, cs in CLIN_ANALYSES.items() if cs}
# (cluster contrast, seed) pairs whose cluster labels are needed, in a fixed order
CLIN_LABEL_KEYS = [(c, s) for c in sorted({c for cs in CLIN_ANALYSES.values() for c in cs})
                   for s in CLIN_SEEDS]
GROUP_LABELS = "results/group/{contrast}/seed-{seed}/cluster_labels.nii.gz"


rule clinical_demographics:
    input:
        participants="results/qc/participants_included.tsv",
        motion="results/qc/motion.tsv",
    output:
        table="results/tables/demographics.tsv",
        markdown="results/tables/demographics.md",
        exclusions="results/tables/exclusions.tsv",
    params:
        ttest=CLIN["demographics"]["ttest"],
        yates=CLIN["demographics"]["yates"],
        sample=CLIN["demographics"]["sample"],
        reduction=HAMD_REDUCTION,
        sessions=[SES_PRE, SES_POST],
    log:
        "logs/clinical/demographics.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/clinical_demographics.py"


rule clinical_correlations:
    input:
        participants="results/qc/participants_included.tsv",
        fc=[f for s in CLIN_SEEDS for f in all_fc_maps(s)],
        labels=[GROUP_LABELS.format(contrast=c, seed=s) for c, s in CLIN_LABEL_KEYS],
        tables=[f"results/group/{c}/seed-{s}/clusters.tsv" for c, s in CLIN_LABEL_KEYS],
    output:
        table="results/clinical/correlations.tsv",
        values="results/clinical/cluster_values.tsv",
        clusters="results/clinical/clusters.tsv",
    params:
        label_keys=CLIN_LABEL_KEYS,
        analyses=CLIN_ANALYSES,
        measures=CLIN["measures"],
        covariates=CLIN["covariates"],
        bonferroni_scope=CLIN["bonferroni_scope"],
        alpha=CLIN["alpha"],
        reduction=HAMD_REDUCTION,
        ses_pre=SES_PRE,
        ses_post=SES_POST,
    log:
        "logs/clinical/correlations.log",
    benchmark:
        "benchmarks/clinical/correlations.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=15,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/clinical_correlations.py"


# final outputs for rule all (a lambda: `snakemake --lint` flags functions mixed with rules)
clinical_targets = lambda: [
    "results/tables/demographics.tsv",
    "results/tables/demographics.md",
    "results/tables/exclusions.tsv",
    "results/clinical/correlations.tsv",
    "results/clinical/cluster_values.tsv",
]
