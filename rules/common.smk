# Helpers and input functions only: no rules here. Every path pattern comes from fcect.core.paths and every name
# (contrasts, modes, gene lists) from fcect.core.vocabulary, the same modules the library uses.
import json
import os
from pathlib import Path

from snakemake.logging import logger

from fcect.core import paths as P
from fcect.core import vocabulary as V
from fcect.core.code import library_files
from fcect.core.participants import expected_scans, read_participants
from fcect.core.scheduling import job_threads as _job_threads
from fcect.preprocess.seeds import read_seeds
from fcect.preprocess.validate import check_fmriprep_files, select_runs

SES_PRE = config["inputs"]["sessions"]["pre"]
SES_POST = config["inputs"]["sessions"]["post"]
SESSIONS = [SES_PRE, SES_POST]
TASK = config["inputs"]["task"]
SPACE = config["inputs"]["space"]
RES = config["inputs"]["res"]
RUN = config["inputs"]["run"]  # null (no run entity), first, concatenate or a run label
if RUN is not None:
    RUN = str(RUN)

SEEDS_TABLE = config["seeds"]["table"]
SEEDS = read_seeds(SEEDS_TABLE, config["seeds"]["radius_override"])
SEED_IDS = list(SEEDS["seed_id"])

PARTICIPANTS_INCLUDED = P.PARTICIPANTS_INCLUDED
MOTION_TABLE = P.MOTION_TABLE
MASKS = P.MASKS
HAMD_REDUCTION = config["clinical"]["hamd_reduction"]  # the one key that decides the HAMD reduction
FIG = config["figures"]
FIG_EXT = FIG["vector_format"]
FIG_RES = dict(mem_mb=2000, runtime=10)  # measured ~0.4 GB / 10-40 s per figure (nilearn glass brains dominate)

# every stage's final outputs, filled by its rule file (TARGETS[stage] = [...]); rule all collects them
def job_threads(n):
    """Threads of a multi-threaded rule: ``n``, capped at --cores - 1 on a local run so that the job starts beside
    the 1-thread jobs instead of waiting for all of them to finish (fcect.core.scheduling.local_thread_cap)."""
    return _job_threads(workflow, n)


TARGETS = {}

wildcard_constraints:
    sub="[A-Za-z0-9]+",
    ses="[A-Za-z0-9]+",
    seed="[A-Za-z0-9]+",
    contrast="|".join(V.CONTRASTS),
    mode="|".join(V.PREDICTION_MODES),


def library(script):
    """The code stamp of ``scripts/<script>``: the file that rule ``code_stamp`` (rules/code.smk) writes from the
    fcect modules the script imports (transitively). Declared as an input of the script's rule, so that editing one
    of those modules reruns exactly the jobs that run it (fcect.core.code); one input instead of 7-55 module files
    keeps the scheduler's per-iteration stat of every ready job's inputs small (docs/benchmarks.md)."""
    return P.code_stamp(Path(script).stem)


def library_of(script):
    """The fcect module files that ``scripts/<script>`` imports, directly or through other fcect modules."""
    base = Path(workflow.basedir) / "scripts"
    return library_files(base / script, base / "fcect")


# raw BIDS input (input_source bids) or the simulated cohort written raw (simulate.mode raw): stage raw preprocesses
# it into fMRIPrep-like derivatives under results/preproc/, which the input functions below read as fMRIPrep input
RAW_SIM = config["input_source"] == "simulated" and config["simulate"]["mode"] == "raw"
RAW = RAW_SIM or config["input_source"] == "bids"
RAW_INDEX = {}  # (sub, ses) -> runs, bold, bold_json (per run: its JSON files, general to specific), t1w (fcect.raw.bids)

