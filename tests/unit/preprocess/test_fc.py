"""Seed FC and denoising against independent nilearn references, on random data."""

import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from nilearn import image, signal
from nilearn.maskers import NiftiMasker, NiftiSpheresMasker

from fcect.preprocess.denoise import PRESETS, censor_mask, clean_signals, confound_matrix
from fcect.preprocess.fc import fisher_z, seed_to_voxel_r, standardise_columns
from fcect.core.io import InputError, save_json, save_tsv
from fcect.preprocess.masks import sphere_mask
from fcect.preprocess.run import denoise_and_fc

PARAMS = dict(preset="dpabi", drop_volumes=3, high_pass=0.01, low_pass=0.08, filter="butterworth", detrend=True,
              fwhm=5.0, interpolation="continuous", fd_threshold=0.5, censor_neighbors=[1, 2], min_volumes=20)


def _confounds(rng, T):
    cols = {}
    for n in ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z", "white_matter", "csf",
              "global_signal"]:
        x = np.cumsum(rng.standard_normal(T)) * (0.01 if n.startswith("rot") else 0.1)
        d = np.concatenate([[np.nan], np.diff(x)])
        cols.update({n: x, f"{n}_derivative1": d, f"{n}_power2": x ** 2, f"{n}_derivative1_power2": d ** 2})
    for k in range(5):
        cols[f"a_comp_cor_{k:02d}"] = rng.standard_normal(T)
    fd = np.abs(rng.standard_normal(T)) * 0.2
    fd[[15, 40]] = 1.2
    fd[0] = np.nan
    cols["framewise_displacement"] = fd
    return pd.DataFrame(cols)


def _source_affine(geometry):
    """The BOLD grid's affine: 5 mm, axis-aligned (as the simulator and fMRIPrep write), with the x axis flipped
    (a LAS image), or rotated by 10 degrees about z (oblique)."""
    aff = np.diag([5.0, 5.0, 5.0, 1.0])
    aff[:3, 3] = [-40, -60, -50]
    if geometry == "flipped":
        aff[0, 0] = -5.0
        aff[0, 3] = 40.0
    elif geometry == "oblique":
        c, s_ = np.cos(np.radians(10)), np.sin(np.radians(10))
        aff[:2, :2] = 5.0 * np.array([[c, -s_], [s_, c]])
    return aff


@pytest.fixture(scope="module")
def scan(tmp_path_factory):
    return _write_scan(tmp_path_factory.mktemp("scan"), "aligned")


def _write_scan(d, geometry):
    """A random 4-D scan on a 5 mm grid, an analysis grid at 4 mm, a cerebral mask and two seed spheres. Except
    for 'aligned', the data are zero outside a head-sized ellipsoid (sharp edges: nilearn clips the spline's
    ringing there) and the field of view ends 12 mm below the analysis mask's top (mask voxels outside it)."""
    rng = np.random.default_rng(0)
    T = 70
    src_aff = _source_affine(geometry)
    shape = (17, 24, 20) if geometry == "aligned" else (17, 24, 17)
    data = rng.standard_normal(shape + (T,)).astype(np.float32)
    from scipy import ndimage
    data = ndimage.gaussian_filter(data, (1, 1, 1, 0)) * 50 + 1000
    data += rng.standard_normal(T).astype(np.float32)[None, None, None, :] * 3
    if geometry != "aligned":
        xyz = nib.affines.apply_affine(src_aff, np.indices(shape).reshape(3, -1).T).reshape(shape + (3,))
        data[((xyz / [42.0, 55.0, 48.0]) ** 2).sum(axis=-1) > 1] = 0
    bold = nib.Nifti1Image(data, src_aff)
    bold.header["pixdim"][4] = 2.0
    nib.save(bold, d / "bold.nii.gz")
    conf = _confounds(rng, T)
    save_tsv(conf, d / "conf.tsv")
    save_json({"RepetitionTime": 2.0}, d / "bold.json")
    aff = np.diag([4.0, 4.0, 4.0, 1.0])
    aff[:3, 3] = [-36, -56, -46]
    shape = (19, 27, 23)
    ijk = np.indices(shape).reshape(3, -1).T
    xyz = nib.affines.apply_affine(aff, ijk).reshape(shape + (3,))
    amask = (xyz[..., 2] > -10) & (np.linalg.norm(xyz, axis=-1) < 45)
    cereb = (xyz[..., 2] < -20) & (np.linalg.norm(xyz - [0, -30, -35], axis=-1) < 20)
    seeds = [(-8, -30, -35), (8, -34, -32)]
    sm = np.stack([sphere_mask(c, 6.0, aff, shape, within=cereb) for c in seeds], axis=-1)
    nib.save(nib.Nifti1Image(amask.astype(np.uint8), aff), d / "amask.nii.gz")
    nib.save(nib.Nifti1Image(cereb.astype(np.uint8), aff), d / "cereb.nii.gz")
    nib.save(nib.Nifti1Image(sm.astype(np.uint8), aff), d / "seeds.nii.gz")
    save_tsv(pd.DataFrame(dict(seed_id=["A", "B"], x=[s[0] for s in seeds], y=[s[1] for s in seeds],
                               z=[s[2] for s in seeds])), d / "seeds.tsv")
    return d, seeds, conf


