"""The separable fast path piece by piece against scipy.ndimage, nilearn.image and nilearn.signal, on random data:
per-axis matrices, the whole spatial pipeline (resampling with nilearn's clipping, smoothing, mask) on flipped,
shifted, cropped and identical grids, the temporal cleaning matrix, and the pandas-free table reader."""

import warnings

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nilearn import image, signal
from scipy import ndimage

from fcect.core.io import InputError
from fcect.preprocess import separable, spatial, temporal
from fcect.preprocess.denoise import clean_signals
from fcect.preprocess.table import Table


def test_axis_matrices_equal_scipy():
    """spline_matrix = affine_transform with a diagonal matrix (zoom-shift, mode constant, order 3 with the
    prefilter, and order 1), gaussian_matrix = gaussian_filter1d (reflect), including flips, integer offsets
    that put output points exactly on the input's edges, outputs beyond the input and axes shorter than the
    kernel."""
    rng = np.random.default_rng(0)
    cases = [(20, 30, 0.75, -3.0), (20, 30, -0.75, 21.0), (12, 9, 1.0, 0.0), (12, 9, 1.0, 3.0), (7, 20, 0.5, -2.0),
             (3, 5, 1.5, -1.0), (25, 25, 4 / 3, -2.0 / 3)]
    cases += [(int(rng.integers(2, 30)), int(rng.integers(1, 40)), float(rng.choice([-1, 1]) * rng.uniform(0.3, 2.5)),
               float(rng.uniform(-10, 30))) for _ in range(40)]
    for n_in, n_out, zoom, off in cases:
        x = rng.standard_normal(n_in)
        for order in (1, 3):
            ref = ndimage.affine_transform(x, np.array([zoom]), offset=off, output_shape=(n_out,), order=order,
                                           mode="constant", cval=0.0)
            np.testing.assert_allclose(spatial.spline_matrix(n_in, n_out, zoom, off, order) @ x, ref, atol=1e-12)
    for n, sigma in [(1, 0.7), (3, 2.0), (10, 0.566), (40, 1.7), (6, 5.0)]:
        x = rng.standard_normal(n)
        np.testing.assert_allclose(spatial.gaussian_matrix(n, sigma) @ x, ndimage.gaussian_filter1d(x, sigma),
                                   atol=1e-13)


def _volumes(shape, T, rng, zero_outside=True):
    from scipy.ndimage import gaussian_filter
    data = gaussian_filter(rng.standard_normal(shape + (T,)), (1, 1, 1, 0)) * 40 + 800
    if zero_outside:
        c = (np.indices(shape).T - (np.array(shape) - 1) / 2).T
        data[((c / (np.array(shape)[:, None, None, None] / 2.4)) ** 2).sum(axis=0) > 1] = 0
    return data


GEOMETRIES = {  # source affine, source shape, interpolation
    "shifted": (np.array([[4.0, 0, 0, -30.3], [0, 4.0, 0, -41.7], [0, 0, 4.0, -26.0], [0, 0, 0, 1]]), (15, 20, 14),
                "continuous"),
    "flipped": (np.array([[-4.0, 0, 0, 28.9], [0, 4.0, 0, -41.7], [0, 0, -3.5, 22.0], [0, 0, 0, 1]]), (15, 20, 14),
                "continuous"),
    "cropped": (np.array([[4.0, 0, 0, -18.3], [0, 4.0, 0, -30.7], [0, 0, 4.0, -10.0], [0, 0, 0, 1]]), (9, 12, 7),
                "continuous"),
    "linear": (np.array([[4.0, 0, 0, -30.3], [0, 4.0, 0, -41.7], [0, 0, 4.0, -26.0], [0, 0, 0, 1]]), (15, 20, 14),
               "linear"),
    "same": (None, None, "continuous"),
}


