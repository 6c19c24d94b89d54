"""The "How to add ..." recipes of docs/ARCHITECTURE.md, each done on a copy of the workflow and checked with a dry
run (and, where the recipe adds library code, with that code). A recipe that stops working fails here.

Recipes that edit the library run Snakemake with the copy's scripts/ first on PYTHONPATH, so that the copy's
edited fcect is the one imported (the installed package points at the checkout).
"""
import os
import re
import subprocess
import sys

import pandas as pd
import pytest
import yaml

from conftest import copy_workflow, run_snakemake, snakemake_cmd


@pytest.fixture
def wf(tmp_path):
    return copy_workflow(tmp_path / "wf")


def _edit(path, old, new):
    text = path.read_text()
    assert old in text, f"{path.name}: the recipe's anchor {old!r} is gone: update docs/ARCHITECTURE.md"
    path.write_text(text.replace(old, new, 1))


def _config(wf, name, cfg):
    (wf / "config" / name).write_text(yaml.safe_dump(cfg))
    return f"config/{name}"


def _snakemake_with_copy(wf, *args):
    """Snakemake in the copy, importing the copy's (edited) fcect package."""
    env = dict(os.environ, PYTHONPATH=str(wf / "scripts"), PYTHONWARNINGS="ignore")
    return subprocess.run(snakemake_cmd(*args), cwd=wf, capture_output=True, text=True, env=env, timeout=600)


def _python_with_copy(wf, code):
    env = dict(os.environ, PYTHONPATH=str(wf / "scripts"))
    return subprocess.run([sys.executable, "-c", code], cwd=wf, capture_output=True, text=True, env=env,
                          timeout=300)


def test_recipe_add_a_seed(wf):
    """A row in the seeds table is all a seed needs: every per-seed rule expands over the table."""
    seeds = pd.read_csv(wf / "config/seeds.tsv", sep="\t")
    row = seeds[seeds.seed_id == "Exec2L"].iloc[0].copy()
    row["seed_id"], row["x"], row["source"] = "Exec2Lb", row["x"] - 6, "recipe test"
    pd.concat([seeds, row.to_frame().T]).to_csv(wf / "config/seeds.tsv", sep="\t", index=False)
    out = run_snakemake(wf, "-n", "--configfile", "config/tiny.yaml").stdout
    assert "seed-Exec2Lb_desc-fcz_stat.nii.gz" in out                     # FC maps of every scan
    assert "results/group/ect/seed-Exec2Lb/stat-t.nii.gz" in out          # group stage
    assert "results/figures/group/baseline/seed-Exec2Lb_stat-t.png" in out  # its figures


def test_recipe_add_a_denoising_preset(wf):
    """PRESETS entry (library) + schema enum + methods wording: then config can select it."""
    _edit(wf / "scripts/fcect/preprocess/denoise.py", "PRESETS = {\n",
          'PRESETS = {\n    # recipe test: Friston-24 + WM + CSF + global signal\n'
          '    "dpabi_gsr": dict(columns=_expand(MOTION) + ["white_matter", "csf", "global_signal"], censor=False),\n')
    _edit(wf / "config/schema/config.schema.yaml", "enum: [dpabi, 36p, acompcor, scrubbing, none]",
          "enum: [dpabi, 36p, acompcor, scrubbing, none, dpabi_gsr]")
    _edit(wf / "scripts/fcect/report/methods.py", "PRESET_TEXT = {\n",
          'PRESET_TEXT = {\n    "dpabi_gsr": ("the Friston 24-parameter model, the mean white-matter, cerebrospinal-fluid and '
          'global signals", ("friston24",)),\n')
    cfg = _config(wf, "gsr.yaml", {"denoise": {"preset": "dpabi_gsr"}})
    proc = _snakemake_with_copy(wf, "-n", "--configfile", "config/tiny.yaml", cfg)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "denoise_fc" in proc.stdout
    check = _python_with_copy(wf, (
        "import pandas as pd, numpy as np\n"
        "from fcect.preprocess.denoise import PRESETS, confound_matrix\n"
        "cols = PRESETS['dpabi_gsr']['columns']\n"
        "m = confound_matrix(pd.DataFrame(np.ones((5, len(cols))), columns=cols), 'dpabi_gsr')\n"
        "assert m.shape == (5, 27), m.shape\n"
        "from fcect.report.methods import PRESET_TEXT\n"
        "assert 'global signals' in PRESET_TEXT['dpabi_gsr'][0]\n"
        "print('ok')\n"))
    assert check.stdout.strip() == "ok", check.stderr[-2000:]
    # without the schema entry the preset is refused before anything runs
    _edit(wf / "config/schema/config.schema.yaml", ", dpabi_gsr]", "]")
    proc = _snakemake_with_copy(wf, "-n", "--configfile", "config/tiny.yaml", cfg)
    assert proc.returncode != 0 and "dpabi_gsr" in proc.stdout + proc.stderr


def test_recipe_add_a_figure(wf):
    """A plotting function in fcect.figures.<stage>, a script named as its rule, the rule (with code=library())
    in the stage's rule file and its outputs in TARGETS[stage]."""
    (wf / "scripts/fcect/figures/qc.py").write_text((wf / "scripts/fcect/figures/qc.py").read_text() + '''

def mean_fd_histogram(motion):
    """Recipe test: histogram of the mean FD of every scan."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(3.5, 2.5))
    ax.hist(motion["mean_fd"], bins=20)
    ax.set_xlabel("mean FD (mm)")
    return fig
''')
    (wf / "scripts/figure_mean_fd.py").write_text('''"""Rule figure_mean_fd: histogram of the mean FD of every scan."""
from fcect.core.io import read_tsv, run_logged
from fcect.figures.qc import mean_fd_histogram
from fcect.figures.style import save_figure


def main(smk, log):
    save_figure(mean_fd_histogram(read_tsv(smk.input.motion)), smk.output.png, smk.output.vector, dpi=smk.params.dpi)


run_logged(snakemake, main)  # noqa: F821
''')
    (wf / "report/mean_fd.rst").write_text("Mean framewise displacement of every scan.\n")
    rules = wf / "rules/preprocess.smk"
    rules.write_text(rules.read_text() + '''

rule figure_mean_fd:
    input:
        motion=MOTION_TABLE,
        code=library("figure_mean_fd.py"),
    output:
        png=report(P.figure("mean_fd"), caption="../report/mean_fd.rst", category="QC", subcategory="Head motion"),
        vector=P.figure("mean_fd", FIG_EXT),
    params:
        dpi=FIG["dpi"],
    log:
        "logs/figures/mean_fd.log",
    threads: 1
    resources:
        **FIG_RES,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/figure_mean_fd.py"


TARGETS["preprocess"] += figure_outputs("mean_fd")
''')
    proc = _snakemake_with_copy(wf, "-n", "--configfile", "config/tiny.yaml")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert re.search(r"rule figure_mean_fd:\n(.*\n)*?\s+input: .*scripts/fcect/figures/qc\.py", proc.stdout), \
        "the new rule does not declare the module of its plotting function"
    assert "results/figures/mean_fd.png" in proc.stdout
    lint = _snakemake_with_copy(wf, "--lint")
    assert lint.returncode == 0 and "Congratulations" in lint.stdout + lint.stderr, (lint.stdout + lint.stderr)[-3000:]
