# fcect: cerebellar-cerebral functional connectivity after ECT, from fMRI to paper figures.
# Zhang et al., Psychiatry Clin Neurosci 2026, doi:10.1111/pcn.70071 -- a reproducible re-implementation.
# Map of stages, rule files, scripts, library modules and outputs: docs/ARCHITECTURE.md.
import os

from snakemake.utils import min_version, validate

min_version("9.0")


configfile: "config/config.yaml"


validate(config, "config/schema/config.schema.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"


include: "rules/code.smk"


# The stages, in data-flow order: one rule file each (rules/<stage>.smk), which defines its rules, its figure and
# table rules, and TARGETS[<stage>] (its final outputs). Every stage is always part of the workflow (raw has rules
# only with input_source bids or simulate.mode raw).
STAGES = ["simulate", "raw", "preprocess", "group", "clinical", "prediction", "transcriptomics", "multiverse", "report"]


include: "rules/simulate.smk"
include: "rules/raw.smk"
include: "rules/preprocess.smk"
include: "rules/group.smk"
include: "rules/clinical.smk"
include: "rules/prediction.smk"
include: "rules/transcriptomics.smk"
include: "rules/multiverse.smk"
include: "rules/report.smk"


onstart:
    # local runs: no job rate limiter, whose re-evaluation timers made the Snakemake process itself use ~40% of a
    # core (fcect.core.scheduling, docs/benchmarks.md)
    from fcect.core.scheduling import drop_local_rate_limiter

    drop_local_rate_limiter(workflow, print)


if sorted(TARGETS) != sorted(STAGES):
    raise ValueError(f"every stage defines its targets: {sorted(TARGETS)} vs {sorted(STAGES)}")


rule all:
    default_target: True
    input:
        [f for stage in STAGES for f in TARGETS[stage]],
    log:
        "logs/all.log",
    conda:
        "envs/analysis.yaml"
    localrule: True
    shell:
        "echo 'fcect: all targets are up to date' > {log}"
