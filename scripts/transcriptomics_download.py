"""Rule transcriptomics_download: the imaging-transcriptomics source archive, fetched once from the package
registry and checksum-verified."""
from fcect.core.io import run_logged
from fcect.transcriptomics.run import run_download


def main(snakemake, log):
    p = snakemake.params
    run_download(snakemake.output.archive, p.sha256, p.version, p.timeout, log)


run_logged(snakemake, main)  # noqa: F821
