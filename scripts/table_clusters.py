"""Rule table_clusters: the significant clusters of every seed of one contrast (TSV + HTML for the report)."""
import json

import pandas as pd

from fcect.core.html import table_html
from fcect.core.io import read_tsv, run_logged, save_text, save_tsv

COLUMNS = ["seed", "method", "feed", "cluster_id", "direction", "size_voxels", "size_mm3", "peak_x", "peak_y",
           "peak_z", "peak_t", "peak_effsize", "p_fwe", "aal_peak", "aal_labels"]


def main(smk, log):
    wc, p = smk.wildcards, smk.params
    parts, n, eff = [], None, ""
    for seed, ct, ip in zip(p.seeds, smk.input.clusters, smk.input.info):
        t = read_tsv(ct)
        with open(ip) as fh:
            info = json.load(fh)
        n = info.get("n", n)
        eff = info.get("effect_size", eff)
        if len(t):
            t.insert(0, "seed", seed)
            parts.append(t)
    table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=COLUMNS)
    table = table[[c for c in COLUMNS if c in table.columns] + [c for c in table.columns if c not in COLUMNS]]
    # the method shown in the figures first, then the others
    table["_o"] = (table["method"] != p.method).astype(int)
    table = table.sort_values(["_o", "method", "seed", "cluster_id"], kind="stable").drop(columns="_o")
    save_tsv(table, smk.output.tsv, float_format="%.6g")
    note = (f"Significant clusters (FWE) of every method for the {wc.contrast} contrast, n = {n}; the "
            f"{p.method} clusters (shown in the figures) come first. Peak coordinates in MNI mm; peak_effsize = "
            f"{eff}; aal_peak = AAL2 label at the peak, aal_labels = AAL2 labels covering the cluster (%).")
    show = table.drop(columns=[c for c in ("alpha",) if c in table.columns])
    save_text(table_html(show, f"Clusters, {wc.contrast} contrast", note), smk.output.html)
    log.info("%s: %d cluster rows", wc.contrast, len(table))


run_logged(snakemake, main)  # noqa: F821
