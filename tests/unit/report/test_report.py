"""Unit tests of the summary / methods builders (fcect.report) on small fake inputs (fast, no workflow run)."""

import json

import jsonschema
import numpy as np
import pandas as pd
import pytest
import yaml

from fcect.core import html as html_mod
from fcect.report import methods as M, summary as R

from conftest import REPO
REPO = REPO
SCHEMA = json.loads((REPO / "config/schema/summary.schema.json").read_text())


@pytest.fixture(scope="module")
def config():
    """The default config with the schema defaults filled in, as Snakemake sees it."""
    from snakemake.utils import validate

    cfg = yaml.safe_load((REPO / "config/config.yaml").read_text())
    validate(cfg, str(REPO / "config/schema/config.schema.yaml"))
    return cfg


@pytest.fixture
def participants():
    return pd.DataFrame(dict(
        participant_id=[f"sub-{i:02d}" for i in range(1, 9)],
        group=["TRD"] * 5 + ["HC"] * 3,
        has_pre=[True] * 8,
        has_post=[True, True, True, True, False, False, False, False],
        included_baseline=[True, True, True, True, False, True, True, False],
        included_ect=[True, True, False, True, False, False, False, False],
        hamd_pre=[25, 30, 22, 28, 26, 2, 1, 0], hamd_post=[10, 12, 20, 14, np.nan, np.nan, np.nan, np.nan]))


@pytest.fixture
def motion():
    return pd.DataFrame(dict(
        participant_id=["sub-01", "sub-02", "sub-03", "sub-03", "sub-05", "sub-08"],
        session=["pre", "pre", "pre", "post", "pre", "pre"],
        included=[True, True, True, False, False, False],
        reason=["", "", "", "max translation 3.1 mm > 2.0", "max rotation 2.5 deg > 2.0", np.nan]))


def _clusters():
    return pd.DataFrame(dict(
        cluster_id=[1, 2], method=["cluster_extent", "maxt"], feed=[True, False], direction=["post>pre", "pre>post"],
        size_voxels=[40, 3], size_mm3=[1080.0, 81.0], peak_x=[-6.0, 30.0], peak_y=[54.0, -12.0], peak_z=[30.0, 60.0],
        peak_t=[5.2, -4.9], peak_effsize=[0.9, -0.8], p_fwe=[0.004, 0.03], alpha=[0.05, 0.05],
        aal_peak=["Frontal_Sup_Medial_L", "n/a"], aal_labels=["Frontal_Sup_Medial_L (80%)", "n/a"]))


def _group_entries():
    info = dict(feed_method="cluster_extent", methods=["maxt", "cluster_extent"], n=4, counts={"completers": 4},
                dof=3, n_perm=16, alpha=0.05, random_state=123, n_clusters={"maxt": 1, "cluster_extent": 1},
                direction={"positive_t": "post>pre", "negative_t": "pre>post"}, exact_enumeration=True)
    empty = _clusters().iloc[:0]
    return [dict(contrast="ect", seed="Exec2L", clusters=_clusters(), info=info),
            dict(contrast="ect", seed="DMN9L", clusters=empty, info=dict(info, n_clusters={"maxt": 0}))]


def _correlations():
    return pd.DataFrame(dict(
        analysis=["delta_fc_vs_reduction"] * 2, exploratory=[False, False], seed=["Exec2L"] * 2,
        cluster_contrast=["ect"] * 2, cluster_id=[1, 1], measure=["pearson", "spearman"], x_variable=["delta_fc"] * 2,
        y_variable=["hamd_reduction"] * 2, covariates=[np.nan, np.nan], n=[52, 52], r=[0.343, 0.30],
        ci_low=[0.08, 0.03], ci_high=[0.56, 0.53], p=[0.013, 0.03], n_tests=[2, 2], p_bonferroni=[0.026, 0.06],
        significant_bonferroni=[True, False]))


def _svr():
    return {"seed": "Exec2L", "sample": "completers", "n": 52, "target": "HAMD reduction rate", "cv": "leave-one-out",
            "modes": {"as_published": {"status": "ok", "n": 52, "loo": {"r": 0.41, "mae": 0.12},
                                       "p_permutation": {"r": 0.004, "mae": 0.01}, "n_permutations": 5000,
                                       "permutation_seed": 20260101,
                                       "repeated_kfold_summary": {"r": {"mean": 0.38, "sd": 0.05}}},
                      "nested": {"status": "skipped: no full-sample cluster", "n": 52}}}


def _pls():
    return {"seed": "Exec2L", "contrast": "ect", "n_regions": 34, "n_genes": 100,
            "components": [{"component": "PLS1", "var_explained": 0.31, "p_spatial": 0.02},
                           {"component": "PLS2", "var_explained": 0.12, "p_spatial": 0.4}],
            "parameters": {"random_seed": 7}}


def _genes():
    return pd.DataFrame(dict(gene=["A", "B", "C", "D"], PLS1_z=[4.0, 3.1, -0.2, -3.5],
                             list=["PLS1+", "PLS1+", "", "PLS1-"]))


