# Stage transcriptomics: regional response of the group t map x AHBA expression (PLS, spatial nulls, bootstrap gene
# Z, enrichment calibrated against the spatial nulls); the transcriptomics figures and tables.
# Library: fcect.transcriptomics (+ fcect.figures.transcriptomics). Config section: `transcriptomics`
# (config/README.md). Report category: Transcriptomics.
import json

from fcect.transcriptomics.ahba import BLITZGSEA_LIBRARIES as _TX_BLITZ, CELLTYPE_LIBRARIES as _TX_CELL

TX = config["transcriptomics"]
TX_EXPR = TX["expression"]
TX_SEED_RANDOM = TX["random_seed"] if TX["random_seed"] is not None else config["random_seed"]
TX_DIR = P.TRANSCRIPTOMICS_DIR
TX_ITX = f"resources/transcriptomics/itx-{TX_EXPR['version']}"
TX_ARCHIVE = f"resources/downloads/imaging-transcriptomics-{TX_EXPR['version']}.tar.gz"
TX_ABAGEN = "resources/transcriptomics/abagen"
TX_LIBS = [lib["name"] for lib in TX["enrichment"]["libraries"]]
TX_LISTS = list(V.GENE_LISTS)
TX_ENRICHMENT = [P.enrichment_table(lst, lib) for lib in TX_LIBS for lst in TX_LISTS]

if TX["seed"] not in SEED_IDS:
    raise ValueError(f"transcriptomics.seed: {TX['seed']!r} is not a seed of {SEEDS_TABLE} ({SEED_IDS})")
if TX["contrast"] not in GROUP_CONTRASTS:
    raise ValueError(f"transcriptomics.contrast {TX['contrast']!r} is not among group.contrasts")
for _lib in TX["enrichment"]["libraries"]:
    if not _lib.get("gmt") and _lib["name"] not in _TX_BLITZ and _lib["name"] not in _TX_CELL:
        raise ValueError(f"transcriptomics.enrichment.libraries: {_lib['name']!r} is not bundled "
                         f"({list(_TX_BLITZ) + list(_TX_CELL)}): give its gmt path")
if TX_EXPR["source"] == "abagen":
    if not TX["abagen"]["data_dir"]:
        raise ValueError("transcriptomics.expression.source is abagen: set transcriptomics.abagen.data_dir")
    if TX["abagen"]["atlas"] and TX["nulls"]["method"] == "spin":
        raise ValueError("spin nulls need the Desikan-Killiany atlas; with a custom abagen atlas use "
                         "transcriptomics.nulls.method: variogram")


# expression matrix, region labels (and sample counts) and the atlas volume of the chosen source
if TX_EXPR["source"] == "abagen":
    TX_EXPRESSION_FILES = {"expression": f"{TX_ABAGEN}/expression.csv", "labels": f"{TX_ABAGEN}/labels.csv",
                           "counts": f"{TX_ABAGEN}/counts.csv"}
    TX_ATLAS = f"{TX_ABAGEN}/atlas.nii.gz"
else:
    TX_EXPRESSION_FILES = {"expression": f"{TX_ITX}/atlas-DK_gene_expression_data.csv",
                           "labels": f"{TX_ITX}/atlas-DK_labels.csv"}
    TX_ATLAS = f"{TX_ITX}/atlas-DK_{TX_EXPR['atlas_resolution_mm']}mm.nii.gz"
TX_GMTS = [f"resources/transcriptomics/genesets/{n}.gmt" for n in TX_LIBS]


rule transcriptomics_download:
    input:
        code=library("transcriptomics_download.py"),
    output:
        archive=TX_ARCHIVE,
    params:
        sha256=TX_EXPR["sha256"],
        version=TX_EXPR["version"],
        timeout=TX_EXPR["download_timeout_s"],
    log:
        "logs/transcriptomics/download.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=20,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/transcriptomics_download.py"


