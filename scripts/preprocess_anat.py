"""The anatomical step of the raw preprocessing, once per subject: T1w -> MNI152 2009c (affine + SyN) as one
composite transform that every run of the subject reuses, with its QC (correlation with the template, figure).

Runs in the antspyx environment (config raw.python), like scripts/preprocess_raw.py:

    python scripts/preprocess_anat.py --t1w T1 --out-xfm X.h5 --out-qc Q.json [--out-qc-png P] --params '{...}'
"""
import argparse
import json
import logging
import sys

from fcect.raw.pipeline import register_anat


def main(argv=None):
    a = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for k in ("t1w", "out-xfm", "out-qc"):
        a.add_argument(f"--{k}", required=True)
    a.add_argument("--out-qc-png")
    a.add_argument("--params", default="{}")
    x = a.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format="%(asctime)s %(levelname)s %(message)s")
    qc = register_anat(x.t1w, dict(xfm=x.out_xfm, qc_json=x.out_qc, qc_png=x.out_qc_png), json.loads(x.params),
                       logging.getLogger("fcect.raw"))
    print(json.dumps(qc))


if __name__ == "__main__":
    main()
