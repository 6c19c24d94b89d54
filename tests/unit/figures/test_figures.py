"""Figures: plotting functions on small fake inputs (fast), and the tiny workflow run's figures, summary.json,
methods text and Snakemake report; editing a plotting script reruns figure rules only."""

import json
import os
import re
import shutil
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import REPO, run_snakemake
from fcect.core import html as html_mod
from fcect.figures import clinical as FC
from fcect.figures import group as FG
from fcect.figures import prediction as FP
from fcect.figures import qc as FQ
from fcect.figures import style as FS
from fcect.report import summary as R

DPI = 300
WIDTHS = {int(round(FS.WIDTH_IN * DPI)), int(round(FS.HALF_WIDTH_IN * DPI))}  # 2100 / 1050 px


def check_png(path, widths=WIDTHS, dpi=DPI):
    """A non-empty PNG of a journal width at ``dpi`` (pixel size = figsize x dpi, nothing cropped)."""
    path = Path(path)
    assert path.exists() and path.stat().st_size > 10_000, path
    with Image.open(path) as im:
        assert im.format == "PNG"
        w, h = im.size
        assert w in widths, (path, im.size)
        assert 300 <= h <= 12_000, (path, im.size)
        assert np.allclose(im.info.get("dpi", (0, 0)), (dpi, dpi), atol=0.5), (path, im.info.get("dpi"))
        a = np.asarray(im.convert("L"))
    assert a.std() > 5, f"{path}: blank image"
    return w, h


# ----------------------------------------------------------------------------------------------- unit
@pytest.fixture
def motion_fake():
    rng = np.random.default_rng(0)
    rows = []
    for i in range(12):
        grp = "TRD" if i < 7 else "HC"
        for ses in (["pre", "post"] if i < 5 else ["pre"]):
            rows.append(dict(participant_id=f"sub-{i:02d}", session=ses, mean_fd=rng.uniform(0.05, 0.2),
                             max_translation_mm=rng.uniform(0.1, 1.0), max_rotation_deg=rng.uniform(0.1, 1.0),
                             included=True, group=grp))
    rows[3].update(max_translation_mm=3.0, max_rotation_deg=2.4, included=False)
    m = pd.DataFrame(rows)
    part = m.drop_duplicates("participant_id")[["participant_id", "group"]].reset_index(drop=True)
    return m.drop(columns="group"), part


def test_save_figure_png_size_and_vector(tmp_path, motion_fake):
    m, part = motion_fake
    fig = FQ.qc_figure(m, part)
    FS.save_figure(fig, tmp_path / "qc.png", tmp_path / "qc.svg")
    w, h = check_png(tmp_path / "qc.png")
    assert (w, h) == (2100, int(round(2.6 * DPI)))
    svg = (tmp_path / "qc.svg").read_text()
    assert svg.startswith("<?xml") and "mean FD" in svg  # text kept as text (svg.fonttype none)
    FS.save_figure(FQ.qc_figure(m, part), tmp_path / "qc2.png", tmp_path / "qc2.pdf")
    assert (tmp_path / "qc2.pdf").read_bytes()[:4] == b"%PDF"
    assert not list(tmp_path.glob(".*tmp*"))  # atomic writes leave nothing behind


def _fake_clinical():
    rng = np.random.default_rng(1)
    n = 20
    red = rng.uniform(0, 1, n)
    vals, corr = [], []
    for cid in (1, 2):
        d = 0.5 * red + rng.normal(0, 0.2, n)
        for i in range(n):
            vals.append(dict(participant_id=f"sub-{i}", group="TRD", seed="Exec2L", cluster_contrast="ect",
                             cluster_id=cid, fc_pre=0.1, fc_post=0.1 + d[i], delta_fc=d[i], included_ect=True,
                             hamd_pre=25, hamd_reduction=red[i]))
        r = float(np.corrcoef(d, red)[0, 1])
        corr.append(dict(analysis="delta_fc_vs_reduction", exploratory=False, seed="Exec2L", cluster_contrast="ect",
                         cluster_id=cid, measure="pearson", n=n, r=r, p=0.01 * cid, n_tests=2,
                         p_bonferroni=0.02 * cid, group_aal_peak="Frontal_Sup_Medial_L", group_peak_x=-6.0,
                         group_peak_y=54.0, group_peak_z=30.0))
    return pd.DataFrame(vals), pd.DataFrame(corr)


