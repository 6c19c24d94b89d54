"""Rule figure_group_grid: Figures 2 / 3, FWE-thresholded t maps of every seed with a significant cluster."""
import json

import nibabel as nib

from fcect.core.io import read_tsv, run_logged
from fcect.core.vocabulary import CONTRAST_TITLE, STAT_LABEL
from fcect.figures.group import group_grid_figure
from fcect.figures.style import fwe_threshold_map, save_figure


def main(smk, log):
    wc, p = smk.wildcards, smk.params
    seeds = read_tsv(smk.input.seeds_tsv).set_index("seed_id")
    rows, alpha, direction, n = [], 0.05, ("positive", "negative"), None
    for seed, t, lp, ct, ip in zip(p.seeds, smk.input.t, smk.input.logp, smk.input.clusters, smk.input.info):
        with open(ip) as fh:
            info = json.load(fh)
        alpha = float(info.get("grf", {}).get("cluster_p", info.get("alpha", 0.05)) if p.method == "grf"
                      else info.get("alpha", 0.05))
        direction = (info["direction"]["positive_t"], info["direction"]["negative_t"])
        n = info.get("n", n)
        cl = read_tsv(ct)
        cl = cl[cl["method"] == p.method] if len(cl) else cl
        if not len(cl):
            continue
        rows.append(dict(seed=seed, network=seeds.loc[seed, "network"] if seed in seeds.index else "",
                         t_img=fwe_threshold_map(nib.load(t), nib.load(lp), alpha), clusters=cl))
    title = f"{CONTRAST_TITLE.get(wc.contrast, wc.contrast)} (n = {n}), FWE-corrected ({p.method.replace('_', ' ')})"
    fig = group_grid_figure(rows, direction, STAT_LABEL.get(wc.contrast, "t"), p.method.replace("_", " "), alpha,
                            display=p.display, n_slices=p.n_slices, title=title)
    save_figure(fig, smk.output.png, smk.output.vector, dpi=p.dpi)
    log.info("%s: %d seeds with %s clusters -> %s", wc.contrast, len(rows), p.method, smk.output.png)


run_logged(snakemake, main)  # noqa: F821
