"""Benchmark: fcect's permutation engine vs nilearn.mass_univariate.permuted_ols on a paper-sized design.

Design: 135 subjects (70 TRD, 65 HC), group + intercept + 4 covariates (age, sex, education, mean FD),
Freedman-Lane, two-sided max-T, on every voxel of the 3 mm MNI152 grey-matter mask of nilearn
(``load_mni152_gm_mask(resolution=3)``) above z = -30 mm (cerebellum excluded, approximately).
Both engines get the *same* permutations (nilearn's own draw sequence, reproduced by
``fcect.group.glm.nilearn_rearrangements``) and the same number of BLAS threads; each runs in its own forked
process so that wall time and peak memory (``ru_maxrss`` growth of the process and the tracemalloc peak of
Python/numpy allocations) are measured in one run. The script checks that the results are identical
(null max-T distribution and FWE p-values).

Optional (``--methods all``): the cost per permutation of every step for both designs of the default job
(baseline: the design above; ECT: one-sample sign flips of 52 difference maps): the GEMM of the permuted
products, the t maps, max-T, cluster extent + mass, TFCE (thread CPU time per permutation, 1 thread), and the
wall time per permutation with 1 and ``--threads-spatial`` threads; from these, the estimated time of the
group stage of the default job (7 seeds x 2 contrasts x 5000 permutations, every method, on 2 cores). The
TFCE kernel is compared with the dense reference ``fcect.group.tfce.tfce_map`` (one ``ndimage.label`` per
threshold) on the same maps in the same process, and, with ``--reference-engine DIR`` (the ``scripts`` folder of a
checkout of an earlier engine, e.g. ``git archive f6ffb97 scripts | tar -x -C /tmp/old``), with that engine on
the same permutations (TFCE ratio; max-T and cluster nulls must be identical). nilearn's TFCE + cluster
inference (6-connectivity, which nilearn hard-codes) is timed for a few permutations (a cost comparison only).

Usage (nice it on a shared machine):
    nice python bench/bench_permutation.py --n-perm 1000 --threads 1 [--methods all] [--json out.json]
    nice python bench/bench_permutation.py --skip-maxt --methods all --n-perm-spatial 200 \
        --reference-engine /tmp/old/scripts --json out.json
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

    Z = np.column_stack([np.ones(len(grp)), cov]) if cov is not None else None
    c0 = time.process_time()
    r = permutation.permutation_inference(Y, grp, Z, mask=mask, methods=methods, rearrangements=R, n_threads=threads)
    return {"t": r.t, "h0": np.sort(r.null["maxt"]) if "maxt" in methods else None,
            "logp": -np.log10(r.p_fwe["maxt"]) if "maxt" in methods else None, "timings": r.timings,
            "null": r.null, "cpu_s": time.process_time() - c0}


def run_reference_engine(src, Y, grp, cov, R, threads, mask, methods):
    """The engine of an earlier checkout (``src``: its scripts folder), imported in this (forked) process."""
    for name in [m for m in sys.modules if m == "fcect" or m.startswith("fcect.")]:
        del sys.modules[name]
    sys.path.insert(0, str(src))
    return run_fcect(Y, grp, cov, R, threads, mask, methods)


def design(kind, Y, grp, cov, n_perm, seed):
    """(Y, tested, covariates, rearrangements) of the baseline (Freedman-Lane) or ECT (sign flips) design."""
    from fcect.group import glm

    if kind == "baseline":
        return Y, grp, cov, glm.nilearn_rearrangements(len(grp), n_perm, seed, signflip=False)
    n = 52
    return Y[:n] + 0.05, np.ones(n), None, glm.nilearn_rearrangements(n, n_perm, seed, signflip=True)


def tfce_kernel_vs_dense(mask, T, repeats=2):
    """TFCE null maxima of the rows of T by the compiled kernel and by the dense reference (same process)."""
    from fcect.group import tfce

    grid = tfce.Grid(mask, 26)
    tfce.tfce_batch(T[:1], grid)                     # compile / load the cached kernel
    kern = min(_cpu(lambda: tfce.tfce_batch(T, grid)) for _ in range(repeats))
    fast = tfce.tfce_batch(T, grid)
    t0 = time.process_time()
    dense = []
    for b in range(T.shape[0]):
        m3 = np.zeros(mask.shape)
        m3[mask] = T[b]
        dense.append(np.abs(tfce.tfce_map(m3, 26)).max())
    dense_s = time.process_time() - t0
    return {"maps": int(T.shape[0]), "kernel_ms_per_map": 1e3 * kern / T.shape[0],
            "dense_ms_per_map": 1e3 * dense_s / T.shape[0], "ratio": dense_s / kern,
            "max_rel_diff": float(np.max(np.abs(fast - np.array(dense)) / np.array(dense)))}


def _cpu(fn):
    t0 = time.process_time()
    fn()
    return time.process_time() - t0


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


def job_overhead(img, mask, Y, grp, cov, n_perm, threads):
    """Per-job cost of a group job outside the permutations: run_group (loading the FC maps, GRF, observed
    clusters and TFCE, tables with AAL labels, writing) on synthetic maps of this design, baseline and ECT, with
    ``n_perm`` permutations; plus a fresh interpreter importing the stage (as a Snakemake job does)."""
    import subprocess
    import tempfile

    import nibabel as nib
    import pandas as pd

    from fcect.group.run import run_group

    tmp = pathlib.Path(tempfile.mkdtemp(prefix="bench_group_"))
    n_trd, n_post = 70, 52
    rows, paths = [], []
    for i in range(len(grp)):
        pid = f"sub-{i:03d}"
        trd = grp[i] == 1
        post = trd and i < n_post
        rows.append(dict(participant_id=pid, group="TRD" if trd else "HC", age=cov[i, 0],
                         sex="M" if cov[i, 1] else "F", education=cov[i, 2], mean_fd_pre=cov[i, 3],
                         mean_fd_post=cov[i, 3] if post else np.nan, included_baseline=True, included_ect=post))
        for ses, vals in [("pre", Y[i])] + ([("post", Y[(i + 7) % len(grp)] + 0.05)] if post else []):
            vol = np.zeros(mask.shape, np.float32)
            vol[mask] = vals
            f = tmp / f"{pid}_ses-{ses}_task-rest_space-MNI152NLin2009cAsym_seed-S1_desc-fcz_stat.nii.gz"
            nib.save(nib.Nifti1Image(vol, img.affine), f)
            paths.append(str(f))
    pd.DataFrame(rows).to_csv(tmp / "participants_included.tsv", sep="\t", index=False, na_rep="n/a")
    nib.save(nib.Nifti1Image(mask.astype(np.uint8), img.affine), tmp / "mask.nii.gz")
    cfg = dict(contrasts=["baseline", "ect"], covariates=["age", "sex", "education", "mean_fd"], ect_covariates=[],
               methods=["maxt", "cluster_extent", "cluster_mass", "tfce", "grf"], n_perm=n_perm,
               cluster_forming_p=0.001, alpha=0.05, feed_method="cluster_extent", ect_mask="whole",
               bonferroni_seeds=False, connectivity=26, grf={}, seed_offset=3000, threads=threads)
    out = {}
    for contrast in ("baseline", "ect"):
        t0 = time.perf_counter()
        info = run_group(contrast, "S1", tmp / "participants_included.tsv", paths, tmp / "mask.nii.gz",
                         tmp / contrast, cfg, 1, n_seeds=7)
        total = time.perf_counter() - t0
        tm = info["timings_s"]
        perm_wall = tm["gemm"] + tm["after_gemm_wall"]
        out[contrast] = {"elapsed_s": total, "permutation_loop_s": perm_wall, "outside_loop_s": total - perm_wall}
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import fcect.group.run, fcect.group.tfce as t, numpy as np; "
                    "t.tfce_batch(np.ones((1, 8)), np.ones((2, 2, 2), bool))"], check=True)
    out["interpreter_imports_s"] = time.perf_counter() - t0
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n-perm", type=int, default=1000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--methods", choices=["maxt", "all"], default="maxt")
    ap.add_argument("--skip-maxt", action="store_true", help="skip the max-T comparison with nilearn")
    ap.add_argument("--n-perm-spatial", type=int, default=200, help="permutations for the --methods all timing")
    ap.add_argument("--threads-spatial", type=int, default=2, help="threads of the parallel --methods all timing")
    ap.add_argument("--n-perm-nilearn-tfce", type=int, default=3)
    ap.add_argument("--n-maps-dense", type=int, default=4, help="maps for the dense TFCE reference")
    ap.add_argument("--reference-engine", default=None, help="scripts folder of an earlier engine to compare with")
    ap.add_argument("--job-n-perm", type=int, default=100, help="permutations of the per-job overhead run (0: skip)")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    from fcect.group import glm

    img, mask, Y, grp, cov = make_data(args.seed)
    n, V = Y.shape
    res = {"n_subjects": n, "n_voxels": V}
    if not args.skip_maxt:
        print(f"design: {n} subjects (70 TRD / 65 HC), 4 covariates + intercept, {V} voxels, "
              f"{args.n_perm} permutations, {args.threads} BLAS thread(s)")
        R = glm.nilearn_rearrangements(n, args.n_perm, args.seed, signflip=False)
        nl, nl_wall, nl_rss, nl_tm = _in_child(run_nilearn, Y, grp, cov, args.n_perm, args.seed, args.threads)
        fc, fc_wall, fc_rss, fc_tm = _in_child(run_fcect, Y, grp, cov, R, args.threads)
        same_t = float(np.max(np.abs(nl["t"] - fc["t"])))
        same_h0 = float(np.max(np.abs(nl["h0"] - fc["h0"]) / nl["h0"]))
        same_p = float(np.max(np.abs(nl["logp"] - fc["logp"])))
        n_p_diff = int(np.sum(np.abs(nl["logp"] - fc["logp"]) > 1e-9))
        res.update({
            "n_perm": args.n_perm, "threads": args.threads,
            "nilearn_wall_s": nl_wall, "fcect_wall_s": fc_wall, "speedup": nl_wall / fc_wall,
            "nilearn_peak_rss_growth_mib": nl_rss, "fcect_peak_rss_growth_mib": fc_rss,
            "nilearn_tracemalloc_peak_mib": nl_tm, "fcect_tracemalloc_peak_mib": fc_tm,
            "max_abs_t_diff": same_t, "max_rel_h0_diff": same_h0, "max_abs_logp_diff": same_p,
            "n_voxels_p_differs": n_p_diff, "fcect_timings": fc["timings"],
        })
        print(f"max-T: nilearn {nl_wall:.1f} s, fcect {fc_wall:.2f} s -> {nl_wall / fc_wall:.1f}x faster; "
              f"peak RSS growth {nl_rss:.0f} vs {fc_rss:.0f} MiB; tracemalloc peak {nl_tm:.0f} vs {fc_tm:.0f} MiB")
        print(f"identical: max|dt| {same_t:.2e}, max rel |dh0| {same_h0:.2e}, max|dlogp| {same_p:.2e}, "
              f"voxels whose p differs: {n_p_diff}")
        if n_p_diff:
            print("WARNING: p-values differ", file=sys.stderr)
    if args.methods == "all":
        methods = ("maxt", "cluster_extent", "cluster_mass", "tfce")
        np_ = args.n_perm_spatial
        per_design = {}
        for kind in ("baseline", "ect"):
            Yd, xd, cd, Rd = design(kind, Y, grp, cov, np_, args.seed)
            one, _, rss1, _ = _in_child(run_fcect, Yd, xd, cd, Rd, 1, mask, methods)
            par, _, _, _ = _in_child(run_fcect, Yd, xd, cd, Rd, args.threads_spatial, mask, methods)
            tm = one["timings"]
            # wall time of the permutation loop (the set-up: observed statistics, grid, is per job)
            w1 = tm["gemm"] + tm["after_gemm_wall"]
            w2 = par["timings"]["gemm"] + par["timings"]["after_gemm_wall"]
            per = {"gemm": tm["gemm_cpu"], "t": tm["t"], "maxt": tm["maxt_refine"], "cluster": tm["cluster"],
                   "tfce": tm["tfce"]}
            per = {k: 1e3 * v / np_ for k, v in per.items()}
            d = {"n": len(xd), "ms_per_perm_1thread": per, "wall_ms_per_perm_1thread": 1e3 * w1 / np_,
                 f"wall_ms_per_perm_{args.threads_spatial}threads": 1e3 * w2 / np_, "peak_rss_growth_mib": rss1}
            print(f"{kind} (n = {len(xd)}), {np_} permutations, per permutation (1 thread): "
                  + ", ".join(f"{k} {v:.2f} ms" for k, v in per.items())
                  + f"; wall {1e3 * w1 / np_:.2f} ms (1 thread), {1e3 * w2 / np_:.2f} ms "
                  f"({args.threads_spatial} threads)")
            if args.reference_engine:
                ref, _, _, _ = _in_child(run_reference_engine, args.reference_engine, Yd, xd, cd, Rd, 1, mask,
                                         methods)
                tr = ref["timings"]
                wr = sum(tr[k] for k in ("gemm_t", "maxt_refine", "cluster", "tfce") if k in tr)
                same = {m: bool(np.array_equal(ref["null"][m], one["null"][m])) for m in methods if m != "tfce"}
                d.update({"reference_wall_ms_per_perm": 1e3 * wr / np_, "cpu_s": one["cpu_s"],
                          "reference_cpu_s": ref["cpu_s"], "ratio_cpu_whole_call": ref["cpu_s"] / one["cpu_s"],
                          "reference_tfce_ms_per_perm": 1e3 * tr["tfce"] / np_,
                          "reference_cluster_ms_per_perm": 1e3 * tr["cluster"] / np_,
                          "ratio_wall": wr / w1, "ratio_tfce": tr["tfce"] / max(tm["tfce"], 1e-12),
                          "identical_nulls": same})
                print(f"  reference engine: wall {1e3 * wr / np_:.2f} ms per permutation (TFCE "
                      f"{1e3 * tr['tfce'] / np_:.2f} ms, clusters {1e3 * tr['cluster'] / np_:.2f} ms) -> "
                      f"{wr / w1:.1f}x wall; CPU of the whole call {ref['cpu_s']:.1f} vs {one['cpu_s']:.1f} s -> "
                      f"{ref['cpu_s'] / one['cpu_s']:.1f}x; max-T / cluster nulls identical: {same}")
            per_design[kind] = d
        res["spatial_n_perm"] = np_
        res["designs"] = per_design
        # the default job: 7 seeds x (baseline + ECT) x 5000 permutations
        n_jobs, n_default = 7, 5000
        cpu = sum(n_jobs * n_default * sum(d["ms_per_perm_1thread"].values()) / 1e3 for d in per_design.values())
        wall2 = sum(n_jobs * n_default * d[f"wall_ms_per_perm_{args.threads_spatial}threads"] / 1e3
                    for d in per_design.values())
        res["default_job_estimate"] = {"permutation_cpu_s": cpu, "permutation_wall_s_2cores": wall2}
        print(f"default job (7 seeds x 2 contrasts x {n_default} permutations, all methods): permutations "
              f"{cpu:.0f} CPU-s, {wall2:.0f} s wall with {args.threads_spatial} threads per job")
        # TFCE kernel vs the dense reference on the same permuted maps
        from fcect.group import permutation

        Yd, xd, cd, Rd = design("baseline", Y, grp, cov, args.n_maps_dense, args.seed)
        g = glm.make_glm(xd, np.column_stack([np.ones(len(xd)), cd]))
        G = np.hstack([g.g[:, None], g.Q[:, 1:]]).astype(np.float32)
        Yr = np.ascontiguousarray(glm.residualise(Yd, g)[0], dtype=np.float32)
        T = permutation._permuted_t(G, Rd, Yr, g.dof, "permute", np.float32)
        res["tfce_vs_dense"] = tfce_kernel_vs_dense(mask, T)
        print("TFCE kernel vs dense tfce_map (one ndimage.label per threshold): "
              f"{res['tfce_vs_dense']['kernel_ms_per_map']:.1f} vs {res['tfce_vs_dense']['dense_ms_per_map']:.0f} ms "
              f"per map -> {res['tfce_vs_dense']['ratio']:.0f}x, max rel diff {res['tfce_vs_dense']['max_rel_diff']:.1e}")
        if args.n_perm_nilearn_tfce:
            _, nt_wall, _, _ = _in_child(run_nilearn_tfce, img, mask, Y, grp, cov, args.n_perm_nilearn_tfce,
                                         args.seed, 1)
            res.update({"nilearn_tfce_cluster_wall_s": nt_wall, "nilearn_tfce_n_perm": args.n_perm_nilearn_tfce})
            print(f"nilearn TFCE+clusters (6-conn) {nt_wall:.1f} s for {args.n_perm_nilearn_tfce} permutations")
        if args.job_n_perm:
            jo, _, _, _ = _in_child(job_overhead, img, mask, Y, grp, cov, args.job_n_perm, args.threads_spatial)
            res["job_overhead"] = jo
            fixed = sum(jo[c]["outside_loop_s"] for c in ("baseline", "ect")) / 2 + jo["interpreter_imports_s"]
            res["default_job_estimate"]["per_job_fixed_s"] = fixed
            res["default_job_estimate"]["group_stage_wall_s_2cores"] = wall2 + 14 * fixed
            print(f"per job outside the permutations: baseline {jo['baseline']['outside_loop_s']:.1f} s, ECT "
                  f"{jo['ect']['outside_loop_s']:.1f} s, fresh interpreter + imports {jo['interpreter_imports_s']:.1f} s"
                  f" -> group stage of the default job ~{wall2 + 14 * fixed:.0f} s on 2 cores")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(res, indent=2, default=_jsonable) + "\n")
    return res


def _jsonable(v):
    if isinstance(v, (np.bool_,)):
        return bool(v)
    return float(v)


if __name__ == "__main__":
    main()
