"""fcect.raw.resample (the raw stage's per-volume resampling in numpy) against independent references: a slow
textbook trilinear interpolation with ITK's border rule, on random data and random rigid matrices, and
``ants.apply_transforms(interpolator="linear")`` itself (in the antspyx environment) through a displacement field
and per-volume rigid transforms, as ``preprocess_run`` used it before."""
import json
import subprocess
import textwrap

import numpy as np
import pytest

from fcect.core.motion import rigid_matrix
from fcect.raw import resample as S

from test_pipeline_ants import ANTS, ROOT, needs_ants


def slow_trilinear(vol, v):
    """Textbook trilinear interpolation, one point at a time: the eight neighbours clamped to the image, 0 for
    points more than half a voxel outside it (ITK's LinearInterpolateImageFunction + ResampleImageFilter)."""
    n = vol.shape
    out = np.zeros(len(v))
    for p, x in enumerate(v):
        if any(x[d] < -0.5 or x[d] > n[d] - 0.5 for d in range(3)):
            continue
        b = np.floor(x).astype(int)
        f = x - b
        s = 0.0
        for dx in (0, 1):
            for dy in (0, 1):
                for dz in (0, 1):
                    w = (f[0] if dx else 1 - f[0]) * (f[1] if dy else 1 - f[1]) * (f[2] if dz else 1 - f[2])
                    i = [min(max(b[d] + o, 0), n[d] - 1) for d, o in enumerate((dx, dy, dz))]
                    s += w * vol[i[0], i[1], i[2]]
        out[p] = s
    return out


def test_sample_series_matches_textbook_trilinear():
    rng = np.random.default_rng(0)
    shape = (9, 11, 8)
    aff = np.array([[3.0, 0.2, 0, -12], [0, 2.5, 0.1, -14], [0.1, 0, 3.2, -11], [0, 0, 0, 1]])
    data = rng.standard_normal(shape + (4,)).astype(np.float32)
    pts = rng.uniform(-20, 20, size=(300, 3))  # many beyond the edge and in its half-voxel border
    mats = [rigid_matrix(np.r_[rng.normal(0, 2, 3), rng.normal(0, 0.05, 3)]) for _ in range(4)]
    out = S.sample_series(data, aff, pts, mats, (300,))
    assert out.shape == (300, 4)
    Ai = np.linalg.inv(aff)
    for t in range(4):
        A = Ai @ mats[t]
        ref = slow_trilinear(data[..., t], pts @ A[:3, :3].T + A[:3, 3])
        np.testing.assert_allclose(out[:, t], ref, atol=1e-5)
        assert 20 < (ref == 0).sum() < 280  # both inside and outside points were exercised
    # identity on the image's own grid gives the data back; a subset of volumes keeps their order
    pts = S.grid_points(aff, shape)
    same = S.sample_series(data, aff, pts, [np.eye(4)] * 4, shape, volumes=[3, 1])
    np.testing.assert_allclose(same, data[..., [3, 1]], atol=1e-5)


@needs_ants
def test_sample_series_matches_ants_apply_transforms(tmp_path):
    """The composed MNI -> EPI displacement field and per-volume rigid matrices, sampled by numpy and by ANTs."""
    code = textwrap.dedent("""
        import json, os, sys
        import numpy as np, nibabel as nib, ants
        from fcect.core.motion import rigid_matrix
        from fcect.raw import register as R, motion as M, resample as S
        d = sys.argv[1]
        rng = np.random.default_rng(1)
        aff = np.diag([4.0, 4.0, 4.0, 1.0]); aff[:3, 3] = [-70, -100, -60]
        data = rng.standard_normal((36, 44, 34, 5)).astype(np.float32)
        data += np.linspace(0, 3, 36)[:, None, None, None]
        mats = [rigid_matrix(np.r_[rng.normal(0, 1.5, 3), rng.normal(0, 0.03, 3)]) for _ in range(5)]
        ref = R.to_ants(nib.Nifti1Image(data[..., 0], aff))
        # a smooth nonlinear field: an affine + a sinusoidal warp, written as an ANTs displacement field on the grid
        g = R.grid_image(6.0)
        pts = S.grid_points(g.affine, g.shape)
        disp = np.stack([2 * np.sin(pts[:, 1] / 15), 1.5 * np.cos(pts[:, 2] / 20), np.sin(pts[:, 0] / 10)], 1)
        field = ants.from_numpy((disp * S.LPS).reshape(g.shape + (3,)).astype(np.float32),
                                origin=R.to_ants(g).origin, spacing=R.to_ants(g).spacing,
                                direction=R.to_ants(g).direction, has_components=True)
        fpath = os.path.join(d, "field.nii.gz"); ants.image_write(field, fpath)
        grid = R.to_ants(g)
        a = np.stack([R.apply(grid, R.to_ants(nib.Nifti1Image(data[..., t], aff)),
                              [fpath, M.ras_to_ants_file(mats[t], os.path.join(d, f"m{t}.mat"))]).numpy()
                      for t in range(5)], -1)
        b = S.sample_series(data, aff, S.field_points(fpath, g.affine, g.shape), mats, g.shape)
        inside = (a != 0).mean()
        print(json.dumps(dict(maxdiff=float(np.abs(a - b).max()), rng=float(np.ptp(a)), inside=float(inside),
                              zeros_agree=bool(((a == 0) == (b == 0)).mean() > 0.999))))
    """)
    env = {"PYTHONPATH": str(ROOT / "scripts"), "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1", "PATH": "/usr/bin:/bin"}
    r = subprocess.run([ANTS, "-c", code, str(tmp_path)], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr[-3000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert 0.2 < res["inside"] < 0.95, res  # the field of view covers part of the grid: both cases exercised
    assert res["maxdiff"] < 1e-4 * res["rng"], res
    assert res["zeros_agree"], res