def test_clinical_figures(tmp_path):
    values, corr = _fake_clinical()
    FS.save_figure(FC.clinical_scatter_figure(values, corr), tmp_path / "s.png")
    check_png(tmp_path / "s.png")
    FS.save_figure(FC.clinical_scatter_figure(values, corr.iloc[:0]), tmp_path / "empty.png")
    check_png(tmp_path / "empty.png")
    part = pd.DataFrame(dict(participant_id=["a", "b", "c", "d"], group=["TRD", "TRD", "TRD", "HC"],
                             included_ect=[True, True, True, False], hamd_pre=[30, 25, 20, 2],
                             hamd_post=[10, 15, 18, np.nan]))
    FS.save_figure(FC.hamd_paired_figure(part), tmp_path / "h.png")
    assert check_png(tmp_path / "h.png")[0] == 1050


def test_prediction_figure_with_a_skipped_mode(tmp_path):
    rng = np.random.default_rng(2)
    y = rng.uniform(0, 1, 15)
    ok = dict(mode="nested", summary=dict(status="ok", n=15, loo=dict(r=0.5, mae=0.2),
                                          p_permutation=dict(r=0.03, mae=0.04)),
              predictions=pd.DataFrame(dict(observed=y, predicted=y + rng.normal(0, 0.2, 15))),
              null=pd.DataFrame(dict(r=rng.normal(0, 0.3, 500))))
    skipped = dict(mode="as_published", summary=dict(status="skipped: no full-sample cluster"),
                   predictions=pd.DataFrame(columns=["observed", "predicted"]), null=pd.DataFrame(columns=["r"]))
    FS.save_figure(FP.prediction_figure([skipped, ok]), tmp_path / "p.png")
    h0 = check_png(tmp_path / "p.png")[1]
    rules = {f"rule{k}": dict(as_published=dict(loo=dict(r=0.6 - 0.1 * k), p_permutation=dict(r=0.01)),
                              nested=dict(loo=dict(r=0.1 * k - 0.2), p_permutation=dict(r=0.4))) for k in range(3)}
    FS.save_figure(FP.prediction_figure([skipped, ok], rules=rules), tmp_path / "q.png")
    assert check_png(tmp_path / "q.png")[1] > h0  # the rules panel adds a row


def _img(shape=(27, 32, 27), vox=6.0):
    aff = np.diag([vox, vox, vox, 1.0])
    aff[:3, 3] = [-78, -112, -70]
    return aff, shape


def test_group_figures_on_a_synthetic_map(tmp_path):
    aff, shape = _img()
    rng = np.random.default_rng(3)
    t = rng.normal(0, 1, shape).astype(np.float32)
    t[8:11, 22:25, 15:18] = 6.0          # a "cluster" near (-24, 28, 26)
    t_img = nib.Nifti1Image(t, aff)
    lp = np.zeros(shape, np.float32)
    lp[8:11, 22:25, 15:18] = 2.5
    thr = FS.fwe_threshold_map(t_img, nib.Nifti1Image(lp, aff), 0.05)
    assert np.count_nonzero(thr.get_fdata()) == 27
    cl = pd.DataFrame(dict(size_voxels=[27], peak_x=[-24.0], peak_y=[28.0], peak_z=[26.0]))
    assert 26.0 in FS.slice_positions(cl, 5, t_img)
    fig = FG.group_seed_figure(t_img, thr, cl, "Exec2L", "t (post vs pre)", "cluster extent", 0.05, 3.5,
                               "two-sided p < 0.001", ("post>pre", "pre>post"), title="test")
    FS.save_figure(fig, tmp_path / "seed.png")
    check_png(tmp_path / "seed.png")
    rows = [dict(seed="Exec2L", network="executive", t_img=thr, clusters=cl)]
    for display in ("slices", "glass"):
        FS.save_figure(FG.group_grid_figure(rows, ("post>pre", "pre>post"), "t", "cluster extent", 0.05,
                                            display=display, title="grid"), tmp_path / f"grid_{display}.png")
        check_png(tmp_path / f"grid_{display}.png")
    FS.save_figure(FG.group_grid_figure([], ("a", "b"), "t", "maxt", 0.05, title="none"), tmp_path / "none.png")
    check_png(tmp_path / "none.png")


def test_table_html_escapes_and_formats():
    html = html_mod.table_html(pd.DataFrame(dict(a=["<x>", "y"], p=[0.00001, np.nan])), "T & U", note="n")
    assert "&lt;x&gt;" in html and "T &amp; U" in html and "1.00e-05" in html and "<td></td>" in html


# ----------------------------------------------------------------------------------------------- workflow
FIGURES = ["seeds", "qc_motion", "group/baseline_fwe", "group/ect_fwe", "clinical_scatter", "clinical_hamd",
           "prediction"]


