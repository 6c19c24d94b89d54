"""Input/output helpers: atomic writes, logging, BIDS-like names, input validation errors."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import tempfile
from pathlib import Path

import numpy as np


class InputError(ValueError):
    """Bad user input. The message always names the file and the problem."""

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def _tmp_path(path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes[-2:]) if path.name.endswith(".nii.gz") else path.suffix
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    return Path(tmp)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; rename it onto ``path`` only if the block succeeds."""
    path = Path(path)
    tmp = _tmp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def save_nifti(img, path):
    """Save a nibabel image atomically."""
    import nibabel as nib

    with atomic_path(path) as tmp:
        nib.save(img, str(tmp))


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


def run_logged(snakemake, func):
    """Run ``func(snakemake, logger)`` with the rule's log; on error, log the traceback and re-raise."""
    log_path = snakemake.log[0] if len(snakemake.log) else None
    logger = setup_logging(log_path)
    try:
        return func(snakemake, logger)
    except Exception:
        logger.exception("failed")
        raise


def bids_name(sub, ses, suffix, ext, task="rest", **entities):
    parts = [f"sub-{sub}", f"ses-{ses}", f"task-{task}"]
    parts += [f"{k}-{v}" for k, v in entities.items() if v is not None]
    return "_".join(parts) + f"_{suffix}{ext}"
