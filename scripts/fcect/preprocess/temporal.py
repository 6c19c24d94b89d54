"""Temporal cleaning as one (T_out, T) matrix: the operator that ``nilearn.signal.clean`` applies to every voxel's
series (detrending, Butterworth band-pass, confound regression, censoring are all linear in the signal), so that
the fast path can clean by a matrix product and in any order with the spatial operators.

For the default settings (Butterworth or no filter, no censoring) the matrix is built in numpy alone, transcribing
nilearn 0.13's ``clean`` (detrend signals and confounds -> ``butterworth`` = ``scipy.signal.butter(5, ...,
output='sos')`` + ``sosfiltfilt`` with odd padding -> z-score the filtered confounds -> remove their span) and scipy's
filter design and zero-phase filtering, so that the job imports neither nilearn nor scipy.signal (1.5 s of
imports, 5x the time to read a default scan). Any other setting (censoring, the cosine filter) takes the matrix from
nilearn itself, by cleaning the identity. ``tests/unit/preprocess/test_temporal.py`` checks both against
``nilearn.signal.clean`` on random data.
"""

from __future__ import annotations

import numpy as np

BUTTERWORTH_ORDER = 5  # nilearn's default


def butterworth_zpk(order, tr, high_pass=None, low_pass=None):
    """Zeros, poles and gain of ``scipy.signal.butter(order, Wn, btype, fs=1/tr)`` as nilearn calls it
    (``Wn = [high_pass, low_pass]`` for a band-pass), transcribed from scipy's ``buttap``, ``lp2lp_zpk``,
    ``lp2hp_zpk``, ``lp2bp_zpk`` and ``bilinear_zpk``."""
    fs = 1.0 / float(tr)
    freqs = [f for f in (high_pass, low_pass) if f is not None]
    wn = 2.0 * np.asarray(freqs, dtype=np.float64) / fs
    m = np.arange(-order + 1, order, 2)
    p = -np.exp(1j * np.pi * m / (2 * order))
    z = np.array([], dtype=complex)
    k = 1.0
    warped = 4.0 * np.tan(np.pi * wn / 2.0)  # 2 * fs * tan(pi * Wn / fs) with fs = 2
    degree = len(p) - len(z)
    if high_pass is not None and low_pass is not None:
        bw = float(warped[1] - warped[0])
        wo = float(np.sqrt(warped[0] * warped[1]))
        p_lp = (p * bw / 2).astype(complex)     # the prototype has no zeros
        p = np.concatenate((p_lp + np.sqrt(p_lp ** 2 - wo ** 2), p_lp - np.sqrt(p_lp ** 2 - wo ** 2)))
        z = np.zeros(degree, dtype=complex)
        k = k * bw ** degree
    elif high_pass is not None:
        wo = float(warped[0])
        k = k * np.real(np.prod(-z) / np.prod(-p))
        z, p = np.zeros(degree, dtype=complex), wo / p
    else:
        wo = float(warped[0])
        z, p, k = wo * z, wo * p, k * wo ** degree
    degree = len(p) - len(z)
    fs2 = 4.0
    k = k * np.real(np.prod(fs2 - z) / np.prod(fs2 - p))
    z = np.append((fs2 + z) / (fs2 - z), -np.ones(degree))
    p = (fs2 + p) / (fs2 - p)
    return z, p, k


def _sections(z, p, k):
    """Second-order sections (rows b0 b1 b2 1 a1 a2) of a real filter: complex-conjugate pole pairs, then the real
    poles (a lone one gets a first-order section), each with two of the zeros (all real here, at +-1)."""
    cplx = p[p.imag > 1e-12]
    real = np.sort(p[np.abs(p.imag) <= 1e-12].real)
    zr = np.sort(z.real)
    polys = [np.array([1.0, -2 * q.real, abs(q) ** 2]) for q in cplx]
    polys += [np.poly(real[i:i + 2]).real if i + 1 < len(real) else np.array([1.0, -real[i], 0.0])
              for i in range(0, len(real), 2)]
    sos, j = [], 0
    for a in polys:
        nz = 2 if a[2] != 0 else 1
        b = np.poly(zr[j:j + nz]).real
        j += nz
        sos.append(np.concatenate([b, [0.0] * (3 - len(b)), a]))
    sos = np.array(sos)
    sos[0, :3] *= k
    return sos


def _lfilter_zi(b, a):
    """Steady-state state of one direct-form-II-transposed section for a unit step (scipy's ``lfilter_zi``)."""
    IminusA = np.array([[1.0 + a[1], -1.0], [a[2], 1.0]])
    return np.linalg.solve(IminusA, b[1:] - a[1:] * b[0])


