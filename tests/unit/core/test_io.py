"""Atomic writes: outputs honour the umask; a full disk or an unwritable folder is a clear error that names the file
and leaves nothing half-written; a job stopped by Snakemake, or orphaned by its death, stops at once and leaves
nothing."""

import errno
import json
import os
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from fcect.core import io as fio


def _save_tsv(path):
    fio.save_tsv(pd.DataFrame(dict(a=[1, 2], b=[0.5, np.nan])), path)


def _save_json(path):
    fio.save_json(dict(a=1, b=[1.5, 2.5]), path)


def _save_nifti(path):
    fio.save_nifti(nib.Nifti1Image(np.zeros((2, 2, 2), np.float32), np.eye(4)), path)


def _save_text(path):
    fio.save_text("hello\n", path)


SAVERS = {"x.tsv": _save_tsv, "x.json": _save_json, "x.nii.gz": _save_nifti, "x.md": _save_text}


@pytest.fixture
def umask():
    """Set the process umask for one test (and the cached value with it); restore both afterwards."""
    old = os.umask(0o022)
    os.umask(old)

    def clear():
        if hasattr(fio, "process_umask"):
            fio.process_umask.cache_clear()

    def set_(mask):
        os.umask(mask)
        clear()

    yield set_
    os.umask(old)
    clear()


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664), (0o077, 0o600)])
@pytest.mark.parametrize("name", list(SAVERS))
def test_outputs_honour_the_umask(tmp_path, umask, name, mask, mode):
    umask(mask)
    path = tmp_path / "sub" / name
    SAVERS[name](path)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    # overwriting an existing output gives the same mode (the old file is replaced, not reused)
    SAVERS[name](path)
    assert stat.S_IMODE(path.stat().st_mode) == mode
    assert sorted(p.name for p in path.parent.iterdir()) == [name]


def test_umask_of_a_fresh_process(tmp_path):
    """What a Snakemake job sees: the umask it inherits, read once at the first write."""
    code = ("import sys, pandas as pd; from fcect.core.io import save_tsv, save_text; "
            "save_tsv(pd.DataFrame(dict(a=[1])), sys.argv[1]); save_text('x', sys.argv[2])")
    for mask, mode in ((0o022, 0o644), (0o027, 0o640)):
        a, b = tmp_path / f"{mask:o}.tsv", tmp_path / f"{mask:o}.txt"
        subprocess.run([sys.executable, "-c", code, str(a), str(b)], check=True,
                       preexec_fn=lambda m=mask: os.umask(m))
        assert stat.S_IMODE(a.stat().st_mode) == mode and stat.S_IMODE(b.stat().st_mode) == mode


def test_umask_read_without_proc_restores_it(monkeypatch, umask):
    """Without /proc the umask is read by setting and restoring it: the process umask is unchanged afterwards."""
    umask(0o027)

    def no_proc(*a, **k):
        raise FileNotFoundError(errno.ENOENT, "no /proc")

    monkeypatch.setattr(fio, "open", no_proc, raising=False)
    assert fio._read_umask() == 0o027
    now = os.umask(0o022)
    os.umask(now)
    assert now == 0o027


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("name", list(SAVERS))
@pytest.mark.parametrize("existing", [False, True])
def test_full_disk_at_rename_leaves_nothing(tmp_path, monkeypatch, name, existing):
    path = tmp_path / name
    if existing:
        path.write_bytes(b"previous result")

    def full(*a, **k):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(OSError) as info:
        SAVERS[name](path)
    msg = str(info.value)
    assert info.value.errno == errno.ENOSPC
    assert str(path) in msg and "No space left on device" in msg and "disk is full" in msg
    assert isinstance(info.value.__cause__, OSError)
    assert _leftovers(tmp_path) == ([name] if existing else [])
    if existing:
        assert path.read_bytes() == b"previous result"