def _enrichment():
    return {"pls1pos_KEGG": pd.DataFrame(dict(term=["t1", "t2"], q_spatial=[0.01, 0.3], p_spatial=[0.001, 0.1],
                                              p_geneperm=[0.0, 0.2])),
            "gsea_KEGG": pd.DataFrame(dict(term=[], q_spatial=[]))}


def test_package_versions_reads_the_environment():
    v = R.package_versions()
    assert v["python"].count(".") == 2
    import nilearn
    import snakemake

    assert v["nilearn"] == nilearn.__version__ and v["snakemake"].startswith(snakemake.__version__.split("+")[0])
    assert "not-a-package-xyz" not in R.package_versions(["not-a-package-xyz"])


def test_config_hash_is_canonical(config):
    h = R.config_hash(config)
    assert len(h) == 64 and h == R.config_hash(json.loads(json.dumps(config)))
    reordered = dict(reversed(list(config.items())))
    assert R.config_hash(reordered) == h
    changed = json.loads(json.dumps(config))
    changed["denoise"]["fwhm"] = 6.0
    assert R.config_hash(changed) != h


def test_sample_section_counts_after_exclusion(participants, motion):
    s = R.sample_section(participants, motion)
    assert s["listed"] == {"TRD": 5, "HC": 3}
    assert s["baseline_included"] == {"TRD": 4, "HC": 2}
    assert s["ect_completers_scanned"] == 4 and s["ect_included"] == 3
    assert s["scans"] == {"total": 6, "included": 3, "excluded": 3}
    assert [e["reason"] for e in s["excluded_scans"]][-1] == "excluded by QC"  # NaN reason


def test_summary_with_every_stage_validates(config, participants, motion):
    s = R.build_summary(config, participants, motion, group_entries=_group_entries(), correlations=_correlations(),
                        svr=_svr(), pls=_pls(), genes=_genes(), enrichment=_enrichment(), top_n=2)
    R.validate_summary(s, SCHEMA)
    assert all(s["stages"].values())
    c = s["group"]["ect"]["seeds"]["Exec2L"]["clusters"][0]
    assert c["peak_mni"] == [-6.0, 54.0, 30.0] and c["label"] == "Frontal_Sup_Medial_L" and c["feed"] is True
    assert s["group"]["ect"]["seeds"]["Exec2L"]["clusters"][1]["label"] == "unlabelled"
    assert s["group"]["ect"]["seeds"]["DMN9L"]["clusters"] == []
    r = s["clinical"]["correlations"][0]
    assert (r["r"], r["p_bonferroni"], r["n"]) == (0.343, 0.026, 52)
    m = s["prediction"]["modes"]
    assert m["as_published"]["r"] == 0.41 and m["as_published"]["p_permutation"] == 0.004
    assert m["nested"]["status"].startswith("skipped") and m["nested"]["r"] is None
    t = s["transcriptomics"]
    assert t["pls1_variance_explained"] == 0.31 and t["pls1_p_null"] == 0.02
    assert t["genes_fdr"] == {"PLS1+": 2, "PLS1-": 1}
    assert t["top_genes"] == {"PLS1+": ["A", "B"], "PLS1-": ["D", "C"]}
    assert [x["term"] for x in t["top_terms"]["pls1pos_KEGG"]] == ["t1", "t2"]
    assert t["top_terms"]["pls1pos_KEGG"][0]["significant"] and t["top_terms"]["gsea_KEGG"] == []
    assert s["random_seeds"] == {"master": config["random_seed"], "group": {"ect:Exec2L": 123, "ect:DMN9L": 123},
                                 "prediction": 20260101, "transcriptomics": 7}
    json.dumps(s, allow_nan=False)  # strict JSON


def test_summary_with_only_the_foundation(config, participants, motion):
    """A stage that is disabled or absent leaves its section out; the rest still validates."""
    s = R.build_summary(config, participants, motion)
    R.validate_summary(s, SCHEMA)
    assert s["stages"] == {"qc": True, "group": False, "clinical": False, "prediction": False,
                           "transcriptomics": False}
    assert not {"group", "clinical", "prediction", "transcriptomics"} & set(s)


def test_summary_nan_becomes_null(config, participants):
    corr = _correlations()
    corr.loc[0, ["r", "p", "p_bonferroni"]] = np.nan
    s = R.build_summary(config, participants, correlations=corr)
    R.validate_summary(s, SCHEMA)
    assert s["clinical"]["correlations"][0]["r"] is None


def test_schema_rejects_bad_summaries(config, participants):
    s = R.build_summary(config, participants)
    bad = json.loads(json.dumps(s))
    bad["sample"]["baseline_included"]["TRD"] = -1
    with pytest.raises(jsonschema.ValidationError, match="sample/baseline_included/TRD"):
        R.validate_summary(bad, SCHEMA)
    bad = json.loads(json.dumps(s))
    bad["config_sha256"] = "abc"
    with pytest.raises(jsonschema.ValidationError):
        R.validate_summary(bad, SCHEMA)
    bad = json.loads(json.dumps(s))
    bad["unexpected"] = 1
    with pytest.raises(jsonschema.ValidationError):
        R.validate_summary(bad, SCHEMA)


