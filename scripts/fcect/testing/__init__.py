"""Synthetic data and comparison helpers for the tests and benchmarks; nothing here is part of an analysis and no
pipeline code imports this subpackage.

Reads nothing of the workflow's inputs; writes only where a test asks (temporary folders): fake
imaging-transcriptomics and AHBA folders, smooth random t maps, small cohorts.

Modules
    ``transcriptomics``  smooth random maps and expression on the left DK parcels, fake archive/AHBA folders
    ``prediction``       a small cohort with a planted cluster for the prediction stage
    ``summary``          comparison of two ``results/summary.json`` files (the tiny-run regression test)
"""