def _reference(d, seeds, conf, params):
    """Slow reference: nilearn maskers + numpy.corrcoef, one seed and one voxel column at a time."""
    drop = params["drop_volumes"]
    src = nib.load(d / "bold.nii.gz")
    img = image.index_img(nib.Nifti1Image(src.get_fdata(dtype=np.float64), src.affine), slice(drop, None))
    amask = nib.load(d / "amask.nii.gz")
    img = image.resample_img(img, target_affine=amask.affine, target_shape=amask.shape,
                             interpolation="continuous", force_resample=True, copy_header=True)
    C = confound_matrix(conf, params["preset"])[drop:]
    sample_mask = None
    if PRESETS[params["preset"]]["censor"]:
        sample_mask = np.flatnonzero(censor_mask(conf["framewise_displacement"].to_numpy()[drop:],
                                                 params["fd_threshold"], *params["censor_neighbors"]))
    kw = dict(smoothing_fwhm=params["fwhm"], detrend=True, standardize=None, high_pass=params["high_pass"],
              low_pass=params["low_pass"], t_r=2.0)
    vox = NiftiMasker(mask_img=amask, **kw).fit_transform(img, confounds=C, sample_mask=sample_mask)
    sph = NiftiSpheresMasker(seeds, radius=6.0, mask_img=str(d / "cereb.nii.gz"), **kw).fit_transform(
        img, confounds=C, sample_mask=sample_mask)
    ref = np.empty((len(seeds), vox.shape[1]))
    for k in range(len(seeds)):
        for v in range(vox.shape[1]):
            ref[k, v] = np.corrcoef(sph[:, k], vox[:, v])[0, 1]
    return np.arctanh(ref), amask


@pytest.mark.parametrize("preset", ["dpabi", "scrubbing", "36p"])
def test_fc_maps_equal_nilearn_masker_reference(scan, tmp_path, preset):
    """Axis-aligned grids take the separable path (cleaning as a matrix before the smoothing, float32); the maps
    equal nilearn's maskers (resample, smooth, clean, then np.corrcoef voxel by voxel) to 1e-5 in z."""
    d, seeds, conf = scan
    params = dict(PARAMS, preset=preset)
    outs = [tmp_path / f"fc_{k}.nii.gz" for k in range(len(seeds))]
    info = denoise_and_fc(d / "bold.nii.gz", d / "conf.tsv", d / "bold.json", d / "amask.nii.gz",
                          d / "seeds.nii.gz", d / "seeds.tsv", params, ["A", "B"], outs, tmp_path / "info.json")
    assert info["path"] == "separable"
    assert json.loads((tmp_path / "info.json").read_text())["path"] == "separable"
    ref, amask = _reference(d, seeds, conf, params)
    m = np.asarray(amask.dataobj) > 0
    ours = np.stack([np.asarray(nib.load(o).dataobj)[m] for o in outs])
    np.testing.assert_allclose(ours, ref, atol=1e-5)
    if preset == "scrubbing":
        assert info["n_censored"] > 0
        assert info["n_volumes_used"] == 70 - 3 - info["n_censored"]