rule transcriptomics_fetch:
    input:
        # an archive given in the config is used as is; an extracted copy needs none; else the cached download
        **({} if TX_EXPR["data_dir"] else {"archive": TX_EXPR["archive"] or TX_ARCHIVE}),
        code=library("transcriptomics_fetch.py"),
    output:
        expression=f"{TX_ITX}/atlas-DK_gene_expression_data.csv",
        labels=f"{TX_ITX}/atlas-DK_labels.csv",
        atlas_1mm=f"{TX_ITX}/atlas-DK_1mm.nii.gz",
        atlas_2mm=f"{TX_ITX}/atlas-DK_2mm.nii.gz",
        lake=f"{TX_ITX}/geneset_LAKE.gmt",
        pooled=f"{TX_ITX}/geneset_Pooled.gmt",
        manifest=f"{TX_ITX}/manifest.json",
    params:
        sha256=TX_EXPR["sha256"],
        version=TX_EXPR["version"],
        data_dir=TX_EXPR["data_dir"],
    log:
        "logs/transcriptomics/fetch.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=10,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/transcriptomics_fetch.py"


rule transcriptomics_geneset:
    input:
        # cell-type sets come from the imaging-transcriptomics archive; bundled GO/KEGG and user gmts need nothing
        unpack(lambda wc: {"itx_labels": f"{TX_ITX}/atlas-DK_labels.csv"} if wc.library in _TX_CELL else {}),
        code=library("transcriptomics_geneset.py"),
    output:
        gmt="resources/transcriptomics/genesets/{library}.gmt",
    params:
        gmt=lambda wc: next((lib.get("gmt") for lib in TX["enrichment"]["libraries"] if lib["name"] == wc.library),
                            None),
    wildcard_constraints:
        library="[A-Za-z0-9_.-]+",
    log:
        "logs/transcriptomics/geneset_{library}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/transcriptomics_geneset.py"


rule transcriptomics_abagen:
    input:
        code=library("transcriptomics_abagen.py"),
    output:
        expression=f"{TX_ABAGEN}/expression.csv",
        counts=f"{TX_ABAGEN}/counts.csv",
        labels=f"{TX_ABAGEN}/labels.csv",
        atlas=f"{TX_ABAGEN}/atlas.nii.gz",
        report=f"{TX_ABAGEN}/report.txt",
    params:
        python=TX["abagen"]["python"],
        data_dir=TX["abagen"]["data_dir"],
        atlas=f"--atlas {TX['abagen']['atlas']}" if TX["abagen"]["atlas"] else "",
        atlas_info=f"--atlas-info {TX['abagen']['atlas_info']}" if TX["abagen"]["atlas_info"] else "",
        donors="all" if TX["abagen"]["donors"] == "all" else ",".join(map(str, TX["abagen"]["donors"])),
        params=lambda wc: json.dumps(TX["abagen"]["params"]),
        out_dir=lambda wc, output: os.path.dirname(output.expression),
        script=workflow.source_path("../scripts/transcriptomics_abagen.py"),
    log:
        "logs/transcriptomics/abagen.log",
    benchmark:
        "benchmarks/transcriptomics/abagen.tsv"
    threads: 1
    resources:
        mem_mb=16000,
        runtime=180,
    conda:
        "../envs/abagen.yaml"
    shell:
        "{params.python} {params.script} --data-dir {params.data_dir:q} --out-dir {params.out_dir} "
        "{params.atlas} {params.atlas_info} --donors {params.donors} --params {params.params:q} > {log} 2>&1"


rule transcriptomics_response:
    input:
        tmap=P.group_file("stat-t.nii.gz", TX["contrast"], TX["seed"]),
        mask=MASKS["analysis"],
        atlas=TX_ATLAS,
        labels=TX_EXPRESSION_FILES["labels"],
        code=library("transcriptomics_response.py"),
    output:
        tsv=f"{TX_DIR}/regional_response.tsv",
    params:
        include_subcortex=TX["regions"]["include_subcortex"],
        min_voxels=TX["regions"]["min_voxels"],
    log:
        "logs/transcriptomics/response.log",
    priority: 10  # on the critical path of a full run: see rule group_inference
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/transcriptomics_response.py"


rule transcriptomics_pls:
    input:
        **TX_EXPRESSION_FILES,
        response=f"{TX_DIR}/regional_response.tsv",
        atlas=TX_ATLAS,
        code=library("transcriptomics_pls.py"),
    output:
        json=f"{TX_DIR}/pls.json",
        genes=f"{TX_DIR}/gene_weights.tsv",
        nulls=f"{TX_DIR}/null_responses.tsv",
    params:
        cfg=TX,
        random_seed=TX_SEED_RANDOM,
        seed=TX["seed"],
        contrast=TX["contrast"],
        source=TX_EXPR["source"],
    log:
        "logs/transcriptomics/pls.log",
    benchmark:
        "benchmarks/transcriptomics/pls.tsv"
    priority: 10  # on the critical path of a full run: see rule group_inference
    threads: job_threads(TX["threads"])
    resources:
        # 34 regions x 15,633 genes: 5000 vertex-level spins ~1 min, 5000 bootstraps ~10 s; peak ~1.5 GB
        mem_mb=lambda wc, attempt: attempt * 3000,
        runtime=lambda wc, attempt: attempt * 30,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/transcriptomics_pls.py"