@pytest.mark.parametrize("geometry", list(GEOMETRIES))
def test_spatial_pipeline_equals_nilearn(geometry):
    """With the identity as temporal matrix, the separable path returns nilearn's resample_img (clip included) +
    smooth_img at the mask's voxels, on zero-background data (ringing clipped), a mask that touches the target
    grid's edge (reflect boundary of the smoothing) and, for 'cropped', a field of view smaller than the mask."""
    rng = np.random.default_rng(1)
    tgt = np.diag([3.0, 3.0, 3.0, 1.0])
    tgt[:3, 3] = [-33, -45, -30]
    tshape = (23, 31, 21)
    src_aff, src_shape, interp = GEOMETRIES[geometry]
    if src_aff is None:
        src_aff, src_shape = tgt, tshape
    T = 9
    data = _volumes(src_shape, T, rng)
    mask = np.zeros(tshape, bool)
    mask[2:-3, 0:20, 3:-2] = True        # touches the y = 0 edge of the grid
    mask &= rng.random(tshape) < 0.6
    img = nib.Nifti1Image(data, src_aff)
    ref = img if geometry == "same" else image.resample_img(img, target_affine=tgt, target_shape=tshape,
                                                             interpolation=interp, force_resample=True,
                                                             copy_header=True)
    unclipped = image.resample_img(img, target_affine=tgt, target_shape=tshape, interpolation=interp,
                                   force_resample=True, copy_header=True, clip=False)
    ref = image.smooth_img(ref, 4.0).get_fdata()[mask]                  # (V, T)
    plan, why = separable.make_plan(src_shape, src_aff, tgt, mask, 4.0, interp, same_grid=geometry == "same")
    assert plan is not None, why
    Y, _ = separable.apply(plan, data, np.eye(T), dtype=np.float64)
    np.testing.assert_allclose(Y.T, ref, atol=1e-9 * np.abs(ref).max())
    if interp == "continuous" and geometry != "same":  # the test can fail: clipping changed these data
        assert np.abs(image.smooth_img(unclipped, 4.0).get_fdata()[mask] - ref).max() > 1e-3
    if geometry == "cropped":                          # mask voxels beyond the field of view and the smoothing
        assert (np.abs(ref).max(axis=1) == 0).any() and (np.abs(Y).max(axis=0) == 0).any()


def test_oblique_grids_and_other_interpolations_take_nilearn():
    aff = np.diag([4.0, 4.0, 4.0, 1.0])
    c, s = np.cos(0.1), np.sin(0.1)
    aff[:2, :2] = 4.0 * np.array([[c, -s], [s, c]])
    mask = np.ones((5, 5, 5), bool)
    plan, why = separable.make_plan((6, 6, 6), aff, np.eye(4) * 3, mask, 4.0)
    assert plan is None and "oblique" in why
    plan, why = separable.make_plan((6, 6, 6), np.eye(4), np.eye(4), mask, 4.0, "nearest")
    assert plan is None and "nearest" in why


def test_scaled_integer_data_and_non_finite_values():
    """read_raw hands back the stored int16 values and the header's scaling; apply with them equals apply on the
    scaled float series; NaN in the data sends the scan to the nilearn path."""
    rng = np.random.default_rng(3)
    data = (rng.standard_normal((6, 7, 5, 12)) * 300).astype(np.int16)
    img = nib.Nifti1Image(data, np.eye(4))
    img.header.set_slope_inter(0.25, 10.0)
    img = nib.Nifti1Image.from_bytes(img.to_bytes())
    raw, slope, inter = separable.read_raw(img, 2)
    assert raw.dtype == np.int16 and (slope, inter) == (0.25, 10.0)
    mask = np.ones((6, 7, 5), bool)
    plan, _ = separable.make_plan((6, 7, 5), np.eye(4), np.eye(4), mask, 2.0, same_grid=True)
    Y1, _ = separable.apply(plan, raw, np.eye(10), slope, inter, dtype=np.float64)
    Y2, _ = separable.apply(plan, np.asarray(img.dataobj, dtype=np.float64)[..., 2:], np.eye(10), dtype=np.float64)
    np.testing.assert_allclose(Y1, Y2, atol=1e-9)
    bad = np.asarray(img.dataobj, dtype=np.float64)
    bad[1, 1, 1, 3] = np.nan
    assert separable.apply(plan, bad, np.eye(12))[0] is None


@pytest.mark.parametrize("band", [(0.01, 0.08), (0.01, None), (None, 0.1), (None, None)])
@pytest.mark.parametrize("detrend", [True, False])
def test_clean_operator_equals_nilearn_clean(band, detrend):
    """The numpy transcription (Butterworth design and sosfiltfilt, detrending, z-scored confound projection)
    equals nilearn.signal.clean on random data, confounds with a duplicated and an all-zero column included."""
    rng = np.random.default_rng(4)
    T = 150
    X = rng.standard_normal((T, 40)).cumsum(axis=0) + 500
    C = rng.standard_normal((T, 8)).cumsum(axis=0)
    C[:, 5] = C[:, 2]
    C[:, 7] = 0.0
    M, how = temporal.clean_operator(T, C, 1.5, *band, detrend=detrend)
    assert how == "numpy"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = signal.clean(X.copy(), confounds=C, detrend=detrend, standardize=None, low_pass=band[1],
                           high_pass=band[0], t_r=1.5, filter="butterworth" if any(band) else False)
    np.testing.assert_allclose(M @ X, ref, atol=1e-9 * np.abs(ref).max())


def test_clean_operator_with_censoring_or_cosine_comes_from_nilearn():
    rng = np.random.default_rng(5)
    T = 80
    X = rng.standard_normal((T, 10)).cumsum(axis=0)
    C = rng.standard_normal((T, 3))
    keep = np.flatnonzero(np.ones(T, bool) & (np.arange(T) % 13 != 5))
    M, how = temporal.clean_operator(T, C, 2.0, 0.01, 0.08, sample_mask=keep)
    assert how == "nilearn" and M.shape == (keep.size, T)
    np.testing.assert_allclose(M @ X, clean_signals(X, C, 2.0, 0.01, 0.08, sample_mask=keep), atol=1e-9)
    M, how = temporal.clean_operator(T, C, 2.0, 0.01, None, filter="cosine")
    np.testing.assert_allclose(M @ X, clean_signals(X, C, 2.0, 0.01, None, filter="cosine"), atol=1e-9)