def _cascade_responses(sos, n):
    """Impulse response h (n samples) of the cascade from rest, and its output g from the steady state of a unit
    constant input with zero input after (``sosfilt`` with ``zi = sosfilt_zi(sos)``): the forward pass maps x to
    ``toeplitz(h) @ x + x[0] * g``."""
    h = [1.0] + [0.0] * (n - 1)
    g = [0.0] * n
    scale = 1.0
    for b0, b1, b2, _, a1, a2 in sos.tolist():
        zi = scale * _lfilter_zi(np.array([b0, b1, b2]), np.array([1.0, a1, a2]))
        scale *= (b0 + b1 + b2) / (1.0 + a1 + a2)
        out = []
        for x, (z0, z1) in ((h, (0.0, 0.0)), (g, zi.tolist())):
            y = []
            for xt in x:            # direct form II transposed, as scipy's sosfilt
                yt = b0 * xt + z0
                z0 = b1 * xt - a1 * yt + z1
                z1 = b2 * xt - a2 * yt
                y.append(yt)
            out.append(y)
        h, g = out
    return np.array(h), np.array(g)


def butterworth_matrix(n, tr, high_pass=None, low_pass=None, order=BUTTERWORTH_ORDER):
    """(n, n) matrix of nilearn's ``butterworth`` (``sosfiltfilt``, odd padding of scipy's default length)."""
    if high_pass is None and low_pass is None:
        return np.eye(n)
    z, p, k = butterworth_zpk(order, tr, high_pass, low_pass)
    sos = _sections(z, p, k)
    ntaps = 2 * len(sos) + 1 - min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    pad = 3 * ntaps
    if n <= pad:
        raise ValueError(f"The length of the input vector x must be greater than padlen, which is {pad}.")
    L = n + 2 * pad
    E = np.zeros((L, n))                     # odd extension (scipy's odd_ext)
    E[pad:pad + n] = np.eye(n)
    for i in range(1, pad + 1):
        E[pad - i, 0] += 2.0
        E[pad - i, i] -= 1.0
        E[pad + n - 1 + i, n - 1] += 2.0
        E[pad + n - 1 + i, n - 1 - i] -= 1.0
    h, g = _cascade_responses(sos, L)
    idx = np.arange(L)
    diff = idx[:, None] - idx[None, :]
    F1 = np.where(diff >= 0, h[np.clip(diff, 0, None)], 0.0)
    F1[:, 0] += g
    y = F1 @ E
    y = F1 @ y[::-1]
    return y[::-1][pad:pad + n]


def detrend_matrix(n):
    """(n, n) matrix of nilearn's linear ``_detrend``: remove the mean, then the normalised centred ramp."""
    r = np.arange(n, dtype=np.float64)
    r -= r.mean()
    std = np.sqrt((r ** 2).sum())
    if not std < np.finfo(np.float64).eps:
        r /= std
    return np.eye(n) - 1.0 / n - np.outer(r, r)


def confound_basis(C):
    """Orthonormal basis of the z-scored confounds' columns (nilearn: population SD, SD < eps -> 1, columns whose
    pivoted-QR diagonal is numerically 0 dropped; here the singular vectors above numpy's rank tolerance, the same
    span)."""
    C = np.asarray(C, dtype=np.float64)
    C = C - C.mean(axis=0)
    std = C.std(axis=0)
    std[std < np.finfo(np.float64).eps] = 1.0
    C = C / std
    U, s, _ = np.linalg.svd(C, full_matrices=False)
    tol = s.max(initial=0.0) * max(C.shape) * np.finfo(np.float64).eps
    return U[:, s > tol]


def nilearn_operator(n, confounds, tr, high_pass, low_pass, detrend=True, sample_mask=None, filter="butterworth"):
    """The cleaning matrix (n_out, n) from nilearn itself: ``clean_signals`` applied to the identity."""
    from fcect.preprocess.denoise import clean_signals

    return clean_signals(np.eye(n), confounds, tr, high_pass, low_pass, detrend, sample_mask, filter)


