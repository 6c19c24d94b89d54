"""Raw preprocessing per scan (fcect.raw.pipeline.preprocess_run) against one stated reference: ANTs registration
of the same T1w to the same template with fMRIPrep-like parameters (antsRegistration as in fMRIPrep's
``t1w-mni_registration_precise``: rigid + affine (Mattes, 1000x500x250x100 per level) then SyN with cross-correlation
(100x70x50x20, shrink 8x4x2x1), i.e. ``ants.registration(type_of_transform="antsRegistrationSyN[s]")``-like),
each in its own forked process: wall time, CPU time and peak RSS growth.

Runs in the antspyx environment:

    PYTHONPATH=scripts nice .venv-ants/bin/python bench/bench_preproc.py --voxel 4 --volumes 60 --template-mm 2
"""
import argparse
import json
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))


def _measure(fn, q):
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    t0 = time.time()
    out = fn()
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    q.put(dict(wall_s=time.time() - t0, cpu_s=(r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime),
               peak_rss_mib=r1.ru_maxrss / 1024, out=out))


def run(fn):
    q = mp.get_context("fork").Queue()
    p = mp.get_context("fork").Process(target=_measure, args=(fn, q))
    p.start()
    res = q.get()
    p.join()
    return res


def make_scan(d, voxel, volumes):
    """One simulated raw scan (native space) and its T1w, written with the main environment's simulator when
    available; else reuse files given in FCECT_BENCH_SCAN (bold.nii.gz, bold.json, t1w.nii.gz)."""
    src = os.environ.get("FCECT_BENCH_SCAN")
    if src:
        return Path(src) / "bold.nii.gz", Path(src) / "bold.json", Path(src) / "t1w.nii.gz"
    raise SystemExit("set FCECT_BENCH_SCAN to a folder with bold.nii.gz, bold.json and t1w.nii.gz (e.g. written "
                     "by fcect.simulate.raw in the main environment: see tests/unit/raw/test_pipeline_ants.py)")


def main():
    a = argparse.ArgumentParser()
    a.add_argument("--voxel", type=float, default=4.0)
    a.add_argument("--volumes", type=int, default=60)
    a.add_argument("--template-mm", type=float, default=2.0)
    x = a.parse_args()
    os.environ.setdefault("ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS", "1")
    d = Path(tempfile.mkdtemp(prefix="bench-preproc-"))
    bold, side, t1w = make_scan(d, x.voxel, x.volumes)

    def ours():
        from fcect.raw.pipeline import preprocess_run
        out = {k: str(d / f"o_{k}{e}") for k, e in dict(bold=".nii.gz", bold_json=".json", mask="_m.nii.gz",
                                                        confounds=".tsv", qc_json="_qc.json").items()}
        qc, _ = preprocess_run(bold, side, t1w, out, dict(drop_volumes=4, voxel_mm=3.0,
                                                          template_mm=x.template_mm))
        return qc["dice_brain"]

    def reference():
        import ants
        import nibabel as nib
        from fcect.raw import register as R
        tmpl, _ = R.template(x.template_mm)
        r = ants.registration(fixed=R.to_ants(tmpl), moving=R.to_ants(nib.load(str(t1w))), type_of_transform="SyN",
                              aff_metric="mattes", aff_iterations=(1000, 500, 250, 100),
                              aff_shrink_factors=(8, 4, 2, 1), aff_smoothing_sigmas=(3, 2, 1, 0),
                              syn_metric="CC", syn_sampling=4, reg_iterations=(100, 70, 50, 20))
        return len(r["fwdtransforms"])

    res = {"fcect preprocess_run (whole scan)": run(ours), "reference ants T1w->MNI only (fMRIPrep-like)": run(reference)}
    for k, v in res.items():
        print(f"{k}: wall {v['wall_s']:.1f} s, CPU {v['cpu_s']:.1f} s, peak RSS {v['peak_rss_mib']:.0f} MiB")
    a_, b_ = res.values()
    print(f"ratio reference / ours (wall): {b_['wall_s'] / a_['wall_s']:.2f}")
    print(json.dumps({k: {kk: vv for kk, vv in v.items()} for k, v in res.items()}, default=str))


if __name__ == "__main__":
    main()
