"""The simulator: determinism, cohort design, realised couplings vs the planted truth, and that denoising
measurably matters on its data."""

import json

import numpy as np
import pytest

from fcect.preprocess.denoise import clean_signals, confound_matrix
from fcect.preprocess.qc import decide, scan_motion
from fcect.preprocess.seeds import read_seeds
from fcect.simulate.anatomy import sim_tissue
from fcect.simulate.cohort import cohort_table, scans_of, write_ground_truth, write_participants
from fcect.simulate.params import COUPLINGS, REGIONS, SimParams
from fcect.simulate.scan import motion_params, simulate_scan, write_scan

from conftest import REPO

SEEDS = read_seeds(REPO / "config/seeds.tsv", radius_override=9.0)
SMALL = dict(voxel_mm=6.0, n_volumes=90, n_dummy=4, smooth_noise_fwhm=8.0)


@pytest.fixture(scope="module")
def small():
    p = SimParams(n_trd=6, n_completers=5, n_hc=5, motion_outliers={"hc_pre": 1}, **SMALL)
    part, coup = cohort_table(p)
    return p, part, coup, sim_tissue(p)


def _scan(small, i, ses="pre", **kw):
    p, part, coup, tissue = small
    pid = part.participant_id[i]
    c = coup[(coup.participant_id == pid) & (coup.session == ses)]
    return simulate_scan(p, pid[4:], ses, c, False, SEEDS, tissue)


def test_default_cohort_matches_the_paper_design():
    p = SimParams(motion_outliers={"hc_pre": 1, "trd_post": 1})
    part, coup = cohort_table(p)
    assert (part.group == "TRD").sum() == 72 and (part.group == "HC").sum() == 64
    assert part.hamd_post.notna().sum() == 53
    assert len(scans_of(part, p)) == 72 + 64 + 53
    assert (part.motion_outlier_sessions != "").sum() == 2
    trd = part[part.group == "TRD"]
    assert 18 <= trd.hamd_pre.min() and trd.hamd_pre.mean() > 20
    assert (part.loc[part.group == "HC", "hamd_pre"] <= 7).all()
    # planted baseline effect: TRD < HC for DMN9L-PCC on average
    pre = coup[(coup.session == "pre") & (coup.seed == "DMN9L") & (coup.target == "PCC")].merge(part)
    assert pre[pre.group == "HC"].coupling.mean() - pre[pre.group == "TRD"].coupling.mean() > 0.15
    # null seed: the same coupling distribution in every group and session
    null = coup[(coup.seed == "Exec1R")].merge(part)
    assert abs(null[null.group == "HC"].coupling.mean() - null[null.group == "TRD"].coupling.mean()) < 0.05


def test_null_cohort_has_no_planted_effect():
    part, coup = cohort_table(SimParams(null_cohort=True))
    pre = coup[(coup.seed == "DMN9L") & (coup.target == "PCC") & (coup.session == "pre")].merge(part)
    assert abs(pre[pre.group == "HC"].coupling.mean() - pre[pre.group == "TRD"].coupling.mean()) < 0.05
    ect = coup[(coup.seed == "Exec2L") & (coup.target == "mSFG")].pivot(
        index="participant_id", columns="session", values="coupling").dropna()
    d = ect["post"] - ect["pre"]
    assert abs(d.mean()) < 3 * d.std() / np.sqrt(len(d)), d.mean()  # session variability only, no rise
    # baseline coupling unrelated to responsiveness (the planted cohort ties them at baseline_predicts_r = -0.8)
    resp = part.set_index("participant_id").loc[ect.index, "responsiveness"]
    assert abs(np.corrcoef(ect["pre"], resp)[0, 1]) < 3 / np.sqrt(len(ect))
    _, coup1 = cohort_table(SimParams())
    ect1 = coup1[(coup1.seed == "Exec2L") & (coup1.target == "mSFG")].pivot(
        index="participant_id", columns="session", values="coupling").dropna()
    assert (ect1["post"] - ect1["pre"]).mean() > 0.4
    assert np.corrcoef(ect1["pre"], resp.loc[ect1.index])[0, 1] < -0.5


