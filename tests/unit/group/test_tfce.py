"""TFCE (fcect.group.tfce): the compiled kernels and the dense map against a textbook loop, the three step
definitions (group.tfce_steps), and their use in the permutation engine."""
import itertools

import numpy as np
import pytest
import yaml
from scipy import ndimage

from fcect.group import permutation, tfce

E, H = 0.5, 2.0


def textbook_tfce(t3, connectivity, steps="per_map_dh", dh_obs=None, top_obs=None):
    """Smith & Nichols (2009) eq. 1 as a Riemann sum, written out: for each tail and each threshold h, label
    {sign * t >= h} with scipy.ndimage.label and add extent^E * h^H * dh to every voxel of every cluster.

    Thresholds: per_map_dh / nilearn: h_k = k * max|t| / 100, k = 1..100 (h_100 = max|t|); observed_thresholds:
    h_k = k * dh_obs (h_100 = top_obs), as far as the map goes. nilearn: the sum is not multiplied by dh."""
    st = ndimage.generate_binary_structure(3, {6: 1, 18: 2, 26: 3}[connectivity])
    M = float(np.abs(t3).max())
    out = np.zeros(t3.shape)
    if M == 0:
        return out
    if steps == "observed_thresholds":
        dh = dh_obs
        hs = [top_obs if k == 100 else k * dh for k in range(1, int(M / dh) + 3)]
    else:
        dh = M / 100
        hs = [M if k == 100 else k * dh for k in range(1, 101)]
    step = 1.0 if steps == "nilearn" else dh
    for sign in (1, -1):
        for h in hs:
            if h > M:
                continue
            lab, n = ndimage.label(sign * t3 >= h, st)
            for c in range(1, n + 1):
                sel = lab == c
                out[sel] += sign * sel.sum() ** E * h ** H * step
    return out


