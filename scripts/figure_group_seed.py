"""Rule figure_group_seed: one contrast and seed, uncorrected t map and FWE-thresholded map."""
import json

import nibabel as nib
from scipy import stats

from fcect.core.io import read_tsv, run_logged
from fcect.core.vocabulary import CONTRAST_TITLE, STAT_LABEL_SHORT
from fcect.figures.group import group_seed_figure
from fcect.figures.style import fwe_threshold_map, save_figure


def main(smk, log):
    wc, p = smk.wildcards, smk.params
    with open(smk.input.info) as fh:
        info = json.load(fh)
    t_img = nib.load(smk.input.t)
    alpha = float(info.get("grf", {}).get("cluster_p", info.get("alpha", 0.05)) if p.method == "grf"
                  else info.get("alpha", 0.05))
    thr = fwe_threshold_map(t_img, nib.load(smk.input.logp), alpha)
    cl = read_tsv(smk.input.clusters)
    cl = cl[cl["method"] == p.method] if len(cl) else cl
    direction = (info["direction"]["positive_t"], info["direction"]["negative_t"])
    # display threshold of the uncorrected map: the cluster-forming threshold when recorded, else two-sided p 0.001
    t_disp = info.get("cluster_threshold_t")
    cfp = info.get("cluster_forming_p", 0.001)
    if not t_disp:
        dof = info.get("dof") or 20
        t_disp = float(stats.t.isf(cfp / 2, dof))
    label = STAT_LABEL_SHORT.get(wc.contrast, "t")
    title = f"{CONTRAST_TITLE.get(wc.contrast, wc.contrast)}, seed {wc.seed} (n = {info.get('n')})"
    fig = group_seed_figure(t_img, thr, cl, wc.seed, label, p.method.replace("_", " "), alpha, float(t_disp),
                            f"two-sided p < {cfp:g}", direction, title=title, n_slices=p.n_slices)
    save_figure(fig, smk.output.png, smk.output.vector, dpi=p.dpi)
    log.info("%s seed-%s: %d %s clusters -> %s", wc.contrast, wc.seed, len(cl), p.method, smk.output.png)


run_logged(snakemake, main)  # noqa: F821
