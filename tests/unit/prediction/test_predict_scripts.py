"""The thin rule scripts (clinical_*.py, predict_*.py) run end to end on a small cohort on disk,
with a stand-in for the ``snakemake`` object."""
import json
import runpy
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from conftest import REPO
ROOT = REPO

from fcect.testing import prediction as syn


def _smk(tmp, input, output, params, log, threads=1, wildcards=None):
    return SimpleNamespace(input=SimpleNamespace(**input), output=SimpleNamespace(**output),
                           params=SimpleNamespace(**params), log=[str(tmp / log)],
                           threads=threads, wildcards=SimpleNamespace(**(wildcards or {})))


def _run(script, smk):
    runpy.run_path(str(ROOT / "scripts" / script), init_globals={"snakemake": smk},
                   run_name="__main__")


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("scripts")
    c = syn.synthetic_cohort(n=22, seed=11, coupling=1.0)
    g = c["geom"]
    n_trd, n_hc = 22, 5
    ids = [f"sub-{i:03d}" for i in range(n_trd + n_hc)]
    rng = np.random.default_rng(1)
    comp = np.r_[np.ones(20, bool), np.zeros(2, bool), np.zeros(n_hc, bool)]
    pre = np.r_[rng.integers(18, 30, n_trd), rng.integers(0, 5, n_hc)].astype(float)
    post = np.where(comp, pre * (1 - np.r_[c["y"], np.zeros(n_hc)]), np.nan)
    part = pd.DataFrame(dict(participant_id=ids, group=["TRD"] * n_trd + ["HC"] * n_hc,
                             age=rng.normal(40, 10, n_trd + n_hc).round(),
                             sex=rng.choice(["M", "F"], n_trd + n_hc),
                             education=rng.integers(9, 17, n_trd + n_hc),
                             hamd_pre=pre, hamd_post=post, has_pre=True, has_post=comp,
                             included_baseline=True, included_ect=comp))
    part["mean_fd_pre"] = rng.uniform(0.05, 0.2, len(part))
    part["mean_fd_post"] = np.where(comp, rng.uniform(0.05, 0.2, len(part)), np.nan)
    part["hamd_reduction"] = (part.hamd_pre - part.hamd_post) / part.hamd_pre
    part.to_csv(tmp / "participants_included.tsv", sep="\t", index=False, na_rep="n/a")
    motion = pd.DataFrame(dict(participant_id=ids[:3], session="pre", mean_fd=0.1,
                               max_translation_mm=0.5, max_rotation_deg=0.5, n_volumes=100,
                               n_censored=0, included=True, reason=""))
    motion.to_csv(tmp / "motion.tsv", sep="\t", index=False, na_rep="n/a")
    B = np.vstack([c["B"], 0.3 + 0.1 * rng.standard_normal((n_hc, g.n_vox))])
    D = np.vstack([c["D"], np.zeros((n_hc, g.n_vox))])
    fc = []
    for i, sid in enumerate(ids):
        for ses, data in (("pre", B[i]), ("post", B[i] + D[i])):
            if ses == "post" and not comp[i]:
                continue
            vol = np.zeros(g.mask.shape, np.float32)
            vol[g.mask] = data
            p = tmp / f"{sid}_ses-{ses}_task-rest_space-MNI152NLin2009cAsym_seed-Exec2L_desc-fcz_stat.nii.gz"
            nib.save(nib.Nifti1Image(vol, g.affine), p)
            fc.append(str(p))
    lab = np.zeros(g.mask.shape, np.int16)
    lab[g.mask] = c["planted"]
    for contrast in ("ect", "baseline"):
        nib.save(nib.Nifti1Image(lab, g.affine), tmp / f"labels_{contrast}.nii.gz")
    nib.save(nib.Nifti1Image(g.mask.astype(np.uint8), g.affine), tmp / "mask.nii.gz")
    for contrast in ("ect", "baseline"):  # as the group stage writes it: feed = labels' method
        pd.DataFrame(dict(cluster_id=[1, 2], method=["cluster_extent", "grf"], feed=[True, False],
                          direction="post>pre", peak_x=-6.0, peak_y=48.0, peak_z=32.0,
                          peak_t=[4.5, 4.4], p_fwe=0.01, aal_peak="Frontal_Sup_Medial_L")
                     ).to_csv(tmp / f"clusters_{contrast}.tsv", sep="\t", index=False)
    return tmp, fc