if config["input_source"] == "simulated":
    from fcect.simulate.cohort import SimParams, cohort_table, scans_of

    def sim_params():
        return SimParams.from_config(config["simulate"], config["random_seed"], sessions=SESSIONS, task=TASK,
                                     space=SPACE, res=RES)

    SIM_ROOT = P.simulated_root(config["simulate"]["name"])
    FMRIPREP_DIR = f"{SIM_ROOT}/derivatives/fmriprep"
    PARTICIPANTS = f"{SIM_ROOT}/participants.tsv"
    _part, _couplings = cohort_table(sim_params())
    SCANS = scans_of(_part, sim_params())
    if RUN is not None:
        raise ValueError(f"inputs.run = {RUN!r}: the simulated cohort writes no run entity; set inputs.run to null "
                         "(or input_source to fmriprep)")
    SCAN_RUNS = {scan: [None] for scan in SCANS}
    if RAW_SIM:
        FMRIPREP_DIR = P.PREPROC_DIR
        BIDS_DIR = f"{SIM_ROOT}/rawdata"
        RAW_INDEX = {(s, t): dict(runs=[None], bold=[f"{BIDS_DIR}/sub-{s}/ses-{t}/func/sub-{s}_ses-{t}_task-{TASK}_bold.nii.gz"],
                                  bold_json=[[f"{BIDS_DIR}/sub-{s}/ses-{t}/func/sub-{s}_ses-{t}_task-{TASK}_bold.json"]],
                                  t1w=f"{BIDS_DIR}/sub-{s}/anat/sub-{s}_T1w.nii.gz") for s, t in SCANS}
elif config["input_source"] == "bids":
    from fcect.raw.bids import index_scans

    if not config["inputs"]["bids_dir"]:
        raise ValueError("input_source is bids: set inputs.bids_dir in config")
    SIM_ROOT = None
    BIDS_DIR = config["inputs"]["bids_dir"]
    FMRIPREP_DIR = P.PREPROC_DIR
    PARTICIPANTS = config["inputs"]["participants"] or f"{BIDS_DIR}/participants.tsv"
    _part = read_participants(PARTICIPANTS, Path(workflow.basedir) / "config/schema/participants.schema.yaml")
    SCANS = expected_scans(_part, SES_PRE, SES_POST)
    RAW_INDEX = index_scans(BIDS_DIR, SCANS, TASK, RUN)  # one glob per scan; every problem named in one error
    SCAN_RUNS = {scan: RAW_INDEX[scan]["runs"] for scan in SCANS}
else:
    if not config["inputs"]["fmriprep_dir"] or not config["inputs"]["participants"]:
        raise ValueError("input_source is fmriprep: set inputs.fmriprep_dir and inputs.participants in config")
    SIM_ROOT = None
    FMRIPREP_DIR = config["inputs"]["fmriprep_dir"]
    PARTICIPANTS = config["inputs"]["participants"]
    _part = read_participants(PARTICIPANTS, Path(workflow.basedir) / "config/schema/participants.schema.yaml")
    SCANS = expected_scans(_part, SES_PRE, SES_POST)
    # the runs read per scan, per inputs.run (one glob per scan); then every missing file of the cohort named in
    # one error (stat calls only); the contents: rule validate
    SCAN_RUNS = select_runs(SCANS, FMRIPREP_DIR, RUN, TASK, SPACE, RES)
    check_fmriprep_files(SCANS, lambda s, t, r: P.fmriprep_paths(FMRIPREP_DIR, s, t, TASK, SPACE, RES, r),
                         runs=SCAN_RUNS)

SCAN_SUBS = [s for s, _ in SCANS]
SCAN_SESS = [t for _, t in SCANS]


SCAN_N_RUNS = [len(SCAN_RUNS[scan]) for scan in SCANS]


def scan_runs(wildcards):
    """Run labels read for one scan ([None]: file names without run entity)."""
    return SCAN_RUNS.get((wildcards.sub, wildcards.ses), [None])


def scan_files(wildcards):
    """fMRIPrep inputs of one scan (bold, bold_json, mask, confounds): one file each, or, with inputs.run:
    concatenate, the list of the scan's run files in run order."""
    files = [P.fmriprep_paths(FMRIPREP_DIR, wildcards.sub, wildcards.ses, TASK, SPACE, RES, r)
             for r in scan_runs(wildcards)]
    if RUN == "concatenate":
        return {k: [str(f[k]) for f in files] for k in files[0]}
    return {k: str(v) for k, v in files[0].items()}


