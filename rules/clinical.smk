# Stage clinical: demographics (Table 1) and exclusions; per-cluster FC values and their correlations with the HAMD
# reduction; the clinical figures and tables. Library: fcect.clinical (+ fcect.figures.clinical).
# Config section: `clinical`. Report category: Clinical.

CLIN = config["clinical"]
CLIN_SEEDS = SEED_IDS if CLIN["seeds"] == "all" else list(CLIN["seeds"])
for _s in CLIN_SEEDS:
    if _s not in SEED_IDS:
        raise ValueError(f"clinical.seeds: {_s!r} is not a seed of {SEEDS_TABLE} ({SEED_IDS})")
# analyses use only the group contrasts actually computed
CLIN_ANALYSES = {a: [c for c in cs if c in GROUP_CONTRASTS] for a, cs in CLIN["analyses"].items()}
CLIN_ANALYSES = {a: cs for a, cs in CLIN_ANALYSES.items() if cs}
# (cluster contrast, seed) pairs whose cluster labels are needed, in a fixed order
CLIN_LABEL_KEYS = [(c, s) for c in sorted({c for cs in CLIN_ANALYSES.values() for c in cs}) for s in CLIN_SEEDS]
CLIN_FILES = P.CLINICAL


rule clinical_demographics:
    input:
        participants=PARTICIPANTS_INCLUDED,
        motion=MOTION_TABLE,
        code=library("clinical_demographics.py"),
    output:
        table=CLIN_FILES["demographics"],
        markdown=CLIN_FILES["demographics_md"],
        exclusions=CLIN_FILES["exclusions"],
    params:
        ttest=CLIN["demographics"]["ttest"],
        yates=CLIN["demographics"]["yates"],
        sample=CLIN["demographics"]["sample"],
        reduction=HAMD_REDUCTION,
        sessions=SESSIONS,
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
        participants=PARTICIPANTS_INCLUDED,
        fc=[f for s in CLIN_SEEDS for f in all_fc_maps(s)],
        labels=[P.group_file("cluster_labels.nii.gz", c, s) for c, s in CLIN_LABEL_KEYS],
        tables=[P.group_file("clusters.tsv", c, s) for c, s in CLIN_LABEL_KEYS],
        mask=MASKS["analysis"],
        code=library("clinical_correlations.py"),
    output:
        table=CLIN_FILES["correlations"],
        values=CLIN_FILES["values"],
        clusters=CLIN_FILES["clusters"],
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
        loso=CLIN["loso"],
        loso_voxel_p=config["group"]["grf"]["voxel_p"] if config["group"]["feed_method"] == "grf"
        else config["group"]["cluster_forming_p"],
        connectivity=config["group"]["connectivity"],
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


rule figure_clinical:
    input:
        correlations=CLIN_FILES["correlations"],
        values=CLIN_FILES["values"],
        participants=PARTICIPANTS_INCLUDED,
        code=library("figure_clinical.py"),
    output:
        scatter=report(P.figure("clinical_scatter"), caption="../report/clinical_scatter.rst", category="Clinical",
                       subcategory="Correlations", labels={"figure": "FC change vs HAMD"}),
        scatter_vector=P.figure("clinical_scatter", FIG_EXT),
        hamd=report(P.figure("clinical_hamd"), caption="../report/clinical_hamd.rst", category="Clinical",
                    subcategory="HAMD", labels={"figure": "HAMD before / after ECT"}),
        hamd_vector=P.figure("clinical_hamd", FIG_EXT),
    params:
        dpi=FIG["dpi"],
        measure=FIG["clinical_measure"],
        max_panels=6,
        reduction=HAMD_REDUCTION,
    log:
        "logs/figures/clinical.log",
    threads: 1
    resources:
        **FIG_RES,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/figure_clinical.py"


rule table_demographics:
    input:
        table=CLIN_FILES["demographics"],
        exclusions=CLIN_FILES["exclusions"],
        code=library("table_demographics.py"),
    output:
        html=report(P.table("demographics", "html"), caption="../report/table_demographics.rst",
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
        "../scripts/table_demographics.py"


rule table_correlations:
    input:
        table=CLIN_FILES["correlations"],
        code=library("table_correlations.py"),
    output:
        html=report(P.table("correlations", "html"), caption="../report/table_correlations.rst",
                    category="Clinical", subcategory="Correlations", labels={"table": "correlations"}),
    log:
        "logs/figures/table_correlations.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/table_correlations.py"


TARGETS["clinical"] = (
    [CLIN_FILES[k] for k in ("demographics", "demographics_md", "exclusions", "correlations", "values")]
    + figure_outputs("clinical_scatter") + figure_outputs("clinical_hamd")
    + [P.table(t, "html") for t in ("demographics", "correlations")]
)