@pytest.mark.parametrize("geometry, path", [("flipped", "separable"), ("oblique", "nilearn")])
def test_fc_maps_equal_reference_at_edges_flips_and_oblique_grids(tmp_path, geometry, path):
    """A flipped axis-aligned grid with zero background (nilearn clips the spline's ringing at the edges; the
    separable path must clip the same voxels and volumes) and a field of view that ends inside the smoothing
    reach of the mask (target voxels outside it are 0 before smoothing), and an oblique grid (today's path, said
    so in the info). Maps equal the nilearn-masker reference to 1e-5 in z."""
    d = tmp_path / "scan"
    d.mkdir()
    _, seeds, conf = _write_scan(d, geometry)
    outs = [tmp_path / f"fc_{k}.nii.gz" for k in range(len(seeds))]
    info = denoise_and_fc(d / "bold.nii.gz", d / "conf.tsv", d / "bold.json", d / "amask.nii.gz",
                          d / "seeds.nii.gz", d / "seeds.tsv", PARAMS, ["A", "B"], outs, tmp_path / "info.json")
    assert info["path"] == path, info["path_reason"]
    if path == "nilearn":
        assert "oblique" in info["path_reason"]
    ref, amask = _reference(d, seeds, conf, PARAMS)
    # mask voxels out of the field of view and the smoothing's reach: a constant series (np.corrcoef: NaN), which
    # the workflow maps to z = 0 and counts
    const = np.isnan(ref).any(axis=0)
    assert const.sum() > 0 and info["n_constant_voxels"] == const.sum()
    m = np.asarray(amask.dataobj) > 0
    ours = np.stack([np.asarray(nib.load(o).dataobj)[m] for o in outs])
    np.testing.assert_allclose(ours, np.nan_to_num(ref, nan=0.0), atol=1e-5)


def test_clean_equals_nilearn_signal_clean():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((120, 300)).cumsum(axis=0)
    C = rng.standard_normal((120, 8))
    ours = clean_signals(X, C, 2.0, 0.01, 0.08)
    ref = signal.clean(X.copy(), confounds=C, detrend=True, standardize=None, low_pass=0.08, high_pass=0.01,
                       t_r=2.0)
    np.testing.assert_allclose(ours, ref, atol=1e-10)
    # and the module function is restored
    assert not hasattr(signal.butterworth, "func")


def test_seed_to_voxel_r_equals_corrcoef_and_handles_constant_voxels():
    rng = np.random.default_rng(2)
    Y = rng.standard_normal((50, 40))
    Y[:, 7] = 3.0  # constant voxel
    r, n_const = seed_to_voxel_r(Y, [np.array([0, 1, 2]), np.array([10])])
    assert n_const == 1
    for k, cols in enumerate([[0, 1, 2], [10]]):
        s = Y[:, cols].mean(axis=1)
        for v in range(40):
            expected = 0.0 if v == 7 else np.corrcoef(s, Y[:, v])[0, 1]
            assert abs(r[k, v] - expected) < 1e-12
    assert np.isfinite(fisher_z(np.array([1.0, -1.0]))).all()
    _, const = standardise_columns(np.ones((5, 2)))
    assert const.all()


def test_zero_variance_seed_is_an_error():
    Y = np.random.default_rng(3).standard_normal((30, 5))
    Y[:, 0] = 0
    with pytest.raises(InputError, match="zero-variance"):
        seed_to_voxel_r(Y, [np.array([0])], source="bold.nii.gz")


def test_censor_mask_removes_neighbours():
    fd = np.zeros(10)
    fd[4] = 1.0
    keep = censor_mask(fd, 0.5, before=1, after=2)
    assert keep.tolist() == [True, True, True, False, False, False, False, True, True, True]


def test_presets_have_expected_sizes():
    conf = _confounds(np.random.default_rng(4), 60)
    assert confound_matrix(conf, "dpabi").shape[1] == 26       # Friston-24 + WM + CSF
    assert confound_matrix(conf, "36p").shape[1] == 36
    assert confound_matrix(conf, "acompcor").shape[1] == 17
    assert confound_matrix(conf, "none") is None
    assert not np.isnan(confound_matrix(conf, "dpabi")).any()
    with pytest.raises(InputError, match="global_signal"):
        confound_matrix(conf.drop(columns=["global_signal"]), "36p", "x_confounds.tsv")


def test_dpabi_ideal_preset_same_on_both_paths(scan):
    """Preset dpabi_ideal (regression, then DPABI's ideal band-pass) on the separable path equals the nilearn-image
    path (resample_img + smooth_img, then the same temporal matrix) series for series; and differs clearly from
    the dpabi preset (another order and filter)."""
    from fcect.preprocess.denoise import denoise_scan
    d, _, _ = scan
    amask = nib.load(d / "amask.nii.gz")
    m = np.asarray(amask.dataobj) > 0
    args = (d / "bold.nii.gz", d / "conf.tsv", d / "bold.json", m, amask.affine)
    params = dict(PARAMS, preset="dpabi_ideal")
    fast, info = denoise_scan(*args, params)
    slow, info_slow = denoise_scan(*args, params, path="nilearn")
    assert (info["path"], info_slow["path"]) == ("separable", "nilearn")
    np.testing.assert_allclose(fast, slow, atol=1e-8 * np.abs(slow).max())
    other, _ = denoise_scan(*args, PARAMS)
    assert np.abs(other - fast).max() > 0.05 * np.abs(fast).max()
