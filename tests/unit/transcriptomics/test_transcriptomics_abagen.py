"""abagen alternative source: input preparation on a tiny synthetic AHBA download; the abagen run itself needs
abagen's own environment (pandas < 2) and is skipped unless its interpreter is available."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO
ROOT = REPO
from fcect.transcriptomics import ahba
from fcect.testing import transcriptomics as syn

SCRIPT = ROOT / "scripts" / "transcriptomics_abagen.py"
PARAMS = {"ibf_threshold": 0.5, "probe_selection": "diff_stability", "donor_probes": "aggregate", "tolerance": 2,
          "sample_norm": "srs", "gene_norm": "srs", "norm_matched": True, "region_agg": "donors",
          "agg_metric": "mean", "corrected_mni": False, "reannotated": False}
# corrected_mni and reannotated need the real well ids and the full ~60k-probe table: off for the tiny fake download


def _abagen_python():
    cand = [os.environ.get("FCECT_ABAGEN_PYTHON"), "/work/venv-abagen/bin/python", shutil.which("python-abagen")]
    for c in cand:
        if c and Path(c).exists():
            r = subprocess.run([c, "-c", "import abagen, pandas; assert pandas.__version__ < '2'"],
                               capture_output=True)
            if r.returncode == 0:
                return c
    return None


@pytest.fixture(scope="module")
def ahba_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("ahba")
    genes = syn.make_fake_ahba(d, n_genes=20, rng=0)
    return d, genes


def test_layout_check(ahba_dir, tmp_path):
    d, _ = ahba_dir
    assert ahba.check_ahba_layout(d) == ["10021", "9861"]
    bad = tmp_path / "bad"
    shutil.copytree(d, bad)
    (bad / "microarray/normalized_microarray_donor9861/PACall.csv").unlink()
    with pytest.raises(FileNotFoundError, match="PACall.csv"):
        ahba.check_ahba_layout(bad)
    with pytest.raises(FileNotFoundError, match="no AHBA donor folders"):
        ahba.check_ahba_layout(tmp_path / "empty")
    with pytest.raises(ValueError, match="unknown abagen parameters"):
        ahba.abagen_kwargs({"bogus": 1}, ["9861"])


def test_prepare_only(ahba_dir, tmp_path):
    d, _ = ahba_dir
    r = subprocess.run([sys.executable, str(SCRIPT), "--data-dir", str(d), "--out-dir", str(tmp_path / "o"),
                        "--params", json.dumps(PARAMS), "--prepare-only"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    call = json.loads(r.stdout)
    assert call["donors"] == ["10021", "9861"] and call["kwargs"]["corrected_mni"] is False
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == []     # nothing half-written
    r = subprocess.run([sys.executable, str(SCRIPT), "--data-dir", str(d), "--out-dir", str(tmp_path / "o"),
                        "--donors", "12876", "--prepare-only"], capture_output=True, text=True)
    assert r.returncode != 0 and "12876" in r.stderr


@pytest.mark.skipif(_abagen_python() is None, reason="abagen environment (pandas < 2) not available: create it "
                    "with envs/requirements-abagen.txt and set FCECT_ABAGEN_PYTHON")
def test_abagen_run(ahba_dir, tmp_path):
    d, genes = ahba_dir
    out = tmp_path / "o"
    r = subprocess.run([_abagen_python(), str(SCRIPT), "--data-dir", str(d), "--out-dir", str(out),
                        "--params", json.dumps(PARAMS)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    lab = ahba.read_dk_labels(out / "labels.csv")
    E = ahba.read_expression(out / "expression.csv", lab)
    left = ahba.select_regions(lab).index
    assert set(E.columns) <= set(genes) and len(E.columns) >= 15
    assert E.loc[left].notna().all(axis=1).sum() >= 30                  # samples placed in every left region
    counts = pd.read_csv(out / "counts.csv", index_col=0)
    assert counts.loc[left].sum(axis=1).min() >= 1
    assert "abagen" in (out / "report.txt").read_text()
