# Paper figures, report tables, methods text and results/summary.json (issue 6).
# Every rule here reads result files only (never raw data or analysis intermediates), so editing a plotting script
# or the plotting library (scripts/fcect/figures.py, an input of every figure rule) reruns figure rules only.
# Stages are optional: a figure or summary section exists only for the stages included in this workflow.
# Library: scripts/fcect/{figures,report}.py. Config section: `figures`. Captions: report/*.rst (jinja).

FIG = {
    "fwe_method": None, "display": "slices", "n_slices": 5, "vector_format": "svg", "dpi": 300,
    "clinical_measure": "pearson", "top_genes": 15, "top_terms": 10, "summary_top_n": 5,
    **config.get("figures", {}),
}
FIG_EXT = FIG["vector_format"]
FIG_LIB = "scripts/fcect/figures.py"
REPORT_LIB = "scripts/fcect/report.py"
FIG_RES = dict(mem_mb=2000, runtime=10)  # measured ~0.4 GB / 10-40 s per figure (nilearn glass brains dominate)
HAS_GROUP = "group_targets" in globals() and bool(config.get("group"))
HAS_CLINICAL = "clinical_targets" in globals()
HAS_PREDICT = "predict_targets" in globals()
HAS_TX = "transcriptomics_targets" in globals()
FIG_STAGES = ["qc"] + [s for s, ok in (("group", HAS_GROUP), ("clinical", HAS_CLINICAL),
                                      ("prediction", HAS_PREDICT), ("transcriptomics", HAS_TX)) if ok]
FIG_CONTRASTS = list(config["group"]["contrasts"]) if HAS_GROUP else []
FIG_METHOD = (FIG["fwe_method"] or config["group"]["feed_method"]) if HAS_GROUP else None
if HAS_GROUP and FIG_METHOD not in config["group"]["methods"]:
    raise ValueError(f"figures.fwe_method {FIG_METHOD!r} is not among group.methods {config['group']['methods']}")
CONTRAST_CATEGORY = {"baseline": "Baseline", "ect": "ECT"}
GROUP_DIR = "results/group/{contrast}/seed-{seed}"

wildcard_constraints:
    contrast="baseline|ect",


rule figure_seeds:
    input:
        seeds="results/masks/seeds.nii.gz",
        seeds_tsv="results/masks/seeds.tsv",
        cerebellum="results/masks/cerebellum_gm.nii.gz",
        lib=FIG_LIB,
    output:
        png=report("results/figures/seeds.png", caption="../report/seeds.rst", category="Methods",
                   subcategory="Seeds", labels={"figure": "seed regions"}),
        vector=f"results/figures/seeds.{FIG_EXT}",
    params:
        dpi=FIG["dpi"],
        radius_override=config["seeds"]["radius_override"],
    log:
        "logs/figures/seeds.log",
    threads: 1
    resources:
        **FIG_RES,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/figures_seeds.py"


rule figure_qc:
    input:
        motion="results/qc/motion.tsv",
        participants="results/qc/participants_included.tsv",
        lib=FIG_LIB,
    output:
        png=report("results/figures/qc_motion.png", caption="../report/qc_motion.rst", category="QC",
                   subcategory="Head motion", labels={"figure": "head motion and exclusions"}),
        vector=f"results/figures/qc_motion.{FIG_EXT}",
    params:
        dpi=FIG["dpi"],
        qc=config["qc"],
        sessions=[SES_PRE, SES_POST],
    log:
        "logs/figures/qc_motion.log",
    threads: 1
    resources:
        **FIG_RES,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/figures_qc.py"


rule report_methods:
    input:
        participants="results/qc/participants_included.tsv",
        motion="results/qc/motion.tsv",
        seeds_tsv="results/masks/seeds.tsv",
        group_json=[f"results/group/{c}/seed-{SEED_IDS[0]}/group.json" for c in FIG_CONTRASTS],
        lib=REPORT_LIB,
    output:
        md="results/methods.md",
        html=report("results/methods.html", caption="../report/methods.rst", category="Methods",
                    subcategory="Methods text", labels={"document": "methods"}),
    params:
        stages=FIG_STAGES,
        contrasts=FIG_CONTRASTS,
    log:
        "logs/figures/methods.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/report_methods.py"


