# Group-level inference: per contrast (baseline TRD vs HC, ECT post - pre) and seed, t / effect-size maps,
# FWE maps of every method, cluster table and the feed method's cluster labels (docs/ARCHITECTURE.md).
# Helpers live in scripts/fcect/inference_group.py (snakemake --lint wants no functions next to rules).
from fcect.core.paths import group_files as _group_output_files
from fcect.group.run import fc_inputs as _group_fc_inputs

GROUP = config["group"]
GROUP_METHODS = list(GROUP["methods"])
if GROUP["feed_method"] not in GROUP_METHODS:
    raise ValueError(f"config group.feed_method {GROUP['feed_method']!r} must be one of group.methods {GROUP_METHODS}")
if GROUP["ect_mask"] == "baseline_clusters" and "baseline" not in GROUP["contrasts"]:
    raise ValueError("config group.ect_mask = baseline_clusters needs 'baseline' in group.contrasts")

GROUP_FILES = _group_output_files(GROUP_METHODS)

# every output of the stage, for rule all (common.smk's all_targets() calls <stage>_targets())
group_targets = lambda: [  # noqa: E731
    f"results/group/{c}/seed-{k}/{f}" for c in GROUP["contrasts"] for k in SEED_IDS for f in GROUP_FILES
]


rule group_inference:
    input:
        unpack(
            lambda wc: {"baseline_labels": f"results/group/baseline/seed-{wc.seed}/cluster_labels.nii.gz"}
            if wc.contrast == "ect" and GROUP["ect_mask"] == "baseline_clusters"
            else {}
        ),
        maps=lambda wc: _group_fc_inputs(wc.contrast, wc.seed, SCANS, SES_PRE, SES_POST, fc_map),
        participants="results/qc/participants_included.tsv",
        mask="results/masks/analysis_mask.nii.gz",
    output:
        [f"results/group/{{contrast}}/seed-{{seed}}/{f}" for f in GROUP_FILES],
    params:
        group=GROUP,
        random_seed=config["random_seed"],
        n_seeds=len(SEED_IDS),
        sessions=[SES_PRE, SES_POST],
        out_dir=lambda wc: f"results/group/{wc.contrast}/seed-{wc.seed}",
    wildcard_constraints:
        contrast="baseline|ect",
    log:
        "logs/group/{contrast}_seed-{seed}.log",
    benchmark:
        "benchmarks/group/{contrast}_seed-{seed}.tsv"
    threads: GROUP["threads"]
    resources:
        # paper-sized design (135 subjects x 55,500 voxels): ~0.4 GB peak; 5000 permutations of every method take
        # ~5-8 min on one core (TFCE dominates, docs in bench/README.md). A retry asks for attempt x the request.
        mem_mb=lambda wc, attempt: attempt * 3000,
        runtime=lambda wc, attempt: attempt * 60,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/group_inference.py"
