"""Benchmark: the per-scan denoise + seed FC job, as a user's run pays it, against reading the BOLD file.

Run:  python bench/bench_denoise_fc.py [--repeats 3] [--reference]

Two scans are written to a temporary folder:
  default   the simulated cohort's scan (fcect.simulate.scan.write_scan): 4 mm grid 40 x 50 x 38, 200 volumes,
            int16, zero outside the brain
  external  an fMRIPrep-like scan: the same series on fMRIPrep's 4 mm MNI grid (49 x 58 x 47, origin -96, -132,
            -78: off the analysis lattice), float32, noisy background everywhere outside the brain
For each, best of ``--repeats``:
  read      load the BOLD file into memory in this (warm) process: np.asarray(img.dataobj, float32) (the I/O floor:
            decompression + scaling)
  job       a fresh Python process that does what Snakemake's ``script:`` does (unpickle a Snakemake object, import
            snakemake.logging, OPENBLAS/OMP threads = the rule's 1 thread) and runs scripts/denoise_fc.py: start-up,
            imports, denoising, FC of the 7 seeds, 7 maps and the info JSON written
  start-up  the same process, stopped after the imports (interpreter + Snakemake preamble + fcect/numpy/nibabel)
  compute   fcect.preprocess.run.denoise_and_fc in this process (warm imports)
The ratios job / read and each piece / read are printed. ``--reference`` also runs today's nilearn path on the
same scan in this process (denoise_scan(path='nilearn'): resample_img + smooth_img + signal.clean, then the same
FC) and prints its time and the largest Fisher-z difference between the two paths' maps.
"""

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):  # as Snakemake sets them for threads: 1
    os.environ[_var] = "1"

import numpy as np  # noqa: E402  (after the thread settings)

REPO = Path(__file__).resolve().parents[1]


def write_default(tmp, cfg):
    import nibabel as nib

    from fcect.core.io import save_nifti, save_tsv
    from fcect.core.paths import fmriprep_paths
    from fcect.preprocess.masks import make_masks, seed_masks
    from fcect.preprocess.seeds import read_seeds
    from fcect.simulate.cohort import cohort_table
    from fcect.simulate.params import SimParams
    from fcect.simulate.scan import write_scan

    p = SimParams(voxel_mm=4.0, n_volumes=200)
    part, coup = cohort_table(p)
    seeds = read_seeds(REPO / "config/seeds.tsv")
    pid = part.participant_id[0]
    paths = fmriprep_paths(tmp / "default", pid[4:], "pre")
    write_scan(p, pid[4:], "pre", coup[(coup.participant_id == pid) & (coup.session == "pre")], False, seeds,
               paths, tmp / "truth.json")
    affine, amask, cereb = make_masks(cfg["analysis"]["voxel_mm"])
    sm = seed_masks(seeds, affine, amask.shape, cereb)
    save_nifti(nib.Nifti1Image(amask.astype(np.uint8), affine), tmp / "amask.nii.gz")
    save_nifti(nib.Nifti1Image(sm.astype(np.uint8), affine), tmp / "seeds.nii.gz")
    save_tsv(seeds, tmp / "seeds.tsv")
    return {k: str(v) for k, v in paths.items()}, list(seeds.seed_id)


def write_external(tmp, default):
    """The default scan's series on fMRIPrep's 4 mm MNI grid, float32, with a noisy background (as an unmasked
    fMRIPrep output in MNI space)."""
    import shutil

    import nibabel as nib
    from nilearn import image

    src = nib.load(default["bold"])
    aff = np.diag([4.0, 4.0, 4.0, 1.0])
    aff[:3, 3] = [-96.0, -132.0, -78.0]
    shape = (49, 58, 47)
    data = np.asarray(src.dataobj, dtype=np.float32)
    res = image.resample_img(nib.Nifti1Image(data, src.affine), target_affine=aff, target_shape=shape,
                             interpolation="linear", force_resample=True, copy_header=True).get_fdata(dtype=np.float32)
    rng = np.random.default_rng(0)
    background = res.mean(axis=-1) < 20
    res[background] = 30 + 10 * rng.standard_normal((int(background.sum()), res.shape[-1])).astype(np.float32)
    img = nib.Nifti1Image(res, aff)
    img.header.set_xyzt_units("mm", "sec")
    img.header["pixdim"][4] = src.header["pixdim"][4]
    out = {k: v.replace(str(tmp / "default"), str(tmp / "external")) for k, v in default.items()}
    Path(out["bold"]).parent.mkdir(parents=True, exist_ok=True)
    nib.save(img, out["bold"])
    for k in ("bold_json", "confounds"):
        shutil.copy(default[k], out[k])
    return out


JOB = """
import sys, time, pickle
t0 = time.perf_counter()
sys.path.extend({paths!r})
snakemake = pickle.loads({blob!r})
from snakemake.logging import logger
from snakemake.iocontainers import Snakemake
__file__ = {script!r}
{body}
"""


