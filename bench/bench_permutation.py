"""Benchmark: fcect's permutation engine vs nilearn.mass_univariate.permuted_ols on a paper-sized design.

Design: 135 subjects (70 TRD, 65 HC), group + intercept + 4 covariates (age, sex, education, mean FD),
Freedman-Lane, two-sided max-T, on every voxel of the 3 mm MNI152 grey-matter mask of nilearn
(``load_mni152_gm_mask(resolution=3)``) above z = -30 mm (cerebellum excluded, approximately).
Both engines get the *same* permutations (nilearn's own draw sequence, reproduced by
``fcect.group.glm.nilearn_rearrangements``) and the same number of BLAS threads; each runs in its own forked
process so that wall time and peak memory (``ru_maxrss`` growth of the process and the tracemalloc peak of
Python/numpy allocations) are measured in one run. The script checks that the results are identical
(null max-T distribution and FWE p-values).

Optional (``--methods all``): cost per permutation of cluster-extent/mass + TFCE in fcect (26-connectivity)
and, for a few permutations, of nilearn's TFCE + cluster inference (6-connectivity, which nilearn hard-codes;
a cost comparison only).

Usage (nice it on a shared machine):
    nice python bench/bench_permutation.py --n-perm 1000 --threads 1 [--methods all] [--json out.json]
"""
from __future__ import annotations

import argparse
import json
import os
import pathlib
import pickle
import resource
import sys
import tempfile
import time
import tracemalloc

import numpy as np



def make_data(seed=0, n_trd=70, n_hc=65, fwhm_vox=2.0):
    from nilearn.datasets import load_mni152_gm_mask
    from scipy import ndimage

    img = load_mni152_gm_mask(resolution=3)
    mask = img.get_fdata() > 0
    ijk = np.argwhere(mask)
    z = ijk @ img.affine[:3, :3].T + img.affine[:3, 3]
    mask[tuple(ijk[z[:, 2] <= -30].T)] = False
    rng = np.random.default_rng(seed)
    n = n_trd + n_hc
    sigma = fwhm_vox / np.sqrt(8 * np.log(2))
    Y = np.empty((n, int(mask.sum())))
    for i in range(n):
        Y[i] = ndimage.gaussian_filter(rng.standard_normal(mask.shape), sigma)[mask]
    grp = np.r_[np.ones(n_trd), np.zeros(n_hc)]
    cov = np.column_stack([rng.normal(40, 12, n), rng.integers(0, 2, n), rng.normal(13, 3, n),
                           rng.gamma(4, 0.03, n)])
    Y += 0.02 * (cov[:, 0:1] - 40) / 12
    Y[:, :500] -= 0.5 * grp[:, None]   # a planted effect so that some p-values are small
    return img, mask, Y, grp, cov


def _in_child(fn, *args):
    """Run fn(*args) in a forked process; return (result, wall s, peak RSS growth MiB, tracemalloc peak MiB)."""
    fd, path = tempfile.mkstemp(suffix=".pkl")
    os.close(fd)
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            tracemalloc.start()
            t0 = time.perf_counter()
            res = fn(*args)
            wall = time.perf_counter() - t0
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            with open(path, "wb") as fh:
                pickle.dump((res, wall, (rss1 - rss0) / 1024, peak / 2**20), fh)
        except BaseException as exc:  # noqa: BLE001
            print(f"child failed: {exc!r}", file=sys.stderr)
            code = 1
        os._exit(code)
    _, status, _ = os.wait4(pid, 0)
    if status != 0:
        raise RuntimeError("benchmark child failed")
    with open(path, "rb") as fh:
        out = pickle.load(fh)
    os.unlink(path)
    return out


def run_nilearn(Y, grp, cov, n_perm, seed, threads):
    from nilearn.mass_univariate import permuted_ols
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        out = permuted_ols(grp[:, None], Y, confounding_vars=cov, model_intercept=True, n_perm=n_perm,
                           two_sided_test=True, random_state=seed, n_jobs=1, verbose=0)
    return {"t": out["t"][0], "h0": np.sort(out["h0_max_t"][0]), "logp": out["logp_max_t"][0]}


def run_fcect(Y, grp, cov, R, threads, mask=None, methods=("maxt",)):
    from fcect.group import permutation

    Z = np.column_stack([np.ones(len(grp)), cov])
    r = permutation.permutation_inference(Y, grp, Z, mask=mask, methods=methods, rearrangements=R, n_threads=threads)
    return {"t": r.t, "h0": np.sort(r.null["maxt"]) if "maxt" in methods else None,
            "logp": -np.log10(r.p_fwe["maxt"]) if "maxt" in methods else None, "timings": r.timings}