def _maps(seed, shape=(8, 9, 7), n=6):
    """Random smooth maps on a mask with holes: both signs, one tail only, negative only, ties, an empty map."""
    rng = np.random.default_rng(seed)
    mask = rng.random(shape) > 0.15
    T = ndimage.gaussian_filter(rng.standard_normal((n,) + shape), (0, 1, 1, 1))[:, mask] * 4
    T[1] = np.round(T[1], 1)          # ties at threshold values
    T[2] = np.abs(T[2])               # positive tail only
    T[3] = -np.abs(T[3]) * 1.7        # negative tail only, a larger maximum
    T[4, : T.shape[1] // 2] = 0.0
    T[5] = 0.0                        # empty map
    return mask, T


def _unmask(v, mask):
    m3 = np.zeros(mask.shape)
    m3[mask] = v
    return m3


@pytest.mark.parametrize("connectivity", [6, 18, 26])
@pytest.mark.parametrize("steps", tfce.TFCE_STEPS)
def test_tfce_kernel_and_dense_map_equal_textbook(steps, connectivity):
    mask, T = _maps(5 + connectivity)
    grid = tfce.Grid(mask, connectivity)
    obs = float(np.abs(T[0]).max())     # observed_thresholds: row 0 is the observed map
    kw = {"observed_max": obs} if steps == "observed_thresholds" else {}
    mx, vox = tfce.tfce_batch(T, grid, steps=steps, voxelwise=True, **kw)
    np.testing.assert_array_equal(mx, tfce.tfce_batch(T, grid, steps=steps, **kw))
    for b in range(T.shape[0]):
        t3 = _unmask(T[b], mask)
        ref = textbook_tfce(t3, connectivity, steps, dh_obs=obs / 100, top_obs=obs)
        dense = tfce.tfce_map(t3, connectivity, steps=steps, dh=obs / 100 if kw else None, top=obs)
        scale = max(np.abs(ref).max(), 1e-300)
        np.testing.assert_allclose(vox[b], ref[mask], rtol=0, atol=1e-12 * scale)
        np.testing.assert_allclose(dense, ref, rtol=0, atol=1e-12 * scale)
        assert mx[b] == pytest.approx(np.abs(ref).max(), rel=1e-12, abs=1e-300)
        assert np.all(vox[b] * T[b] >= 0)                    # each tail keeps its sign
    assert mx[5] == 0 and not vox[5].any()
    # the observed map itself: observed_thresholds = per_map_dh
    if steps == "observed_thresholds":
        np.testing.assert_array_equal(vox[0], tfce.tfce_batch(T[:1], grid, voxelwise=True)[1][0])


def test_tfce_float32_maps_equal_their_float64_values():
    mask, T = _maps(3)
    grid = tfce.Grid(mask, 26)
    T32 = T.astype(np.float32)
    for steps in tfce.TFCE_STEPS:
        np.testing.assert_array_equal(tfce.tfce_batch(T32, grid, steps=steps),
                                      tfce.tfce_batch(T32.astype(np.float64), grid, steps=steps))


def test_tfce_scale_of_each_definition():
    """per_map_dh and observed_thresholds approximate the integral: TFCE(c t) = c^(H + 1) TFCE(t) (the steps scale
    with the map); nilearn's sum without dh gives c^H; observed_thresholds on a permuted map uses the observed
    steps, so a map with twice the observed maximum gets 200 steps."""
    mask, T = _maps(7)
    grid = tfce.Grid(mask, 26)
    c = 2.5
    for steps, power in (("per_map_dh", H + 1), ("nilearn", H)):
        np.testing.assert_allclose(tfce.tfce_batch(c * T, grid, steps=steps),
                                   c ** power * tfce.tfce_batch(T, grid, steps=steps), rtol=1e-12)
    t0 = T[0]
    obs = float(np.abs(t0).max())
    a = tfce.tfce_batch((2 * t0)[None], grid, steps="observed_thresholds", observed_max=obs)
    b = tfce.tfce_batch((2 * t0)[None], grid, steps="per_map_dh")
    # 200 steps of obs/100 instead of 100 steps of 2 obs/100: the same integral, a finer Riemann sum
    assert a[0] != b[0] and a[0] == pytest.approx(b[0], rel=0.05)
    ref = textbook_tfce(_unmask(2 * t0, mask), 26, "observed_thresholds", dh_obs=obs / 100, top_obs=obs)
    assert a[0] == pytest.approx(np.abs(ref).max(), rel=1e-12)


def test_tfce_nilearn_steps_put_observed_and_null_maps_on_different_scales():
    """Why per_map_dh is the default: with nilearn's steps a map's TFCE grows as 1 / dh, so halving a map's
    maximum (same shape) divides its TFCE by 2^H only, not by 2^(H + 1): a strong observed map is penalised
    against weaker permuted maps."""
    mask, T = _maps(8)
    grid = tfce.Grid(mask, 26)
    r_nl = tfce.tfce_batch(T[:1], grid, steps="nilearn")[0] / tfce.tfce_batch(T[:1] / 2, grid, steps="nilearn")[0]
    r_pm = tfce.tfce_batch(T[:1], grid)[0] / tfce.tfce_batch(T[:1] / 2, grid)[0]
    assert r_nl == pytest.approx(2 ** H, rel=1e-12) and r_pm == pytest.approx(2 ** (H + 1), rel=1e-12)


@pytest.mark.parametrize("steps", tfce.TFCE_STEPS)
def test_engine_tfce_null_equals_textbook_on_every_sign_flip(steps):
    """All 2^5 sign flips: the observed TFCE map, every null maximum and the FWE p against the textbook loop."""
    rng = np.random.default_rng(31)
    n, shape = 5, (5, 5, 4)
    mask = np.ones(shape, bool)
    mask[0, 0, :] = False
    D = ndimage.gaussian_filter(rng.standard_normal((n,) + shape), (0, 1, 1, 1))[:, mask] + 0.4
    r = permutation.permutation_inference(D, np.ones(n), None, mask=mask, methods=("maxt", "tfce"), n_perm=5000,
                                          dtype=np.float64, tfce_steps=steps)
    assert r.exact and r.n_perm == 2 ** n - 1
    obs = float(np.abs(r.t).max())
    ref_obs = textbook_tfce(_unmask(r.t, mask), 26, steps, dh_obs=obs / 100, top_obs=obs)[mask]
    np.testing.assert_allclose(r.tfce, ref_obs, rtol=1e-10, atol=1e-12)
    null = []
    for signs in list(itertools.product([1, -1], repeat=n))[1:]:
        d = D * np.array(signs)[:, None]
        t = d.mean(0) / (d.std(0, ddof=1) / np.sqrt(n))
        null.append(np.abs(textbook_tfce(_unmask(t, mask), 26, steps, dh_obs=obs / 100, top_obs=obs)).max())
    null = np.sort(null)
    np.testing.assert_allclose(np.sort(r.null["tfce"]), null, rtol=1e-9)
    p_ref = np.array([(1 + np.sum(null >= abs(v) * (1 - 1e-6))) / (1 + null.size) for v in ref_obs])
    np.testing.assert_allclose(r.p_fwe["tfce"], p_ref, atol=1e-12)


def test_engine_rejects_unknown_steps_and_schema_lists_them():
    from conftest import REPO

    with pytest.raises(ValueError, match="tfce_steps"):
        permutation.permutation_inference(np.ones((4, 3)), np.ones(4), mask=np.ones((3, 1, 1), bool),
                                          methods=("tfce",), tfce_steps="fsl")
    props = yaml.safe_load((REPO / "config/schema/config.schema.yaml").read_text())["properties"]
    tf = props["group"]["properties"]["tfce_steps"]
    assert tf["enum"] == list(tfce.TFCE_STEPS) and tf["default"] == "per_map_dh"
    assert "`tfce_steps`" in (REPO / "config/README.md").read_text()