def test_motion_outliers_exceed_exclusion_thresholds():
    rng = np.random.default_rng(0)
    thr = dict(max_translation_mm=2.0, max_rotation_deg=2.0, max_mean_fd=None, min_remaining_volumes=10)
    import pandas as pd
    cols = ["trans_x", "trans_y", "trans_z", "rot_x", "rot_y", "rot_z"]
    for outlier in (False, True):
        inc = [decide(dict(scan_motion(pd.DataFrame(motion_params(rng, 200, 2.0, outlier=outlier), columns=cols)),
                           n_censored=0), thr)[0] for _ in range(20)]
        assert all(inc) if not outlier else not any(inc)


def test_scan_is_deterministic(small):
    a, _, ca, ta = _scan(small, 0)
    b, _, cb, tb = _scan(small, 0)
    assert np.array_equal(np.asarray(a.dataobj), np.asarray(b.dataobj))
    assert ca.equals(cb) and ta == tb
    c, *_ = _scan(small, 1)
    assert not np.array_equal(np.asarray(a.dataobj), np.asarray(c.dataobj))


def test_realised_couplings_track_planted_and_ground_truth_collects_them(small, tmp_path):
    p, part, coup, _ = small
    write_participants(p, tmp_path / "participants.tsv", tmp_path / "coup.tsv", tmp_path / "dd.json",
                       tmp_path / "tissue.nii.gz")
    truth_paths, planted, realised = [], [], []
    for i in range(5):
        pid = part.participant_id[i][4:]
        c = coup[(coup.participant_id == f"sub-{pid}") & (coup.session == "pre")]
        paths = {k: tmp_path / f"{pid}_{k}{ext}" for k, ext in
                 [("bold", ".nii.gz"), ("mask", ".nii.gz"), ("confounds", ".tsv"), ("bold_json", ".json")]}
        t = write_scan(p, pid, "pre", c, False, SEEDS, paths, tmp_path / f"{pid}_truth.json",
                       tmp_path / "tissue.nii.gz")
        truth_paths.append(tmp_path / f"{pid}_truth.json")
        for s, tg, _ in COUPLINGS:
            planted.append(t["planted_coupling"][f"{s}-{tg}"])
            realised.append(t["realised_fc_z"][f"{s}-{tg}"])
        # uncoupled pairs: realised FC lower on average than coupled pairs
    gt = write_ground_truth(p, tmp_path / "coup.tsv", truth_paths, tmp_path / "gt.json")
    assert json.loads((tmp_path / "gt.json").read_text())["scans"][0]["realised_fc_z"] == \
        json.loads(truth_paths[0].read_text())["realised_fc_z"]
    assert set(gt["regions"]) == set(REGIONS) and gt["null_seeds"] == ["Exec1R"]
    assert np.corrcoef(planted, realised)[0, 1] > 0.4
    coupled = {f"{s}-{t}" for s, t, _ in COUPLINGS}
    unc = [v for sc in gt["scans"] for k, v in sc["realised_fc_z"].items() if k not in coupled]
    assert np.mean(realised) > np.mean(unc) + 0.1


def test_denoising_measurably_matters(small):
    """FC between seed and target cores estimated from the images is closer to the realised truth after
    Friston-24 + WM + CSF regression than after detrending and filtering alone (at the default scan length:
    26 regressors need enough volumes)."""
    p = SimParams(n_trd=6, n_completers=5, n_hc=5, **dict(SMALL, n_volumes=200, n_dummy=10))
    small = (p,) + cohort_table(p) + (small[3],)
    import nibabel as nib
    from fcect.preprocess.masks import sphere_mask
    from fcect.simulate.anatomy import region_profile
    from fcect.simulate.params import CONTROL_REGION
    errs = {"dpabi": [], "none": []}
    for i in range(3):
        img, mask, conf, truth = _scan(small, i)
        p = small[0]
        data = np.asarray(img.dataobj, dtype=float)[..., p.n_dummy:]
        shape = data.shape[:3]
        ijk = np.indices(shape).reshape(3, -1).T
        xyz = nib.affines.apply_affine(img.affine, ijk)
        gm = small[3]["gm"].ravel()
        cereb = small[3]["cerebellum"].ravel() > 0.5
        X = data.reshape(-1, data.shape[-1]).T
        for preset in errs:
            C = confound_matrix(conf, preset)
            C = None if C is None else C[p.n_dummy:]
            for s in SEEDS.itertuples():
                sm = sphere_mask((s.x, s.y, s.z), s.radius_mm, img.affine, shape).ravel() & cereb
                sx = clean_signals(X[:, sm].mean(axis=1, keepdims=True), C, p.tr, 0.01, 0.08)[:, 0]
                for name, reg in list(REGIONS.items()) + [("V1", CONTROL_REGION)]:
                    prof = region_profile(xyz, reg["centers"], reg["radius"]) * (gm > 0.2)
                    core = prof >= 0.5 * prof.max()
                    tx = clean_signals(X[:, core].mean(axis=1, keepdims=True), C, p.tr, 0.01, 0.08)[:, 0]
                    z = np.arctanh(np.corrcoef(sx, tx)[0, 1])
                    errs[preset].append(abs(z - truth["realised_fc_z"][f"{s.seed_id}-{name}"]))
    print({k: np.mean(v) for k, v in errs.items()})
    assert np.mean(errs["dpabi"]) < 0.8 * np.mean(errs["none"]), {k: np.mean(v) for k, v in errs.items()}