def run_nilearn_tfce(img, mask, Y, grp, cov, n_perm, seed, threads):
    import nibabel as nib
    from nilearn.maskers import NiftiMasker
    from nilearn.mass_univariate import permuted_ols
    from threadpoolctl import threadpool_limits

    masker = NiftiMasker(nib.Nifti1Image(mask.astype(np.uint8), img.affine)).fit()
    with threadpool_limits(limits=threads):
        permuted_ols(grp[:, None], Y, confounding_vars=cov, n_perm=n_perm, random_state=seed, n_jobs=1,
                     verbose=0, masker=masker, tfce=True, threshold=0.001)
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-perm", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", choices=["maxt", "all"], default="maxt")
    ap.add_argument("--n-perm-spatial", type=int, default=200, help="permutations for the --methods all timing")
    ap.add_argument("--n-perm-nilearn-tfce", type=int, default=3)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    from fcect.group import glm

    img, mask, Y, grp, cov = make_data(args.seed)
    n, V = Y.shape
    print(f"design: {n} subjects (70 TRD / 65 HC), 4 covariates + intercept, {V} voxels, "
          f"{args.n_perm} permutations, {args.threads} BLAS thread(s)")
    R = glm.nilearn_rearrangements(n, args.n_perm, args.seed, signflip=False)

    nl, nl_wall, nl_rss, nl_tm = _in_child(run_nilearn, Y, grp, cov, args.n_perm, args.seed, args.threads)
    fc, fc_wall, fc_rss, fc_tm = _in_child(run_fcect, Y, grp, cov, R, args.threads)
    same_t = float(np.max(np.abs(nl["t"] - fc["t"])))
    same_h0 = float(np.max(np.abs(nl["h0"] - fc["h0"]) / nl["h0"]))
    same_p = float(np.max(np.abs(nl["logp"] - fc["logp"])))
    n_p_diff = int(np.sum(np.abs(nl["logp"] - fc["logp"]) > 1e-9))
    res = {
        "n_subjects": n, "n_voxels": V, "n_perm": args.n_perm, "threads": args.threads,
        "nilearn_wall_s": nl_wall, "fcect_wall_s": fc_wall, "speedup": nl_wall / fc_wall,
        "nilearn_peak_rss_growth_mib": nl_rss, "fcect_peak_rss_growth_mib": fc_rss,
        "nilearn_tracemalloc_peak_mib": nl_tm, "fcect_tracemalloc_peak_mib": fc_tm,
        "max_abs_t_diff": same_t, "max_rel_h0_diff": same_h0, "max_abs_logp_diff": same_p,
        "n_voxels_p_differs": n_p_diff, "fcect_timings": fc["timings"],
    }
    print(f"max-T: nilearn {nl_wall:.1f} s, fcect {fc_wall:.2f} s -> {nl_wall / fc_wall:.1f}x faster; "
          f"peak RSS growth {nl_rss:.0f} vs {fc_rss:.0f} MiB; tracemalloc peak {nl_tm:.0f} vs {fc_tm:.0f} MiB")
    print(f"identical: max|dt| {same_t:.2e}, max rel |dh0| {same_h0:.2e}, max|dlogp| {same_p:.2e}, "
          f"voxels whose p differs: {n_p_diff}")
    if args.methods == "all":
        Rs = R[: args.n_perm_spatial]
        methods = ("maxt", "cluster_extent", "cluster_mass", "tfce")
        sp, sp_wall, sp_rss, sp_tm = _in_child(run_fcect, Y, grp, cov, Rs, args.threads, mask, methods)
        tm = sp["timings"]
        per = {k: 1e3 * tm[k] / len(Rs) for k in ("gemm_t", "maxt_refine", "cluster", "tfce")}
        _, nt_wall, _, _ = _in_child(run_nilearn_tfce, img, mask, Y, grp, cov, args.n_perm_nilearn_tfce,
                                     args.seed, args.threads)
        res.update({"spatial_n_perm": len(Rs), "fcect_all_methods_wall_s": sp_wall,
                    "fcect_ms_per_perm": per, "fcect_all_methods_peak_rss_growth_mib": sp_rss,
                    "nilearn_tfce_cluster_wall_s": nt_wall, "nilearn_tfce_n_perm": args.n_perm_nilearn_tfce})
        print(f"all methods, {len(Rs)} permutations: fcect {sp_wall:.1f} s (per permutation: "
              + ", ".join(f"{k} {v:.1f} ms" for k, v in per.items())
              + f"); nilearn TFCE+clusters (6-conn) {nt_wall:.1f} s for {args.n_perm_nilearn_tfce} permutations "
              f"(~{nt_wall / max(args.n_perm_nilearn_tfce, 1):.1f} s each incl. setup)")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(res, indent=2, default=float) + "\n")
    if n_p_diff:
        print("WARNING: p-values differ", file=sys.stderr)
    return res


if __name__ == "__main__":
    main()
