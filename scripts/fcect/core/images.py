"""FC maps and label images on the analysis grid: indexing per-scan maps by their BIDS entities and loading them.

Every stage that reads FC maps (group, clinical, prediction) indexes and loads them here, with the same grid check.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from fcect.core.io import InputError

_ENTITY = {k: re.compile(rf"(?:^|[_/]){k}-([A-Za-z0-9]+)") for k in ("sub", "ses", "seed")}


def parse_entities(path) -> dict:
    """BIDS-like entities sub / ses / seed from a file name (the last occurrence wins)."""
    name = str(path).replace("\\", "/").split("/")[-1]
    out = {}
    for k, rx in _ENTITY.items():
        m = rx.findall(name)
        if m:
            out[k] = m[-1]
    return out


def index_fc_maps(paths: Sequence) -> dict:
    """{(participant_id 'sub-X', session, seed): path} from FC map file names."""
    idx = {}
    for p in paths:
        e = parse_entities(p)
        if not {"sub", "ses", "seed"} <= set(e):
            raise InputError(p, "cannot read sub/ses/seed entities from the file name")
        idx[(f"sub-{e['sub']}", e["ses"], e["seed"])] = str(p)
    return idx


def fc_map_of(fc_index: dict, participant, session, seed) -> str:
    """The path of one scan's map in an index from :func:`index_fc_maps`; a clear error when it is absent."""
    try:
        return fc_index[(participant, session, seed)]
    except KeyError:
        raise FileNotFoundError(f"no FC map for {participant} ses-{session} seed-{seed} among the inputs (is the "
                                "scan listed in the QC table but not computed?)") from None


def load_labels(path) -> tuple[np.ndarray, np.ndarray]:
    """(int64 3-D label volume, affine) of a cluster label image."""
    import nibabel as nib

    img = nib.load(str(path))
    data = np.asarray(img.dataobj)
    if data.ndim == 4 and data.shape[3] == 1:
        data = data[..., 0]
    if data.ndim != 3:
        raise InputError(path, f"expected a 3-D integer label image, got shape {data.shape}")
    return np.rint(data).astype(np.int64), img.affine


def load_maps(paths: Sequence, ref_shape=None, ref_affine=None, voxels: np.ndarray | None = None,
              dtype=np.float64) -> np.ndarray:
    """Stack 3-D maps into (n, n_vox) (``voxels``: flat boolean selection in C order; default all voxels).

    Every map must share the reference grid (shape and affine to 1e-4 mm; default: the first map's); otherwise a
    clear error naming the file is raised.
    """
    import nibabel as nib

    out = None
    for i, p in enumerate(paths):
        img = nib.load(str(p))
        shape = img.shape[:3]
        if ref_shape is None:
            ref_shape, ref_affine = shape, img.affine
        if tuple(shape) != tuple(ref_shape) or not np.allclose(img.affine, ref_affine, atol=1e-4):
            raise InputError(p, f"grid {shape} / affine differs from the reference grid {tuple(ref_shape)}; all FC "
                             "maps and cluster labels must share the analysis grid")
        d = np.asarray(img.dataobj, dtype=dtype).reshape(-1)
        if voxels is not None:
            d = d[voxels]
        if out is None:
            out = np.empty((len(paths), d.size), dtype=dtype)
        out[i] = d
    if out is None:
        return np.empty((0, 0 if voxels is None else int(np.sum(voxels))), dtype=dtype)
    return out