rule report_summary:
    input:
        participants="results/qc/participants_included.tsv",
        motion="results/qc/motion.tsv",
        group_clusters=[f"{GROUP_DIR}/clusters.tsv".format(contrast=c, seed=s) for c in FIG_CONTRASTS
                        for s in SEED_IDS],
        group_json=[f"{GROUP_DIR}/group.json".format(contrast=c, seed=s) for c in FIG_CONTRASTS for s in SEED_IDS],
        correlations=["results/clinical/correlations.tsv"] if HAS_CLINICAL else [],
        demographics=["results/tables/demographics.tsv"] if HAS_CLINICAL else [],
        svr=["results/prediction/svr.json"] if HAS_PREDICT else [],
        pls=[f"{TX_DIR}/pls.json"] if HAS_TX else [],
        genes=[f"{TX_DIR}/gene_weights.tsv"] if HAS_TX else [],
        enrichment=[f"{TX_DIR}/enrichment_{lst}_{lib}.tsv" for lib in TX_LIBS for lst in TX_LISTS] if HAS_TX else [],
        schema="config/schema/summary.schema.json",
        lib=REPORT_LIB,
    output:
        json=report("results/summary.json", caption="../report/summary.rst", category="Methods",
                    subcategory="Summary", labels={"document": "summary.json"}),
    params:
        stages=FIG_STAGES,
        group_keys=[(c, s) for c in FIG_CONTRASTS for s in SEED_IDS],
        enrichment_keys=[f"{lst}_{lib}" for lib in TX_LIBS for lst in TX_LISTS] if HAS_TX else [],
        top_n=FIG["summary_top_n"],
    log:
        "logs/figures/summary.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/report_summary.py"


rule figure_group_seed:
    input:
        t=f"{GROUP_DIR}/stat-t.nii.gz",
        logp=f"{GROUP_DIR}/logp-fwe_method-{FIG_METHOD}.nii.gz",
        clusters=f"{GROUP_DIR}/clusters.tsv",
        info=f"{GROUP_DIR}/group.json",
        lib=FIG_LIB,
    output:
        png=report("results/figures/group/{contrast}/seed-{seed}_stat-t.png", caption="../report/group_seed.rst",
                   category=lambda wc: CONTRAST_CATEGORY.get(wc.contrast, wc.contrast),
                   subcategory="Per seed", labels={"contrast": "{contrast}", "seed": "{seed}"}),
        vector=f"results/figures/group/{{contrast}}/seed-{{seed}}_stat-t.{FIG_EXT}",
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
        "../scripts/figures_group.py"


rule figure_group_grid:
    input:
        t=expand(f"{GROUP_DIR}/stat-t.nii.gz", seed=SEED_IDS, allow_missing=True),
        logp=expand(f"{GROUP_DIR}/logp-fwe_method-{FIG_METHOD}.nii.gz", seed=SEED_IDS, allow_missing=True),
        clusters=expand(f"{GROUP_DIR}/clusters.tsv", seed=SEED_IDS, allow_missing=True),
        info=expand(f"{GROUP_DIR}/group.json", seed=SEED_IDS, allow_missing=True),
        seeds_tsv="results/masks/seeds.tsv",
        lib=FIG_LIB,
    output:
        png=report("results/figures/group/{contrast}_fwe.png", caption="../report/group_grid.rst",
                   category=lambda wc: CONTRAST_CATEGORY.get(wc.contrast, wc.contrast),
                   subcategory="Significant seeds", labels={"contrast": "{contrast}", "seed": "all"}),
        vector=f"results/figures/group/{{contrast}}_fwe.{FIG_EXT}",
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
        "../scripts/figures_group_grid.py"


