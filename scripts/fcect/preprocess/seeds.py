"""Seed table: reading, validation, and the reproducible derivation of the shipped provisional table."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd

from fcect.core.io import InputError, read_tsv

SEED_COLUMNS = ["seed_id", "lobule", "network", "hemi", "x", "y", "z", "radius_mm", "source"]

# The paper's exact seed coordinates are not public. These definitions derive provisional seeds from AAL2 labels.
PROVISIONAL_SEEDS = [
    # seed_id, AAL2 label, lobule, network, hemi
    ("Exec1L", "Cerebelum_Crus1_L", "Crus I", "executive", "L"),
    ("Exec1R", "Cerebelum_Crus1_R", "Crus I", "executive", "R"),
    ("Exec2L", "Cerebelum_Crus2_L", "Crus II", "executive", "L"),
    ("Exec2R", "Cerebelum_Crus2_R", "Crus II", "executive", "R"),
    ("DMN9L", "Cerebelum_9_L", "IX", "default_mode", "L"),
    ("DMN9R", "Cerebelum_9_R", "IX", "default_mode", "R"),
    ("Limb6V", "Vermis_6", "vermis VI", "affective_limbic", "M"),
]


def derive_provisional_seeds(radius_mm=6.0) -> pd.DataFrame:
    """Seed centres = the AAL2 label voxel nearest to the label's centroid (2 mm atlas), rounded to 1 mm."""
    from fcect.core.atlas import load_aal_image

    img, labels = load_aal_image()
    data = np.asarray(img.get_fdata(), dtype=np.int32)
    rows = []
    for seed_id, label, lobule, network, hemi in PROVISIONAL_SEEDS:
        idx = int(labels.loc[labels["name"] == label, "index"].iloc[0])
        ijk = np.argwhere(data == idx)
        xyz = nib.affines.apply_affine(img.affine, ijk)
        centroid = xyz.mean(axis=0)
        best = xyz[np.argmin(np.linalg.norm(xyz - centroid, axis=1))]
        x, y, z = (int(round(v)) for v in best)
        rows.append(dict(seed_id=seed_id, lobule=lobule, network=network, hemi=hemi, x=x, y=y, z=z,
                         radius_mm=radius_mm,
                         source=f"provisional: AAL2 {label} voxel nearest its centroid (fcect.preprocess.seeds)"))
    return pd.DataFrame(rows, columns=SEED_COLUMNS)


def read_seeds(path, radius_override=None) -> pd.DataFrame:
    """Read and validate a seeds table; errors name the file and the problem. ``radius_override`` (mm)
    replaces every radius_mm."""
    df = read_tsv(path, dtype={"seed_id": str})
    missing = [c for c in SEED_COLUMNS if c not in df.columns]
    if missing:
        raise InputError(path, f"missing column(s) {missing}; expected {SEED_COLUMNS}")
    if df.empty:
        raise InputError(path, "no seeds")
    bad = df.loc[~df["seed_id"].astype(str).str.fullmatch(r"[A-Za-z0-9]+"), "seed_id"].tolist()
    if bad:
        raise InputError(path, f"seed_id must be alphanumeric (a BIDS label): {bad}")
    dup = df.loc[df["seed_id"].duplicated(), "seed_id"].tolist()
    if dup:
        raise InputError(path, f"duplicate seed_id {dup}")
    for c in ("x", "y", "z", "radius_mm"):
        v = pd.to_numeric(df[c], errors="coerce")
        if v.isna().any():
            raise InputError(path, f"column {c} has non-numeric values in rows "
                             f"{(v.isna().to_numpy().nonzero()[0] + 2).tolist()} (file line numbers)")
        df[c] = v.astype(float)
    if radius_override:
        df["radius_mm"] = float(radius_override)
    if (df["radius_mm"] <= 0).any():
        raise InputError(path, "radius_mm must be positive")
    if (np.abs(df[["x", "y", "z"]].to_numpy()) > 150).any():
        raise InputError(path, "a coordinate is outside +-150 mm: coordinates must be MNI millimetres")
    return df
