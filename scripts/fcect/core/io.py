"""Input/output helpers: atomic writes, logging, BIDS-like names, input validation errors."""

from __future__ import annotations

import contextlib
import errno
import functools
import json
import logging
import os
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np


class InputError(ValueError):
    """Bad user input. The message always names the file and the problem."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


_UMASK_LOCK = threading.Lock()


def _read_umask() -> int:
    """The process umask, read without changing it where the system allows (Linux: /proc/self/status);
    elsewhere set and restored at once, under a lock, through a restrictive value (a file another thread creates
    in that instant gets fewer permissions, never more)."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    with _UMASK_LOCK:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


@functools.lru_cache(maxsize=None)
def process_umask() -> int:
    """The umask of this process, read once (``process_umask.cache_clear()`` re-reads it)."""
    return _read_umask()


def output_mode() -> int:
    """Permission bits of every output file: ``0o666 & ~umask``, what ``open(path, "w")`` would give (the
    temporary file of an atomic write is created 0600 by ``mkstemp``, so it is set explicitly)."""
    return 0o666 & ~process_umask()


# what a failed write most likely means, by errno, for the message of the error
_WRITE_HINTS = {
    errno.ENOSPC: "the disk is full: free space or write the results elsewhere",
    errno.EDQUOT: "the disk quota is exceeded: free space or write the results elsewhere",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "no permission to write in {folder}",
    errno.EPERM: "no permission to write in {folder}",
}


def _write_error(path: Path, exc: OSError) -> OSError:
    """An OSError (same errno, so the same subclass, e.g. PermissionError) naming the output file and the cause."""
    cause = exc.strerror or str(exc)
    folder = path.parent
    while not folder.exists() and folder != folder.parent:   # the folder that could not be written in
        folder = folder.parent
    hint = _WRITE_HINTS.get(exc.errno, "").format(folder=folder)
    msg = f"cannot write {path}: {cause}" + (f" ({hint})" if hint else "") + "; no file was written"
    return OSError(exc.errno, msg) if exc.errno else OSError(msg)


def _tmp_path(path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, output_mode())
        else:  # pragma: no cover (Windows)
            os.chmod(tmp, output_mode())
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    return Path(tmp)


def _fsync(path: Path):
    """Flush the written file to the disk before the rename (a full disk on a network file system may only
    report itself here), so that a crash never leaves a renamed but empty output."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in (errno.EINVAL, errno.EBADF, errno.ENOTSUP):  # file systems without fsync
            raise
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds.

    The output gets the permissions of an ordinary file (``0o666 & ~umask``, :func:`output_mode`). On any failure
    the temporary file is removed and ``path`` is left as it was (absent, or its previous content); a failure of
    the file system (full disk, read-only or unwritable folder) is an OSError of the same errno whose message
    names ``path`` and the cause.
    """
    path = Path(path)
    tmp = None
    try:
        tmp = _tmp_path(path)
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()
        if isinstance(exc, OSError) and f"cannot write {path}:" not in str(exc):
            raise _write_error(path, exc) from exc
        raise


def save_nifti(img, path):
    """Save a nibabel image atomically. A single-file ``.nii.gz`` is compressed with ISA-L (isal's igzip, level 1,
    no name or time in the gzip header) when isal is installed: the file decompresses to the bytes that
    ``nibabel.save`` writes, made ~9x faster (a default simulated BOLD, 30 MB of int16: 0.07 s instead of 0.64 s
    with zlib at nibabel's level 1; bench/README.md). Other formats, and environments without isal, use
    ``nibabel.save``."""
    import nibabel as nib

    with atomic_path(path) as tmp:
        igzip = _igzip() if str(path).endswith(".nii.gz") and hasattr(img, "to_stream") else None
        if igzip is None:
            nib.save(img, str(tmp))
            return
        with open(tmp, "wb") as raw, igzip.IGzipFile(filename="", mode="wb", fileobj=raw, compresslevel=1,
                                                     mtime=0) as gz:
            img.to_stream(gz)


def _igzip():
    """isal's igzip module, or None when isal is not installed (then zlib, through nibabel)."""
    try:
        from isal import igzip
    except ImportError:
        return None
    return igzip


