"""Motion-correction error on a random sample of N scans of the default simulated cohort written raw (as the
pipeline does it: slice-timing corrected, reference = mean of the volumes after the 10 dropped), linear against
spline interpolation (``fcect.raw.motion``), against the planted motion at the volume's start and at the
slice-timing reference (t + 0.5 TR). Two processes; runs in the main environment:

    PYTHONPATH=scripts .venv/bin/python bench/sweep_motion.py 40 /tmp/sweep   # ~25 min on 2 cores

Measured 2026-12-04 (40 scans): see bench/README.md.
"""
import json
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

N = int(sys.argv[1])
OUT = Path(sys.argv[2] if len(sys.argv) > 2 else "sweep_motion")
W = str(Path(__file__).resolve().parents[1])
cfg = yaml.safe_load(open(f"{W}/config/config.yaml"))
(OUT / "sourcedata").mkdir(parents=True, exist_ok=True)
if __name__ == "__main__":
    from fcect.simulate.cohort import write_participants
    from fcect.simulate.params import SimParams
    write_participants(SimParams.from_config({**cfg["simulate"], "name": "raw_full", "mode": "raw"}, cfg["random_seed"]),
                       OUT / "participants.tsv", OUT / "sourcedata/subject_couplings.tsv", OUT / "description.json",
                       OUT / "sourcedata/tissue.nii.gz")
table = pd.read_csv(OUT / "sourcedata/subject_couplings.tsv", sep="\t", na_values=["n/a"],
                    dtype={"participant_id": str})
scans = sorted(set(zip(table.participant_id, table.session)))
rng = np.random.default_rng(20261204)
pick = [scans[i] for i in sorted(rng.choice(len(scans), N, replace=False))]

def one(sc):
    from fcect.simulate.params import SimParams
    from fcect.simulate.raw import to_native, subject_map
    from fcect.simulate.scan import simulate_scan
    from fcect.simulate.anatomy import read_tissue
    from fcect.preprocess.seeds import read_seeds
    from fcect.core.motion import MOTION
    from fcect.raw.motion import motion_correct, slice_time_correct
    pid, ses = sc
    sub = pid[4:]
    p = SimParams.from_config({**cfg["simulate"], "name": "raw_full", "mode": "raw"}, cfg["random_seed"], sessions=("pre", "post"))
    rows = table[(table.participant_id == pid) & (table.session == ses)]
    outlier = str(rows["motion_outlier_sessions"].fillna("").iloc[0]) == ses
    seeds = read_seeds(f"{W}/config/seeds.tsv", cfg["seeds"]["radius_override"])
    img, _, conf, truth = simulate_scan(p, sub, ses, rows[["seed", "target", "coupling"]], outlier, seeds,
                                        read_tissue(OUT / "sourcedata/tissue.nii.gz"))
    motion = conf[MOTION].to_numpy(float)
    nimg, times = to_native(img, motion, subject_map(p.seed, sub, {}), p.voxel_mm, p.tr, st=True)
    data = slice_time_correct(nimg.get_fdata(dtype=np.float32), times, p.tr, ref=0.5, axis=2)
    ref = data[..., 10:].mean(axis=3)
    out = dict(scan=f"{pid}_ses-{ses}", outlier=outlier, planted_mm=float(np.abs(motion[:, :3]).max()),
               planted_deg=float(np.degrees(np.abs(motion[:, 3:]).max())))
    # after slice-timing correction to the middle of the TR, volume t shows the head at t + 0.5 TR: the truth is
    # the planted motion interpolated there (the simulator sampled slice z of volume t at t + st[z])
    from scipy.interpolate import CubicSpline
    T = len(motion)
    mid = CubicSpline(np.arange(T), motion, axis=0, bc_type="natural")(np.arange(T) + 0.5)
    mid[-1] = motion[-1]
    mid = mid - mid[0] + 0  # re-referenced to the first volume as the estimate is
    for interp in ("linear", "spline"):
        t0 = time.process_time()
        _, est = motion_correct(data, nimg.affine, ref=ref, interpolation=interp)
        e = est - motion
        out[f"{interp}_mm"] = float(np.abs(e[:, :3]).max())
        out[f"{interp}_deg"] = float(np.degrees(np.abs(e[:, 3:]).max()))
        em = (est - mid)[:-1]
        out[f"{interp}_mid_mm"] = float(np.abs(em[:, :3]).max())
        out[f"{interp}_mid_deg"] = float(np.degrees(np.abs(em[:, 3:]).max()))
        out[f"{interp}_cpu_s"] = time.process_time() - t0
    print(json.dumps(out), flush=True)
    return out

if __name__ == "__main__":
    with Pool(2) as pool:
        res = pool.map(one, pick, chunksize=1)
    df = pd.DataFrame(res)
    df.to_csv(OUT / f"sweep_{N}.tsv", sep="\t", index=False)
    for interp in ("linear", "spline"):
        print(interp, f"translation max-per-scan median {df[interp + '_mm'].median():.3f} max {df[interp + '_mm'].max():.3f} mm;"
              f" >0.2 mm {int((df[interp + '_mm'] > 0.2).sum())}/{len(df)}; rotation median {df[interp + '_deg'].median():.3f} max {df[interp + '_deg'].max():.3f} deg;"
              f" >0.2 deg {int((df[interp + '_deg'] > 0.2).sum())}/{len(df)}; CPU per scan {df[interp + '_cpu_s'].median():.1f} s")
    for interp in ("linear", "spline"):
        print(interp, "against the motion at the slice-timing reference (t + 0.5 TR):",
              f"translation median {df[interp + '_mid_mm'].median():.3f} max {df[interp + '_mid_mm'].max():.3f} mm, >0.2 mm {int((df[interp + '_mid_mm'] > 0.2).sum())};"
              f" rotation median {df[interp + '_mid_deg'].median():.3f} max {df[interp + '_mid_deg'].max():.3f} deg, >0.2 deg {int((df[interp + '_mid_deg'] > 0.2).sum())}")
    ok = df[~df.outlier]
    print("without the planted motion-outlier scans:", {k: float(ok[k].max()) for k in ("linear_mm", "linear_deg", "spline_mm", "spline_deg")})
