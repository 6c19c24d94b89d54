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
    _edit(wf / "config/schema/config.schema.yaml", "enum: [dpabi, 36p, acompcor, scrubbing, none, dpabi_ideal]",
          "enum: [dpabi, 36p, acompcor, scrubbing, none, dpabi_ideal, dpabi_gsr]")
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
    assert re.search(r"rule figure_mean_fd:\n(.*\n)*?\s+input: .*results/provenance/code/figure_mean_fd\.sha256",
                     proc.stdout), "the new rule does not declare its code stamp"
    assert re.search(r"rule code_stamp:\n\s+input: .*scripts/fcect/figures/qc\.py.*\n\s+output: "
                     r"results/provenance/code/figure_mean_fd\.sha256", proc.stdout), \
        "the new rule's code stamp does not list the module of its plotting function"
    assert "results/figures/mean_fd.png" in proc.stdout
    lint = _snakemake_with_copy(wf, "--lint")
    assert lint.returncode == 0 and "Congratulations" in lint.stdout + lint.stderr, (lint.stdout + lint.stderr)[-3000:]


def test_recipe_add_a_contrast(wf):
    """Vocabulary entries + a design function + the schema enum: then config can list the contrast, and every
    group rule, figure and table expands over it. Example: ECT responders vs non-responders at baseline."""
    voc = wf / "scripts/fcect/core/vocabulary.py"
    voc.write_text(voc.read_text() + '''
# recipe test: responders (HAMD reduction >= 50%) vs non-responders, ses-pre maps
CONTRASTS = CONTRASTS + ("response",)
CONTRAST_DATA["response"] = "pre"
DIRECTIONS["response"] = ("responders>non-responders", "non-responders>responders")
CONTRAST_TITLE["response"] = "Baseline: responders vs non-responders"
CONTRAST_CATEGORY["response"] = "Response"
CONTRAST_NAME["response"] = "response (responders vs non-responders)"
STAT_LABEL["response"] = STAT_LABEL_SHORT["response"] = "t (responders vs non-responders)"
RESPONSE_LABEL["response"] = "regional mean t (responders vs non-responders)"
''')
    des = wf / "scripts/fcect/group/design.py"
    des.write_text(des.read_text().replace('DESIGNS = {"baseline": baseline_design, "ect": ect_design}', '''

def response_design(part, covariates, path):
    """Responders (reduction >= 0.5) vs non-responders among the completers, ses-pre maps."""
    import pandas as pd
    use = as_bool(part["included_ect"]) & (part["group"] == "TRD").to_numpy()
    sub = part[use].reset_index(drop=True)
    x = (pd.to_numeric(sub["hamd_reduction"]) >= 0.5).to_numpy(float)
    cols = [covariate_column(sub, c, "response", path) for c in covariates]
    Z = np.column_stack([np.ones(len(sub))] + [c - c.mean() for c in cols])
    return sub, x, Z, ["responder (1)", "intercept"] + list(covariates), {"responders": int(x.sum())}


DESIGNS = {"baseline": baseline_design, "ect": ect_design, "response": response_design}'''))
    _edit(wf / "config/schema/config.schema.yaml", "items: {type: string, enum: [baseline, ect]}",
          "items: {type: string, enum: [baseline, ect, response]}")
    cfg = _config(wf, "resp.yaml", {"group": {"contrasts": ["baseline", "ect", "response"]}})
    proc = _snakemake_with_copy(wf, "-n", "--configfile", "config/tiny.yaml", cfg)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for f in ("results/group/response/seed-Exec2L/stat-t.nii.gz", "results/figures/group/response_fwe.png",
              "results/tables/clusters_response.html", "results/figures/group/response/seed-DMN9L_stat-t.png"):
        assert f in proc.stdout, f
    check = _python_with_copy(wf, (
        "import numpy as np, pandas as pd\n"
        "from fcect.group.design import design\n"
        "part = pd.DataFrame(dict(participant_id=[f'sub-{i}' for i in range(8)], group=['TRD'] * 6 + ['HC'] * 2,\n"
        "    included_baseline=True, included_ect=[True] * 6 + [False] * 2, age=np.arange(8.0),\n"
        "    hamd_reduction=[0.9, 0.6, 0.2, 0.1, 0.7, 0.3, np.nan, np.nan]))\n"
        "sub, x, Z, desc, counts = design(part, 'response', ['age'])\n"
        "assert len(sub) == 6 and x.tolist() == [1, 1, 0, 0, 1, 0] and Z.shape == (6, 2), (x, Z)\n"
        "print('ok')\n"))
    assert check.stdout.strip() == "ok", check.stderr[-2000:]
