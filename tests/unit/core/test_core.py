"""fcect.core: cluster labelling against a textbook loop, boolean parsing, the HAMD reduction, FC-map indexing,
the vocabulary and the path patterns."""
import numpy as np
import pytest
from scipy import ndimage

from fcect.core import paths, vocabulary
from fcect.core.clusters import label_clusters, structure
from fcect.core.images import index_fc_maps, load_maps
from fcect.core.io import InputError
from fcect.core.participants import as_bool, hamd_reduction


def _textbook_label_clusters(stat3d, thr, connectivity):
    """One boolean mask per cluster: slow and obvious."""
    arr = np.nan_to_num(np.asarray(stat3d, float))
    found = []
    for sign in (1, -1):
        lab, n = ndimage.label(sign * arr > thr, structure(connectivity))
        for k in range(1, n + 1):
            m = lab == k
            vals = arr[m]
            found.append((sign, int(m.sum()), float(np.sum(np.abs(vals) - thr)), m))
    found.sort(key=lambda c: (-c[0], -c[1], -c[2]))
    out = np.zeros(arr.shape, np.int32)
    res = []
    for i, (sign, size, mass, m) in enumerate(found, start=1):
        out[m] = i
        ijk = np.argwhere(m)
        j = int(np.argmax(np.abs(arr[m])))
        res.append((i, sign, size, mass, tuple(int(v) for v in ijk[j]), float(arr[m][j])))
    return out, res


@pytest.mark.parametrize("connectivity", [6, 18, 26])
def test_label_clusters_equals_textbook_loop(connectivity):
    rng = np.random.default_rng(connectivity)
    for trial in range(15):
        shape = tuple(rng.integers(4, 18, 3))
        a = ndimage.gaussian_filter(rng.standard_normal(shape), rng.uniform(0.5, 1.5))
        a /= a.std()
        a[rng.random(shape) < 0.03] = np.nan
        thr = rng.uniform(0.3, 2.0)
        lab, cl = label_clusters(a, thr, connectivity)
        ref_lab, ref = _textbook_label_clusters(a, thr, connectivity)
        np.testing.assert_array_equal(lab, ref_lab)
        got = [(c["label"], c["sign"], c["size"], c["mass"], c["peak_ijk"], c["peak_stat"]) for c in cl]
        assert [g[:3] + g[4:] for g in got] == [r[:3] + r[4:] for r in ref]
        np.testing.assert_allclose([g[3] for g in got], [r[3] for r in ref], rtol=1e-12)


def test_as_bool_parses_known_values_and_rejects_others():
    np.testing.assert_array_equal(as_bool(["True", "false", "1", 0, 1.0, np.nan, None, "yes", "n/a"]),
                                  [True, False, True, False, True, False, False, True, False])
    with pytest.raises(ValueError, match="maybe"):
        as_bool(["maybe"])


def test_hamd_reduction_formulas():
    pre, post = [20, 10, np.nan, 0], [10, 10, 5, 0]
    np.testing.assert_allclose(hamd_reduction(pre, post, "rate"), [0.5, 0.0, np.nan, np.nan])
    np.testing.assert_allclose(hamd_reduction(pre, post, "difference"), [10, 0, np.nan, 0])
    with pytest.raises(ValueError, match="absolute"):
        hamd_reduction(pre, post, "absolute")       # one spelling: difference
    assert set(vocabulary.REDUCTION_LABEL) == {"rate", "difference"}
    assert vocabulary.reduction_label("rate", with_formula=True) == "HAMD reduction rate, (pre - post) / pre"


def test_fc_map_pattern_and_index(tmp_path):
    import nibabel as nib
    p = paths.fc_map("01", "pre", "Exec2L")
    assert p == ("results/fc/sub-01/ses-pre/sub-01_ses-pre_task-rest_space-MNI152NLin2009cAsym_seed-Exec2L_"
                 "desc-fcz_stat.nii.gz")
    assert paths.fc_map().count("{sub}") == 2 and "{seed}" in paths.fc_map()
    files = []
    for sub, val in (("01", 1.0), ("02", 2.0)):
        f = tmp_path / paths.fc_map(sub, "pre", "Exec2L")
        f.parent.mkdir(parents=True)
        nib.save(nib.Nifti1Image(np.full((3, 3, 3), val, np.float32), np.eye(4)), f)
        files.append(f)
    idx = index_fc_maps(files)
    assert set(idx) == {("sub-01", "pre", "Exec2L"), ("sub-02", "pre", "Exec2L")}
    Y = load_maps(files, voxels=np.ones(27, bool), dtype=np.float32)
    assert Y.dtype == np.float32 and Y.shape == (2, 27) and np.all(Y[1] == 2)
    nib.save(nib.Nifti1Image(np.zeros((3, 3, 4), np.float32), np.eye(4)), files[1])
    with pytest.raises(InputError, match="sub-02.*grid"):
        load_maps(files)
    with pytest.raises(InputError, match="sub/ses/seed"):
        index_fc_maps([tmp_path / "map.nii.gz"])


def test_vocabulary_is_consistent():
    for table in (vocabulary.DIRECTIONS, vocabulary.CONTRAST_TITLE, vocabulary.CONTRAST_CATEGORY,
                  vocabulary.CONTRAST_NAME, vocabulary.STAT_LABEL, vocabulary.STAT_LABEL_SHORT,
                  vocabulary.RESPONSE_LABEL, vocabulary.CONTRAST_DATA):
        assert set(table) == set(vocabulary.CONTRASTS)
    assert set(vocabulary.METHOD_NAMES) == set(vocabulary.METHODS)
    assert set(vocabulary.MODE_TITLE) == set(vocabulary.PREDICTION_MODES)
    assert set(vocabulary.GENE_LIST_TITLE) == set(vocabulary.GENE_LISTS)
    assert paths.group_files(["tfce"])[-1] == "logp-fwe_method-tfce.nii.gz"


def test_schema_lists_the_vocabulary():
    """The config schema offers exactly the names the library knows (one source: fcect.core.vocabulary)."""
    import yaml

    from conftest import REPO
    from fcect.core.participants import REDUCTIONS

    props = yaml.safe_load((REPO / "config/schema/config.schema.yaml").read_text())["properties"]
    assert props["group"]["properties"]["contrasts"]["items"]["enum"] == list(vocabulary.CONTRASTS)
    assert props["group"]["properties"]["methods"]["items"]["enum"] == list(vocabulary.METHODS)
    assert props["prediction"]["properties"]["modes"]["items"]["enum"] == list(vocabulary.PREDICTION_MODES)
    assert props["clinical"]["properties"]["hamd_reduction"]["enum"] == list(REDUCTIONS)