def test_full_disk_while_writing_leaves_nothing(tmp_path, monkeypatch):
    """The disk fills up half-way through the write: no temporary file, no partial target."""
    path = tmp_path / "out" / "x.json"

    def half_then_full(obj, fh, **kw):
        fh.write('{"a": ')
        fh.flush()
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(json, "dump", half_then_full)
    with pytest.raises(OSError, match=r"cannot write .*x\.json: No space left on device"):
        _save_json(path)
    assert _leftovers(path.parent) == []
    # the same through atomic_path directly, with a quota error
    with pytest.raises(OSError, match="quota") as info:
        with fio.atomic_path(path) as tmp:
            tmp.write_bytes(b"partial")
            raise OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))
    assert info.value.errno == errno.EDQUOT and str(path) in str(info.value)
    assert _leftovers(path.parent) == []


def test_other_errors_pass_unchanged_and_clean_up(tmp_path):
    """An error of the caller (not of the file system) is re-raised as it is; the temporary file still goes."""
    with pytest.raises(KeyError, match="boom"):
        with fio.atomic_path(tmp_path / "x.tsv") as tmp:
            tmp.write_text("partial")
            raise KeyError("boom")
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("code, words", [(errno.EROFS, "read-only"), (errno.EACCES, "no permission to write in")])
def test_read_only_results_folder_simulated(tmp_path, monkeypatch, code, words):
    """A read-only file system or a folder without write permission: the temporary file cannot be created."""
    path = tmp_path / "results" / "x.tsv"

    def refuse(*a, **k):
        raise OSError(code, os.strerror(code), str(path.parent / ".x.tsv.abc.tmp.tsv"))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(OSError) as info:
        _save_tsv(path)
    assert info.value.errno == code and str(path) in str(info.value) and words in str(info.value)
    if code == errno.EACCES:
        assert isinstance(info.value, PermissionError)   # the subclass of the errno is kept
    assert not path.exists() and _leftovers(path.parent) == []


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0,
                    reason="root writes into read-only folders (simulated in the test above)")
@pytest.mark.parametrize("name", list(SAVERS))
def test_read_only_results_folder(tmp_path, name):
    folder = tmp_path / "results"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(PermissionError) as info:
            SAVERS[name](folder / name)
        assert str(folder / name) in str(info.value) and "Permission denied" in str(info.value)
        with pytest.raises(PermissionError, match="cannot write"):   # a missing sub-folder cannot be made
            SAVERS[name](folder / "sub" / name)
        assert _leftovers(folder) == []
    finally:
        folder.chmod(0o755)


# A job in the middle of an atomic write (the partial file is in the temporary file) until it is stopped; it records
# how it ended in <output>.stopped.
_JOB = r"""
import sys, time
from pathlib import Path
from fcect.core.io import JobStopped, atomic_path, stop_with_parent
out = Path(sys.argv[1])
try:
    with stop_with_parent():
        with atomic_path(out) as tmp:
            tmp.write_text("partial")
            Path(f"{out}.ready").write_text("")
            time.sleep(60)
except JobStopped as exc:
    Path(f"{out}.stopped").write_text(str(exc))
    raise SystemExit(3)
"""
# the job's parent (Snakemake's place): starts the job, prints its PID, waits
_PARENT = r"""
import subprocess, sys, time
job = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
print(job.pid, flush=True)
time.sleep(60)
"""


def _wait_for(path, seconds=20):
    deadline = time.monotonic() + seconds
    while not path.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return path.exists()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal: Linux")
