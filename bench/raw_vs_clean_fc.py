"""Raw-path FC maps against the clean MNI-space maps of the same simulated scans, over a whole cohort.

The simulator writes the same planted cohort either preprocessed in MNI space (``simulate.mode: mni``, the default)
or raw in native space (``mode: raw``, config/raw_full.yaml); the scans' latent series do not depend on the mode.
Given a finished run of each (two working directories, both at least through rule denoise_fc), this compares
every scan's FC map per seed (correlation over the analysis mask), and optionally re-preprocesses N scans of the
raw run, drawn with a fixed seed, at ``raw.slice_timing_ref`` 0:

    PYTHONPATH=scripts .venv/bin/python bench/raw_vs_clean_fc.py RAW_RUN CLEAN_RUN [N] [OUT.tsv]

(RAW_RUN ran with --configfile config/raw_full.yaml, or set FCECT_RAW_CONFIG to its config file.)

Why the second part: the workflow's default slice-timing reference is the middle of the TR (fMRIPrep's choice), so
its series describe each volume half a TR later than the simulator's clean series (the signal at each volume's
onset); a half-TR shift decorrelates band-passed noise a little (r ~0.95 per series at 0.01-0.08 Hz, TR 2 s), and
the noise-dominated parts of two FC maps then correlate less (~0.9). At reference 0 both describe the same
times, which isolates what the raw path itself loses (motion, slice timing, registration, resampling).
The re-preprocessing calls scripts/preprocess_raw.py with the antspyx interpreter (``.venv-ants/bin/python`` or
$FCECT_ANTS_PYTHON) exactly as rule preprocess_raw does, reusing the run's T1w -> MNI transforms, in a temporary
folder; the denoising and FC use the clean run's masks and the config's ``denoise`` section, as rule denoise_fc.
"""
from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
FC = ("results/fc/sub-{sub}/ses-{ses}/sub-{sub}_ses-{ses}_task-rest_space-MNI152NLin2009cAsym_seed-{seed}"
      "_desc-fcz_stat.nii.gz")


def _corr(a, b, mask):
    return float(np.corrcoef(nib.load(a).get_fdata()[mask], nib.load(b).get_fdata()[mask])[0, 1])


def compare_runs(raw, clean, seeds, mask):
    rows = []
    for f in sorted(glob.glob(f"{raw}/results/fc/sub-*/ses-*")):
        sub, ses = Path(f).parent.name[4:], Path(f).name[4:]
        for s in seeds:
            a, b = Path(raw, FC.format(sub=sub, ses=ses, seed=s)), Path(clean, FC.format(sub=sub, ses=ses, seed=s))
            if a.exists() and b.exists():
                rows.append(dict(sub=sub, ses=ses, seed=s, r=_corr(a, b, mask)))
    return pd.DataFrame(rows)


def run_config(raw, configfile):
    """The raw run's config as the Snakefile sees it: config/config.yaml, the run's --configfile on top (Snakemake
    merges nested keys), and the schema's defaults."""
    from snakemake.utils import update_config, validate

    cfg = yaml.safe_load(Path(raw, "config/config.yaml").read_text())
    update_config(cfg, yaml.safe_load(Path(raw, configfile).read_text()) or {})
    validate(cfg, str(Path(raw, "config/schema/config.schema.yaml")))
    return cfg


