"""End-to-end drivers of the transcriptomics rules on a synthetic imaging-transcriptomics folder (no network)."""
import json

import numpy as np
import pandas as pd
import pytest

from fcect.transcriptomics import run as tx_run
from fcect.testing import transcriptomics as syn

CFG = {
    "pls": {"n_components": 2},
    "nulls": {"method": "spin", "n": 100, "reassignment": "vertex", "centroid": "surface",
              "variogram": {"deltas": [0.1, 0.3, 0.5, 0.7, 0.9], "pv": 25, "nh": 25, "kernel": "exp", "resample": True}},
    "bootstrap": {"n": 100, "fdr_alpha": 0.05},
    "regions": {"include_subcortex": False, "min_voxels": 5},
    "enrichment": {"libraries": [{"name": "CellTypes_LAKE", "min_size": 10, "max_size": 2000},
                                 {"name": "KEGG_2021_Human", "min_size": 10, "max_size": 500}],
                   "gsea_permutations": 200, "calibration": {"n_nulls": 30, "n_boot": 20}},
}


@pytest.fixture(scope="module")
def itx(tmp_path_factory):
    d = tmp_path_factory.mktemp("itx")
    src = syn.make_fake_itx_dir(d / "src", n_genes=300, rng=0)
    out = d / "itx"
    tx_run.run_fetch(out, data_dir=d / "src")
    return out


@pytest.mark.parametrize("method,subcortex", [("spin", False), ("variogram", True)])
def test_response_pls_enrichment(itx, tmp_path, method, subcortex):
    import copy
    import nibabel as nib
    cfg = copy.deepcopy(CFG)
    cfg["nulls"]["method"] = method
    cfg["regions"]["include_subcortex"] = subcortex
    tmap = tmp_path / "stat-t.nii.gz"
    nib.save(syn.smooth_t_map(itx / "atlas-DK_1mm.nii.gz", 6.0, rng=1), tmap)
    rr = tx_run.run_response(tmap, itx / "atlas-DK_1mm.nii.gz", itx / "atlas-DK_labels.csv",
                             tmp_path / "regional_response.tsv", include_subcortex=subcortex, min_voxels=2)
    assert len(rr) == (41 if subcortex else 34) and rr["included"].sum() >= 30
    out = tx_run.run_pls(tmp_path / "regional_response.tsv", itx / "atlas-DK_gene_expression_data.csv",
                         itx / "atlas-DK_labels.csv", tmp_path / "pls.json", tmp_path / "gene_weights.tsv",
                         tmp_path / "null_responses.tsv", cfg, 7, "Exec2L", "ect",
                         atlas=itx / "atlas-DK_1mm.nii.gz")
    js = json.loads((tmp_path / "pls.json").read_text())
    assert js["n_genes"] == 300 and js["n_regions"] == rr["included"].sum()
    assert len(js["components"]) == 2 and 0 < js["pls1_var_explained"] <= 1 and 0 < js["pls1_p_spatial"] <= 1
    assert "partial least squares" in js["methods"]
    g = pd.read_csv(tmp_path / "gene_weights.tsv", sep="\t", keep_default_na=False)
    assert {"gene", "PLS1_weight", "PLS1_z", "PLS1_q", "list"} <= set(g.columns) and len(g) == 300
    gmts = {}
    for lib in cfg["enrichment"]["libraries"]:
        gmts[lib["name"]] = tmp_path / f"{lib['name']}.gmt"
        tx_run.run_geneset(lib["name"], gmts[lib["name"]], itx_dir=itx)
    res = tx_run.run_enrichment(tmp_path / "gene_weights.tsv", tmp_path / "regional_response.tsv",
                                itx / "atlas-DK_gene_expression_data.csv", itx / "atlas-DK_labels.csv",
                                tmp_path / "null_responses.tsv", gmts, cfg["enrichment"]["libraries"], cfg, 7,
                                tmp_path, threads=2)
    for lst in ("pls1pos", "pls1neg", "gsea"):
        for lib in ("CellTypes_LAKE", "KEGG_2021_Human"):
            df = pd.read_csv(tmp_path / f"enrichment_{lst}_{lib}.tsv", sep="\t")
            assert {"term", "p_geneperm", "p_rank", "p_tail", "fit_method", "p_spatial", "q_spatial"} <= set(df.columns)
    lake = pd.read_csv(tmp_path / "enrichment_gsea_CellTypes_LAKE.tsv", sep="\t")
    assert len(lake) == 6 and lake["p_spatial"].between(0, 1).all() and lake["p_geneperm"].between(0, 1).all()
    # 30 calibration nulls: too few for a tail fit, so the final p is the rank p
    assert set(lake["fit_method"]) <= {"rank", "rank_no_fit"} and (lake["p_spatial"] == lake["p_rank"]).all()
    assert len(pd.read_csv(tmp_path / "enrichment_gsea_KEGG_2021_Human.tsv", sep="\t")) == 0   # no overlap


def test_bad_inputs_fail_clearly(itx, tmp_path):
    import nibabel as nib
    img = syn.smooth_t_map(itx / "atlas-DK_1mm.nii.gz", 6.0, rng=2)
    nib.save(nib.Nifti1Image(np.zeros(img.shape, np.float32), img.affine), tmp_path / "zero.nii.gz")
    tx_run.run_response(tmp_path / "zero.nii.gz", itx / "atlas-DK_1mm.nii.gz", itx / "atlas-DK_labels.csv",
                        tmp_path / "rr.tsv")
    with pytest.raises(ValueError, match="too few for PLS"):
        tx_run.run_pls(tmp_path / "rr.tsv", itx / "atlas-DK_gene_expression_data.csv", itx / "atlas-DK_labels.csv",
                       tmp_path / "p.json", tmp_path / "g.tsv", tmp_path / "n.tsv", CFG, 1, "s", "ect")
    with pytest.raises(ValueError, match="neither bundled"):
        tx_run.run_geneset("NoSuchLibrary", tmp_path / "x.gmt")