@pytest.mark.parametrize("how", ["parent SIGKILL", "job SIGTERM"])
def test_a_stopped_job_leaves_nothing_and_does_not_run_on(tmp_path, how):
    """SIGKILL of the parent (Snakemake killed: the kernel sends the job SIGTERM, PR_SET_PDEATHSIG) or SIGTERM to
    the job (Snakemake cancels it): the job stops at once with JobStopped, its temporary file is removed and the
    output is never written."""
    import signal

    out = tmp_path / "out.tsv"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(fio.__file__).parents[2]),
                                                        os.environ.get("PYTHONPATH", "")]))
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, _JOB, str(out)], stdout=subprocess.PIPE, text=True,
                              env=env)
    try:
        job = int(parent.stdout.readline())
        assert _wait_for(Path(f"{out}.ready")), "the job did not start"
        if how == "parent SIGKILL":
            parent.kill()
        else:
            os.kill(job, signal.SIGTERM)
        assert _wait_for(Path(f"{out}.stopped"), 10), f"{how}: the job ran on"
        assert "stopped by signal" in Path(f"{out}.stopped").read_text()
    finally:
        parent.kill()
        parent.wait()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.tsv.ready", "out.tsv.stopped"]


@pytest.mark.parametrize("dtype", [np.int16, np.float32, np.uint8])
def test_save_nifti_writes_what_nibabel_writes(tmp_path, monkeypatch, dtype):
    """A .nii.gz from save_nifti (ISA-L) decompresses to nibabel.save's bytes, loads to the same data and header,
    and is the same file from one save to the next (no name or time in the gzip header); without isal,
    nibabel.save itself writes it."""
    import gzip

    rng = np.random.default_rng(0)
    data = (rng.standard_normal((7, 8, 6, 5)) * 100).astype(np.float32)
    img = nib.Nifti1Image(data, np.diag([3.0, 3.0, 3.0, 1.0]))
    img.header.set_xyzt_units("mm", "sec")
    img.set_data_dtype(dtype)
    assert fio._igzip() is not None                       # isal is a pinned dependency: the fast path is tested
    fio.save_nifti(img, tmp_path / "a.nii.gz")
    fio.save_nifti(img, tmp_path / "b.nii.gz")
    nib.save(img, tmp_path / "ref.nii.gz")
    a, b, ref = ((tmp_path / f"{n}.nii.gz").read_bytes() for n in ("a", "b", "ref"))
    assert a == b
    assert gzip.decompress(a) == gzip.decompress(ref)
    back = nib.load(tmp_path / "a.nii.gz")
    np.testing.assert_array_equal(back.get_fdata(), nib.load(tmp_path / "ref.nii.gz").get_fdata())
    assert back.header.get_data_dtype() == np.dtype(dtype)
    monkeypatch.setattr(fio, "_igzip", lambda: None)
    fio.save_nifti(img, tmp_path / "c.nii.gz")
    assert gzip.decompress((tmp_path / "c.nii.gz").read_bytes()) == gzip.decompress(ref)
    fio.save_nifti(img, tmp_path / "d.nii")                # uncompressed: nibabel.save
    assert (tmp_path / "d.nii").read_bytes() == gzip.decompress(ref)


def test_save_columns_tsv_writes_what_pandas_writes(tmp_path):
    """save_columns_tsv (no pandas) and save_tsv(DataFrame) give the same bytes, NaN, signed zero, infinities,
    tiny and huge values included; unequal columns are refused with the file named."""
    rng = np.random.default_rng(1)
    cols = {"a": rng.standard_normal(60) * 10.0 ** rng.integers(-9, 9, 60),
            "b_derivative1": np.r_[np.nan, rng.standard_normal(59)],
            "c": np.r_[0.0, -0.0, 1.0, np.inf, -np.inf, 1e-300, 123456789.0, 0.1, 2.5, -7, np.zeros(50)]}
    for fmt in ("%.6g", "%.8g", "%.3f"):
        fio.save_columns_tsv(cols, tmp_path / "a.tsv", float_format=fmt)
        fio.save_tsv(pd.DataFrame(cols), tmp_path / "b.tsv", float_format=fmt)
        assert (tmp_path / "a.tsv").read_bytes() == (tmp_path / "b.tsv").read_bytes(), fmt
    with pytest.raises(ValueError, match="bad.tsv"):
        fio.save_columns_tsv({"a": np.zeros(3), "b": np.zeros(4)}, tmp_path / "bad.tsv")
    assert not (tmp_path / "bad.tsv").exists()
