"""Every path pattern of the workflow, in one place: the rules build their inputs and outputs from these, and the
library uses the same functions (file names follow BIDS entities through :func:`fcect.core.io.bids_name`).

Patterns hold Snakemake wildcards in braces (``{sub}``, ``{ses}``, ``{seed}``, ``{contrast}``, ``{mode}``,
``{library}``); the functions fill them in. All paths are relative to the working directory (the repository
root by default), except the input folders named in config.
"""

from __future__ import annotations

from pathlib import Path

from fcect.core.io import bids_name

SPACE = "MNI152NLin2009cAsym"   # the analysis space of every map the workflow writes

# ------------------------------------------------------------------------------------------ inputs (fMRIPrep)


def fmriprep_paths(root, sub, ses, task="rest", space=SPACE, res="2", run=None):
    """fMRIPrep (21+) derivative files of one scan (of one run of it when ``run`` is a label): bold, bold_json,
    mask, confounds."""
    d = Path(root) / f"sub-{sub}" / f"ses-{ses}" / "func"
    stem = f"sub-{sub}_ses-{ses}_task-{task}" + (f"_run-{run}" if run is not None else "")
    sp = f"space-{space}" + (f"_res-{res}" if res not in (None, "", "none") else "")
    return dict(bold=d / f"{stem}_{sp}_desc-preproc_bold.nii.gz",
                bold_json=d / f"{stem}_{sp}_desc-preproc_bold.json",
                mask=d / f"{stem}_{sp}_desc-brain_mask.nii.gz",
                confounds=d / f"{stem}_desc-confounds_timeseries.tsv")


def fmriprep_runs(root, sub, ses, task="rest", space=SPACE, res="2"):
    """Run labels of the scan's BOLD files that carry a run entity (one glob), in run order: numeric when every
    label is a number, else alphabetical."""
    bold = fmriprep_paths(root, sub, ses, task, space, res, run="*")["bold"]
    prefix, suffix = bold.name.split("*")
    labels = [p.name[len(prefix):len(p.name) - len(suffix)] for p in bold.parent.glob(bold.name)]
    labels = [x for x in labels if x.isalnum()]
    return sort_runs(labels)


def sort_runs(labels):
    """Run labels in run order: numeric when every label is a number, else alphabetical."""
    labels = list(labels)
    if all(x.isdigit() for x in labels):
        return sorted(labels, key=lambda x: (int(x), x))
    return sorted(labels)


def simulated_root(name):
    """Folder of the simulated cohort ``name`` (participants.tsv, derivatives/fmriprep, ground_truth.json)."""
    return f"resources/simulated/{name}"


# ------------------------------------------------------------------------------------------ preprocess
MASKS = {
    "analysis": "results/masks/analysis_mask.nii.gz",
    "cerebellum": "results/masks/cerebellum_gm.nii.gz",
    "seeds": "results/masks/seeds.nii.gz",
    "seeds_tsv": "results/masks/seeds.tsv",
}
MOTION_TABLE = "results/qc/motion.tsv"
PARTICIPANTS_INCLUDED = "results/qc/participants_included.tsv"


def fc_map(sub="{sub}", ses="{ses}", seed="{seed}", task="rest"):
    """Fisher-z seed-to-voxel FC map of one scan and seed (with the defaults: the wildcard pattern)."""
    return (f"results/fc/sub-{sub}/ses-{ses}/"
            + bids_name(sub, ses, "stat", ".nii.gz", task=task, space=SPACE, seed=seed, desc="fcz"))


def denoise_info(sub="{sub}", ses="{ses}"):
    """The JSON record of one scan's denoising (TR, volumes, confounds, censoring)."""
    return f"results/fc/sub-{sub}/ses-{ses}/sub-{sub}_ses-{ses}_desc-denoise_info.json"


# ------------------------------------------------------------------------------------------ group
GROUP_DIR = "results/group/{contrast}/seed-{seed}"
GROUP_FILES = ("stat-t.nii.gz", "stat-effsize.nii.gz", "clusters.tsv", "cluster_labels.nii.gz", "group.json")


