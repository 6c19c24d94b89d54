"""The planted world of the simulated cohort: target regions, seed-target couplings, which of them carry the
baseline and ECT effects, and the simulation parameters (:class:`SimParams`, from the config's ``simulate``
section).

Nothing here draws random numbers; :func:`hash_str` gives the stable integers the other modules mix into their
random seeds.
"""

from __future__ import annotations

from dataclasses import dataclass

# Version of the generator, written to dataset_description.json (GeneratedBy) and ground_truth.json. Bump it
# whenever the same parameters and seed stop giving the same files.
#   1  first version.
#   2  the realised couplings of the truth files are band-passed by a numpy Butterworth filter instead of
#      nilearn.signal.butterworth (the same filter, so the same values to ~1e-14; their last printed digits differ);
#      the BOLD images, masks, confounds and participants tables are byte for byte those of version 1.
GENERATOR_VERSION = 2

# --------------------------------------------------------------------------------------------- the planted world
# Cerebral target regions: centres (MNI mm; several for bilateral regions), radius of the Gaussian profile.
REGIONS = {
    "mSFG": dict(centers=[(-6, 48, 32), (6, 48, 32)], radius=10.0, network="default_mode",
                 label="bilateral medial superior frontal gyrus (AAL Frontal_Sup_Medial)"),
    "PCC": dict(centers=[(-6, -54, 30), (6, -54, 30)], radius=10.0, network="default_mode",
                label="posterior cingulate / precuneus"),
    "SMC": dict(centers=[(-38, -22, 56), (38, -22, 56)], radius=12.0, network="sensorimotor",
                label="bilateral pre/postcentral gyrus"),
    "DLPFCL": dict(centers=[(-44, 30, 30)], radius=10.0, network="executive", label="left middle frontal gyrus"),
    "DLPFCR": dict(centers=[(44, 30, 30)], radius=10.0, network="executive", label="right middle frontal gyrus"),
    "ACC": dict(centers=[(-4, 36, 8), (4, 36, 8)], radius=8.0, network="affective_limbic",
                label="pregenual anterior cingulate"),
}
# A control region that no seed drives (used to check that FC with planted targets exceeds FC elsewhere).
CONTROL_REGION = dict(name="V1", centers=[(-8, -88, 4), (8, -88, 4)], radius=8.0)

# Baseline couplings (seed, target) -> c for healthy controls and patients before ECT, unless an effect changes it.
COUPLINGS = [
    ("Exec1L", "DLPFCR", 0.5),
    ("Exec1R", "DLPFCL", 0.5),   # Exec1R is the null seed: same coupling in every group and session
    ("Exec2L", "DLPFCR", 0.3),
    ("Exec2L", "mSFG", 0.3),     # ECT effect: rises after ECT, rise ~ HAMD reduction, baseline predicts it
    ("Exec2R", "DLPFCL", 0.3),
    ("DMN9L", "PCC", 0.5),       # baseline effect: TRD < HC
    ("DMN9L", "SMC", 0.45),      # baseline effect: TRD < HC
    ("DMN9R", "PCC", 0.4),
    ("Limb6V", "ACC", 0.5),
]
BASELINE_EFFECT_PAIRS = [("DMN9L", "PCC"), ("DMN9L", "SMC")]
ECT_EFFECT_PAIR = ("Exec2L", "mSFG")
NULL_SEEDS = ["Exec1R"]


@dataclass
class SimParams:
    """Simulation parameters: cohort size, acquisition, effect sizes, BIDS entities. Defaults are the paper's
    design; :meth:`from_config` reads the config's ``simulate`` section."""

    name: str = "default"
    seed: int = 20260101
    n_trd: int = 72
    n_completers: int = 53
    n_hc: int = 64
    motion_outliers: dict = None
    voxel_mm: float = 4.0
    n_volumes: int = 200
    n_dummy: int = 10
    tr: float = 2.0
    smooth_noise_fwhm: float = 6.0
    null_cohort: bool = False
    coupling_sd: float = 0.08
    baseline_effect: float = 0.2
    ect_effect: float = 0.5
    ect_effect_sd: float = 0.15
    clinical_r: float = 0.8
    baseline_predicts_r: float = -0.8
    ect_baseline_sd: float = 0.15
    max_coupling: float = 0.95
    global_amplitude: float = 0.5
    motion_scale: float = 1.0
    task: str = "rest"
    space: str = "MNI152NLin2009cAsym"
    res: str = "2"
    ses_pre: str = "pre"
    ses_post: str = "post"

    @classmethod
    def from_config(cls, cfg: dict, random_seed: int, sessions=("pre", "post"), task="rest",
                    space="MNI152NLin2009cAsym", res="2"):
        fields = {k: v for k, v in cfg.items() if k in cls.__dataclass_fields__ and k != "effects"}
        fields.update({k: v for k, v in (cfg.get("effects") or {}).items() if k in cls.__dataclass_fields__})
        fields.update(seed=int(random_seed), ses_pre=sessions[0], ses_post=sessions[1], task=task, space=space,
                      res=str(res))
        return cls(**fields)

    def effects(self):
        if self.null_cohort:
            return dict(baseline_effect=0.0, ect_effect=0.0, ect_effect_sd=0.0)
        return dict(baseline_effect=self.baseline_effect, ect_effect=self.ect_effect,
                    ect_effect_sd=self.ect_effect_sd)


def hash_str(s: str) -> int:
    """Stable small integer from a string (Python's hash() is salted per process)."""
    return int.from_bytes(s.encode(), "little") % (2 ** 31)
