"""Simulated cohort with planted effects, in the fMRIPrep-derivatives layout."""
