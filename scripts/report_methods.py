"""Rule report_methods: results/methods.md (+ .html) from the validated config and the package versions in use."""
import json

from fcect.core.html import markdown_to_html
from fcect.report import methods as M, summary as R
from fcect.core.io import read_tsv, run_logged, save_text


def main(smk, log):
    part = read_tsv(smk.input.participants)
    sample = R.sample_section(part, read_tsv(smk.input.motion))
    group_info = {}
    for c, path in zip(smk.params.contrasts, smk.input.group_json):
        with open(path) as fh:
            group_info[c] = json.load(fh)
    versions = R.package_versions()
    md = M.methods_markdown(smk.config, versions, sample=sample, stages=smk.params.stages,
                            group_info=group_info, seeds=read_tsv(smk.input.seeds_tsv))
    save_text(md, smk.output.md)
    save_text(markdown_to_html(md), smk.output.html)
    log.info("methods: %d words, stages %s, versions %s", len(md.split()), smk.params.stages, versions)


run_logged(snakemake, main)  # noqa: F821
