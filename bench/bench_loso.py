"""Leave-one-subject-out paired t maps (fcect.clinical.loso.loso_t, running sums) vs a scipy loop (one
``scipy.stats.ttest_1samp`` per left-out subject), and the whole LOSO cluster values (loso_values) vs the same
loop plus labelling. Prints wall times, their ratio and the largest difference.

    nice python bench/bench_loso.py --n 52 --voxels 50000 --repeats 3
"""
import argparse
import time

import numpy as np
from scipy import ndimage, stats

from fcect.clinical.loso import loso_t, loso_values


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=52)
    ap.add_argument("--voxels", type=int, default=50000)
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args()
    rng = np.random.default_rng(0)
    side = int(round(a.voxels ** (1 / 3)))
    mask = np.ones((side, side, side), bool)
    V = int(mask.sum())
    D = ndimage.gaussian_filter(rng.standard_normal((a.n, side, side, side)), (0, 1, 1, 1)).reshape(a.n, V)
    D /= D.std()
    D[:, : V // 50] += 0.8

    def loop():
        return np.stack([stats.ttest_1samp(np.delete(D, i, 0), 0.0, axis=0).statistic for i in range(a.n)])

    def best(f):
        ts = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            out = f()
            ts.append(time.perf_counter() - t0)
        return min(ts), out

    t_ref, ref = best(loop)
    t_new, new = best(lambda: loso_t(D))
    print(f"n = {a.n}, V = {V}: scipy loop {t_ref:.3f} s, running sums {t_new:.3f} s, ratio {t_ref / t_new:.1f}x, "
          f"max |diff| {np.nanmax(np.abs(ref - new)):.2e}")
    full = np.zeros(V, int)
    full[: V // 50] = 1
    t_all, _ = best(lambda: loso_values(D, mask, full, [1], voxel_p=0.001))
    print(f"whole LOSO values (t maps + labelling of {a.n} maps + matching): {t_all:.3f} s")


if __name__ == "__main__":
    main()
