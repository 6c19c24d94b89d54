"""Specification expansion of the multiverse config section, and what each specification reruns."""
import itertools

import numpy as np
import pandas as pd
import pytest

from fcect.multiverse import specs as MV
from fcect.multiverse.run import register_gsr_preset
from fcect.preprocess.denoise import PRESETS, confound_matrix

CONFIG = {"denoise": {"preset": "dpabi"}, "seeds": {"radius_override": None},
          "group": {"cluster_forming_p": 0.001, "feed_method": "cluster_extent", "grf": {"voxel_p": 0.001},
                    "methods": ["maxt", "cluster_extent", "grf"], "n_perm": 5000}}
CHOICES = {"denoise": ["dpabi", "dpabi+gsr"], "seed_radius_mm": [None, 8.0], "cluster_forming_p": [0.001, 0.01],
           "fwe_method": ["cluster_extent", "grf"]}


def test_product_is_every_combination_in_listed_order():
    specs = MV.expand({"design": "product", "choices": CHOICES}, CONFIG, PRESETS)
    expected = [dict(zip(MV.CHOICES, v)) for v in itertools.product(*(CHOICES[c] for c in MV.CHOICES))]
    assert [{c: s[c] for c in MV.CHOICES} for s in specs] == expected
    assert len({s["id"] for s in specs}) == 16
    assert [s["id"] for s in specs if s["is_main"]] == ["dpabi_rmain_p0.001_cluster_extent"]
    # the FC maps are reused exactly when preset and radius are the main run's
    for s in specs:
        assert s["reuses_main_fc"] == (s["denoise"] == "dpabi" and s["seed_radius_mm"] is None)
        assert ("fc" in MV.reruns(s)) == (not s["reuses_main_fc"])
    assert MV.fc_variants(specs) == {"dpabi_r8": ("dpabi", 8.0), "dpabi-gsr_rmain": ("dpabi+gsr", None),
                                     "dpabi-gsr_r8": ("dpabi+gsr", 8.0)}


def test_one_at_a_time_and_list_and_unlisted_choices():
    one = MV.expand({"design": "one_at_a_time", "choices": CHOICES}, CONFIG, PRESETS)
    assert [s["id"] for s in one] == ["dpabi_rmain_p0.001_cluster_extent", "dpabi-gsr_rmain_p0.001_cluster_extent",
                                      "dpabi_r8_p0.001_cluster_extent", "dpabi_rmain_p0.01_cluster_extent",
                                      "dpabi_rmain_p0.001_grf"]
    lst = MV.expand({"design": "list", "specifications": [{"fwe_method": "tfce"}, {"denoise": "36p"},
                                                          {"fwe_method": "tfce"}]}, CONFIG, PRESETS)
    assert [s["id"] for s in lst] == ["dpabi_rmain_p0.001_tfce", "36p_rmain_p0.001_cluster_extent"]  # dup dropped
    only = MV.expand({"choices": {"fwe_method": ["grf"]}}, CONFIG, PRESETS)
    assert [(s["denoise"], s["cluster_forming_p"]) for s in only] == [("dpabi", 0.001)]  # main values
    # a radius equal to seeds.radius_override is the main run's radius
    cfg = dict(CONFIG, seeds={"radius_override": 9.0})
    assert MV.expand({"choices": {"seed_radius_mm": [9.0]}}, cfg, PRESETS)[0]["reuses_main_fc"]


def test_disabled_and_errors():
    assert MV.expand({"enabled": False, "choices": CHOICES}, CONFIG, PRESETS) == []
    assert MV.expand("none", CONFIG, PRESETS) == []
    with pytest.raises(ValueError, match="unknown preset"):
        MV.expand({"choices": {"denoise": ["nope"]}}, CONFIG, PRESETS)
    with pytest.raises(ValueError, match="already regresses"):
        MV.expand({"choices": {"denoise": ["36p+gsr"]}}, CONFIG, PRESETS)
    with pytest.raises(ValueError, match="max_specifications"):
        MV.expand({"choices": CHOICES, "max_specifications": 15}, CONFIG, PRESETS)
    with pytest.raises(ValueError, match="unknown choice"):
        MV.expand({"choices": {"smoothing": [4]}}, CONFIG, PRESETS)


def test_group_config_of_a_spec():
    s = MV.expand({"choices": {"cluster_forming_p": [0.01], "fwe_method": ["grf"]}}, CONFIG, PRESETS)[0]
    g = MV.group_config(CONFIG["group"], s, n_perm=100)
    assert g["methods"] == ["grf"] and g["feed_method"] == "grf"
    assert g["cluster_forming_p"] == 0.01 and g["grf"]["voxel_p"] == 0.01 and g["n_perm"] == 100
    assert CONFIG["group"]["grf"]["voxel_p"] == 0.001  # the main settings are not modified


def test_gsr_preset_adds_the_global_signal_column():
    name = register_gsr_preset("dpabi+gsr")
    rng = np.random.default_rng(0)
    cols = PRESETS["dpabi"]["columns"] + ["global_signal", "csf_wm"]
    conf = pd.DataFrame(rng.normal(size=(20, len(cols))), columns=cols)
    base, gsr = confound_matrix(conf, "dpabi"), confound_matrix(conf, name)
    assert gsr.shape[1] == base.shape[1] + 1
    np.testing.assert_array_equal(gsr[:, :-1], base)
    np.testing.assert_array_equal(gsr[:, -1], conf["global_signal"].to_numpy())
    assert PRESETS[name]["censor"] == PRESETS["dpabi"]["censor"]
    assert register_gsr_preset("dpabi") == "dpabi"


def test_variant_paths_keep_the_bids_file_name():
    from fcect.core.images import index_fc_maps
    from fcect.core.paths import fc_map

    p = MV.variant_fc_map(fc_map("01", "pre", "Exec2L"), "dpabi-gsr_rmain")
    assert p.startswith("results/multiverse/fc/dpabi-gsr_rmain/sub-01/ses-pre/")
    assert list(index_fc_maps([p])) == [("sub-01", "pre", "Exec2L")]
