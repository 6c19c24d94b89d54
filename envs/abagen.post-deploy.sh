#!/usr/bin/env bash
# Run by Snakemake once, after it creates the envs/abagen.yaml environment (--sdm conda), from the working directory
# (the repository root): install the fcect package *without* its dependencies, so that the abagen script can import
# fcect.transcriptomics.ahba while the environment keeps abagen's pins (pandas < 2; the main pins need pandas >= 2).
set -euo pipefail
pip install --no-deps -e .
