"""Preprocessing of one raw BOLD run to the MNI analysis grid (fMRIPrep-like outputs, QC JSON and figures).

Runs in the antspyx environment (envs/ants.yaml or envs/requirements-ants.txt: numpy < 2.4, scipy < 1.16, which the
main environment's pins exclude), so it is a plain command-line script that rule preprocess_raw calls with that
environment's interpreter (config raw.python) and PYTHONPATH=scripts:

    python scripts/preprocess_raw.py --bold B --bold-json J [J ...] --t1w T1 --out-bold ... --out-bold-json ...
        --out-mask ... --out-confounds ... --out-qc Q.json [--out-qc-png P] [--out-motion-png P] --params '{...}'
        [--t1-xfm X.h5 --t1-qc Q.json]

--t1-xfm: the subject's T1w -> MNI transform from scripts/preprocess_anat.py (the workflow always passes it; without
it the run registers its T1w itself); --t1-qc: that step's QC JSON, whose correlation is copied into this run's QC.
"""
import argparse
import json
import logging
import sys

from fcect.raw.pipeline import preprocess_run


def main(argv=None):
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for k in ("bold", "t1w", "out-bold", "out-bold-json", "out-mask", "out-confounds", "out-qc"):
        a.add_argument(f"--{k}", required=True)
    a.add_argument("--bold-json", required=True, nargs="+", help="the BOLD's JSON sidecar, or every JSON that applies "
                   "to it by BIDS inheritance, general to specific (later keys win)")
    a.add_argument("--out-qc-png")
    a.add_argument("--out-motion-png")
    a.add_argument("--params", default="{}")
    a.add_argument("--t1-xfm")
    a.add_argument("--t1-qc")
    x = a.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(message)s")
    out = dict(bold=x.out_bold, bold_json=x.out_bold_json, mask=x.out_mask, confounds=x.out_confounds,
               qc_json=x.out_qc, qc_png=x.out_qc_png, motion_png=x.out_motion_png)
    extra = {}
    if x.t1_qc:
        with open(x.t1_qc) as f:
            extra = {"t1_corr_template": json.load(f)["corr_template"]}
    qc, _ = preprocess_run(x.bold, x.bold_json, x.t1w, out, json.loads(x.params), logging.getLogger("fcect.raw"),
                           t1_reg=[x.t1_xfm] if x.t1_xfm else None, extra_qc=extra)
    print(json.dumps(qc))


if __name__ == "__main__":
    main()