def snakemake_blob(files, tmp, scan, params, ids):
    """A pickled Snakemake object as the denoise_fc rule hands it to its script."""
    from snakemake.iocontainers import InputFiles, Log, OutputFiles, Params, ResourceList, Wildcards

    inp = InputFiles(fromdict=dict(bold=files["bold"], confounds=files["confounds"], bold_json=files["bold_json"],
                                   analysis_mask=str(tmp / "amask.nii.gz"), seeds=str(tmp / "seeds.nii.gz"),
                                   seeds_tsv=str(tmp / "seeds.tsv")))
    maps = [str(tmp / f"out_{scan}_{s}.nii.gz") for s in ids]
    out = OutputFiles(maps + [str(tmp / f"out_{scan}_info.json")])
    out._set_name("maps", 0, len(maps))
    out._set_name("info", len(maps))
    from snakemake.iocontainers import Snakemake
    sm = Snakemake(inp, out, Params(fromdict=dict(denoise=params, seed_ids=ids, runs=None)), Wildcards(), 1,
                   ResourceList(), Log([str(tmp / f"log_{scan}.txt")]), {}, "denoise_fc", None)
    return pickle.dumps(sm, protocol=4)


def run_job(blob, body, env):
    code = JOB.format(paths=[str(REPO / "scripts")], blob=blob, script=str(REPO / "scripts/denoise_fc.py"),
                      body=body)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env, cwd=str(REPO))
    return time.perf_counter() - t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--reference", action="store_true", help="also time today's nilearn path and compare maps")
    a = ap.parse_args()

    import warnings

    import nibabel as nib
    import yaml

    from fcect.preprocess.run import denoise_and_fc

    warnings.filterwarnings("ignore")
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    params = cfg["denoise"]
    tmp = Path(tempfile.mkdtemp())
    default, ids = write_default(tmp, cfg)
    scans = {"default": default, "external": write_external(tmp, default)}
    env = dict(os.environ, PYTHONPATH=str(REPO / "scripts"), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               MKL_NUM_THREADS="1")
    script = (REPO / "scripts/denoise_fc.py").read_text()
    rows = []
    for scan, files in scans.items():
        blob = snakemake_blob(files, tmp, scan, params, ids)
        outs = [tmp / f"warm_{scan}_{s}.nii.gz" for s in ids]

        def read():
            return np.asarray(nib.load(files["bold"]).dataobj, dtype=np.float32).sum()

        def compute():
            return denoise_and_fc(files["bold"], files["confounds"], files["bold_json"], tmp / "amask.nii.gz",
                                  tmp / "seeds.nii.gz", tmp / "seeds.tsv", params, ids, outs, tmp / "warm_info.json")

        t = dict(read=[], job=[], startup=[], compute=[])
        for _ in range(a.repeats):  # interleaved, so that a change of the machine's load hits all alike
            t["read"].append(timed(read))
            t["job"].append(run_job(blob, script, env))
            t["startup"].append(run_job(blob, "import fcect.core.io, fcect.preprocess.run", env))
            t["compute"].append(timed(compute))
        info = json.loads((tmp / f"out_{scan}_info.json").read_text())
        best = {k: min(v) for k, v in t.items()}
        shape = nib.load(files["bold"]).shape
        print(f"\n{scan}: {shape}, {os.path.getsize(files['bold']) / 1e6:.1f} MB, path {info['path']} "
              f"({info['path_reason']})")
        for k in ("read", "job", "startup", "compute"):
            print(f"  {k:9s} {best[k]:6.2f} s  {best[k] / best['read']:5.2f} x read   (all: "
                  f"{', '.join(f'{v:.2f}' for v in t[k])})")
        row = dict(scan=scan, read=best["read"], job=best["job"], ratio=best["job"] / best["read"])
        if a.reference:
            from fcect.preprocess.denoise import denoise_scan
            from fcect.preprocess.fc import fisher_z, seed_to_voxel_r

            amask = np.asarray(nib.load(tmp / "amask.nii.gz").dataobj) > 0
            smask = np.asarray(nib.load(tmp / "seeds.nii.gz").dataobj) > 0
            union = amask | smask.any(axis=-1)
            tr0 = time.perf_counter()
            Y, _ = denoise_scan(files["bold"], files["confounds"], files["bold_json"], union,
                                nib.load(tmp / "amask.nii.gz").affine, params, path="nilearn")
            col = np.full(amask.shape, -1)
            col[union] = np.arange(union.sum())
            r, _ = seed_to_voxel_r(Y, [col[smask[..., k]] for k in range(len(ids))], col[amask])
            t_ref = time.perf_counter() - tr0
            ours = np.stack([np.asarray(nib.load(tmp / f"out_{scan}_{s}.nii.gz").dataobj)[amask] for s in ids])
            dz = float(np.abs(ours - fisher_z(r)).max())
            print(f"  nilearn path (today's, in-process) {t_ref:6.2f} s = {t_ref / best['compute']:.1f} x the "
                  f"separable path's compute; max |z difference| over the 7 maps {dz:.2e}")
            row.update(reference=t_ref, max_dz=dz)
        rows.append(row)
    print("\nsummary:", json.dumps(rows))


def timed(f):
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


if __name__ == "__main__":
    main()