def test_reduced_operator_keeps_correlations():
    """k rows whose inner products are those of the centred cleaned series: Pearson r from them equals r from
    the full cleaned series."""
    rng = np.random.default_rng(6)
    T = 120
    M, _ = temporal.clean_operator(T, rng.standard_normal((T, 5)), 2.0, 0.01, 0.08)
    R = temporal.reduced_operator(M)
    assert R.shape[0] < T - 5
    X = rng.standard_normal((T, 30)).cumsum(axis=0)
    full = np.corrcoef((M @ X).T)
    Z = R @ X
    Z /= np.linalg.norm(Z, axis=0)
    np.testing.assert_allclose(Z.T @ Z, full, atol=1e-6)


def test_table_reads_like_pandas(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_text("a\tb\tname\nn/a\t1.5\tx\n2\t-3e-2\ty\n\n4\tn/a\tz\n")
    t = Table(path)
    ref = pd.read_csv(path, sep="\t", na_values=["n/a"])
    assert len(t) == len(ref) and "b" in t and "c" not in t
    for c in ("a", "b"):
        np.testing.assert_array_equal(t[c], ref[c].to_numpy(float))
    assert t.text("name") == ["x", "y", "z"]
    path.write_text("a\n1\nfoo\n")
    with pytest.raises(InputError, match=r"c\.tsv: column 'a', line 3: 'foo' is not a number"):
        Table(path)["a"]


def _y_ideal_filter(data, sample_period, band):
    """Slow line-by-line transcription of DPABI's y_IdealFilter.m (MATLAB, 1-based indices kept as written)."""
    sample_freq = 1 / sample_period
    sample_length = data.shape[0]
    padded = int(2 ** np.ceil(np.log2(sample_length)))               # 2^nextpow2(sampleLength)
    low, high = band
    idx_low = padded / 2 + 1 if low >= sample_freq / 2 else np.ceil(low * padded * sample_period + 1)
    if high >= sample_freq / 2 or high == 0:
        idx_high = padded / 2 + 1
    else:
        idx_high = np.fix(high * padded * sample_period + 1)
    mask = np.zeros(padded + 2)                                       # mask[i] = FrequencyMask(i); [0] unused
    for i in range(int(idx_low), int(idx_high) + 1):
        mask[i] = 1
    i = int(padded - idx_low + 2)
    while i >= padded - idx_high + 2:                                 # (L-lo+2 : -1 : L-hi+2)
        mask[i] = 1
        i -= 1
    zero = [i - 1 for i in range(1, padded + 1) if mask[i] == 0]     # find(FrequencyMask == 0), 0-based
    data = data - data.mean(axis=0)
    data = np.vstack([data, np.zeros((padded - sample_length, data.shape[1]))])
    spec = np.fft.fft(data, axis=0)
    spec[zero, :] = 0
    return np.fft.ifft(spec, axis=0)[:sample_length].real


@pytest.mark.parametrize("T, tr, band", [(190, 2.0, (0.01, 0.08)), (256, 0.8, (0.01, 0.1)), (150, 2.0, (0.0, 0.08)),
                                         (120, 2.5, (0.01, 0.0)), (100, 2.0, (0.01, 0.3))])
def test_dpabi_ideal_equals_a_transcription_of_dpabi(T, tr, band):
    """Preset dpabi_ideal: nuisance regression on [1, linear trend, confounds] by least squares, then
    y_IdealFilter (transcribed above from DPABI's MATLAB source), to 1e-6; and its nilearn-path function
    (clean_signals with filter='ideal') gives the same."""
    rng = np.random.default_rng(7)
    X = rng.standard_normal((T, 25)).cumsum(axis=0) + 300
    C = rng.standard_normal((T, 6))
    design = np.column_stack([np.ones(T), np.arange(T), C])
    resid = X - design @ np.linalg.lstsq(design, X, rcond=None)[0]
    ref = _y_ideal_filter(resid, tr, band)
    hp, lp = (band[0] or None), (band[1] or None)
    M, how = temporal.clean_operator(T, C, tr, hp, lp, filter="ideal")
    np.testing.assert_allclose(M @ X, ref, atol=1e-6 * np.abs(ref).max())
    np.testing.assert_allclose(clean_signals(X, C, tr, hp, lp, filter="ideal"), ref, atol=1e-6 * np.abs(ref).max())
    if T == 190:   # not a power of 2: zero-padded to 256, so the filter is not a projection
        assert np.abs(M @ M - M).max() > 1e-3
