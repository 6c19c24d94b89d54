"""fcect.report: the workflow's summary and methods text (rules report_summary and report_methods).

Reads the result files of every stage (participants_included.tsv and motion.tsv of QC, clusters.tsv and group.json
of the group analysis, the clinical correlations and Table 1, svr.json of the prediction, pls.json, gene weights and
enrichment tables of the transcriptomics stage, results/masks/seeds.tsv), the validated config and the versions of
the installed packages. Writes results/summary.json (validated against config/schema/summary.schema.json) and
results/methods.md with its HTML rendering results/methods.html.

Modules:

- ``summary``: provenance (package versions, config sha256), one section per stage, build_summary, validate_summary.
- ``methods``: one paragraph function per stage, generated from its config section(s); methods_markdown joins them.
- ``references``: the reference list and the numbering of citations in order of first appearance.

The Snakemake wrappers are scripts/report_summary.py and scripts/report_methods.py.
"""
