"""Simulate stage: a simulated cohort with planted, known effects, in the layout real data arrive in.

Reads
    the config's ``simulate`` section (cohort size, acquisition, effect sizes, motion outliers) and the seeds table.
Writes ``resources/simulated/<name>/``
    ``participants.tsv``,
    ``derivatives/fmriprep/{dataset_description.json, sub-*/ses-*/func/*}`` (preprocessed BOLD, brain mask,
    confounds, BOLD sidecar),
    ``sourcedata/`` (planted per-subject couplings, tissue maps, per-scan realised couplings) and
    ``ground_truth.json`` (planted values, realised couplings, expected clinical correlations).

Modules
    ``params``   the planted world (regions, couplings, effect pairs, null seeds) and ``SimParams``
    ``cohort``   participants, sessions and per-subject couplings; participants.tsv; the ground truth
    ``anatomy``  the simulated acquisition grid, region profiles and tissue maps
    ``scan``     the signal model: one scan's BOLD image, mask, confounds and realised couplings

Rule scripts: ``scripts/simulate_participants.py``, ``scripts/simulate_scan.py``,
``scripts/simulate_ground_truth.py``.
"""