def group_files(methods):
    """File names written into one group folder (results/group/<contrast>/seed-<id>/)."""
    return list(GROUP_FILES) + [logp_name(m) for m in methods]


def logp_name(method):
    """-log10 FWE p map of one inference method."""
    return f"logp-fwe_method-{method}.nii.gz"


def group_file(name, contrast="{contrast}", seed="{seed}"):
    """One file of a group folder (with the defaults: the wildcard pattern)."""
    return f"{GROUP_DIR.format(contrast=contrast, seed=seed)}/{name}"


# ------------------------------------------------------------------------------------------ clinical
CLINICAL = {
    "correlations": "results/clinical/correlations.tsv",
    "values": "results/clinical/cluster_values.tsv",
    "clusters": "results/clinical/clusters.tsv",
    "demographics": "results/tables/demographics.tsv",
    "demographics_md": "results/tables/demographics.md",
    "exclusions": "results/tables/exclusions.tsv",
}

# ------------------------------------------------------------------------------------------ prediction
PREDICTION_DIR = "results/prediction/{mode}"
PREDICTION_FILES = ("svr.json", "predictions.tsv", "null.tsv", "repeated_kfold.tsv", "folds.tsv")
PREDICTION_SUMMARY = "results/prediction/svr.json"


def prediction_file(name, mode="{mode}"):
    return f"{PREDICTION_DIR.format(mode=mode)}/{name}"


PREDICTION_RULE_DIR = "results/prediction/rule-{rule}"   # one like-for-like selection rule (both modes)


def prediction_rule_file(name, rule="{rule}"):
    return f"{PREDICTION_RULE_DIR.format(rule=rule)}/{name}"


# ------------------------------------------------------------------------------------------ transcriptomics
TRANSCRIPTOMICS_DIR = "results/transcriptomics"


def enrichment_table(gene_list="{list}", library="{library}"):
    return f"{TRANSCRIPTOMICS_DIR}/enrichment_{gene_list}_{library}.tsv"


# ------------------------------------------------------------------------------------------ figures, report
FIGURES_DIR = "results/figures"
TABLES_DIR = "results/tables"
SUMMARY = "results/summary.json"
METHODS_MD = "results/methods.md"
METHODS_HTML = "results/methods.html"


def figure(name, ext="png"):
    """A figure file: results/figures/<name>.<ext>."""
    return f"{FIGURES_DIR}/{name}.{ext}"


def table(name, ext="tsv"):
    """A report table: results/tables/<name>.<ext>."""
    return f"{TABLES_DIR}/{name}.{ext}"


# raw stage (input_source bids, simulate.mode raw): fMRIPrep-like derivatives written by rule preprocess_raw
PREPROC_DIR = "results/preproc"
REGISTRATION_TABLE = "results/qc/registration.tsv"


def raw_qc(sub="{sub}", ses="{ses}", run=None, kind="qc.json"):
    """Per-run QC file of the raw preprocessing (kind: qc.json, registration.png, motion.png)."""
    r = f"_run-{run}" if run is not None else ""
    return f"results/qc/raw/sub-{sub}_ses-{ses}{r}_{kind}"


def anat_xfm(sub="{sub}"):
    """The subject's T1w -> MNI152NLin2009cAsym transform (ITK composite, fMRIPrep's name), rule preprocess_anat."""
    return f"{PREPROC_DIR}/sub-{sub}/anat/sub-{sub}_from-T1w_to-MNI152NLin2009cAsym_mode-image_xfm.h5"


def raw_anat_qc(sub="{sub}", kind="qc.json"):
    """QC of the subject's anatomical step (kind: qc.json, registration.png)."""
    return f"results/qc/raw/sub-{sub}_T1w_{kind}"


# ------------------------------------------------------------------------------------------ code provenance
CODE_STAMP = "results/provenance/code/{script}.sha256"


def code_stamp(script="{script}"):
    """SHA-256 of every fcect module that ``scripts/<script>.py`` runs (rule code_stamp): the one code input of
    the script's rule, and the record of which library code made its outputs."""
    return CODE_STAMP.format(script=script)