def test_demographics_script(cohort):
    tmp, _ = cohort
    smk = _smk(tmp, dict(participants=str(tmp / "participants_included.tsv"),
                         motion=str(tmp / "motion.tsv")),
               dict(table=str(tmp / "demo.tsv"), markdown=str(tmp / "demo.md"),
                    exclusions=str(tmp / "excl.tsv")),
               dict(ttest="student", yates=False, sample="included", reduction="rate",
                    sessions=["pre", "post"]), "demo.log")
    _run("clinical_demographics.py", smk)
    t = pd.read_csv(tmp / "demo.tsv", sep="\t")
    assert "sex (M/F)" in set(t["variable"])
    assert "Exclusions" in (tmp / "demo.md").read_text()
    assert len(pd.read_csv(tmp / "excl.tsv", sep="\t")) == 2  # two TRD without a post scan


def test_correlations_script(cohort):
    tmp, fc = cohort
    smk = _smk(tmp, dict(participants=str(tmp / "participants_included.tsv"), fc=fc,
                         labels=[str(tmp / "labels_baseline.nii.gz"),
                                 str(tmp / "labels_ect.nii.gz")],
                         tables=[str(tmp / "clusters_baseline.tsv"), str(tmp / "clusters_ect.tsv")],
                         mask=str(tmp / "mask.nii.gz")),
               dict(table=str(tmp / "corr.tsv"), values=str(tmp / "values.tsv"),
                    clusters=str(tmp / "clusters.tsv")),
               dict(label_keys=[["baseline", "Exec2L"], ["ect", "Exec2L"]],
                    analyses={"delta_fc_vs_reduction": ["ect"],
                              "baseline_fc_vs_hamd_pre": ["baseline", "ect"]},
                    measures=["pearson", "spearman", "partial"],
                    covariates=["age", "sex", "mean_fd_delta"], bonferroni_scope="analysis",
                    alpha=0.05, reduction="rate", ses_pre="pre", ses_post="post", loso=True,
                    loso_voxel_p=0.001, connectivity=26), "corr.log")
    _run("clinical_correlations.py", smk)
    t = pd.read_csv(tmp / "corr.tsv", sep="\t")
    assert len(t) == 3 * 3
    prim = t[(t.analysis == "delta_fc_vs_reduction") & (t.measure == "pearson")].iloc[0]
    assert prim["n"] == 20 and prim["r"] > 0.5 and prim["p_bonferroni"] < 0.05
    assert "r = " in (tmp / "corr.log").read_text()
    assert (t["group_aal_peak"] == "Frontal_Sup_Medial_L").all()
    assert set(t["group_peak_t"]) == {4.5}
    # leave-one-subject-out estimate next to the circular one: ECT cluster rows of the delta analysis only
    loso = t[(t.analysis == "delta_fc_vs_reduction")]
    assert loso["n_loso"].eq(20).all() and loso["r_loso"].between(0.3, 1).all()
    assert t.loc[t.analysis != "delta_fc_vs_reduction", "r_loso"].isna().all()
    assert list(t.columns[t.columns.get_loc("p") + 1:][:3]) == ["r_loso", "p_loso", "n_loso"]
    v = pd.read_csv(tmp / "values.tsv", sep="\t")
    assert v.loc[v.cluster_contrast == "ect", "delta_fc_loso"].notna().sum() == 20
    assert "LOSO r = " in (tmp / "corr.log").read_text()


@pytest.mark.parametrize("mode", ["as_published", "nested"])
def test_predict_scripts(cohort, mode):
    tmp, fc = cohort
    out = {k: str(tmp / mode / f"{k}.tsv") for k in ("predictions", "null", "kfold", "folds")}
    out["json"] = str(tmp / mode / "svr.json")
    params = dict(seed="Exec2L", sample="completers", C=1.0, epsilon=0.1, n_permutations=39,
                  n_splits=5, n_repeats=3, random_seed=5, reduction="rate",
                  target_description="HAMD reduction rate", ses_pre="pre", ses_post="post",
                  nested=dict(voxel_p=0.001, min_cluster_voxels=10, connectivity=26,
                              fallback="peak_sphere", fallback_radius_mm=6.0))
    smk = _smk(tmp, dict(participants=str(tmp / "participants_included.tsv"),
                         mask=str(tmp / "mask.nii.gz"), fc=fc,
                         labels=str(tmp / "labels_ect.nii.gz")), out, params, f"{mode}.log",
               wildcards=dict(mode=mode))
    _run("predict_svr.py", smk)
    res = json.loads((tmp / mode / "svr.json").read_text())
    assert res["status"] == "ok" and res["n"] == 20 and res["sample"] == "completers"
    assert res["loo"]["r"] > 0.3 and res["p_permutation"]["r"] <= 0.05
    assert len(pd.read_csv(out["null"], sep="\t")) == 39
    pred = pd.read_csv(out["predictions"], sep="\t")
    assert pred["predicted"].notna().all() and len(pred) == 20
    if mode == "nested":
        assert res["nested_folds"]["dice_with_full_sample"]["mean"] > 0.5


