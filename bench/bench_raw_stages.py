"""The raw stage's two per-volume loops, each against the implementation it replaced, in the same process on the
same default-geometry scan (ratios; wall and CPU per side):

1. resampling every volume onto the analysis grid through the composed MNI -> T1w -> EPI displacement field and
   its rigid motion matrix: ``fcect.raw.resample.sample_series`` (numpy, one ``map_coordinates`` per volume)
   against one ``ants.apply_transforms`` call per volume (the previous code; the maximum difference between the
   two is printed, relative to the data range);
2. rigid motion correction: ``fcect.raw.motion.motion_correct`` (reference prepared once, each volume started
   from the previous one, the smoothed level subsampled) against registering each volume on its own from zero
   with every voxel at both levels (``rigid_register(..., stride=1)``, the previous scheme), both with linear
   interpolation (the largest difference of the parameters is printed); and the default cubic-spline
   interpolation of the full-resolution level against linear (cost ratio; when the folder holds the simulator's
   ``raw_truth.json``, each one's error against the planted motion).

Runs in the antspyx environment, on a scan written as bench_preproc.py says:

    FCECT_BENCH_SCAN=<folder> PYTHONPATH=scripts .venv-ants/bin/python bench/bench_raw_stages.py
"""
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
os.environ.setdefault("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "1")


def timed(fn):
    c0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.time()
    out = fn()
    c1 = resource.getrusage(resource.RUSAGE_SELF)
    return out, dict(wall_s=time.time() - t0, cpu_s=c1.ru_utime - c0.ru_utime + c1.ru_stime - c0.ru_stime)


def main():
    import ants
    import nibabel as nib

    from fcect.raw import motion as M
    from fcect.raw import register as R
    from fcect.raw import resample as S

    src = os.environ.get("FCECT_BENCH_SCAN")
    if not src:
        raise SystemExit("set FCECT_BENCH_SCAN to a folder with bold.nii.gz and t1w.nii.gz (bench_preproc.py)")
    img = nib.load(str(Path(src) / "bold.nii.gz"))
    aff, data = img.affine, np.asarray(img.dataobj, np.float32)
    drop = 10
    ref = data[..., drop:].mean(axis=3)
    res = {}
    (mats, p_spl), res["motion: fcect, spline (default)"] = timed(lambda: M.motion_correct(data, aff, ref=ref))
    (_, p_new), res["motion: fcect, linear"] = timed(
        lambda: M.motion_correct(data, aff, ref=ref, interpolation="linear"))

    def previous_moco():
        mats = [M.rigid_register(ref, data[..., t], aff, stride=1, interpolation="linear")
                for t in range(data.shape[3])]
        inv0 = np.linalg.inv(mats[0])
        return np.array([M.matrix_to_params(m @ inv0) for m in mats])

    p_old, res["motion: each volume alone, every voxel (previous)"] = timed(previous_moco)
    # the chain of the workflow: T1w -> MNI (affine + short SyN, coarse template) and mean EPI -> T1w
    refa = R.to_ants(nib.Nifti1Image(ref, aff))
    t1 = R.to_ants(nib.load(str(Path(src) / "t1w.nii.gz")))
    tm, tk = R.template(4.0)
    chain = list(R.t1_to_mni(t1, R.to_ants(tm), R.to_ants(tk), (20, 10, 0), (100, 50), seed=1))
    chain += list(R.epi_to_t1(refa, t1, "rigid", iterations=(100, 50), seed=1))
    g = R.grid_image(3.0)
    grid = R.to_ants(g)
    tmp = tempfile.mkdtemp()
    comp = ants.apply_transforms(fixed=grid, moving=refa, transformlist=chain, compose=os.path.join(tmp, "c_"))
    new, res["resampling: fcect.raw.resample (numpy)"] = timed(
        lambda: S.sample_series(data, aff, S.field_points(comp, g.affine, g.shape), mats, g.shape))

    def previous_resampling():
        moco = [M.ras_to_ants_file(m, os.path.join(tmp, f"m{t:04d}.mat")) for t, m in enumerate(mats)]
        return np.stack([R.apply(grid, R.to_ants(nib.Nifti1Image(data[..., t], aff)), [comp, moco[t]]).numpy()
                         for t in range(data.shape[3])], axis=-1)

    old, res["resampling: ants.apply_transforms per volume (previous)"] = timed(previous_resampling)
    for k, v in res.items():
        print(f"{k}: wall {v['wall_s']:.1f} s, CPU {v['cpu_s']:.1f} s")
    keys = list(res)
    print(f"motion correction (linear): previous / fcect CPU {res[keys[2]]['cpu_s'] / res[keys[1]]['cpu_s']:.2f}; "
          f"max parameter difference {np.abs(p_new[:, :3] - p_old[:, :3]).max():.4f} mm, "
          f"{np.degrees(np.abs(p_new[:, 3:] - p_old[:, 3:]).max()):.4f} deg")
    print(f"motion correction: spline / linear CPU {res[keys[0]]['cpu_s'] / res[keys[1]]['cpu_s']:.2f}")
    truth = Path(src) / "raw_truth.json"
    if truth.exists():
        from scipy.interpolate import CubicSpline

        m = np.asarray(json.loads(truth.read_text())["motion"], float)
        # the scan's slices were sampled from t to t + TR (no slice-timing correction here): on average the volume
        # shows the head at t + 0.5 TR, where the planted motion is interpolated (the last volume left out)
        mid = CubicSpline(np.arange(len(m)), m, axis=0, bc_type="natural")(np.arange(len(m)) + 0.5)[:-1]
        mid -= mid[0]
        print(f"planted motion: max {np.abs(m[:, :3]).max():.2f} mm, {np.degrees(np.abs(m[:, 3:]).max()):.2f} deg")
        for name, est in (("spline", p_spl), ("linear", p_new)):
            e = est[:-1] - mid
            slope = np.polyfit(mid[:, :3].ravel(), est[:-1, :3].ravel(), 1)[0]
            print(f"motion error at mid-TR, {name}: max {np.abs(e[:, :3]).max():.3f} mm, "
                  f"{np.degrees(np.abs(e[:, 3:]).max()):.3f} deg; estimated / planted translation slope {slope:.3f}")
    print(f"resampling: previous / fcect CPU {res[keys[4]]['cpu_s'] / res[keys[3]]['cpu_s']:.2f}; "
          f"max difference {np.abs(new - old).max() / np.ptp(old):.2g} of the range")
    print(json.dumps(dict(volumes=int(data.shape[3]), shape=list(data.shape[:3]), **res)))


if __name__ == "__main__":
    main()