def clean_operator(n, confounds, tr, high_pass, low_pass, detrend=True, sample_mask=None, filter="butterworth"):
    """(n_out, n) matrix M such that ``M @ X`` equals ``fcect.preprocess.denoise.clean_signals(X, ...)``.
    Returns (M, how): how = 'numpy' (transcription) or 'nilearn' (identity cleaned by nilearn). ``filter='ideal'``:
    DPABI's order and filter (:func:`regression_then_ideal`; no censoring)."""
    if filter == "ideal":
        if sample_mask is not None:
            raise ValueError("the ideal filter (preset dpabi_ideal) does not censor volumes")
        return regression_then_ideal(n, confounds, tr, high_pass, low_pass, detrend), "numpy"
    numpy_ok = sample_mask is None and (filter == "butterworth" or not filter)
    if numpy_ok and filter == "butterworth" and (high_pass is not None or low_pass is not None):
        numpy_ok = n > 3 * (2 * BUTTERWORTH_ORDER + 1)   # else nilearn raises its own error
    if not numpy_ok:
        return nilearn_operator(n, confounds, tr, high_pass, low_pass, detrend, sample_mask, filter), "nilearn"
    D = detrend_matrix(n) if detrend else np.eye(n)
    F = butterworth_matrix(n, tr, high_pass, low_pass) if filter else np.eye(n)
    M = F @ D
    if confounds is not None:
        Q = confound_basis(F @ (D @ np.asarray(confounds, dtype=np.float64)))
        M = M - Q @ (Q.T @ M)
    return M, "numpy"


def reduced_operator(M, tol=1e-6):
    """(k, T) matrix R with ``R.T @ R == (C M).T @ (C M)`` (C: centring over the output volumes), k = the numerical
    rank of C M (singular values above ``tol`` times the largest). For two series x, y the centred cleaned series
    have the inner product ``(R x) . (R y)``, so Pearson correlations need only k 'volumes' instead of T_out
    (k = 105 of 190 at the default band and TR 2 s). The dropped components pass less than ``tol`` of any
    series: r changes by < ~1e-5 even when white noise outside the band dominates the data."""
    Mc = M - M.mean(axis=0)
    _, s, Vt = np.linalg.svd(Mc, full_matrices=False)
    keep = s > tol * s.max(initial=0.0)
    return s[keep, None] * Vt[keep]


def ideal_filter_matrix(n, tr, high_pass=None, low_pass=None):
    """(n, n) matrix of DPABI's ``y_IdealFilter(Data, TR, [high_pass low_pass])``: remove the mean, zero-pad to
    the next power of 2 (L = 2^nextpow2(n)), FFT, keep the bins from ceil(high_pass L TR + 1) to
    fix(low_pass L TR + 1) (MATLAB's 1-based indices; 1 and L/2 + 1 when an edge is absent or at or above
    Nyquist) and their mirror images, inverse FFT, first n samples."""
    L = 1 << int(np.ceil(np.log2(n))) if n > 1 else 1
    fs = 1.0 / float(tr)
    hp = 0.0 if high_pass is None else float(high_pass)
    lp = 0.0 if low_pass is None else float(low_pass)
    lo = L // 2 + 1 if hp >= fs / 2 else int(np.ceil(hp * L * tr + 1))
    hi = L // 2 + 1 if (lp >= fs / 2 or lp == 0) else int(np.fix(lp * L * tr + 1))
    mask = np.zeros(L + 1, dtype=bool)         # MATLAB indices 1..L (+ L + 1, the mirror of bin 1)
    if lo <= hi:
        mask[lo:hi + 1] = True
        mask[L - hi + 2:L - lo + 3] = True     # FrequencyMask(L-lo+2 : -1 : L-hi+2) = 1
    keep = mask[1:L + 1]
    X = np.zeros((L, n))
    X[:n] = np.eye(n) - 1.0 / n                 # demeaned identity, zero-padded
    F = np.fft.fft(X, axis=0)
    F[~keep] = 0
    return np.fft.ifft(F, axis=0).real[:n]


def regression_then_ideal(n, confounds, tr, high_pass, low_pass, detrend=True):
    """(n, n) cleaning matrix of DPABI/DPARSF's order: nuisance regression by least squares on [constant, linear
    trend (with ``detrend``), confounds], then :func:`ideal_filter_matrix`."""
    cols = [np.ones(n)]
    if detrend:
        cols.append(np.arange(n, dtype=np.float64))
    X = np.column_stack(cols + ([] if confounds is None else [np.asarray(confounds, dtype=np.float64)]))
    U, s, _ = np.linalg.svd(X, full_matrices=False)
    U = U[:, s > s.max() * max(X.shape) * np.finfo(np.float64).eps]
    return ideal_filter_matrix(n, tr, high_pass, low_pass) @ (np.eye(n) - U @ U.T)