def test_methods_text_follows_the_config(config, participants, motion):
    seeds = pd.read_csv(REPO / "config/seeds.tsv", sep="\t")
    versions = {"python": "3.11.0", "nilearn": "0.13.1", "scikit-learn": "1.9.1", "snakemake": "9.27.1"}
    sample = R.sample_section(participants, motion)
    md = M.methods_markdown(config, versions, sample=sample, stages=R.STAGES, seeds=seeds,
                            group_info={"ect": {"n_perm": 16, "exact_enumeration": True}})
    assert md.startswith("# Methods")
    assert f"{config['denoise']['fwhm']:g} mm FWHM" in md
    assert f"{config['denoise']['high_pass']:g}-{config['denoise']['low_pass']:g} Hz" in md
    assert "16 (exact enumeration) sign flips" in md  # the count actually used, from group.json
    assert f"{config['group']['n_perm']:,} Freedman-Lane permutations" in md
    assert "nilearn 0.13.1" in md and "scikit-learn 1.9.1" in md
    assert "4 patients and 2 controls" in md and "*simulated* cohort" in md
    assert "provisional" in md
    for section in ("Group analysis", "Clinical associations", "Prediction", "Imaging transcriptomics"):
        assert f"**{section}.**" in md
    # references: numbered in order of first citation, every number listed once, no placeholder left
    body, refs = md.split("## References")
    cited = [int(n) for group in __import__("re").findall(r"\[([\d, ]+)\]", body) for n in group.split(",")]
    first = list(dict.fromkeys(cited))
    assert first == sorted(first) == list(range(1, len(first) + 1))
    assert len([ln for ln in refs.strip().splitlines() if ln[:1].isdigit()]) == len(first)
    assert "\u27e6" not in md


def test_methods_text_leaves_out_absent_stages(config):
    cfg = json.loads(json.dumps(config))
    cfg["denoise"]["preset"] = "scrubbing"
    cfg["qc"]["fd_method"] = "jenkinson"
    md = M.methods_markdown(cfg, {"python": "3.11.0"}, stages=("qc",))
    assert "**Group analysis.**" not in md and "**Prediction.**" not in md and "Transcriptomics" not in md
    assert "censored" in md and "Jenkinson" in md
    cfg["input_source"] = "fmriprep"
    cfg["inputs"]["fmriprep_dir"] = "/data/fmriprep"
    md = M.methods_markdown(cfg, {"python": "3.11.0"}, stages=("qc",))
    assert "simulated" not in md and "fMRIPrep" in md


def test_markdown_to_html():
    md = "# Methods\n\n**Data.** A *simulated* run, `signal.clean` [1].\n\n## References\n\n1. A. doi:10.1000/xyz"
    html = html_mod.markdown_to_html(md)
    assert "<h1>Methods</h1>" in html and "<strong>Data.</strong>" in html and "<em>simulated</em>" in html
    assert "<code>signal.clean</code>" in html and "<ol><li>" in html
    assert 'href="https://doi.org/10.1000/xyz"' in html


def test_methods_text_describes_raw_preprocessing_and_the_multiverse(config):
    """input_source bids: a Preprocessing paragraph with the configured registration and QC thresholds, and no
    claim of fMRIPrep; the multiverse paragraph only when the multiverse stage runs, with its choices."""
    cfg = json.loads(json.dumps(config))
    md = M.methods_markdown(cfg, {"python": "3.11.0"}, stages=("qc",))
    assert "**Raw preprocessing.**" not in md and "**Multiverse.**" not in md
    cfg["input_source"] = "bids"
    cfg["raw"] = {"epi_t1": "affine", "template_mm": 3.0, "syn_iterations": [0, 0, 0],
                  "qc": {"min_dice": 0.85, "min_correlation": 0.2}}
    cfg["multiverse"] = {"design": "product", "choices": {"denoise": ["dpabi", "dpabi+gsr"],
                                                          "fwe_method": ["cluster_extent", "grf"]},
                         "n_permutations": 300, "alpha": 0.05, "pls": True}
    md = M.methods_markdown(cfg, {"python": "3.11.0", "antspyx": "0.6.3"}, stages=("qc", "multiverse"))
    pre = md.split("**Raw preprocessing.**")[1].split("\n\n")[0]
    assert "antspyx 0.6.3" in pre and "affine, Mattes" in pre and "at 3 mm (affine)" in pre and "SyN" not in pre
    assert "Dice below 0.85" in pre and "correlation below 0.2" in pre
    assert "preprocessed with fMRIPrep" not in md and "BIDS" in md
    mv = md.split("**Multiverse.**")[1].split("\n\n")[0]
    assert "every combination of denoising preset (dpabi, dpabi+gsr) and FWE method (cluster_extent, grf)" in mv
    assert "300 permutations" in mv and "PLS1" in mv
    assert "Specification curve analysis" in md.split("## References")[1]
    cfg["simulate"]["mode"] = "raw"
    cfg["input_source"] = "simulated"
    assert "**Raw preprocessing.**" in M.methods_markdown(cfg, {"python": "3.11.0"}, stages=("qc",))
