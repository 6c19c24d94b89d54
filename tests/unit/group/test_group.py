"""Group stage driver (fcect.group.run.run_group) on a small synthetic cohort: outputs, design, errors."""
import json

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from scipy import ndimage


from fcect.core.paths import group_files
from fcect.group import run as G
from fcect.core.io import InputError

AFF = np.array([[6.0, 0, 0, -90], [0, 6.0, 0, -126], [0, 0, 6.0, -72], [0, 0, 0, 1]])
SHAPE = (31, 37, 31)
BLOB_MNI = np.array([-6.0, 48.0, 30.0])     # left medial superior frontal gyrus
CFG = dict(contrasts=["baseline", "ect"], covariates=["age", "sex", "education", "mean_fd"], ect_covariates=[],
           methods=["maxt", "cluster_extent", "cluster_mass", "tfce", "grf"], n_perm=100, cluster_forming_p=0.01,
           alpha=0.05, feed_method="cluster_extent", ect_mask="whole", bonferroni_seeds=False, connectivity=26,
           grf={"voxel_p": 0.01, "cluster_p": 0.05}, seed_offset=3000, threads=1)


def _ijk(mni):
    return np.rint(np.linalg.solve(AFF[:3, :3], mni - AFF[:3, 3])).astype(int)


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    root = tmp_path_factory.mktemp("group")
    rng = np.random.default_rng(0)
    c = _ijk(BLOB_MNI)
    ii = np.indices(SHAPE) - c[:, None, None, None]
    mask = (np.abs(ii) <= np.array([5, 5, 4])[:, None, None, None]).all(0)
    nib.save(nib.Nifti1Image(mask.astype(np.uint8), AFF), root / "mask.nii.gz")
    blob = np.exp(-((ii ** 2).sum(0)) / (2 * 1.5 ** 2))
    n_trd, n_hc = 12, 12
    rows, paths = [], []
    for i in range(n_trd + n_hc):
        pid = f"sub-{i:03d}"
        trd = i < n_trd
        post = trd and i < 10
        rows.append(dict(participant_id=pid, group="TRD" if trd else "HC", age=rng.normal(40, 10),
                         sex=rng.choice(["M", "F"]), education=rng.normal(13, 3), mean_fd_pre=rng.gamma(4, 0.03),
                         mean_fd_post=rng.gamma(4, 0.03) if post else np.nan,
                         included_baseline=i != 3, included_ect=post and i != 5))
        for ses in (["pre", "post"] if post else ["pre"]):
            m = ndimage.gaussian_filter(rng.standard_normal(SHAPE), 1.0) * 0.15
            if ses == "pre" and trd:
                m -= 0.25 * blob                   # HC > TRD at baseline
            if ses == "post":
                m += 0.25 * blob                   # after ECT: the deficit is gone and FC rises above it
            p = root / "fc" / f"{pid}_ses-{ses}_task-rest_space-MNI152NLin2009cAsym_seed-S1_desc-fcz_stat.nii.gz"
            p.parent.mkdir(exist_ok=True)
            nib.save(nib.Nifti1Image((m * mask).astype(np.float32), AFF), p)
            paths.append(str(p))
    part = pd.DataFrame(rows)
    part.to_csv(root / "participants_included.tsv", sep="\t", index=False, na_rep="n/a")
    return root, paths, mask


def _run(cohort, contrast, out, **over):
    root, paths, _ = cohort
    cfg = dict(CFG, **over)
    bl = over.pop("_bl", None)
    cfg.pop("_bl", None)
    return G.run_group(contrast, "S1", root / "participants_included.tsv", paths, root / "mask.nii.gz",
                       root / out, cfg, 20260101, n_seeds=7, baseline_labels=bl)


