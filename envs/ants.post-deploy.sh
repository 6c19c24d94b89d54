#!/usr/bin/env bash
# Run by Snakemake once after it creates the envs/ants.yaml environment (--sdm conda). The rule puts scripts/ on
# PYTHONPATH, so the fcect package needs no install here (an install would pull the main environment's pins).
# Python 3.11 venv recipe (what CI does, .ci/run):
#   python3.11 -m venv .venv-ants && .venv-ants/bin/pip install -r envs/requirements-ants.txt
#   then set raw.python: .venv-ants/bin/python (the tests find .venv-ants or FCECT_ANTS_PYTHON)
true
