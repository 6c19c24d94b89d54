"""One simulated scan as a simulate_scan job pays it: a fresh process, imports included (run it as a script).

    nice python bench/bench_simulate.py [--geometry default|small] [--threads 1] [--repeat 3]

Each repeat runs in its own process: the imports of scripts/simulate_scan.py, its couplings read, then write_scan of
one default-size scan (4 mm grid 40 x 50 x 38, 200 volumes) into a temporary folder, with BLAS limited to
--threads (as the script does). The cohort table, tissue maps and seeds are written once beforehand, as the rules
do. Snakemake's own start-up of a script job (``from snakemake import script``, ~0.15 s) is not included.
Prints the import time, the scan time, the process CPU time and peak RSS, and the SHA-256 of the BOLD data
(int16 values and scaling), mask and confounds, so that two versions of the generator can be compared for byte
identity (docs/benchmarks.md, "Simulator").
"""
import argparse
import subprocess
import sys

CHILD = r'''
import sys, time, resource, tempfile, hashlib, json
t0 = time.perf_counter()
from threadpoolctl import threadpool_limits
from fcect.core.io import run_logged
from fcect.simulate.params import SimParams
from fcect.simulate import scan as S
if not hasattr(S, "read_scan_couplings"):  # a version before the pandas-free job: import what its script did
    import pandas as pd
    from fcect.preprocess.seeds import read_seeds
t1 = time.perf_counter()
geometry, threads, tissue, coup_tsv, seeds_json = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
if geometry == "small":
    p = SimParams(n_trd=6, n_completers=5, n_hc=5, motion_outliers={"hc_pre": 1}, voxel_mm=6.0, n_volumes=90,
                  n_dummy=4, smooth_noise_fwhm=8.0)
else:
    p = SimParams(motion_outliers={"hc_pre": 1, "trd_post": 1})
if hasattr(S, "read_scan_couplings"):
    c, _ = S.read_scan_couplings(coup_tsv, "sub-001", "pre")
    seeds = json.load(open(seeds_json))
else:
    t = pd.read_csv(coup_tsv, sep="\t", na_values=["n/a"], dtype={"participant_id": str})
    c = t[(t.participant_id == "sub-001") & (t.session == "pre")][["seed", "target", "coupling"]]
    seeds = pd.DataFrame(json.load(open(seeds_json)))
d = tempfile.mkdtemp()
paths = {"bold": f"{d}/b.nii.gz", "mask": f"{d}/m.nii.gz", "confounds": f"{d}/c.tsv", "bold_json": f"{d}/b.json"}
c0, t2 = time.process_time(), time.perf_counter()
with threadpool_limits(threads):
    S.write_scan(p, "001", "pre", c, False, seeds, paths, f"{d}/t.json", tissue)
t3, c1 = time.perf_counter(), time.process_time()
import nibabel as nib, numpy as np
img = nib.load(paths["bold"])
h = hashlib.sha256(np.asarray(img.dataobj.get_unscaled()).tobytes()
                   + np.array([img.dataobj.slope, img.dataobj.inter]).tobytes())
h.update(np.asarray(nib.load(paths["mask"]).dataobj).tobytes())
h.update(open(paths["confounds"], "rb").read())
ru = resource.getrusage(resource.RUSAGE_SELF)
print(f"imports {t1 - t0:.2f} s | scan wall {t3 - t2:.2f} s, CPU {c1 - c0:.2f} s | process CPU "
      f"{ru.ru_utime + ru.ru_stime:.2f} s | peak RSS {ru.ru_maxrss / 1024:.0f} MB | sha256 {h.hexdigest()[:16]}")
'''


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--geometry", choices=["default", "small"], default="default")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    import tempfile

    import json

    from fcect.preprocess.seeds import read_seeds
    from fcect.simulate.cohort import write_participants
    from fcect.simulate.params import SimParams
    if a.geometry == "small":
        p = SimParams(n_trd=6, n_completers=5, n_hc=5, motion_outliers={"hc_pre": 1}, voxel_mm=6.0, n_volumes=90,
                      n_dummy=4, smooth_noise_fwhm=8.0)
        seeds = read_seeds("config/seeds.tsv", radius_override=9.0)
    else:
        p = SimParams(motion_outliers={"hc_pre": 1, "trd_post": 1})
        seeds = read_seeds("config/seeds.tsv")
    d = tempfile.mkdtemp()
    # once, as rule simulate_participants does; the seeds as the rule passes them (params)
    write_participants(p, f"{d}/participants.tsv", f"{d}/coup.tsv", f"{d}/dd.json", f"{d}/tissue.nii.gz")
    with open(f"{d}/seeds.json", "w") as f:
        json.dump([dict(seed_id=str(r.seed_id), x=float(r.x), y=float(r.y), z=float(r.z),
                        radius_mm=float(r.radius_mm)) for r in seeds.itertuples(index=False)], f)
    for _ in range(a.repeat):
        subprocess.run([sys.executable, "-c", CHILD, a.geometry, str(a.threads), f"{d}/tissue.nii.gz",
                        f"{d}/coup.tsv", f"{d}/seeds.json"], check=True)


if __name__ == "__main__":
    main()
