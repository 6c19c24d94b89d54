"""The raw path end to end against the planted truth: a finished run of config/raw_demo.yaml (the tiny cohort
written as raw BIDS in native space: misalignment, warp, head motion, slice timing; preprocessed by the raw stage)
must recover the planted couplings as the clean tiny run does (fcect.testing.planted), and its registration QC
must pass for every scan.

The run takes ~15 min on 2 cores, too long for CI: ``snakemake --cores 2 --configfile config/raw_demo.yaml`` (in a
copy of the repository, with .venv-ants built as the README says), then
``FCECT_RAW_RUN=<that folder> pytest tests/validity/test_raw_demo_run.py``.

The group checks of the default cohort (tests/validity/test_group_power.py) need more than a demo-sized cohort
gives, even before the raw path: the clean (MNI-space) path of a 46-scan cohort (16 TRD, 14 completers, 16 HC) at
the demo's 6 mm with 120 volumes and doubled planted effects (baseline_effect 0.5, ect_effect 0.7) reached max t
5.3 (DMN9L, HC > TRD) and 4.8 (Exec2L, post > pre), while the null seed Exec1R reached max |t| 5.6; no
cluster-extent FWE cluster (2026-12-03). A raw cohort that passes them needs roughly the default cohort's size and
acquisition, i.e. hours of raw preprocessing on 2 cores; ``FCECT_POWER_RUN=<such a run>`` applies them."""
import os
from pathlib import Path

import pandas as pd
import pytest

RAW_RUN = os.environ.get("FCECT_RAW_RUN")
pytestmark = pytest.mark.skipif(not RAW_RUN, reason="set FCECT_RAW_RUN to a finished run of config/raw_demo.yaml")


def test_raw_demo_registration_qc_passes_for_every_scan():
    wd = Path(RAW_RUN)
    qc = pd.read_csv(wd / "results/qc/registration.tsv", sep="\t")
    motion = pd.read_csv(wd / "results/qc/motion.tsv", sep="\t")
    assert len(qc) == len(motion) == 23
    assert qc["registration_ok"].all(), qc[~qc["registration_ok"]]
    assert qc["dice_brain"].min() > 0.8 and qc["corr_template"].min() > 0.1, qc.describe()


@pytest.mark.xfail(strict=False, reason="known gap (issue 13): at the demo's 6 mm / 90 volumes the raw path loses "
                   "too much: pooled coupling 0.14, one-sided p 0.07 (the clean tiny run: 0.24, p 0.008)")
def test_raw_demo_recovers_planted_coupling():
    from fcect.testing.planted import assert_planted_coupling

    r = assert_planted_coupling(RAW_RUN)
    print(f"\nraw demo: pooled planted coupling {r['pooled'].mean():.3f} (t {r['t']:.2f}, p {r['p']:.2g}, "
          f"n {r['n']}); per seed {r['per_seed']}; null seed {r['null']}")
