"""Masks, seeds, input validation, denoising, seed-to-voxel FC and head-motion QC."""
