"""Power and localisation of the group stage on simulated cohorts (ground truth in fcect.simulate).

* Tiny cohort (the shared ``tiny_run`` fixture, full workflow): every group output exists and is consistent, the
  feed clusters of the null seed Exec1R are empty. The tiny cohort (15 / 6 participants) has no power for the
  planted effects, so their detection is not asserted there.
* Default-size cohort (135 participants, 52 completers): set ``FCECT_POWER_RUN=<workflow dir>`` to a finished
  run of the default config (at least the FC maps, QC table and analysis mask); the group stage is rerun here on
  its FC maps (cluster-extent FWE, fewer permutations) for the three seeds with a planted effect or none:
  baseline DMN9L must give HC>TRD clusters on the posterior cingulate and sensorimotor targets, ECT Exec2L a
  post>pre cluster on the medial superior frontal target, and Exec1R no cluster in either contrast.
"""
import json
import os
import pathlib

import nibabel as nib
import numpy as np
import pandas as pd
import pytest


from fcect.core.paths import group_files
from fcect.group import run as G
from fcect.simulate.cohort import REGIONS

SEEDS = ["Exec1L", "Exec1R", "Exec2L", "Exec2R", "DMN9L", "DMN9R", "Limb6V"]


def _overlaps(labels_img, ids, region, extra_mm=3.0):
    """Number of voxels of the clusters ``ids`` within the target spheres (radius + extra_mm)."""
    d = np.asarray(labels_img.dataobj)
    ijk = np.argwhere(np.isin(d, list(ids)))
    if not len(ijk):
        return 0
    xyz = ijk @ labels_img.affine[:3, :3].T + labels_img.affine[:3, 3]
    r = REGIONS[region]
    dist = np.min([np.linalg.norm(xyz - np.array(c), axis=1) for c in r["centers"]], axis=0)
    return int((dist <= r["radius"] + extra_mm).sum())


def test_tiny_run_group_outputs_and_null_seed(tiny_run):
    wd = pathlib.Path(tiny_run)
    cfg_methods = ["maxt", "cluster_extent", "cluster_mass", "tfce", "grf"]
    for contrast in ("baseline", "ect"):
        for seed in SEEDS:
            d = wd / "results" / "group" / contrast / f"seed-{seed}"
            for f in group_files(cfg_methods):
                assert (d / f).exists(), d / f
            info = json.loads((d / "group.json").read_text())
            tab = pd.read_csv(d / "clusters.tsv", sep="\t")
            lab = np.asarray(nib.load(d / "cluster_labels.nii.gz").dataobj)
            feed = tab[tab["feed"].astype(bool)] if len(tab) else tab
            assert set(np.unique(lab[lab > 0])) == set(feed["cluster_id"]) if len(tab) else not lab.any()
            assert info["n_perm"] >= 1 and info["contrast"] == contrast
            if seed == "Exec1R":
                assert len(feed) == 0, f"null seed Exec1R has {contrast} clusters:\n{feed}"


POWER_RUN = os.environ.get("FCECT_POWER_RUN")


@pytest.fixture(scope="module")
def power_results(tmp_path_factory):
    if not POWER_RUN:
        pytest.skip("set FCECT_POWER_RUN to a finished default-size workflow run")
    wd = pathlib.Path(POWER_RUN)
    fc = sorted(str(p) for p in (wd / "results" / "fc").rglob("*_desc-fcz_stat.nii.gz"))
    out = tmp_path_factory.mktemp("power")
    cfg = dict(contrasts=["baseline", "ect"], covariates=["age", "sex", "education", "mean_fd"], ect_covariates=[],
               methods=["cluster_extent"], n_perm=500, cluster_forming_p=0.001, alpha=0.05,
               feed_method="cluster_extent", ect_mask="whole", bonferroni_seeds=False, connectivity=26,
               grf={}, seed_offset=3000, threads=2)
    res = {}
    for contrast, seed in [("baseline", "DMN9L"), ("ect", "Exec2L"), ("baseline", "Exec1R"), ("ect", "Exec1R")]:
        maps = [p for p in fc if f"seed-{seed}_" in p]
        d = out / contrast / seed
        G.run_group(contrast, seed, wd / "results/qc/participants_included.tsv", maps,
                    wd / "results/masks/analysis_mask.nii.gz", d, cfg, 20260101, n_seeds=len(SEEDS))
        res[(contrast, seed)] = (pd.read_csv(d / "clusters.tsv", sep="\t"), nib.load(d / "cluster_labels.nii.gz"))
    return res


def test_power_baseline_dmn9l_hc_gt_trd_on_targets(power_results):
    tab, lab = power_results[("baseline", "DMN9L")]
    hc = tab[tab.direction == "HC>TRD"]
    assert len(hc), "no HC>TRD cluster for DMN9L"
    for region in ("PCC", "SMC"):
        assert _overlaps(lab, hc.cluster_id, region) > 0, f"no HC>TRD cluster on {region}"
    assert (tab.direction == "TRD>HC").sum() == 0


def test_power_ect_exec2l_post_gt_pre_on_msfg(power_results):
    tab, lab = power_results[("ect", "Exec2L")]
    up = tab[tab.direction == "post>pre"]
    assert len(up) and _overlaps(lab, up.cluster_id, "mSFG") > 0
    assert up.aal_labels.str.contains("Frontal_Sup_Medial").any()


@pytest.mark.parametrize("contrast", ["baseline", "ect"])
def test_power_null_seed_exec1r_has_no_cluster(power_results, contrast):
    tab, _ = power_results[(contrast, "Exec1R")]
    assert len(tab) == 0, tab
