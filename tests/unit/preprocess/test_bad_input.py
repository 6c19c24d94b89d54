"""Bad input stops with a message that names the file and the problem, before heavy work."""

import numpy as np
import pandas as pd
import pytest

from fcect.preprocess.denoise import check_scan
from fcect.core.io import InputError, save_tsv
from fcect.preprocess.masks import make_masks, seed_masks
from fcect.preprocess.seeds import read_seeds
from fcect.core.participants import read_participants
from fcect.preprocess.validate import check_fmriprep_files

from conftest import REPO

SCHEMA = REPO / "config/schema/participants.schema.yaml"


def _part(**over):
    df = pd.DataFrame(dict(participant_id=["sub-01", "sub-02", "sub-03", "sub-04"], group=["TRD", "TRD", "HC", "HC"],
                           age=[30, 40, 35, 50], sex=["F", "M", "F", "M"], education=[12, 14, 16, 10],
                           hamd_pre=[22, 25, 2, 1], hamd_post=[10, np.nan, np.nan, np.nan]))
    for k, v in over.items():
        df[k] = v
    return df


@pytest.mark.parametrize("change, message", [
    (dict(group=["TRD", "MDD", "HC", "HC"]), "column group"),
    (dict(participant_id=["sub-01", "sub-01", "sub-03", "sub-04"]), "duplicate participant_id"),
    (dict(hamd_post=[10, np.nan, 5, np.nan]), "healthy controls"),
    (dict(sex=["F", "X", "F", "M"]), "column sex"),
    (dict(participant_id=["01", "sub-02", "sub-03", "sub-04"]), "column participant_id"),
    (dict(age=[30, "old", 35, 50]), "age"),
    (dict(hamd_pre=[np.nan, 25, 2, 1]), "hamd_pre is missing"),
])
def test_malformed_participants(tmp_path, change, message):
    path = tmp_path / "participants.tsv"
    save_tsv(_part(**change), path)
    with pytest.raises(InputError, match=message) as err:
        read_participants(path, SCHEMA)
    assert str(path) in str(err.value)


def test_missing_column_and_valid_table(tmp_path):
    path = tmp_path / "participants.tsv"
    save_tsv(_part().drop(columns=["education"]), path)
    with pytest.raises(InputError, match="missing column"):
        read_participants(path, SCHEMA)
    save_tsv(_part(), path)
    assert len(read_participants(path, SCHEMA)) == 4


def test_missing_bold_file_is_named(tmp_path):
    present = tmp_path / "conf.tsv"
    present.write_text("a\n1\n")
    missing = tmp_path / "sub-01_ses-pre_bold.nii.gz"
    with pytest.raises(InputError, match="missing bold file") as err:
        check_fmriprep_files([("01", "pre")], lambda s, t: dict(bold=missing, confounds=present))
    assert str(missing) in str(err.value)


def test_confounds_with_fewer_rows_than_volumes(tmp_path):
    import nibabel as nib
    bold = tmp_path / "bold.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4, 30), np.float32), np.eye(4)), bold)
    conf = tmp_path / "confounds.tsv"
    save_tsv(pd.DataFrame(dict(trans_x=np.zeros(25))), conf)
    with pytest.raises(InputError, match="has 25 rows but bold.nii.gz has 30 volumes") as err:
        check_scan(bold, conf, drop_volumes=0)
    assert str(conf) in str(err.value)
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 4), np.float32), np.eye(4)), bold)
    with pytest.raises(InputError, match="4-D"):
        check_scan(bold, conf, 0)


def test_seed_outside_the_brain(tmp_path):
    path = tmp_path / "seeds.tsv"
    seeds = read_seeds(REPO / "config/seeds.tsv")
    seeds.loc[0, ["x", "y", "z"]] = [0, 60, 60]  # frontal cortex, not cerebellum
    save_tsv(seeds, path)
    affine, analysis, cereb = make_masks(6.0)
    with pytest.raises(InputError, match="seed Exec1L .* voxel") as err:
        seed_masks(read_seeds(path), affine, analysis.shape, cereb, 3, path)
    assert str(path) in str(err.value)


def test_malformed_seeds_table(tmp_path):
    path = tmp_path / "seeds.tsv"
    seeds = read_seeds(REPO / "config/seeds.tsv")
    save_tsv(seeds.drop(columns=["radius_mm"]), path)
    with pytest.raises(InputError, match="missing column"):
        read_seeds(path)
    seeds.loc[1, "seed_id"] = "Exec-1"
    save_tsv(seeds, path)
    with pytest.raises(InputError, match="alphanumeric"):
        read_seeds(path)


def test_shipped_seeds_are_reproducible():
    from fcect.preprocess.seeds import derive_provisional_seeds
    shipped = read_seeds(REPO / "config/seeds.tsv")
    derived = derive_provisional_seeds()
    pd.testing.assert_frame_equal(shipped.reset_index(drop=True), derived.astype(shipped.dtypes.to_dict()))
