"""Demographics table: every test equals scipy; exclusions are listed with their reasons."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats


from fcect.clinical import demographics as Dm


@pytest.fixture
def cohort():
    rng = np.random.default_rng(0)
    n_trd, n_hc = 20, 15
    ids = [f"sub-{i:03d}" for i in range(n_trd + n_hc)]
    grp = ["TRD"] * n_trd + ["HC"] * n_hc
    pre = np.r_[rng.integers(18, 35, n_trd), rng.integers(0, 6, n_hc)].astype(float)
    post = np.r_[pre[:n_trd] - rng.integers(0, 18, n_trd), [np.nan] * n_hc]
    post[[3, 8]] = np.nan  # two non-completers
    df = pd.DataFrame(dict(
        participant_id=ids, group=grp, age=rng.normal(35, 10, n_trd + n_hc).round(1),
        sex=rng.choice(["M", "F"], n_trd + n_hc), education=rng.integers(9, 18, n_trd + n_hc),
        hamd_pre=pre, hamd_post=post))
    df["has_pre"] = True
    df["has_post"] = df["hamd_post"].notna()
    df["included_baseline"] = True
    df.loc[[1, 25], "included_baseline"] = False
    df["included_ect"] = df["has_post"] & df["included_baseline"]
    df.loc[5, "included_ect"] = False  # post scan excluded for motion
    df["mean_fd_pre"] = rng.uniform(0.05, 0.3, len(df))
    df["mean_fd_post"] = np.where(df["has_post"], rng.uniform(0.05, 0.3, len(df)), np.nan)
    df["hamd_reduction"] = (df.hamd_pre - df.hamd_post) / df.hamd_pre
    motion = pd.DataFrame(dict(
        participant_id=["sub-001", "sub-025", "sub-005"], session=["pre", "pre", "post"],
        mean_fd=[0.5, 0.6, 0.7], max_translation_mm=[2.5, 1.0, 3.1],
        max_rotation_deg=[0.5, 2.4, 0.2], n_volumes=200, n_censored=0,
        included=[False, False, False],
        reason=["max translation 2.5 mm > 2 mm", "max rotation 2.4 deg > 2 deg",
                "max translation 3.1 mm > 2 mm"]))
    return df, motion


def _row(t, var):
    return t[t["variable"].str.startswith(var)].iloc[0]


@pytest.mark.parametrize("ttest", ["student", "welch"])
def test_group_tests_equal_scipy(cohort, ttest):
    df, _ = cohort
    t = Dm.demographics_table(df, ttest=ttest)
    inc = df["included_baseline"]
    for col, var in (("age", "age"), ("education", "education"), ("hamd_pre", "HAMD baseline"),
                     ("mean_fd_pre", "mean FD ses-pre")):
        a = df.loc[inc & (df.group == "TRD"), col]
        b = df.loc[inc & (df.group == "HC"), col]
        ref = stats.ttest_ind(a, b, equal_var=(ttest == "student"))
        row = _row(t, var)
        assert row["statistic"] == pytest.approx(ref.statistic)
        assert row["p"] == pytest.approx(ref.pvalue)
        assert row["df"] == pytest.approx(ref.df)
        assert row["TRD_mean"] == pytest.approx(a.mean()) and row["HC_sd"] == pytest.approx(
            b.std())
        assert row["n_TRD"] == len(a) == 19 and row["n_HC"] == len(b) == 14


@pytest.mark.parametrize("yates", [False, True])
def test_sex_chi2_equals_scipy(cohort, yates):
    df, _ = cohort
    t = Dm.demographics_table(df, yates=yates)
    inc = df[df["included_baseline"]]
    ct = pd.crosstab(inc["group"], inc["sex"]).loc[["TRD", "HC"], ["M", "F"]].to_numpy()
    chi2, p, dof, _ = stats.chi2_contingency(ct, correction=yates)
    row = _row(t, "sex")
    assert row["statistic"] == pytest.approx(chi2) and row["p"] == pytest.approx(p)
    assert row["TRD"] == f"{ct[0, 0]}/{ct[0, 1]}"


def test_paired_hamd_and_counts(cohort):
    df, _ = cohort
    t = Dm.demographics_table(df)
    sel = df["included_ect"] & (df.group == "TRD")
    ref = stats.ttest_rel(df.loc[sel, "hamd_pre"], df.loc[sel, "hamd_post"])
    row = _row(t, "HAMD pre vs post")
    assert row["statistic"] == pytest.approx(ref.statistic) and row["p"] == pytest.approx(
        ref.pvalue)
    assert row["n_TRD"] == sel.sum() == 16
    red = _row(t, "HAMD reduction rate")
    assert red["TRD_mean"] == pytest.approx(df.loc[sel, "hamd_reduction"].mean())
    assert _row(t, "n enrolled")["TRD"] == "20" and _row(t, "n scanned ses-post")["TRD"] == "18"
    assert _row(t, "n included ECT")["n_TRD"] == 16


def test_exclusions_and_markdown(cohort):
    df, motion = cohort
    ex = Dm.exclusions_table(df, motion)
    qc = ex[ex.stage == "qc"]
    assert set(qc.participant_id) == {"sub-001", "sub-025", "sub-005"}
    assert qc.set_index("participant_id").loc["sub-025", "reason"].startswith("max rotation")
    assert set(ex[ex.stage == "missing"].participant_id) == {"sub-003", "sub-008"}
    md = Dm.render_markdown(Dm.demographics_table(df), ex)
    assert "| variable |" in md and "max translation 3.1 mm" in md and "Exclusions" in md


def test_string_flags_and_all_sample(cohort):
    df, _ = cohort
    df2 = df.copy()
    for c in ("has_pre", "has_post", "included_baseline", "included_ect"):
        df2[c] = df2[c].map({True: "yes", False: "no"})
    a = Dm.demographics_table(df)
    b = Dm.demographics_table(df2)
    pd.testing.assert_frame_equal(a, b)
    allt = Dm.demographics_table(df, sample="all")
    assert _row(allt, "age")["n_TRD"] == 20
