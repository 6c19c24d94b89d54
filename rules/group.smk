# Stage group: per contrast (baseline TRD vs HC, ECT post - pre) and seed, t / effect-size maps, FWE maps of every
# method, the cluster table and the feed method's cluster labels; the per-seed and per-contrast figures and the
# cluster tables. Library: fcect.group (+ fcect.figures.group). Config sections: `group`, `figures`.
# Report categories: Baseline, ECT (vocabulary.CONTRAST_CATEGORY).
from fcect.group.run import fc_inputs as _group_fc_inputs

GROUP = config["group"]
GROUP_METHODS = list(GROUP["methods"])
GROUP_CONTRASTS = list(GROUP["contrasts"])
if GROUP["feed_method"] not in GROUP_METHODS:
    raise ValueError(f"config group.feed_method {GROUP['feed_method']!r} must be one of group.methods {GROUP_METHODS}")
if GROUP["ect_mask"] == "baseline_clusters" and "baseline" not in GROUP_CONTRASTS:
    raise ValueError("config group.ect_mask = baseline_clusters needs 'baseline' in group.contrasts")
GROUP_FILES = P.group_files(GROUP_METHODS)
FIG_METHOD = FIG["fwe_method"] or GROUP["feed_method"]  # FWE method of the thresholded maps and grids
if FIG_METHOD not in GROUP_METHODS:
    raise ValueError(f"figures.fwe_method {FIG_METHOD!r} is not among group.methods {GROUP_METHODS}")


rule group_inference:
    input:
        unpack(
            lambda wc: {"baseline_labels": P.group_file("cluster_labels.nii.gz", "baseline", wc.seed)}
            if wc.contrast == "ect" and GROUP["ect_mask"] == "baseline_clusters"
            else {}
        ),
        maps=lambda wc: _group_fc_inputs(wc.contrast, wc.seed, SCANS, SES_PRE, SES_POST, fc_map),
        participants=PARTICIPANTS_INCLUDED,
        mask=MASKS["analysis"],
        code=library("group_inference.py"),
    output:
        [P.group_file(f) for f in GROUP_FILES],
    params:
        group=GROUP,
        random_seed=config["random_seed"],
        n_seeds=len(SEED_IDS),
        sessions=SESSIONS,
        out_dir=lambda wc: P.GROUP_DIR.format(contrast=wc.contrast, seed=wc.seed),
    log:
        "logs/group/{contrast}_seed-{seed}.log",
    benchmark:
        "benchmarks/group/{contrast}_seed-{seed}.tsv"
    # the seed whose map the transcriptomics stage decodes goes first: its PLS and enrichment (the longest single job of the
    # default run) then overlap with the other group jobs instead of running after them (docs/benchmarks.md)
    priority: lambda wc: 10 if wc.seed == config["transcriptomics"]["seed"] else 0
    threads: job_threads(GROUP["threads"])
    resources:
        # paper-sized design (135 subjects x 55,500 voxels): ~0.4 GB peak; 5000 permutations of every method take
        # ~1-1.5 min on one core since the compiled TFCE kernel (TFCE still ~85%; bench/README.md). A retry asks for attempt x the request.
        mem_mb=lambda wc, attempt: attempt * 3000,
        runtime=lambda wc, attempt: attempt * 60,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/group_inference.py"


rule figure_group_seed:
    input:
        t=P.group_file("stat-t.nii.gz"),
        logp=P.group_file(P.logp_name(FIG_METHOD)),
        clusters=P.group_file("clusters.tsv"),
        info=P.group_file("group.json"),
        code=library("figure_group_seed.py"),
    output:
        png=report(P.figure("group/{contrast}/seed-{seed}_stat-t"), caption="../report/group_seed.rst",
                   category=lambda wc: V.contrast_label(wc.contrast, V.CONTRAST_CATEGORY),
                   subcategory="Per seed", labels={"contrast": "{contrast}", "seed": "{seed}"}),
        vector=P.figure("group/{contrast}/seed-{seed}_stat-t", FIG_EXT),
    params:
        dpi=FIG["dpi"],
        method=FIG_METHOD,
        n_slices=FIG["n_slices"],
    log:
        "logs/figures/group_{contrast}_seed-{seed}.log",
    threads: 1
    resources:
        **FIG_RES,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/figure_group_seed.py"


rule figure_group_grid:
    input:
        t=expand(P.group_file("stat-t.nii.gz"), seed=SEED_IDS, allow_missing=True),
        logp=expand(P.group_file(P.logp_name(FIG_METHOD)), seed=SEED_IDS, allow_missing=True),
        clusters=expand(P.group_file("clusters.tsv"), seed=SEED_IDS, allow_missing=True),
        info=expand(P.group_file("group.json"), seed=SEED_IDS, allow_missing=True),
        seeds_tsv=MASKS["seeds_tsv"],
        code=library("figure_group_grid.py"),
    output:
        png=report(P.figure("group/{contrast}_fwe"), caption="../report/group_grid.rst",
                   category=lambda wc: V.contrast_label(wc.contrast, V.CONTRAST_CATEGORY),
                   subcategory="Significant seeds", labels={"contrast": "{contrast}", "seed": "all"}),
        vector=P.figure("group/{contrast}_fwe", FIG_EXT),
    params:
        dpi=FIG["dpi"],
        method=FIG_METHOD,
        seeds=SEED_IDS,
        display=FIG["display"],
        n_slices=FIG["n_slices"],
    log:
        "logs/figures/group_{contrast}_grid.log",
    threads: 1
    resources:
        **FIG_RES,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/figure_group_grid.py"


rule table_clusters:
    input:
        clusters=expand(P.group_file("clusters.tsv"), seed=SEED_IDS, allow_missing=True),
        info=expand(P.group_file("group.json"), seed=SEED_IDS, allow_missing=True),
        code=library("table_clusters.py"),
    output:
        tsv=P.table("clusters_{contrast}"),
        html=report(P.table("clusters_{contrast}", "html"), caption="../report/table_clusters.rst",
                    category=lambda wc: V.contrast_label(wc.contrast, V.CONTRAST_CATEGORY),
                    subcategory="Cluster table", labels={"contrast": "{contrast}", "table": "clusters"}),
    params:
        seeds=SEED_IDS,
        method=FIG_METHOD,
    log:
        "logs/figures/table_clusters_{contrast}.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/table_clusters.py"


TARGETS["group"] = (
    [P.group_file(f, c, k) for c in GROUP_CONTRASTS for k in SEED_IDS for f in GROUP_FILES]
    + [f for c in GROUP_CONTRASTS for k in SEED_IDS for f in figure_outputs(f"group/{c}/seed-{k}_stat-t")]
    + [f for c in GROUP_CONTRASTS for f in figure_outputs(f"group/{c}_fwe")]
    + [P.table(f"clusters_{c}", e) for c in GROUP_CONTRASTS for e in ("tsv", "html")]
)
