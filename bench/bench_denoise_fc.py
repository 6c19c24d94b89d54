"""Benchmark: per-scan denoise + seed FC against (a) the nilearn-masker reference and (b) only reading the input.

Run:  python bench/bench_denoise_fc.py [--voxel 4] [--volumes 200] [--repeats 2]

One simulated scan at the default size (4 mm acquisition grid, 200 volumes) is written to a temporary folder, then
in the same process:
  read      : load the BOLD file into memory (the I/O floor: decompression + int16 scaling)
  ours      : fcect.preprocess.run.denoise_and_fc (all 7 seeds x all analysis voxels, one matrix product)
  reference : image.resample_img + NiftiMasker + NiftiSpheresMasker (7 seeds) + numpy.corrcoef per seed
Ratios are reported against the reference (speed-up) and against the read time (how close to the I/O limit).
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--voxel", type=float, default=4.0)
    ap.add_argument("--volumes", type=int, default=200)
    ap.add_argument("--repeats", type=int, default=2)
    a = ap.parse_args()

    import warnings

    import nibabel as nib
    import yaml
    from nilearn import image
    from nilearn.maskers import NiftiMasker, NiftiSpheresMasker

    from fcect.preprocess.denoise import confound_matrix
    from fcect.core.io import save_nifti, save_tsv
    from fcect.preprocess.masks import make_masks, seed_masks
    from fcect.preprocess.run import denoise_and_fc
    from fcect.preprocess.seeds import read_seeds
    from fcect.core.paths import fmriprep_paths
    from fcect.simulate.cohort import cohort_table
    from fcect.simulate.params import SimParams
    from fcect.simulate.scan import write_scan

    warnings.filterwarnings("ignore")
    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    params = cfg["denoise"]
    tmp = Path(tempfile.mkdtemp())
    p = SimParams(voxel_mm=a.voxel, n_volumes=a.volumes)
    part, coup = cohort_table(p)
    seeds = read_seeds(REPO / "config/seeds.tsv")
    pid = part.participant_id[0]
    paths = fmriprep_paths(tmp, pid[4:], "pre")
    write_scan(p, pid[4:], "pre", coup[(coup.participant_id == pid) & (coup.session == "pre")], False, seeds,
               paths, tmp / "truth.json")
    affine, amask, cereb = make_masks(cfg["analysis"]["voxel_mm"])
    sm = seed_masks(seeds, affine, amask.shape, cereb)
    save_nifti(nib.Nifti1Image(amask.astype(np.uint8), affine), tmp / "amask.nii.gz")
    save_nifti(nib.Nifti1Image(cereb.astype(np.uint8), affine), tmp / "cereb.nii.gz")
    save_nifti(nib.Nifti1Image(sm.astype(np.uint8), affine), tmp / "seeds.nii.gz")
    save_tsv(seeds, tmp / "seeds.tsv")
    ids = list(seeds.seed_id)
    outs = [tmp / f"fc_{s}.nii.gz" for s in ids]

    def read():
        return np.asarray(nib.load(str(paths["bold"])).dataobj, dtype=np.float32).sum()

    def ours():
        denoise_and_fc(paths["bold"], paths["confounds"], paths["bold_json"], tmp / "amask.nii.gz",
                       tmp / "seeds.nii.gz", tmp / "seeds.tsv", params, ids, outs, tmp / "info.json")

    def reference():
        import pandas as pd
        drop = params["drop_volumes"]
        src = nib.load(str(paths["bold"]))
        img = image.index_img(nib.Nifti1Image(src.get_fdata(dtype=np.float64), src.affine), slice(drop, None))
        img = image.resample_img(img, target_affine=affine, target_shape=amask.shape, interpolation="continuous",
                                 force_resample=True, copy_header=True)
        C = confound_matrix(pd.read_csv(paths["confounds"], sep="\t", na_values=["n/a"]), "dpabi")[drop:]
        kw = dict(smoothing_fwhm=params["fwhm"], detrend=True, standardize=None, high_pass=params["high_pass"],
                  low_pass=params["low_pass"], t_r=p.tr)
        am = nib.Nifti1Image(amask.astype(np.uint8), affine)
        vox = NiftiMasker(mask_img=am, **kw).fit_transform(img, confounds=C)
        sph = NiftiSpheresMasker([tuple(r) for r in seeds[["x", "y", "z"]].to_numpy()], radius=6.0,
                                 mask_img=nib.Nifti1Image(cereb.astype(np.uint8), affine), **kw).fit_transform(
            img, confounds=C)
        from scipy.stats import pearsonr
        for k in range(len(ids)):  # (np.corrcoef would form the 55,000^2 voxel-by-voxel matrix)
            np.arctanh(np.clip(pearsonr(sph[:, k, None], vox, axis=0).statistic, -0.9999999, 0.9999999))

    def timed(f):
        best = np.inf
        for _ in range(a.repeats):
            t = time.perf_counter()
            f()
            best = min(best, time.perf_counter() - t)
        return best

    t_read, t_ours, t_ref = timed(read), timed(ours), timed(reference)
    print(f"scan: {nib.load(str(paths['bold'])).shape}, analysis voxels {int(amask.sum())}, seeds {len(ids)}")
    print(f"read only      : {t_read:7.2f} s")
    print(f"fcect          : {t_ours:7.2f} s   ({t_ours / t_read:.1f} x read time)")
    print(f"nilearn masker : {t_ref:7.2f} s")
    print(f"speed-up vs reference: {t_ref / t_ours:.2f} x")


if __name__ == "__main__":
    main()
