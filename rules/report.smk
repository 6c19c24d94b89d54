# Stage report: results/summary.json (headline numbers of every stage, validated by its schema) and the methods
# text generated from the validated config and the installed versions. Library: fcect.report.
# Report category: Methods. The report itself: snakemake --report results/report.html
REPORT_STAGES = ["qc", "group", "clinical", "prediction", "transcriptomics"]  # sections of summary.json / methods


rule report_methods:
    input:
        participants=PARTICIPANTS_INCLUDED,
        motion=MOTION_TABLE,
        seeds_tsv=MASKS["seeds_tsv"],
        group_json=[P.group_file("group.json", c, SEED_IDS[0]) for c in GROUP_CONTRASTS],
        code=library("report_methods.py"),
    output:
        md=P.METHODS_MD,
        html=report(P.METHODS_HTML, caption="../report/methods.rst", category="Methods",
                    subcategory="Methods text", labels={"document": "methods"}),
    params:
        stages=REPORT_STAGES + (["multiverse"] if MV_SPECS else []),
        contrasts=GROUP_CONTRASTS,
    log:
        "logs/report/methods.log",
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
        participants=PARTICIPANTS_INCLUDED,
        motion=MOTION_TABLE,
        group_clusters=[P.group_file("clusters.tsv", c, s) for c in GROUP_CONTRASTS for s in SEED_IDS],
        group_json=[P.group_file("group.json", c, s) for c in GROUP_CONTRASTS for s in SEED_IDS],
        correlations=[CLIN_FILES["correlations"]],
        demographics=[CLIN_FILES["demographics"]],
        svr=[P.PREDICTION_SUMMARY],
        pls=[f"{TX_DIR}/pls.json"],
        genes=[f"{TX_DIR}/gene_weights.tsv"],
        enrichment=TX_ENRICHMENT,
        multiverse=[MV_TABLE] if MV_SPECS else [],  # rules/multiverse.smk
        schema="config/schema/summary.schema.json",
        code=library("report_summary.py"),
    output:
        json=report(P.SUMMARY, caption="../report/summary.rst", category="Methods", subcategory="Summary",
                    labels={"document": "summary.json"}),
    params:
        stages=REPORT_STAGES,
        group_keys=[(c, s) for c in GROUP_CONTRASTS for s in SEED_IDS],
        enrichment_keys=[f"{lst}_{lib}" for lib in TX_LIBS for lst in TX_LISTS],
        top_n=FIG["summary_top_n"],
    log:
        "logs/report/summary.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/report_summary.py"


TARGETS["report"] = [P.METHODS_MD, P.METHODS_HTML, P.SUMMARY]
