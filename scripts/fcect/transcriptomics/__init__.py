"""Imaging transcriptomics: AHBA expression, PLS, spatial nulls, bootstrap, enrichment."""