def test_bandpass_of_the_truth_matches_nilearn_butterworth():
    """The realised couplings' band-pass (numpy, so that a simulation job does not import scipy.signal) is
    nilearn.signal.butterworth's filter: same output to rounding, for several TRs and lengths; and it is a
    band-pass (a 0.05 Hz sine passes, 0.002 Hz and 0.2 Hz sines do not)."""
    from nilearn.signal import butterworth

    from fcect.simulate.scan import _bandpass
    rng = np.random.default_rng(3)
    for tr, T in [(2.0, 190), (2.0, 86), (0.8, 300), (3.0, 60)]:
        x = rng.standard_normal((5, T)).cumsum(axis=1)
        ref = butterworth(x.T.copy(), sampling_rate=1 / tr, low_pass=0.08, high_pass=0.01)
        np.testing.assert_allclose(_bandpass(x, tr, 0.01, 0.08), ref.T, rtol=0, atol=1e-10 * np.abs(ref).max())
    t = np.arange(400) * 1.0
    sines = np.array([np.sin(2 * np.pi * f * t) for f in (0.002, 0.05, 0.2)])
    amp = np.abs(_bandpass(sines, 1.0, 0.01, 0.08)[:, 100:-100]).max(axis=1)
    assert amp[1] > 0.9 and amp[0] < 0.05 and amp[2] < 0.1, amp
    with pytest.raises(ValueError, match="more than 33 samples"):
        _bandpass(x[:, :30], 2.0, 0.01, 0.08)


def test_scan_files_are_those_of_the_generator_version(small, tmp_path):
    """Guard of GENERATOR_VERSION: the same parameters and seed give these exact BOLD values (int16 and scaling),
    mask and confounds file (version 1 and 2 alike; hashes recorded with version 1's code). A change of the
    generator that alters them must bump fcect.simulate.params.GENERATOR_VERSION and update these hashes."""
    import hashlib

    import nibabel as nib
    p, part, coup, _ = small
    expected = {("001", False): "7a7238698954e83b", ("002", True): "95853cda1254c5d8"}
    for (pid, outlier), want in expected.items():
        c = coup[(coup.participant_id == f"sub-{pid}") & (coup.session == "pre")]
        paths = {k: tmp_path / f"{pid}_{k}{ext}" for k, ext in
                 [("bold", ".nii.gz"), ("mask", ".nii.gz"), ("confounds", ".tsv"), ("bold_json", ".json")]}
        write_scan(p, pid, "pre", c, outlier, SEEDS, paths, tmp_path / f"{pid}_truth.json")
        img = nib.load(paths["bold"])
        h = hashlib.sha256(np.asarray(img.dataobj.get_unscaled()).tobytes()
                           + np.array([img.dataobj.slope, img.dataobj.inter]).tobytes())
        h.update(np.asarray(nib.load(paths["mask"]).dataobj).tobytes())
        h.update(paths["confounds"].read_bytes())
        assert h.hexdigest()[:16] == want, f"sub-{pid}: the simulated scan changed (see GENERATOR_VERSION)"


