"""The raw path end to end against the planted truth, on a finished run of a simulated cohort written as raw BIDS
(``simulate.mode: raw``: misalignment, warp, head motion, slice timing; preprocessed by the raw stage):

* ``config/raw_demo.yaml`` (the tiny cohort, 23 scans, 6 mm, 90 volumes; ~6 min on 2 cores): every scan passes
  the registration QC; the planted couplings (fcect.testing.planted) are a known gap there (xfail below).
* ``config/raw_full.yaml`` (the default cohort, 189 scans at the default geometry, through the raw path; 1 h 28 min
  on 2 cores): every scan passes the registration QC, the planted couplings are recovered (strict; pooled 0.241,
  t 36.4 over 135 subjects, 2026-12-04), and the default cohort's group and clinical checks apply unchanged: ``FCECT_POWER_RUN=<run> FCECT_RUN_DIR=<run> pytest
  tests/validity/test_group_power.py tests/validity/test_clinical_simulated.py``.

Use: run the config in a copy of the repository (with .venv-ants built as the README says), then
``FCECT_RAW_RUN=<that folder> pytest tests/validity/test_raw_demo_run.py``.

Why the demo cannot carry the group checks: the clean (MNI-space) path of a 46-scan cohort (16 TRD, 14
completers, 16 HC) at the demo's 6 mm with 120 volumes and doubled planted effects (baseline_effect 0.5, ect_effect
0.7) reached max t 5.3 (DMN9L, HC > TRD) and 4.8 (Exec2L, post > pre), while the null seed Exec1R reached max |t|
5.6; no cluster-extent FWE cluster (2026-12-03). So the group checks of the raw path run on raw_full."""
import os
from pathlib import Path

import pandas as pd
import pytest

RAW_RUN = os.environ.get("FCECT_RAW_RUN")
pytestmark = pytest.mark.skipif(not RAW_RUN, reason="set FCECT_RAW_RUN to a finished run of config/raw_demo.yaml "
                                "or config/raw_full.yaml")
# below this many baseline subjects a raw run is demo-sized: the planted couplings are not asserted (xfail)
MIN_SUBJECTS_STRICT = 60


def _raw_scans(wd):
    return sorted(Path(wd).glob("resources/simulated/*/rawdata/sub-*/ses-*/func/*_bold.nii.gz"))


def test_raw_run_registration_qc_passes_for_every_scan():
    wd = Path(RAW_RUN)
    qc = pd.read_csv(wd / "results/qc/registration.tsv", sep="\t")
    motion = pd.read_csv(wd / "results/qc/motion.tsv", sep="\t")
    n = len(_raw_scans(wd))
    assert n > 0, f"{wd}: no simulated raw scans (resources/simulated/*/rawdata)"
    assert len(qc) == len(motion) == n, (len(qc), len(motion), n)
    assert qc["registration_ok"].all(), qc[~qc["registration_ok"]]
    assert qc["dice_brain"].min() > 0.8 and qc["corr_template"].min() > 0.1, qc.describe()


def test_raw_run_recovers_planted_coupling():
    """Strict on a default-size raw run; on the demo a known gap (issue 13): at 6 mm / 90 volumes the raw path
    loses too much (pooled coupling 0.14, one-sided p 0.07-0.09; the clean tiny run: 0.24, p 0.008)."""
    from fcect.testing.planted import assert_planted_coupling, planted_coupling

    r = planted_coupling(RAW_RUN)
    print(f"\nraw run: pooled planted coupling {r['pooled'].mean():.3f} (t {r['t']:.2f}, p {r['p']:.2g}, "
          f"n {r['n']}); per seed {r['per_seed']}; null seed {r['null']}")
    try:
        assert_planted_coupling(RAW_RUN)
    except AssertionError:
        if r["n"] < MIN_SUBJECTS_STRICT:
            pytest.xfail(f"demo-sized raw run ({r['n']} subjects): planted coupling not recovered (known gap)")
        raise
