"""Rule figure_prediction: predicted vs observed HAMD reduction and the permutation null, per mode (Figure 5)."""
import json

from fcect.figures import plots as F
from fcect.core.io import read_tsv, run_logged


def main(smk, log):
    p = smk.params
    with open(smk.input.svr) as fh:
        svr = json.load(fh)
    modes = []
    for mode, pred, null in zip(p.modes, smk.input.predictions, smk.input.null):
        modes.append(dict(mode=mode, summary=svr["modes"].get(mode, {}), predictions=read_tsv(pred),
                          null=read_tsv(null)))
    label = "HAMD reduction rate" if "rate" in str(svr.get("target", "rate")) else "HAMD reduction"
    fig = F.prediction_figure(modes, target_label=label)
    F.save_figure(fig, smk.output.png, smk.output.vector, dpi=p.dpi)
    log.info("prediction figure: modes %s", p.modes)


run_logged(snakemake, main)  # noqa: F821