rule transcriptomics_enrichment:
    input:
        **TX_EXPRESSION_FILES,
        genes=f"{TX_DIR}/gene_weights.tsv",
        response=f"{TX_DIR}/regional_response.tsv",
        nulls=f"{TX_DIR}/null_responses.tsv",
        gmts=TX_GMTS,
        code=library("transcriptomics_enrichment.py"),
    output:
        TX_ENRICHMENT,
    params:
        cfg=TX,
        libraries=TX["enrichment"]["libraries"],
        random_seed=TX_SEED_RANDOM,
    log:
        "logs/transcriptomics/enrichment.log",
    benchmark:
        "benchmarks/transcriptomics/enrichment.tsv"
    priority: 10  # on the critical path of a full run: see rule group_inference
    threads: job_threads(TX["threads"])  # 1: blitzgsea runs its calibration in-process
    resources:
        # calibration: every PLS null (default 5000) x n_boot resamples (~10-20 min at default size), then blitzgsea
        mem_mb=lambda wc, attempt: attempt * 4000,
        runtime=lambda wc, attempt: attempt * 60,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/transcriptomics_enrichment.py"


rule figure_transcriptomics:
    input:
        pls=f"{TX_DIR}/pls.json",
        nulls=f"{TX_DIR}/null_responses.tsv",
        genes=f"{TX_DIR}/gene_weights.tsv",
        code=library("figure_transcriptomics.py"),
    output:
        pls=report(P.figure("transcriptomics_pls"), caption="../report/transcriptomics_pls.rst",
                   category="Transcriptomics", subcategory="PLS", labels={"figure": "PLS1, nulls, genes"}),
        pls_vector=P.figure("transcriptomics_pls", FIG_EXT),
        surface=report(P.figure("transcriptomics_surface"), caption="../report/transcriptomics_surface.rst",
                       category="Transcriptomics", subcategory="PLS", labels={"figure": "cortical maps"}),
        surface_vector=P.figure("transcriptomics_surface", FIG_EXT),
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
        "../scripts/figure_transcriptomics.py"


rule figure_enrichment:
    input:
        tables=[P.enrichment_table(lst, "{library}") for lst in TX_LISTS],
        code=library("figure_enrichment.py"),
    output:
        png=report(P.figure("enrichment_{library}"), caption="../report/enrichment.rst",
                   category="Transcriptomics", subcategory="Enrichment", labels={"library": "{library}"}),
        vector=P.figure("enrichment_{library}", FIG_EXT),
        html=report(P.table("enrichment_{library}", "html"), caption="../report/table_enrichment.rst",
                    category="Transcriptomics", subcategory="Enrichment tables", labels={"library": "{library}"}),
    params:
        dpi=FIG["dpi"],
        lists=TX_LISTS,
        top_terms=FIG["top_terms"],
        alpha=TX["bootstrap"]["fdr_alpha"],
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
        "../scripts/figure_enrichment.py"


rule table_transcriptomics:
    input:
        pls=f"{TX_DIR}/pls.json",
        genes=f"{TX_DIR}/gene_weights.tsv",
        code=library("table_transcriptomics.py"),
    output:
        tsv=P.table("pls_components"),
        html=report(P.table("pls", "html"), caption="../report/table_pls.rst", category="Transcriptomics",
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
        "../scripts/table_transcriptomics.py"


# the stage's analysis outputs (the isolated test of these rules asks for these only) and its figures and tables
TX_RESULTS = [f"{TX_DIR}/pls.json", f"{TX_DIR}/gene_weights.tsv", f"{TX_DIR}/regional_response.tsv"] + TX_ENRICHMENT
TARGETS["transcriptomics"] = (
    TX_RESULTS
    + figure_outputs("transcriptomics_pls") + figure_outputs("transcriptomics_surface")
    + [f for lib in TX_LIBS for f in figure_outputs(f"enrichment_{lib}")]
    + [P.table(f"enrichment_{lib}", "html") for lib in TX_LIBS]
    + [P.table("pls", "html"), P.table("pls_components")]
)
