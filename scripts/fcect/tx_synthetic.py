"""Synthetic data for validating the transcriptomics stage: smooth random maps and expression on DK parcels.

Fields are sums of Gaussian bumps centred on a fixed quasi-uniform (Fibonacci) grid of points on the fsaverage5
sphere with random amplitudes, i.e. approximately stationary and isotropic; parcel values are vertex means over
the left-hemisphere DK parcels. Used by tests and the benchmark; nothing here is part of an analysis.
"""
from __future__ import annotations

import numpy as np

from . import spin


def fibonacci_sphere(m: int) -> np.ndarray:
    i = np.arange(m) + 0.5
    phi = np.arccos(1 - 2 * i / m)
    theta = np.pi * (1 + 5 ** 0.5) * i
    return np.c_[np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)]


class SmoothFieldParcels:
    """Draw smooth random maps on the left DK parcels: maps = A @ amplitudes with A = (parcel x bump) means."""

    def __init__(self, region_names, length_scale: float = 0.35, n_bumps: int = 600):
        coords = spin.fsaverage5_sphere("left")
        labels, table = spin.dk_surface_labels("lh")
        by_name = {str(v).lower(): k for k, v in table.items()}
        ids = [by_name[str(n).lower().removeprefix("l_")] for n in region_names]
        U = coords - coords.mean(0)
        U /= np.linalg.norm(U, axis=1, keepdims=True)
        C = fibonacci_sphere(n_bumps)
        K = np.exp(-np.square(np.linalg.norm(U[:, None, :] - C[None], axis=2)) / (2 * length_scale ** 2))
        P = np.zeros((len(ids), U.shape[0]))
        for r, pid in enumerate(ids):
            sel = labels == pid
            P[r, sel] = 1.0 / sel.sum()
        self.A = P @ K                                  # (n_regions, n_bumps)
        self.centroids = spin.parcel_centroids(coords, labels, ids, "surface")

    def sample(self, n_maps: int, rng=None) -> np.ndarray:
        """(n_regions, n_maps) smooth random maps (unit-variance amplitudes)."""
        rng = np.random.default_rng(rng)
        return self.A @ rng.standard_normal((self.A.shape[1], n_maps))


def synthetic_expression(field: SmoothFieldParcels, n_genes: int = 600, n_modules: int = 12, rng=None,
                         module_noise: float = 0.6, dominant: float = 0.4):
    """Expression (n_regions, n_genes) built from smooth latent fields, plus gene sets = modules.

    Each module is a smooth latent map; its genes are that map plus independent smooth and white noise, so genes of
    a module are strongly co-expressed (the situation that inflates gene-permutation enrichment tests). A share
    ``dominant`` of the genes belongs to module 0, giving a leading expression gradient (PC1 ~ 30-40% of the
    variance, as in the left-cortex AHBA DK matrix). Returns
    (X, genes, library) with library {module_name: genes} plus a few random sets.
    """
    rng = np.random.default_rng(rng)
    n = field.A.shape[0]
    latent = field.sample(n_modules, rng)
    latent = (latent - latent.mean(0)) / latent.std(0)
    prob = np.r_[dominant, np.full(n_modules - 1, (1 - dominant) / (n_modules - 1))]
    member = rng.choice(n_modules, size=n_genes, p=prob)
    own = field.sample(n_genes, rng)
    own = (own - own.mean(0)) / own.std(0)
    X = latent[:, member] + module_noise * own + 0.3 * rng.standard_normal((n, n_genes))
    X = 1 / (1 + np.exp(-X))                             # expression-like range (0, 1)
    genes = [f"G{i:05d}" for i in range(n_genes)]
    lib = {f"MODULE_{m:02d}": [genes[i] for i in np.flatnonzero(member == m)] for m in range(n_modules)}
    for r in range(8):
        lib[f"RANDOM_{r:02d}"] = [genes[i] for i in rng.choice(n_genes, size=40, replace=False)]
    return X, genes, lib
