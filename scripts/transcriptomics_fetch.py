"""Rule transcriptomics_fetch: imaging-transcriptomics data files (DK expression, DK volumes, labels, cell-type
GMTs) from the archive or an extracted copy."""
from pathlib import Path

from fcect.core.io import run_logged
from fcect.transcriptomics.run import run_fetch


def main(snakemake, log):
    p = snakemake.params
    archive = snakemake.input.get("archive") or None
    run_fetch(Path(snakemake.output.labels).parent, archive=archive, data_dir=p.data_dir, sha256=p.sha256,
              version=p.version, log=log)


run_logged(snakemake, main)  # noqa: F821
