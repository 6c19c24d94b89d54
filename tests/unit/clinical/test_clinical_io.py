"""From NIfTI files to tables: cluster values, correlations and the prediction arrays."""

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy import stats


from fcect.core import images
from fcect.clinical import correlations as C
from fcect.prediction import run as R
from fcect.prediction import selection as S
from fcect.testing import prediction as syn


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A small cohort on disk: 24 completers + 4 non-completers + 6 HC, one seed, one cluster."""
    tmp = tmp_path_factory.mktemp("clin")
    c = syn.synthetic_cohort(n=28, seed=7, coupling=1.0)
    g = c["geom"]
    n = 28
    ids = [f"sub-{i:02d}" for i in range(n + 6)]
    groups = ["TRD"] * n + ["HC"] * 6
    completer = np.r_[np.ones(24, bool), np.zeros(4, bool), np.zeros(6, bool)]
    y = np.r_[c["y"], np.full(6, np.nan)]
    pre = np.r_[np.full(n, 25.0), np.full(6, 3.0)]
    post = np.where(completer, np.round(pre * (1 - y), 6), np.nan)
    part = pd.DataFrame(dict(participant_id=ids, group=groups, age=np.linspace(20, 60, n + 6),
                             sex=["M", "F"] * ((n + 6) // 2), education=12, hamd_pre=pre,
                             hamd_post=post))
    part["has_pre"] = True
    part["has_post"] = completer
    part["included_baseline"] = True
    part["included_ect"] = completer
    part["hamd_reduction"] = (part.hamd_pre - part.hamd_post) / part.hamd_pre
    rng = np.random.default_rng(0)
    B_hc = 0.3 + 0.1 * rng.standard_normal((6, g.n_vox))
    B = np.vstack([c["B"], B_hc])
    D = np.vstack([c["D"], np.zeros((6, g.n_vox))])
    paths = []
    for i, sid in enumerate(ids):
        for ses, data in (("pre", B[i]), ("post", B[i] + D[i])):
            if ses == "post" and not completer[i]:
                continue
            vol = np.zeros(g.mask.shape, np.float32)
            vol[g.mask] = data
            p = tmp / f"{sid}_ses-{ses}_task-rest_space-MNI152NLin2009cAsym_seed-Exec2L_desc-fcz_stat.nii.gz"
            nib.save(nib.Nifti1Image(vol, g.affine), p)
            paths.append(p)
    lab = np.zeros(g.mask.shape, np.int16)
    lab[g.mask] = c["planted"] * 3  # cluster id 3
    nib.save(nib.Nifti1Image(lab, g.affine), tmp / "labels.nii.gz")
    nib.save(nib.Nifti1Image(g.mask.astype(np.uint8), g.affine), tmp / "mask.nii.gz")
    return dict(part=part, paths=paths, tmp=tmp, c=c, completer=completer, B=B, D=D)


def test_parse_entities():
    e = images.parse_entities("results/fc/sub-01/ses-pre/sub-01_ses-pre_task-rest_space-X_seed-DMN9L_"
                         "desc-fcz_stat.nii.gz")
    assert e == dict(sub="01", ses="pre", seed="DMN9L")


def test_cluster_values_and_correlations(files):
    part = files["part"]
    idx = images.index_fc_maps(files["paths"])
    vals, clus = C.cluster_values_table(part, idx, {("ect", "Exec2L"): files["tmp"] / "labels.nii.gz"})
    assert list(clus["cluster_id"]) == [3] and clus["size_voxels"].iloc[0] == 27
    assert len(vals) == len(part)  # every participant included at baseline, one cluster
    pv = files["c"]["planted"] > 0
    v = vals.set_index("participant_id")
    i = 5
    assert v.loc[part.participant_id[i], "fc_pre"] == pytest.approx(
        files["B"][i, pv].astype(np.float32).mean(), abs=1e-6)
    assert v.loc[part.participant_id[i], "delta_fc"] == pytest.approx(
        files["D"][i, pv].mean(), abs=1e-5)
    assert v["delta_fc"].notna().sum() == 24
    t = C.correlations_from_values(vals, clus, part,
                                   {"delta_fc_vs_reduction": ["ect"],
                                    "baseline_fc_vs_hamd_pre": ["ect"]},
                                   ["pearson", "spearman", "partial"], ["age", "sex"])
    assert len(t) == 6
    row = t[(t.analysis == "delta_fc_vs_reduction") & (t.measure == "pearson")].iloc[0]
    comp = v[v.included_ect]
    ref = stats.pearsonr(comp["delta_fc"], comp["hamd_reduction"])
    assert row["n"] == 24 and row["p"] == pytest.approx(ref.pvalue, rel=1e-9)
    assert row["r"] > 0.5 and not row["exploratory"]
    assert t[t.analysis == "baseline_fc_vs_hamd_pre"]["exploratory"].all()
    assert (t[t.analysis == "baseline_fc_vs_hamd_pre"]["n"] == 28).all()


def test_missing_map_is_a_clear_error(files):
    idx = images.index_fc_maps(files["paths"][2:])
    with pytest.raises(FileNotFoundError, match="sub-00 ses-pre seed-Exec2L"):
        C.cluster_values_table(files["part"], idx,
                               {("ect", "Exec2L"): files["tmp"] / "labels.nii.gz"})


@pytest.mark.parametrize("sample,n", [("completers", 23), ("all_with_reduction", 24)])
def test_prediction_data(files, sample, n):
    part = files["part"].copy()
    part.loc[3, "included_ect"] = False  # post scan failed QC: kept only by all_with_reduction
    d = R.prediction_data(part, images.index_fc_maps(files["paths"]), files["tmp"] / "mask.nii.gz",
                          "Exec2L", sample, labels_path=files["tmp"] / "labels.nii.gz")
    assert len(d["y"]) == n
    assert d["cluster_ids"] == [3] and set(np.unique(d["labels"])) == {0, 1}
    np.testing.assert_allclose(d["B"][0], files["B"][0].astype(np.float32), atol=1e-6)
    if sample == "all_with_reduction":
        assert (~d["has_diff"]).sum() == 1 and np.isnan(d["D"][~d["has_diff"]]).all()
    feats = S.features_from_labels(d["B"], d["labels"])
    res = R.run_mode(d["y"], features=feats, n_perm=19, n_repeats=2, n_splits=5,
                     log=lambda *_: None)
    assert res["loo"]["r"] > 0.3