def test_seed_spheres_of_the_truth_are_sphere_mask_on_the_brain_voxels():
    """The truth's seed spheres, computed on the brain voxels only, equal fcect.preprocess.masks.sphere_mask on the
    whole grid (nearest-voxel rule included: a radius smaller than the voxel still gives one voxel)."""
    import nibabel as nib

    from fcect.preprocess.masks import sphere_mask
    from fcect.simulate.anatomy import sim_grid
    from fcect.simulate.scan import _sphere_in
    affine, shape = sim_grid(6.0)
    rng = np.random.default_rng(0)
    near = np.ravel_multi_index(tuple(np.round(nib.affines.apply_affine(np.linalg.inv(affine), (10, 20, 30)))
                                      .astype(int)), shape)
    idx = np.union1d(rng.choice(int(np.prod(shape)), 3000, replace=False), [near])
    xyz = nib.affines.apply_affine(affine, np.array(np.unravel_index(idx, shape)).T)
    for center, radius in [((-30, -60, -30), 9.0), ((10, 20, 30), 1.0), ((0, -50, -40), 14.0)]:
        want = sphere_mask(center, radius, affine, shape).ravel()[idx]
        assert np.array_equal(_sphere_in(xyz, idx, center, radius, np.linalg.inv(affine), shape), want)
        assert want.sum() >= 1


def test_job_inputs_without_pandas_give_the_same_files(small, tmp_path):
    """A simulate_scan job reads its couplings with the csv module and gets the seeds as dicts (no pandas): the
    scan it writes is byte for byte the one written from the DataFrames; the couplings and the motion-outlier flag
    are those pandas reads. And the job's script imports no pandas."""
    import subprocess
    import sys

    import pandas as pd

    from fcect.simulate.cohort import write_participants
    from fcect.simulate.scan import read_scan_couplings

    p, part, coup, tissue = small
    write_participants(p, tmp_path / "participants.tsv", tmp_path / "coup.tsv", tmp_path / "dd.json",
                       tmp_path / "tissue.nii.gz")
    table = pd.read_csv(tmp_path / "coup.tsv", sep="\t", na_values=["n/a"], dtype={"participant_id": str})
    outlier_pid = part.participant_id[part.participant_id.isin(
        table.participant_id[table.motion_outlier_sessions.fillna("") != ""])].iloc[0]
    for pid, ses in [(part.participant_id[0], "pre"), (outlier_pid, "pre")]:
        rows = table[(table.participant_id == pid) & (table.session == ses)]
        got, outlier = read_scan_couplings(tmp_path / "coup.tsv", pid, ses)
        assert [(r["seed"], r["target"], r["coupling"]) for r in got] == \
            list(rows[["seed", "target", "coupling"]].itertuples(index=False, name=None))
        assert outlier == (str(rows["motion_outlier_sessions"].fillna("").iloc[0]) == ses)
    assert outlier                                                     # the second scan is a planted outlier
    with pytest.raises(ValueError, match="no couplings for sub-none"):
        read_scan_couplings(tmp_path / "coup.tsv", "sub-none", "pre")

    pid = part.participant_id[1]
    c = table[(table.participant_id == pid) & (table.session == "pre")][["seed", "target", "coupling"]]
    seeds = [dict(seed_id=r.seed_id, x=r.x, y=r.y, z=r.z, radius_mm=r.radius_mm)
             for r in SEEDS.itertuples(index=False)]
    files = {}
    for how, cc, ss in [("frames", c, SEEDS), ("dicts", read_scan_couplings(tmp_path / "coup.tsv", pid, "pre")[0],
                                                  seeds)]:
        paths = {k: tmp_path / f"{how}_{k}{ext}" for k, ext in
                 [("bold", ".nii.gz"), ("mask", ".nii.gz"), ("confounds", ".tsv"), ("bold_json", ".json")]}
        write_scan(p, pid[4:], "pre", cc, False, ss, paths, tmp_path / f"{how}_truth.json", tmp_path / "tissue.nii.gz")
        files[how] = [paths[k].read_bytes() for k in ("bold", "mask", "confounds")] + \
            [(tmp_path / f"{how}_truth.json").read_bytes()]
    assert files["frames"] == files["dicts"]
    # the confounds TSV is what pandas writes for the same columns
    conf = simulate_scan(p, pid[4:], "pre", c, False, SEEDS, tissue)[2]
    conf.to_csv(tmp_path / "pandas.tsv", sep="\t", index=False, na_rep="n/a", float_format="%.6g")
    assert (tmp_path / "pandas.tsv").read_bytes() == files["dicts"][2]

    code = ("import sys; sys.argv = ['x']\n"
            "import fcect.simulate.scan, fcect.simulate.params, fcect.core.io, threadpoolctl\n"
            "print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**__import__('os').environ, "PYTHONPATH": str(REPO / "scripts")})
    assert out.stdout.strip() == "False"
    src = (REPO / "scripts/simulate_scan.py").read_text()
    assert "pandas" not in src.split('"""')[-1] and "read_seeds" not in src
