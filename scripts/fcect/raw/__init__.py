"""Stage raw: preprocessing of raw BIDS scans to the MNI analysis grid (input_source: bids, or the simulated cohort
with simulate.mode: raw), written as fMRIPrep-like derivatives under results/preproc/ so that the preprocess stage
reads them unchanged.

Modules: bids (a small BIDS indexer: func/anat files per scan, clear errors), motion (slice timing, rigid motion
correction, parameter conventions, confounds), register (ANTs registrations: mean EPI -> T1w -> MNI152 2009c,
composed transforms applied once per volume), qc (registration metrics, QC figures, exclusions), pipeline (one scan,
end to end), settings (the per-run parameters from the workflow config). motion/register/pipeline import antspyx, which runs in its own environment (envs/requirements-ants.txt);
bids and qc.exclusions import only numpy/pandas, so the main environment can use them. Imports nothing here.
"""
