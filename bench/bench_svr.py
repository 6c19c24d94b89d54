"""Benchmark: LOO-SVR permutation test, fcect.prediction.svr against the plain scikit-learn loop.

Paper-sized design: n = 52 completers, 2 cluster features (as_published), linear epsilon-SVR.
Reference = for every permutation, ``cross_val_predict(Pipeline(StandardScaler(), SVR(linear)),
X, y_perm, cv=LeaveOneOut())``. Both give identical null distributions (checked here).

Usage: nice python bench/bench_svr.py [--n 52] [--features 2] [--perms 40] [--jobs 2]
Prints per-permutation wall time of each, the ratio, and the projected time for 5000 permutations.
"""
import argparse
import time

import numpy as np


from fcect.prediction import svr as P


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=52)
    ap.add_argument("--features", type=int, default=2)
    ap.add_argument("--perms", type=int, default=40)
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    from sklearn.model_selection import LeaveOneOut, cross_val_predict

    rng = np.random.default_rng(0)
    X = 0.3 + 0.1 * rng.standard_normal((a.n, a.features))
    y = np.clip(0.55 + 0.5 * (X[:, 0] - 0.3) + 0.15 * rng.standard_normal(a.n), 0, 1)
    perms = np.argsort(np.random.default_rng(1).random((a.perms, a.n)), axis=1)

    t = time.perf_counter()
    ref = []
    for p in perms:
        pred = cross_val_predict(P.make_pipeline(), X, y[p], cv=LeaveOneOut())
        m = P.metrics(y[p], pred)
        ref.append([m["r"], m["mae"], m["rmse"], m["r2"]])
    t_ref = (time.perf_counter() - t) / a.perms

    folds = P.prepare_folds(X, P.loo_splits(a.n))
    t = time.perf_counter()
    ours = P.permutation_null(folds, y, n_perm=a.perms, seed=1, n_jobs=1)
    t_one = (time.perf_counter() - t) / a.perms
    np.testing.assert_allclose(ours, np.array(ref), atol=1e-9)

    n_par = max(a.perms, 50 * a.jobs)
    t = time.perf_counter()
    P.permutation_null(folds, y, n_perm=n_par, seed=1, n_jobs=a.jobs)
    t_par = (time.perf_counter() - t) / n_par

    print(f"design: n = {a.n}, features = {a.features}, LOO ({a.n} SVR fits per permutation)")
    print(f"sklearn cross_val_predict loop : {1e3 * t_ref:8.1f} ms / permutation "
          f"-> 5000 perms {5000 * t_ref:7.1f} s")
    print(f"fcect, 1 process               : {1e3 * t_one:8.1f} ms / permutation "
          f"-> 5000 perms {5000 * t_one:7.1f} s   (x{t_ref / t_one:.1f}, identical null)")
    print(f"fcect, {a.jobs} processes             : {1e3 * t_par:8.1f} ms / permutation "
          f"-> 5000 perms {5000 * t_par:7.1f} s   (x{t_ref / t_par:.1f}; incl. worker start-up)")
    print(f"per SVR fit (fcect, 1 process) : {1e6 * t_one / a.n:8.0f} us")


if __name__ == "__main__":
    main()