def rerun_ref0(raw, clean, cfg, sub, ses, seeds, mask, work, python):
    """One raw scan re-preprocessed at slice-timing reference 0 and denoised as rule denoise_fc does; returns the
    correlation of each seed's map with the clean run's."""
    from fcect.preprocess.run import denoise_and_fc
    from fcect.raw.settings import run_params

    params = run_params(cfg, slice_timing_ref=0.0)
    name = cfg["simulate"]["name"]
    src = Path(raw, f"resources/simulated/{name}/rawdata/sub-{sub}")
    d = Path(work, f"sub-{sub}_ses-{ses}")
    d.mkdir(parents=True, exist_ok=True)
    out = {k: str(d / f"{k}{e}") for k, e in dict(bold=".nii.gz", bold_json=".json", mask="_mask.nii.gz",
                                                   confounds=".tsv", qc="_qc.json").items()}
    cmd = [python, str(ROOT / "scripts/preprocess_raw.py"),
           "--bold", str(src / f"ses-{ses}/func/sub-{sub}_ses-{ses}_task-rest_bold.nii.gz"),
           "--bold-json", str(src / f"ses-{ses}/func/sub-{sub}_ses-{ses}_task-rest_bold.json"),
           "--t1w", str(src / f"anat/sub-{sub}_T1w.nii.gz"),
           "--out-bold", out["bold"], "--out-bold-json", out["bold_json"], "--out-mask", out["mask"],
           "--out-confounds", out["confounds"], "--out-qc", out["qc"],
           "--t1-xfm", str(Path(raw, f"results/preproc/sub-{sub}/anat/"
                                     f"sub-{sub}_from-T1w_to-MNI152NLin2009cAsym_mode-image_xfm.h5")),
           "--params", json.dumps(params)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "scripts"), ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS="1")
    subprocess.run(cmd, check=True, env=env, capture_output=True, text=True)
    m = Path(clean, "results/masks")
    maps = [str(d / f"{s}.nii.gz") for s in seeds]
    denoise_and_fc(out["bold"], out["confounds"], out["bold_json"], m / "analysis_mask.nii.gz", m / "seeds.nii.gz",
                   m / "seeds.tsv", cfg["denoise"], seeds, maps, d / "info.json")
    return [dict(sub=sub, ses=ses, seed=s, r=_corr(f, Path(clean, FC.format(sub=sub, ses=ses, seed=s)), mask))
            for s, f in zip(seeds, maps)]


def summary(t, label):
    print(f"{label}: {len(t)} maps of {t[['sub', 'ses']].drop_duplicates().shape[0]} scans; r median "
          f"{t.r.median():.3f}, 5th percentile {t.r.quantile(0.05):.3f}, min {t.r.min():.3f}, "
          f"fraction > 0.9 {(t.r > 0.9).mean():.2f}")


def main(argv):
    raw, clean = Path(argv[0]).resolve(), Path(argv[1]).resolve()
    n = int(argv[2]) if len(argv) > 2 else 0
    out = argv[3] if len(argv) > 3 else None
    configfile = os.environ.get("FCECT_RAW_CONFIG", "config/raw_full.yaml")  # the raw run's --configfile
    seeds = list(pd.read_csv(clean / "results/masks/seeds.tsv", sep="\t").seed_id)
    mask = nib.load(clean / "results/masks/analysis_mask.nii.gz").get_fdata() > 0
    t = compare_runs(raw, clean, seeds, mask)
    t["slice_timing_ref"] = "run (0.5)"
    summary(t, "as run (slice-timing reference 0.5)")
    if n:
        python = os.environ.get("FCECT_ANTS_PYTHON", str(ROOT / ".venv-ants/bin/python"))
        cfg = run_config(raw, configfile)
        scans = t[["sub", "ses"]].drop_duplicates().sample(n, random_state=0)
        rows = []
        jobs = int(os.environ.get("FCECT_BENCH_JOBS", 2))  # scans side by side (one ITK thread each)
        with tempfile.TemporaryDirectory() as work, ThreadPoolExecutor(jobs) as pool:
            for r in pool.map(lambda sc: rerun_ref0(raw, clean, cfg, *sc, seeds, mask, work, python),
                              scans.itertuples(index=False)):
                rows += r
        r0 = pd.DataFrame(rows).assign(slice_timing_ref="0")
        same = t.merge(r0[["sub", "ses", "seed"]], on=["sub", "ses", "seed"])
        summary(same, "the same scans as run")
        summary(r0, "the same scans at slice-timing reference 0")
        t = pd.concat([t, r0], ignore_index=True)
    if out:
        t.to_csv(out, sep="\t", index=False)


if __name__ == "__main__":
    main(sys.argv[1:])
