"""Rule figure_prediction: predicted vs observed HAMD reduction and the permutation null, per mode, and the
like-for-like selection rules (Figure 5)."""
import json

from fcect.core.io import read_tsv, run_logged
from fcect.figures.prediction import prediction_figure
from fcect.figures.style import save_figure


def main(smk, log):
    p = smk.params
    with open(smk.input.svr) as fh:
        svr = json.load(fh)
    modes = []
    for mode, pred, null in zip(p.modes, smk.input.predictions, smk.input.null):
        modes.append(dict(mode=mode, summary=svr["modes"].get(mode, {}), predictions=read_tsv(pred),
                          null=read_tsv(null)))
    fig = prediction_figure(modes, reduction=p.reduction, rules=svr.get("rules"))
    save_figure(fig, smk.output.png, smk.output.vector, dpi=p.dpi)
    log.info("prediction figure: modes %s", p.modes)


run_logged(snakemake, main)  # noqa: F821
