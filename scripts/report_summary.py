"""Rule report_summary: results/summary.json (headline numbers), validated against its JSON schema."""
import json

from fcect.report import summary as R
from fcect.core.io import read_tsv, run_logged, save_json
from fcect.multiverse.table import summary_section


def _one(paths):
    return paths[0] if len(paths) else None


def main(smk, log):
    inp = smk.input
    entries = []
    for (contrast, seed), ctab, info in zip(smk.params.group_keys, inp.group_clusters, inp.group_json):
        with open(info) as fh:
            entries.append(dict(contrast=contrast, seed=seed, clusters=read_tsv(ctab), info=json.load(fh)))
    corr = read_tsv(_one(inp.correlations)) if _one(inp.correlations) else None
    demo = read_tsv(_one(inp.demographics)) if _one(inp.demographics) else None
    svr = None
    if _one(inp.svr):
        with open(_one(inp.svr)) as fh:
            svr = json.load(fh)
    pls, genes, enrichment = None, None, None
    if len(inp.get("pls", [])):
        with open(inp.pls[0]) as fh:
            pls = json.load(fh)
        genes = read_tsv(inp.genes[0]) if len(inp.get("genes", [])) else None
        enrichment = {k: read_tsv(p) for k, p in zip(smk.params.get("enrichment_keys", []), inp.get("enrichment", []))}
    summary = R.build_summary(smk.config, read_tsv(inp.participants), read_tsv(inp.motion), group_entries=entries,
                              correlations=corr, demographics=demo, svr=svr, pls=pls, genes=genes,
                              enrichment=enrichment, top_n=smk.params.top_n,
                              multiverse=summary_section(read_tsv(inp.multiverse[0]),
                                                         (smk.config.get("multiverse") or {}).get("design"))
                              if len(inp.get("multiverse", [])) else None)
    with open(inp.schema) as fh:
        R.validate_summary(summary, json.load(fh))
    save_json(summary, smk.output.json)
    log.info("summary: stages %s, config sha256 %s", [k for k, v in summary["stages"].items() if v],
             summary["config_sha256"][:12])


run_logged(snakemake, main)  # noqa: F821