def save_columns_tsv(columns: dict, path, float_format: str = "%.6g", na_rep: str = "n/a"):
    """Write columns of floats (name -> 1-D array, all of one length) as a TSV, atomically, byte for byte as
    :func:`save_tsv` writes ``pandas.DataFrame(columns)`` with the same ``float_format``, without importing pandas
    (a simulate_scan job spends ~0.35 s importing it). NaN is written as ``na_rep``."""
    names = list(columns)
    if any(("\t" in n or "\n" in n or '"' in n) for n in names):
        raise ValueError(f"{path}: column names with tabs, newlines or quotes need pandas (save_tsv)")
    cols = [np.asarray(columns[n], dtype=float) for n in names]
    n_rows = {len(c) for c in cols}
    if len(n_rows) > 1 or any(c.ndim != 1 for c in cols):
        raise ValueError(f"{path}: columns of unequal length or not 1-D: {sorted(n_rows)}")

    def fmt(v):
        return na_rep if v != v else float_format % v

    lines = ["\t".join(names)]
    lines += ["\t".join(fmt(v) for v in row) for row in zip(*(c.tolist() for c in cols))]
    with atomic_path(path) as tmp:
        Path(tmp).write_text("\n".join(lines) + "\n")


def save_tsv(df, path, **kwargs):
    kwargs.setdefault("sep", "\t")
    kwargs.setdefault("index", False)
    kwargs.setdefault("na_rep", "n/a")
    with atomic_path(path) as tmp:
        df.to_csv(tmp, **kwargs)


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return None if not np.isfinite(o) else float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (np.bool_,)):
        return bool(o)
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


def save_json(obj, path, indent=2):
    with atomic_path(path) as tmp:
        with open(tmp, "w") as fh:
            json.dump(obj, fh, indent=indent, default=_json_default, allow_nan=False)
            fh.write("\n")


def save_text(text, path):
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text)


def read_tsv(path, **kwargs):
    import pandas as pd

    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    kwargs.setdefault("sep", "\t")
    kwargs.setdefault("na_values", ["n/a", "NA", "nan", ""])
    kwargs.setdefault("keep_default_na", False)
    try:
        return pd.read_csv(path, **kwargs)
    except Exception as exc:  # pandas raises many types
        raise InputError(path, f"cannot be read as a tab-separated table ({exc})") from exc


def setup_logging(log_path=None, name="fcect"):
    """Log to ``log_path`` (the rule's log file) and to stderr."""
    logger = logging.getLogger(name)
    logger.handlers.clear()
    logger.setLevel(logging.INFO)
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s")
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    for h in handlers:
        h.setFormatter(fmt)
        logger.addHandler(h)
    return logger


def _started_by_snakemake() -> bool:
    """A Snakemake ``script:`` job runs a copy of the script under .snakemake/scripts/."""
    return ".snakemake" in Path(sys.argv[0]).parts if sys.argv and sys.argv[0] else False


def _parent_is_snakemake() -> bool:
    """Whether this process's parent is still a Snakemake process (not init or a subreaper: it died)."""
    try:
        return b"snakemake" in Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
    except OSError:
        return True                           # no /proc: cannot tell, assume alive


class JobStopped(Exception):
    """The job was told to stop (SIGTERM), or the Snakemake process that started it has died."""


@contextlib.contextmanager
def stop_with_parent():
    """While the block runs, SIGTERM raises :class:`JobStopped`, and (Linux) the kernel sends SIGTERM when the
    parent process dies: a Snakemake killed even with SIGKILL leaves no job running on to write outputs late.
    The exception unwinds through :func:`atomic_path`, which removes its temporary file, so nothing half-written
    is left. Restores the previous handler and parent-death signal afterwards."""
    import ctypes
    import signal

    owner = os.getpid()

    def stop(signum, frame):
        if os.getpid() != owner:             # a forked worker (multiprocessing) inherited the handler: just end
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
            return
        raise JobStopped(f"stopped by signal {signum} (Snakemake cancelled this job or has ended); "
                         "no output of this job was completed")

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:                    # not the main thread: leave signals alone
        yield
        return
    prctl = None
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            prctl = ctypes.CDLL(None, use_errno=True).prctl
    try:
        if prctl is not None:
            prctl(1, int(signal.SIGTERM))     # PR_SET_PDEATHSIG
            if _started_by_snakemake() and not _parent_is_snakemake():
                raise JobStopped("the Snakemake process that started this job has ended; nothing was written")
        yield
    finally:
        if prctl is not None:
            prctl(1, 0)
        signal.signal(signal.SIGTERM, previous)


def run_logged(snakemake, func):
    """Run ``func(snakemake, logger)`` with the rule's log; on error, log the traceback and re-raise. The job stops
    cleanly when Snakemake cancels it or dies (:func:`stop_with_parent`)."""
    log_path = snakemake.log[0] if len(snakemake.log) else None
    logger = setup_logging(log_path)
    try:
        with stop_with_parent():
            return func(snakemake, logger)
    except Exception:
        logger.exception("failed")
        raise


def bids_name(sub, ses, suffix, ext, task="rest", **entities):
    parts = [f"sub-{sub}", f"ses-{ses}", f"task-{task}"]
    parts += [f"{k}-{v}" for k, v in entities.items() if v is not None]
    return "_".join(parts) + f"_{suffix}{ext}"
