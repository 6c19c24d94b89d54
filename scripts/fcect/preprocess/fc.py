"""Seed-to-voxel functional connectivity: Pearson r of every seed's mean time series with every voxel, Fisher z.

All seeds and all voxels at once: one matrix product of column-standardised series.
"""

from __future__ import annotations

import numpy as np

from fcect.core.io import InputError


def standardise_columns(X, centre=True):
    """Centre each column (unless ``centre`` is False) and scale it to unit Euclidean norm; zero-variance columns
    become all-zero."""
    X = np.asarray(X, dtype=np.float64)
    Xc = X - X.mean(axis=0) if centre else X.copy()
    norm = np.sqrt((Xc ** 2).sum(axis=0))
    const = norm <= 1e-10 * max(1.0, float(np.abs(X).max(initial=0.0)))
    norm[const] = 1.0
    Xc /= norm
    Xc[:, const] = 0.0
    return Xc, const


def seed_to_voxel_r(Y, seed_columns, target_columns=None, source="scan", centre=True):
    """Pearson r between each seed's mean series and each target column of ``Y`` (T, V). ``centre=False``: the
    columns of Y are already centred series, or coordinates whose inner products are those of centred series
    (:func:`fcect.preprocess.temporal.reduced_operator`); nothing is subtracted.

    ``seed_columns``: list of integer index arrays into the columns of Y (one per seed).
    Returns (r of shape (n_seeds, n_targets), n_constant_targets).
    """
    Y = np.asarray(Y, dtype=np.float64)
    seeds = np.column_stack([Y[:, np.asarray(c)].mean(axis=1) for c in seed_columns])
    Zs, const_s = standardise_columns(seeds, centre)
    if const_s.any():
        raise InputError(source, f"seed(s) {np.flatnonzero(const_s).tolist()} have a zero-variance mean time "
                         "series after denoising (no signal in the seed sphere?)")
    T = Y if target_columns is None else Y[:, target_columns]
    # standardise_columns(T) without its copies (~50,000 columns): divide the products by the norms instead
    scale = max(1.0, float(np.abs(T).max(initial=0.0)))
    if centre:
        T = T - T.mean(axis=0)
    norm = np.sqrt(np.einsum("ij,ij->j", T, T))
    const_t = norm <= 1e-10 * scale
    norm[const_t] = 1.0
    r = (Zs.T @ T) / norm
    r[:, const_t] = 0.0
    np.clip(r, -1.0, 1.0, out=r)
    return r, int(const_t.sum())


def fisher_z(r, eps=1e-7):
    """arctanh of r clipped to +-(1 - eps)."""
    return np.arctanh(np.clip(r, -1 + eps, 1 - eps))