def test_tiny_run_figures(tiny_run):
    out = tiny_run / "results/figures"
    for name in FIGURES:
        check_png(out / f"{name}.png")
    pngs = sorted(out.rglob("*.png"))
    seeds = pd.read_csv(tiny_run / "results/masks/seeds.tsv", sep="\t")["seed_id"]
    for c in ("baseline", "ect"):
        for s in seeds:
            assert out / f"group/{c}/seed-{s}_stat-t.png" in pngs
    for p in pngs:
        check_png(p)
        vec = p.with_suffix(".svg")
        assert vec.exists() and vec.stat().st_size > 1000, vec


def test_tiny_run_summary_json(tiny_run):
    s = json.loads((tiny_run / "results/summary.json").read_text())
    schema = json.loads((REPO / "config/schema/summary.schema.json").read_text())
    R.validate_summary(s, schema)
    part = pd.read_csv(tiny_run / "results/qc/participants_included.tsv", sep="\t")
    inc = part[part["included_baseline"].astype(str) == "True"]
    assert s["sample"]["baseline_included"] == {"TRD": int((inc["group"] == "TRD").sum()),
                                                "HC": int((inc["group"] == "HC").sum())}
    seeds = set(pd.read_csv(tiny_run / "results/masks/seeds.tsv", sep="\t")["seed_id"])
    assert s["stages"]["group"] and set(s["group"]) == {"baseline", "ect"}
    for c in ("baseline", "ect"):
        assert set(s["group"][c]["seeds"]) == seeds
        for seed, v in s["group"][c]["seeds"].items():
            n_rows = len(pd.read_csv(tiny_run / f"results/group/{c}/seed-{seed}/clusters.tsv", sep="\t"))
            assert len(v["clusters"]) == n_rows
    if s["stages"]["prediction"]:
        assert set(s["prediction"]["modes"]) <= {"as_published", "nested"}
    assert s["package_versions"]["nilearn"] and len(s["config_sha256"]) == 64
    assert s["random_seeds"]["master"] == 20260101


def test_tiny_run_methods_text(tiny_run):
    md = (tiny_run / "results/methods.md").read_text()
    import nilearn

    assert f"nilearn {nilearn.__version__}" in md and "## References" in md
    assert "6 mm FWHM" in md  # config/tiny.yaml: denoise.fwhm 6
    assert "<h1>Methods</h1>" in (tiny_run / "results/methods.html").read_text()


def test_report_builds(tiny_run):
    if not (tiny_run / "report").exists():   # conftest.copy_workflow may predate report/
        shutil.copytree(REPO / "report", tiny_run / "report")
    out = tiny_run / "results/report.html"
    run_snakemake(tiny_run, "--report", str(out), "--configfile", "config/tiny.yaml", timeout=900)
    html = out.read_text(errors="replace")
    assert out.stat().st_size > 200_000
    for needle in ("seeds.png", "qc_motion.png", "ect_fwe.png", "summary.json", "methods.html"):
        assert needle in html, needle


def _dry_run_jobs(wd):
    proc = run_snakemake(wd, "-n", "--quiet", "rules", "--configfile", "config/tiny.yaml")
    text = proc.stdout + proc.stderr
    return set(re.findall(r"^(\w+)\s+\d+\s*$", text, flags=re.M)) - {"total"}


FIGURE_RULE = re.compile(r"^(figure_|table_|report_)\w+$|^all$|^code_stamp$")


def test_plotting_change_reruns_only_figure_rules(tiny_run):
    """Regenerating figures from existing results never reruns the analysis (default rerun triggers)."""
    assert _dry_run_jobs(tiny_run) <= {"all"}, "the tiny run is not complete"
    script = tiny_run / "scripts/figure_qc.py"
    lib = tiny_run / "scripts/fcect/figures/style.py"
    text, lib_text, st_script, st_lib = script.read_text(), lib.read_text(), script.stat(), lib.stat()
    restore_mtime = lambda p, st: os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))  # noqa: E731
    try:
        script.write_text(text + "\n# a plotting change\n")
        jobs = _dry_run_jobs(tiny_run)
        assert jobs == {"figure_qc", "all"}, jobs
        script.write_text(text)
        restore_mtime(script, st_script)   # Snakemake's code trigger for script: rules is the script's mtime
        # the plotting library changed: every figure, nothing else (a content change: Snakemake ignores a newer
        # mtime of a small input whose checksum matches the one recorded)
        lib.write_text(lib_text + "\n# a plotting change\n")
        jobs = _dry_run_jobs(tiny_run)
        assert "figure_seeds" in jobs and "figure_group_seed" in jobs
        assert all(FIGURE_RULE.match(j) for j in jobs), jobs
    finally:
        script.write_text(text)
        lib.write_text(lib_text)
        restore_mtime(script, st_script)
        restore_mtime(lib, st_lib)
    assert _dry_run_jobs(tiny_run) <= {"all"}
