"""Editing library code reruns exactly the jobs that run it.

Every rule that runs a script declares ``code=library("<script>")`` (rules/common.smk): the stamp that rule
code_stamp writes from the fcect modules the script imports, directly or through other fcect modules
(fcect.core.code.library_files, read from the source with ast).
"""
import hashlib
import os
import re

import pytest

from conftest import REPO, inspect_rules, run_snakemake

from fcect.core.code import library_files
from fcect.core.paths import code_stamp



def test_library_files_follows_imports_transitively(tmp_path):
    pkg = tmp_path / "fcect"
    for d in ("", "core", "stage", "other"):
        (pkg / d).mkdir(parents=True, exist_ok=True)
        (pkg / d / "__init__.py").write_text("")
    (pkg / "core/io.py").write_text("import json\n")
    (pkg / "core/html.py").write_text("from fcect.core.io import x\n")
    (pkg / "stage/a.py").write_text("from fcect.core import html\n\ndef f():\n    from .b import g\n")
    (pkg / "stage/b.py").write_text("import fcect.other.c\n")
    (pkg / "other/c.py").write_text("")
    (pkg / "other/unused.py").write_text("")
    script = tmp_path / "run.py"
    script.write_text("from fcect.stage import a\nimport numpy\n")
    got = {os.path.relpath(f, pkg) for f in library_files(script, pkg)}
    assert got == {"__init__.py", "core/__init__.py", "core/html.py", "core/io.py", "stage/__init__.py",
                   "stage/a.py", "stage/b.py", "other/__init__.py", "other/c.py"}, got


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    return inspect_rules(REPO, "config/tiny.yaml")


def test_every_rule_declares_the_code_stamp_of_its_script(rules):
    """A rule's script: (or the script its shell command runs) is declared through its code stamp."""
    checked = 0
    for name, r in rules.items():
        if name == "code_stamp":
            continue
        script = r["script"] or next(iter(re.findall(r"scripts/(\w+\.py)", r["shell"])), None)
        if script is None:
            assert name == "all", f"rule {name} runs neither a script nor a library script"
            continue
        path = REPO / "scripts" / os.path.basename(script)
        assert path.stem == name or name == "transcriptomics_abagen", f"rule {name} runs script {path.name}"
        assert r["code"] == [code_stamp(path.stem)], f"rule {name}: declared {r['code']}"
        checked += 1
    assert checked >= 30


def test_code_stamp_lists_every_module_the_script_imports(tiny_run):
    """The stamps of the finished tiny run hold the SHA-256 of exactly the modules each script imports
    (fcect.core.code.library_files), with paths relative to scripts/."""
    stamps = sorted((tiny_run / "results/provenance/code").glob("*.sha256"))
    assert len(stamps) >= 30, stamps
    for stamp in stamps:
        script = tiny_run / "scripts" / f"{stamp.name[:-len('.sha256')]}.py"
        want = {os.path.relpath(f, tiny_run / "scripts"): hashlib.sha256(open(f, "rb").read()).hexdigest()
                for f in library_files(script, tiny_run / "scripts/fcect")}
        got = dict(reversed(line.split(None, 1)) for line in stamp.read_text().splitlines())
        assert got == want, stamp
        assert any(f.endswith("fcect/core/io.py") or "transcriptomics/ahba.py" in f for f in want), stamp


def _dry_run_jobs(wd):
    proc = run_snakemake(wd, "-n", "--quiet", "rules", "--configfile", "config/tiny.yaml")
    text = proc.stdout + proc.stderr
    return set(re.findall(r"^(\w+)\s+\d+\s*$", text, flags=re.M)) - {"total"}


def test_editing_a_stage_module_reruns_that_stage_only(tiny_run):
    """A content change of fcect/clinical/*.py reruns the clinical jobs (and what reads their outputs), never the
    simulation, denoising, group or prediction jobs; restoring it leaves nothing to do."""
    assert _dry_run_jobs(tiny_run) <= {"all"}, "the tiny run is not complete"
    mod = next(p for p in sorted((tiny_run / "scripts/fcect/clinical").glob("*.py")) if p.name != "__init__.py"
               and "demographics" not in p.name)
    text, st = mod.read_text(), mod.stat()
    try:
        mod.write_text(text + "\n# an edit\n")
        jobs = _dry_run_jobs(tiny_run)
        assert "clinical_correlations" in jobs, jobs
        assert not jobs & {"simulate_scan", "denoise_fc", "masks", "qc_table", "group_inference", "predict_svr"}, jobs
    finally:
        mod.write_text(text)
        os.utime(mod, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert _dry_run_jobs(tiny_run) <= {"all"}
