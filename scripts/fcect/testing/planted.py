"""The planted couplings of the simulated cohort, measured in a finished workflow run's FC maps (tests of the tiny
run, of the raw demo run and of any simulated run): subject-mean FC between each planted seed and its target region
against FC with the control region (V1), and the null seed's FC with the planted targets."""
from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from scipy import stats


def planted_coupling(wd, session="pre") -> dict:
    """For run folder ``wd``: ``diffs`` (couplings x baseline-included subjects: FC with the target minus FC with
    the control region), ``pooled`` (per subject, the mean over couplings), ``t`` and ``p`` (one-sample, one-sided,
    of ``pooled``), ``per_seed`` (mean difference per planted seed) and ``null`` (null seed Exec1R: mean difference
    per planted target)."""
    from fcect.simulate.anatomy import region_profile
    from fcect.simulate.params import CONTROL_REGION, COUPLINGS, REGIONS

    wd = Path(wd)
    amask = nib.load(wd / "results/masks/analysis_mask.nii.gz")
    m = np.asarray(amask.dataobj) > 0
    xyz = nib.affines.apply_affine(amask.affine, np.argwhere(m))

    def roi(reg):
        p = region_profile(xyz, reg["centers"], reg["radius"])
        return p >= 0.5 * p.max()

    rois = {k: roi(v) for k, v in REGIONS.items()}
    ctrl = roi(CONTROL_REGION)
    part = pd.read_csv(wd / "results/qc/participants_included.tsv", sep="\t")
    subs = part[part.included_baseline].participant_id.str[4:]
    cache = {}

    def fc(seed, s):
        if (seed, s) not in cache:
            f = next((wd / "results/fc").glob(f"sub-{s}/ses-{session}/*seed-{seed}_desc-fcz_stat.nii.gz"))
            cache[seed, s] = np.asarray(nib.load(f).dataobj)[m]
        return cache[seed, s]

    def mean_fc(seed, mask):
        return np.array([fc(seed, s)[mask].mean() for s in subs])

    diffs = np.array([mean_fc(seed, rois[target]) - mean_fc(seed, ctrl) for seed, target, _ in COUPLINGS])
    pooled = diffs.mean(axis=0)
    t = float(pooled.mean() / (pooled.std(ddof=1) / np.sqrt(len(pooled))))
    seeds = sorted({seed for seed, _, _ in COUPLINGS})
    per_seed = {s: float(diffs[[i for i, c in enumerate(COUPLINGS) if c[0] == s]].mean()) for s in seeds}
    null = {target: float((mean_fc("Exec1R", rois[target]) - mean_fc("Exec1R", ctrl)).mean())
            for target in ("mSFG", "PCC", "SMC")}
    return dict(diffs=diffs, pooled=pooled, t=t, p=float(stats.t.sf(t, len(pooled) - 1)), per_seed=per_seed,
                null=null, n=int(len(pooled)))


def assert_planted_coupling(wd, min_mean=0.1, alpha=0.01, null_tol=0.15) -> dict:
    """The checks of a simulated run: pooled planted coupling above ``min_mean`` (Fisher z) with one-sided
    p < ``alpha`` over subjects, every planted seed above its control level, and the null seed within
    ``null_tol`` of its control level at every planted target. Returns :func:`planted_coupling`'s dict."""
    r = planted_coupling(wd)
    assert r["pooled"].mean() > min_mean and r["p"] < alpha, (r["pooled"].mean(), r["t"], r["p"])
    assert all(v > 0 for v in r["per_seed"].values()), r["per_seed"]
    assert all(abs(v) < null_tol for v in r["null"].values()), r["null"]
    return r
