"""Design of one contrast: the participants analysed, the tested regressor and the covariates, the analysis mask.

* baseline (TRD vs HC): the TRD and HC participants with ``included_baseline``; tested regressor = TRD indicator;
  confounds = intercept + demeaned ``group.covariates``;
* ect (post - pre, paired): the TRD participants with ``included_ect``; tested regressor = ones (one-sample test
  of the difference maps); confounds = demeaned ``group.ect_covariates``, or none.

The ECT analysis mask is the whole analysis mask, or (``group.ect_mask: baseline_clusters``) its intersection
with the seed's baseline clusters.
"""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd

from fcect.core.io import InputError, read_tsv
from fcect.core.participants import as_bool
from fcect.core.vocabulary import CONTRAST_DATA

REQUIRED_COLUMNS = ("participant_id", "group", "included_baseline", "included_ect")


def read_included(path):
    """participants_included.tsv, checked for the columns the design needs."""
    part = read_tsv(path)
    for col in REQUIRED_COLUMNS:
        if col not in part:
            raise InputError(path, f"missing column {col!r}")
    return part


def covariate_column(part, name, contrast, path="participants_included.tsv"):
    """Numeric covariate values. Derived names: ``mean_fd`` (contrasts of ses-pre maps: mean FD of the ses-pre
    scan; contrasts of changes: mean of pre and post), ``mean_fd_delta`` (post - pre); ``sex`` is coded M = 1, F = 0."""
    if name == "mean_fd":
        if CONTRAST_DATA[contrast] == "pre":
            col = pd.to_numeric(part["mean_fd_pre"], errors="coerce")
        else:
            col = (pd.to_numeric(part["mean_fd_pre"], errors="coerce")
                   + pd.to_numeric(part["mean_fd_post"], errors="coerce")) / 2
    elif name == "mean_fd_delta":
        col = pd.to_numeric(part["mean_fd_post"], errors="coerce") - pd.to_numeric(part["mean_fd_pre"],
                                                                                   errors="coerce")
    elif name == "sex" and name in part:
        s = part["sex"].astype(str).str.strip().str.upper()
        bad = ~s.isin(["M", "F"])
        if bad.any():
            raise InputError(path, f"sex must be M or F (participant {part['participant_id'][bad].iloc[0]})")
        col = (s == "M").astype(float)
    elif name in part:
        col = pd.to_numeric(part[name], errors="coerce")
    else:
        raise InputError(path, f"covariate {name!r} is not a column (nor mean_fd / mean_fd_delta)")
    col = np.asarray(col, dtype=float)
    if not np.all(np.isfinite(col)):
        who = part["participant_id"].to_numpy()[~np.isfinite(col)]
        raise InputError(path, f"covariate {name!r} missing for {', '.join(map(str, who[:5]))}")
    return col


def baseline_design(part, covariates, path):
    """TRD vs HC at ses-pre: TRD indicator, intercept + demeaned covariates."""
    grp = part["group"].astype(str).str.strip()
    use = as_bool(part["included_baseline"]) & grp.isin(["TRD", "HC"]).to_numpy()
    sub = part[use].reset_index(drop=True)
    x = (sub["group"].astype(str).str.strip() == "TRD").to_numpy(float)
    n1, n0 = int(x.sum()), int((1 - x).sum())
    if n1 < 2 or n0 < 2:
        raise InputError(path, f"baseline comparison needs >= 2 TRD and >= 2 HC included (got {n1}, {n0})")
    cols = [covariate_column(sub, c, "baseline", path) for c in covariates]
    Z = np.column_stack([np.ones(len(sub))] + [c - c.mean() for c in cols])
    desc = ["TRD (1) / HC (0)", "intercept"] + [f"{c} (demeaned)" for c in covariates]
    return sub, x, Z, desc, {"TRD": n1, "HC": n0}


def ect_design(part, covariates, path):
    """Post - pre in the included completers: one-sample test (tested regressor = ones), demeaned covariates."""
    grp = part["group"].astype(str).str.strip()
    use = as_bool(part["included_ect"]) & (grp == "TRD").to_numpy()
    sub = part[use].reset_index(drop=True)
    if len(sub) < 3:
        raise InputError(path, f"ECT comparison needs >= 3 included completers (got {len(sub)})")
    x = np.ones(len(sub))
    cols = [covariate_column(sub, c, "ect", path) for c in covariates]
    Z = np.column_stack([c - c.mean() for c in cols]) if cols else None
    desc = ["post - pre mean (intercept)"] + [f"{c} (demeaned)" for c in covariates]
    return sub, x, Z, desc, {"completers": len(sub)}


# contrast -> design function (part, covariates, path) -> (rows used, tested regressor, confounds or None,
# column descriptions, counts). A new contrast adds its function here (docs/ARCHITECTURE.md, "How to add").
DESIGNS = {"baseline": baseline_design, "ect": ect_design}


def design(part, contrast, covariates, path="participants_included.tsv"):
    """Rows used, tested regressor, confounds and a description of the columns of one contrast; the design must
    have full rank."""
    if contrast not in DESIGNS:
        raise ValueError(f"unknown contrast {contrast!r}")
    sub, x, Z, desc, counts = DESIGNS[contrast](part.reset_index(drop=True), covariates, path)
    if Z is not None and np.linalg.matrix_rank(np.column_stack([x, Z])) < Z.shape[1] + 1:
        raise InputError(path, f"{contrast}: design is rank-deficient (a covariate is constant or collinear)")
    return sub, x, Z, desc, counts


def restrict_mask(mask, contrast, cfg, seed_id, baseline_labels=None):
    """Analysis mask of the contrast (a copy of ``mask``) and a description of it."""
    mask = mask.copy()
    note = "whole analysis mask"
    if contrast == "ect" and cfg.get("ect_mask", "whole") == "baseline_clusters":
        if baseline_labels is None:
            raise ValueError("ect_mask = baseline_clusters needs the baseline cluster_labels.nii.gz")
        bl = nib.load(str(baseline_labels))
        mask &= np.asarray(bl.dataobj).reshape(bl.shape[:3]) > 0
        note = f"baseline clusters ({cfg['feed_method']}) of seed {seed_id}"
    return mask, note