rule table_clusters:
    input:
        clusters=expand(f"{GROUP_DIR}/clusters.tsv", seed=SEED_IDS, allow_missing=True),
        info=expand(f"{GROUP_DIR}/group.json", seed=SEED_IDS, allow_missing=True),
        lib=FIG_LIB,
    output:
        tsv="results/tables/clusters_{contrast}.tsv",
        html=report("results/tables/clusters_{contrast}.html", caption="../report/table_clusters.rst",
                    category=lambda wc: CONTRAST_CATEGORY.get(wc.contrast, wc.contrast),
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
        "../scripts/report_cluster_table.py"


rule table_demographics:
    input:
        table="results/tables/demographics.tsv",
        exclusions="results/tables/exclusions.tsv",
        lib=FIG_LIB,
    output:
        html=report("results/tables/demographics.html", caption="../report/table_demographics.rst",
                    category="Clinical", subcategory="Table 1", labels={"table": "demographics"}),
    log:
        "logs/figures/table_demographics.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/report_demographics.py"



if HAS_CLINICAL:

    rule figure_clinical:
        input:
            correlations="results/clinical/correlations.tsv",
            values="results/clinical/cluster_values.tsv",
            participants="results/qc/participants_included.tsv",
            lib=FIG_LIB,
        output:
            scatter=report("results/figures/clinical_scatter.png", caption="../report/clinical_scatter.rst",
                           category="Clinical", subcategory="Correlations", labels={"figure": "FC change vs HAMD"}),
            scatter_vector=f"results/figures/clinical_scatter.{FIG_EXT}",
            hamd=report("results/figures/clinical_hamd.png", caption="../report/clinical_hamd.rst",
                        category="Clinical", subcategory="HAMD", labels={"figure": "HAMD before / after ECT"}),
            hamd_vector=f"results/figures/clinical_hamd.{FIG_EXT}",
        params:
            dpi=FIG["dpi"],
            measure=FIG["clinical_measure"],
            max_panels=6,
            reduction=config["clinical"]["reduction"] or config["qc"]["hamd_reduction"],
        log:
            "logs/figures/clinical.log",
        threads: 1
        resources:
            **FIG_RES,
        conda:
            "../envs/analysis.yaml"
        script:
            "../scripts/figures_clinical.py"

    rule table_correlations:
        input:
            table="results/clinical/correlations.tsv",
            lib=FIG_LIB,
        output:
            html=report("results/tables/correlations.html", caption="../report/table_correlations.rst",
                        category="Clinical", subcategory="Correlations", labels={"table": "correlations"}),
        params:
            kind="correlations",
        log:
            "logs/figures/table_correlations.log",
        threads: 1
        resources:
            mem_mb=500,
            runtime=5,
        conda:
            "../envs/analysis.yaml"
        script:
            "../scripts/report_tables.py"


if HAS_PREDICT:

    rule figure_prediction:
        input:
            svr="results/prediction/svr.json",
            predictions=expand("results/prediction/{mode}/predictions.tsv", mode=PRED_MODES),
            null=expand("results/prediction/{mode}/null.tsv", mode=PRED_MODES),
            lib=FIG_LIB,
        output:
            png=report("results/figures/prediction.png", caption="../report/prediction.rst", category="Prediction",
                       subcategory="SVR", labels={"figure": "predicted vs observed, permutation null"}),
            vector=f"results/figures/prediction.{FIG_EXT}",
        params:
            dpi=FIG["dpi"],
            modes=PRED_MODES,
        log:
            "logs/figures/prediction.log",
        threads: 1
        resources:
            **FIG_RES,
        conda:
            "../envs/analysis.yaml"
        script:
            "../scripts/figures_prediction.py"

    rule table_prediction:
        input:
            svr="results/prediction/svr.json",
            lib=FIG_LIB,
        output:
            tsv="results/tables/prediction.tsv",
            html=report("results/tables/prediction.html", caption="../report/table_prediction.rst",
                        category="Prediction", subcategory="SVR", labels={"table": "SVR"}),
        params:
            kind="prediction",
        log:
            "logs/figures/table_prediction.log",
        threads: 1
        resources:
            mem_mb=500,
            runtime=5,
        conda:
            "../envs/analysis.yaml"
        script:
            "../scripts/report_tables.py"


if HAS_TX:

    rule figure_transcriptomics:
        input:
            pls=f"{TX_DIR}/pls.json",
            nulls=f"{TX_DIR}/null_responses.tsv",
            genes=f"{TX_DIR}/gene_weights.tsv",
            lib=FIG_LIB,
        output:
            pls=report("results/figures/transcriptomics_pls.png", caption="../report/transcriptomics_pls.rst",
                       category="Transcriptomics", subcategory="PLS", labels={"figure": "PLS1, nulls, genes"}),
            pls_vector=f"results/figures/transcriptomics_pls.{FIG_EXT}",
            surface=report("results/figures/transcriptomics_surface.png",
                           caption="../report/transcriptomics_surface.rst", category="Transcriptomics",
                           subcategory="PLS", labels={"figure": "cortical maps"}),
            surface_vector=f"results/figures/transcriptomics_surface.{FIG_EXT}",
        params:
            dpi=FIG["dpi"],
            top_genes=FIG["top_genes"],
        log:
            "logs/figures/transcriptomics.log",
        threads: 1
        resources:
            **FIG_RES,
        conda:
            "../envs/analysis.yaml"
        script:
            "../scripts/figures_transcriptomics.py"

    rule figure_enrichment:
        input:
            tables=[f"{TX_DIR}/enrichment_{lst}_{{library}}.tsv" for lst in TX_LISTS],
            lib=FIG_LIB,
        output:
            png=report("results/figures/enrichment_{library}.png", caption="../report/enrichment.rst",
                       category="Transcriptomics", subcategory="Enrichment", labels={"library": "{library}"}),
            vector=f"results/figures/enrichment_{{library}}.{FIG_EXT}",
            html=report("results/tables/enrichment_{library}.html", caption="../report/table_enrichment.rst",
                        category="Transcriptomics", subcategory="Enrichment tables", labels={"library": "{library}"}),
        params:
            dpi=FIG["dpi"],
            lists=TX_LISTS,
            top_terms=FIG["top_terms"],
            alpha=config["transcriptomics"]["bootstrap"]["fdr_alpha"],
        wildcard_constraints:
            library="|".join(TX_LIBS),
        log:
            "logs/figures/enrichment_{library}.log",
        threads: 1
        resources:
            **FIG_RES,
        conda:
            "../envs/analysis.yaml"
        script:
            "../scripts/figures_enrichment.py"

    rule table_transcriptomics:
        input:
            pls=f"{TX_DIR}/pls.json",
            genes=f"{TX_DIR}/gene_weights.tsv",
            lib=FIG_LIB,
        output:
            tsv="results/tables/pls_components.tsv",
            html=report("results/tables/pls.html", caption="../report/table_pls.rst", category="Transcriptomics",
                        subcategory="PLS", labels={"table": "PLS and top genes"}),
        params:
            top_genes=50,
        log:
            "logs/figures/table_transcriptomics.log",
        threads: 1
        resources:
            mem_mb=1000,
            runtime=5,
        conda:
            "../envs/analysis.yaml"
        script:
            "../scripts/report_transcriptomics_table.py"


FIG_TARGETS = (
    ["results/figures/seeds.png", f"results/figures/seeds.{FIG_EXT}", "results/figures/qc_motion.png",
     f"results/figures/qc_motion.{FIG_EXT}", "results/methods.md", "results/methods.html", "results/summary.json"]
    + [f"results/figures/group/{c}/seed-{s}_stat-t.{e}" for c in FIG_CONTRASTS for s in SEED_IDS
       for e in ("png", FIG_EXT)]
    + [f"results/figures/group/{c}_fwe.{e}" for c in FIG_CONTRASTS for e in ("png", FIG_EXT)]
    + [f"results/tables/clusters_{c}.{e}" for c in FIG_CONTRASTS for e in ("tsv", "html")]
    + ([f"results/tables/{t}.html" for t in ("demographics", "correlations")]
       + [f"results/figures/clinical_{f}.{e}" for f in ("scatter", "hamd") for e in ("png", FIG_EXT)]
       if HAS_CLINICAL else [])
    + ([f"results/figures/prediction.{e}" for e in ("png", FIG_EXT)]
       + [f"results/tables/prediction.{e}" for e in ("tsv", "html")] if HAS_PREDICT else [])
    + ([f"results/figures/transcriptomics_{f}.{e}" for f in ("pls", "surface") for e in ("png", FIG_EXT)]
       + [f"results/figures/enrichment_{lib}.{e}" for lib in TX_LIBS for e in ("png", FIG_EXT)]
       + [f"results/tables/enrichment_{lib}.html" for lib in TX_LIBS]
       + ["results/tables/pls.html", "results/tables/pls_components.tsv"] if HAS_TX else [])
)

# final outputs for rule all (a lambda: `snakemake --lint` flags functions mixed with rules)
figures_targets = lambda: FIG_TARGETS