def test_baseline_outputs_design_and_planted_cluster(cohort):
    root, _, mask = cohort
    info = _run(cohort, "baseline", "baseline")
    out = root / "baseline"
    for f in group_files(CFG["methods"]):
        assert (out / f).exists(), f
    assert info["n"] == 23 and info["counts"] == {"TRD": 11, "HC": 12} and "sub-003" not in info["participants"]
    assert info["dof"] == 23 - 6 and info["scheme"] == "permute" and info["n_perm"] == 100
    assert info["design_columns"][0].startswith("TRD") and info["effect_size"] == "hedges_g"
    assert info["grf"]["min_cluster_size_voxels"] >= 1 and len(info["grf"]["fwhm_mm"]) == 3
    tab = pd.read_csv(out / "clusters.tsv", sep="\t")
    feed = tab[tab.feed]
    assert len(feed) >= 1 and (feed.method == "cluster_extent").all()
    top = feed.iloc[0]
    assert top.direction == "HC>TRD" and top.peak_t < 0 and top.p_fwe < 0.05
    assert np.linalg.norm(np.array([top.peak_x, top.peak_y, top.peak_z]) - BLOB_MNI) <= 12
    assert "Frontal_Sup_Medial" in top.aal_labels
    lab = np.asarray(nib.load(out / "cluster_labels.nii.gz").dataobj)
    assert set(np.unique(lab[lab > 0])) == set(feed.cluster_id)
    for r in feed.itertuples():
        assert (lab == r.cluster_id).sum() == r.size_voxels
    t = nib.load(out / "stat-t.nii.gz").get_fdata()
    assert np.all(t[~mask] == 0) and t[tuple(_ijk(BLOB_MNI))] < -3
    lp = nib.load(out / "logp-fwe_method-maxt.nii.gz").get_fdata()
    assert lp.max() > -np.log10(0.05) and np.all(lp >= 0)
    js = json.loads((out / "group.json").read_text())
    assert js["feed_method"] == "cluster_extent" and js["random_state"] == G.permutation_seed(20260101, 3000,
                                                                                              "baseline", "S1")


def test_ect_one_sample_sign_flip_and_baseline_cluster_mask(cohort):
    root, _, mask = cohort
    info = _run(cohort, "ect", "ect")
    assert info["scheme"] == "signflip" and info["counts"] == {"completers": 9} and info["effect_size"] == "cohens_d"
    assert info["exact_enumeration"] is False and info["mask"] == "whole analysis mask"
    tab = pd.read_csv(root / "ect" / "clusters.tsv", sep="\t")
    assert (tab[tab.feed].direction == "post>pre").all() and len(tab[tab.feed]) >= 1
    # restricted to the baseline clusters, with Bonferroni over the 7 seeds, all sign flips enumerated (2^9 - 1)
    if not (root / "baseline" / "cluster_labels.nii.gz").exists():
        _run(cohort, "baseline", "baseline")
    info2 = _run(cohort, "ect", "ect_bc", ect_mask="baseline_clusters", bonferroni_seeds=True, n_perm=1000,
                 _bl=root / "baseline" / "cluster_labels.nii.gz")
    bl = np.asarray(nib.load(root / "baseline" / "cluster_labels.nii.gz").dataobj) > 0
    assert info2["n_voxels"] == int(bl.sum()) and info2["mask"].startswith("baseline clusters")
    assert info2["exact_enumeration"] is True and info2["n_perm"] == 2 ** 9 - 1
    assert info2["alpha"] == pytest.approx(0.05 / 7) and info2["grf"]["cluster_p"] == pytest.approx(0.05 / 7)
    t = nib.load(root / "ect_bc" / "stat-t.nii.gz").get_fdata()
    assert np.all(t[~bl] == 0)


def test_missing_map_and_bad_covariate_name_the_file(cohort):
    root, paths, _ = cohort
    with pytest.raises(InputError, match="sub-000 ses-pre"):
        G.run_group("baseline", "S1", root / "participants_included.tsv", paths[1:], root / "mask.nii.gz",
                    root / "x", CFG, 1, 7)
    with pytest.raises(InputError, match="participants_included.tsv.*bmi"):
        G.run_group("baseline", "S1", root / "participants_included.tsv", paths, root / "mask.nii.gz",
                    root / "x", dict(CFG, covariates=["bmi"]), 1, 7)


def test_rule_helpers():
    scans = [("1", "pre"), ("1", "post"), ("2", "pre")]
    fm = lambda s, t, k: f"{s}-{t}-{k}"  # noqa: E731
    assert G.fc_inputs("baseline", "A", scans, "pre", "post", fm) == ["1-pre-A", "2-pre-A"]
    assert G.fc_inputs("ect", "A", scans, "pre", "post", fm) == ["1-pre-A", "1-post-A"]
    assert "logp-fwe_method-grf.nii.gz" in group_files(["grf"])