def test_predict_rule_script(cohort):
    tmp, fc = cohort
    out = {k: str(tmp / "rule-grf" / f"{k}.tsv") for k in ("predictions", "folds")}
    out["json"] = str(tmp / "rule-grf" / "svr.json")
    params = dict(spec={"method": "grf", "name": "grf"}, seed="Exec2L", sample="completers", C=1.0,
                  epsilon=0.1, n_permutations=19, random_seed=5, reduction="rate",
                  target_description="HAMD reduction rate", ses_pre="pre", ses_post="post")
    smk = _smk(tmp, dict(participants=str(tmp / "participants_included.tsv"), mask=str(tmp / "mask.nii.gz"),
                         fc=fc, labels=str(tmp / "labels_ect.nii.gz")), out, params, "rule.log",
               wildcards=dict(rule="grf"))
    _run("predict_rule.py", smk)
    res = json.loads((tmp / "rule-grf" / "svr.json").read_text())
    assert res["rule"]["method"] == "grf" and res["n"] == 20
    for m in ("as_published", "nested"):
        assert res[m]["loo"]["r"] > 0.3
    assert res["difference"]["r"] == pytest.approx(res["as_published"]["loo"]["r"] - res["nested"]["loo"]["r"])
    pred = pd.read_csv(out["predictions"], sep="\t")
    assert len(pred) == 20 and pred[["predicted_as_published", "predicted_nested"]].notna().all().all()
    assert len(pd.read_csv(out["folds"], sep="\t")) == 20


def test_predict_summary_script(cohort):
    tmp, _ = cohort
    modes = ["as_published", "nested"]
    if not all((tmp / m / "svr.json").exists() for m in modes + ["rule-grf"]):
        pytest.skip("needs test_predict_scripts and test_predict_rule_script")
    inp = dict(json=[str(tmp / m / "svr.json") for m in modes], rules=[str(tmp / "rule-grf" / "svr.json")])
    for k in ("predictions", "null", "kfold", "folds"):
        inp[k] = [str(tmp / m / f"{k}.tsv") for m in modes]
    smk = _smk(tmp, inp, dict(json=str(tmp / "svr.json")), dict(modes=modes, rules=["grf"]), "sum.log")
    _run("predict_summary.py", smk)
    res = json.loads((tmp / "svr.json").read_text())
    assert set(res["modes"]) == set(modes) and res["n"] == 20
    assert set(res["rules"]) == {"grf"} and set(res["rules"]["grf"]["difference"]) >= {"r", "mae"}
    from fcect.report.summary import prediction_section
    sec = prediction_section(res)
    assert sec["rules"]["grf"]["method"] == "grf"
    assert sec["rules"]["grf"]["difference_r"] == pytest.approx(res["rules"]["grf"]["difference"]["r"])
    assert res["modes"]["nested"]["files"]["null"].endswith("null.tsv")


def test_summary_sections_with_rules_and_loso_match_schema(cohort):
    """summary.json's prediction rules and clinical LOSO fields validate against summary.schema.json."""
    import jsonschema

    from fcect.report.summary import clinical_section, prediction_section

    tmp, _ = cohort
    if not (tmp / "svr.json").exists() or not (tmp / "corr.tsv").exists():
        pytest.skip("needs the script tests above")
    schema = json.loads((ROOT / "config" / "schema" / "summary.schema.json").read_text())
    pred = prediction_section(json.loads((tmp / "svr.json").read_text()))
    jsonschema.validate(pred, schema["properties"]["prediction"])
    clin = clinical_section(pd.read_csv(tmp / "corr.tsv", sep="\t"))
    jsonschema.validate(clin, schema["properties"]["clinical"])
    rows = [r for r in clin["correlations"] if r["analysis"] == "delta_fc_vs_reduction"]
    assert rows and all(r["n_loso"] == 20 and -1 <= r["r_loso"] <= 1 for r in rows)
    bad = dict(pred, rules={"x": dict(pred["rules"]["grf"], difference_r="big")})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, schema["properties"]["prediction"])
