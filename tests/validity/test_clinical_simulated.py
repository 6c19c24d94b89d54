"""Recovery of the planted clinical effects of the simulated cohort.

1. Fast (always): the simulator's cohort model (``fcect.simulate.cohort.cohort_table``: per-subject planted
   Exec2L-mSFG couplings before and after ECT and HAMD scores) with Fisher-z measurement noise of a
   ~190-volume scan; the ECT-change vs HAMD-reduction correlation and the LOO-SVR prediction from
   baseline coupling are recovered within 3 sampling SEs (Fisher z, 1 / sqrt(n - 3)) of the planted
   sample values, and both are significant.
2. Integration (when a finished run exists): ``results/clinical/correlations.tsv`` and
   ``results/prediction/svr.json`` of a workflow run on the simulated cohort against its
   ``ground_truth.json`` (realised r and fisher_z_se stated there). Set FCECT_RUN_DIR to the run's
   working directory (default: the repository root); skipped when the files are absent.
"""
import json
import os
import pathlib

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
ROOT = REPO

from fcect.core import participants
from fcect.clinical import stats as CS
from fcect.prediction import run as R


def _cohort(n_completers=52, seed=20260101):
    sim = pytest.importorskip("fcect.simulate.cohort")
    p = sim.SimParams(name="t", seed=seed, n_trd=n_completers + 6, n_completers=n_completers,
                      n_hc=4, motion_outliers={})
    part, coup = sim.cohort_table(p)
    pair = coup[(coup.seed == "Exec2L") & (coup.target == "mSFG")]
    wide = pair.pivot(index="participant_id", columns="session", values="coupling").dropna()
    part = part.set_index("participant_id").loc[wide.index]
    return part, wide


def test_planted_clinical_effects_recovered_from_cohort_model():
    part, wide = _cohort()
    n = len(wide)
    rng = np.random.default_rng(0)
    noise_sd = 1 / np.sqrt(190 - 3)  # Fisher z SE of one scan's correlation (190 volumes)
    z_pre = np.arctanh(wide["pre"].to_numpy()) + noise_sd * rng.standard_normal(n)
    z_post = np.arctanh(wide["post"].to_numpy()) + noise_sd * rng.standard_normal(n)
    red = participants.hamd_reduction(part["hamd_pre"], part["hamd_post"], "rate")
    planted_rate = part["hamd_reduction_planted"].to_numpy(float)
    se_z = 1 / np.sqrt(n - 3)
    # ECT change vs reduction
    r_planted = np.corrcoef(wide["post"] - wide["pre"], planted_rate)[0, 1]
    res = CS.corr_test(z_post - z_pre, red)
    assert abs(np.arctanh(res.r) - np.arctanh(r_planted)) < 3 * se_z, (res.r, r_planted)
    assert CS.bonferroni(np.array([res.p, 0.5]))[0] < 0.05
    # prediction of the reduction from baseline coupling (LOO SVR, one feature)
    rb_planted = np.corrcoef(wide["pre"], planted_rate)[0, 1]
    out = R.run_mode(red, features=z_pre[:, None], n_perm=99, n_splits=10, n_repeats=5,
                     seed=1, log=lambda *_: None)
    # r(predicted, observed) of a linear SVR is positive whatever the sign of the planted baseline correlation
    assert abs(rb_planted) > 0.2, rb_planted
    assert abs(np.arctanh(out["loo"]["r"]) - np.arctanh(abs(rb_planted))) < 3 * se_z, (
        out["loo"]["r"], rb_planted)
    assert out["p_permutation"]["r"] <= 0.02


RUN = pathlib.Path(os.environ.get("FCECT_RUN_DIR", ROOT))


def _truth():
    cands = sorted((RUN / "resources" / "simulated").glob("*/ground_truth.json"),
                   key=lambda p: p.stat().st_mtime)
    return json.loads(cands[-1].read_text()) if cands else None


@pytest.mark.skipif(not (RUN / "results/clinical/correlations.tsv").exists(),
                    reason="no finished workflow run (set FCECT_RUN_DIR)")
def test_workflow_run_recovers_ground_truth():
    gt = _truth()
    if gt is None or "clinical" not in gt or gt.get("null_cohort"):
        pytest.skip("no ground_truth.json with a planted clinical effect")
    cl = gt["clinical"]
    t = pd.read_csv(RUN / "results/clinical/correlations.tsv", sep="\t")
    t = t[(t.analysis == "delta_fc_vs_reduction") & (t.measure == "pearson")
          & (t.seed == cl["seed"]) & (t.cluster_contrast == "ect")]
    assert len(t), "no ECT cluster of the planted seed was tested"
    best = t.loc[t["r"].idxmax()]
    tol = 3 * cl["fisher_z_se"]
    assert abs(np.arctanh(best["r"]) - np.arctanh(cl["realised_r_delta_fc"])) < tol, (
        best["r"], cl["realised_r_delta_fc"], tol)
    if "r_loso" in best and pd.notna(best["r_loso"]):  # the leave-one-subject-out estimate recovers it too
        assert abs(np.arctanh(best["r_loso"]) - np.arctanh(cl["realised_r_delta_fc"])) < tol, (
            best["r_loso"], cl["realised_r_delta_fc"], tol)
    svr = json.loads((RUN / "results/prediction/svr.json").read_text())
    for mode, res in svr["modes"].items():
        if res.get("status") != "ok":
            continue
        assert abs(np.arctanh(res["loo"]["r"]) - np.arctanh(abs(cl["realised_r_baseline_fc"]))) < tol, (
            mode, res["loo"]["r"], cl["realised_r_baseline_fc"])
