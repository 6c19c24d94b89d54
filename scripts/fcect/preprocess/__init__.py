"""Preprocess stage: from fMRIPrep derivatives to per-scan seed-to-voxel FC maps and the head-motion QC.

Reads
    the seeds table (``config/seeds.tsv``), participants.tsv and the fMRIPrep derivatives (preprocessed BOLD,
    confounds, BOLD sidecar) of every scan.
Writes
    ``results/qc/validation.tsv`` (every problem of the inputs, checked before any heavy job: errors stop the run,
    warnings are listed), ``results/masks/*`` (analysis mask, cerebellar grey matter, seed spheres and their table),
    ``results/fc/sub-*/ses-*/*_desc-fcz_stat.nii.gz`` (one Fisher-z map per seed) with a denoising info JSON per
    scan, and ``results/qc/{motion.tsv, participants_included.tsv}``.

Modules
    ``masks``     analysis grid, tissue masks, seed spheres
    ``seeds``     the seeds table: reading, validation, derivation of the provisional table
    ``validate``  the cohort's inputs: files present (when the workflow is parsed), unused scans on disk, the
                  participants table, and every scan through ``validate_scan`` (sidecar, TR, confounds, mask
                  grid) and ``validate_image`` (gzip integrity, 4-D, volumes, NaN / constant data, MNI alignment);
                  all problems collected into one table
    ``denoise``   confound presets, censoring, per-scan denoising: the separable path where it applies, else nilearn
    ``separable`` the fast path for axis-aligned BOLD grids (resampling + smoothing as per-axis matrices, nilearn's
                  clipping applied exactly, cleaning before smoothing); numpy only
    ``spatial``   the per-axis matrices: scipy.ndimage's spline zoom-shift and Gaussian filter, in numpy
    ``temporal``  the temporal cleaning as one matrix (nilearn's ``signal.clean`` transcribed; DPABI's
                  regression + ideal filter for preset dpabi_ideal) and its rank reduction for correlations
    ``table``     TSV columns without pandas (the per-scan job's confounds and seed identifiers)
    ``fc``        seed-to-voxel Pearson r and Fisher z
    ``qc``        framewise displacement, exclusion decisions, their propagation to participants
    ``run``       the stage entry points: :func:`run.denoise_and_fc` (per scan), :func:`run.qc_tables` (cohort)

Rule scripts: ``scripts/validate.py``, ``scripts/masks.py``, ``scripts/denoise_fc.py``, ``scripts/qc_table.py``,
``scripts/figure_seeds.py``, ``scripts/figure_qc.py``.
"""