def scan_file_list(kind):
    """Every file of one kind (bold, bold_json, mask, confounds) that the workflow reads: every run of every scan,
    in scan order (SCANS) and run order (SCAN_N_RUNS runs per scan)."""
    return [str(P.fmriprep_paths(FMRIPREP_DIR, s, t, TASK, SPACE, RES, r)[kind])
            for s, t in SCANS for r in SCAN_RUNS[(s, t)]]


def bold_mb(input):
    """Size (MB) of the BOLD file(s) of a job that exist already (0 for a simulated scan not written yet)."""
    files = [input.bold] if isinstance(input.bold, str) else list(input.bold)
    return sum(os.path.getsize(f) >> 20 for f in files if os.path.exists(f))


def fp_pattern(kind):
    """Path pattern (with {sub} and {ses} wildcards) of one kind of fMRIPrep file without run entity (the files the
    simulator writes)."""
    return str(P.fmriprep_paths(FMRIPREP_DIR, "{sub}", "{ses}", TASK, SPACE, RES)[kind])


def fc_map(sub, ses, seed):
    return P.fc_map(sub, ses, seed, task=TASK)


FC_PATTERN = P.fc_map(task=TASK)


def all_fc_maps(seed=None):
    seeds = SEED_IDS if seed is None else [seed]
    return [fc_map(s, t, k) for s, t in SCANS for k in seeds]


def figure_outputs(name):
    """PNG (for the report) and vector copy of one figure."""
    return [P.figure(name), P.figure(name, FIG_EXT)]


# ---- stage raw (rules/raw.smk): input functions of the raw BIDS preprocessing
RAWCFG = config["raw"]


def _raw_run(wildcards):
    """Index of the run of a preprocess_raw job among its scan's runs."""
    runs = RAW_INDEX[(wildcards.sub, wildcards.ses)]["runs"]
    return runs.index(getattr(wildcards, "run", None))


def _anat_references():
    """Each subject's anatomical reference: the T1w of its first scan (session order; a session-less T1w serves every
    session). The T1w -> MNI registration runs once per subject on it (rule preprocess_anat), and every run of
    the subject registers its mean EPI to it. A later session's own T1w is not used (named in the log)."""
    ref = {}
    for sub, ses in SCANS:
        t1 = RAW_INDEX[(sub, ses)]["t1w"]
        if sub not in ref:
            ref[sub] = t1
        elif t1 != ref[sub]:
            logger.info(f"raw: sub-{sub} ses-{ses}: T1w {t1} not used; the subject's anatomical reference is "
                        f"{ref[sub]} (one T1w -> MNI registration per subject)")
    return ref


RAW_ANAT = _anat_references() if RAW else {}


def raw_inputs(wildcards):
    entry = RAW_INDEX[(wildcards.sub, wildcards.ses)]
    k = _raw_run(wildcards)
    return dict(bold=entry["bold"][k], bold_json=entry["bold_json"][k], t1w=RAW_ANAT[wildcards.sub],
                t1_xfm=P.anat_xfm(wildcards.sub), t1_qc=P.raw_anat_qc(wildcards.sub))


def raw_anat_params(wildcards):
    """The anatomical step's settings only: changing the EPI settings does not rerun it."""
    return json.dumps(dict(template_mm=RAWCFG["template_mm"], aff_iterations=RAWCFG["aff_iterations"],
                           syn_iterations=RAWCFG["syn_iterations"], seed=config["random_seed"]))


def raw_params(wildcards):
    from fcect.raw.settings import run_params

    return json.dumps(run_params(config))


_RAW_RUN = None if RUN is None else "{run}"  # with inputs.run, one job per run of a scan


def raw_qc_files(kind):
    return [P.raw_qc(s, t, r, kind) for s, t in SCANS for r in SCAN_RUNS[(s, t)]]
