# Helpers and input functions only: no rules here.
from pathlib import Path

import pandas as pd

from fcect.preprocess.seeds import read_seeds
from fcect.core.paths import fmriprep_paths
from fcect.simulate.cohort import SimParams, cohort_table, scans_of
from fcect.core.participants import expected_scans, read_participants
from fcect.preprocess.validate import check_fmriprep_files

SES_PRE = config["inputs"]["sessions"]["pre"]
SES_POST = config["inputs"]["sessions"]["post"]
TASK = config["inputs"]["task"]
SPACE = config["inputs"]["space"]
RES = config["inputs"]["res"]

SEEDS_TABLE = config["seeds"]["table"]
SEEDS = read_seeds(SEEDS_TABLE, config["seeds"]["radius_override"])
SEED_IDS = list(SEEDS["seed_id"])

wildcard_constraints:
    sub="[A-Za-z0-9]+",
    ses="[A-Za-z0-9]+",
    seed="[A-Za-z0-9]+",


def sim_params():
    return SimParams.from_config(config["simulate"], config["random_seed"], sessions=(SES_PRE, SES_POST),
                                 task=TASK, space=SPACE, res=RES)


if config["input_source"] == "simulated":
    SIM_ROOT = f"resources/simulated/{config['simulate']['name']}"
    FMRIPREP_DIR = f"{SIM_ROOT}/derivatives/fmriprep"
    PARTICIPANTS = f"{SIM_ROOT}/participants.tsv"
    _part, _couplings = cohort_table(sim_params())
    SCANS = scans_of(_part, sim_params())
else:
    if not config["inputs"]["fmriprep_dir"] or not config["inputs"]["participants"]:
        raise ValueError("input_source is fmriprep: set inputs.fmriprep_dir and inputs.participants in config")
    SIM_ROOT = None
    FMRIPREP_DIR = config["inputs"]["fmriprep_dir"]
    PARTICIPANTS = config["inputs"]["participants"]
    _part = read_participants(PARTICIPANTS, Path(workflow.basedir) / "config/schema/participants.schema.yaml")
    SCANS = expected_scans(_part, SES_PRE, SES_POST)
    check_fmriprep_files(SCANS, lambda s, t: fmriprep_paths(FMRIPREP_DIR, s, t, TASK, SPACE, RES))

SCAN_SUBS = [s for s, _ in SCANS]
SCAN_SESS = [t for _, t in SCANS]


def scan_files(wildcards):
    """fMRIPrep inputs of one scan (bold, bold_json, mask, confounds)."""
    return {k: str(v) for k, v in
            fmriprep_paths(FMRIPREP_DIR, wildcards.sub, wildcards.ses, TASK, SPACE, RES).items()}


def fp_pattern(kind):
    """Path pattern (with {sub} and {ses} wildcards) of one kind of fMRIPrep file."""
    return str(fmriprep_paths(FMRIPREP_DIR, "{sub}", "{ses}", TASK, SPACE, RES)[kind])


def fc_map(sub, ses, seed):
    return (f"results/fc/sub-{sub}/ses-{ses}/sub-{sub}_ses-{ses}_task-{TASK}_space-MNI152NLin2009cAsym_"
            f"seed-{seed}_desc-fcz_stat.nii.gz")


FC_PATTERN = (f"results/fc/sub-{{sub}}/ses-{{ses}}/sub-{{sub}}_ses-{{ses}}_task-{TASK}"
              "_space-MNI152NLin2009cAsym_seed-{seed}_desc-fcz_stat.nii.gz")


def all_fc_maps(seed=None):
    seeds = SEED_IDS if seed is None else [seed]
    return [fc_map(s, t, k) for s, t in SCANS for k in seeds]


def foundation_targets():
    out = all_fc_maps() + ["results/qc/motion.tsv", "results/qc/participants_included.tsv",
                           "results/masks/analysis_mask.nii.gz"]
    if SIM_ROOT:
        out.append(f"{SIM_ROOT}/ground_truth.json")
    return out


def all_targets():
    out = foundation_targets()
    for stage in STAGES:
        fn = globals().get(f"{stage}_targets")
        if fn is not None:
            out += list(fn())
    return out
