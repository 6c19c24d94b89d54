# fcect: cerebellar-cerebral functional connectivity after ECT, from fMRI to paper figures.
# Zhang et al., Psychiatry Clin Neurosci 2026, doi:10.1111/pcn.70071 -- a reproducible re-implementation.
import os

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "config/schema/config.schema.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/simulate.smk"
include: "rules/fc.smk"
include: "rules/qc.smk"


# later stages are included when present (each defines <stage>_targets())
STAGES = ["group", "clinical", "predict", "transcriptomics", "figures"]
for _stage in STAGES:
    if os.path.exists(os.path.join(workflow.basedir, "rules", f"{_stage}.smk")):

        include: f"rules/{_stage}.smk"


rule all:
    default_target: True
    input:
        all_targets(),
    log:
        "logs/all.log",
    conda:
        "envs/analysis.yaml"
    localrule: True
    shell:
        "echo 'fcect: all targets are up to date' > {log}"
