"""The specification table, the fractions of summary.json and the curve panels against hand-built expectations."""
import numpy as np
import pandas as pd

from fcect.figures.multiverse import curve_panels, spec_curve_figure
from fcect.multiverse.run import cluster_rows
from fcect.multiverse.table import TABLE_COLUMNS, fractions, spec_table, summary_section


def _spec(sid, cfp, fwe, main=False):
    return dict(id=sid, denoise="dpabi", seed_radius_mm=None, cluster_forming_p=cfp, fwe_method=fwe,
                fc_variant="dpabi_rmain", reuses_main_fc=True, is_main=main)


def _row(result, seed, estimate, holds, **kw):
    return dict(result=result, seed=seed, estimate=estimate, holds=holds, **kw)


RECORDS = [
    {"spec": _spec("a", 0.001, "grf", True),
     # rows deliberately out of table order: the table puts them in RESULTS order, baseline seeds as given
     "rows": [_row("svr_r", "S1", 0.4, True, r=0.4, p=0.01, n=20), _row("baseline_clusters", "S2", 0, False),
              _row("baseline_clusters", "S1", 2, True), _row("ect_cluster", "S1", 30, True),
              _row("clinical_r", "S1", 0.5, True), _row("pls1", "S1", 0.3, None)]},
    {"spec": _spec("b", 0.01, "grf"),
     "rows": [_row("baseline_clusters", "S1", 1, True), _row("baseline_clusters", "S2", 1, True),
              _row("ect_cluster", "S1", 0, False), _row("clinical_r", "S1", None, False),
              _row("svr_r", "S1", None, False), _row("pls1", "S1", 0.1, None)]},
]


def test_spec_table_rows_and_order():
    t = spec_table(RECORDS)
    assert list(t.columns) == TABLE_COLUMNS
    assert list(zip(t["spec"], t["result"], t["seed"])) == [
        ("a", "baseline_clusters", "S2"), ("a", "baseline_clusters", "S1"), ("a", "ect_cluster", "S1"),
        ("a", "clinical_r", "S1"), ("a", "svr_r", "S1"), ("a", "pls1", "S1"),
        ("b", "baseline_clusters", "S1"), ("b", "baseline_clusters", "S2"), ("b", "ect_cluster", "S1"),
        ("b", "clinical_r", "S1"), ("b", "svr_r", "S1"), ("b", "pls1", "S1")]
    assert t.loc[(t.spec == "a") & (t.result == "svr_r"), "p"].item() == 0.01
    assert t["is_main"].tolist() == [True] * 6 + [False] * 6
    assert t.loc[t.result == "pls1", "holds"].isna().all()


def test_fractions_match_hand_counts():
    f = {(e["result"], e["seed"]): e for e in fractions(spec_table(RECORDS))}
    assert f[("baseline_clusters", "S1")]["fraction_holds"] == 1.0
    assert f[("baseline_clusters", "S2")]["fraction_holds"] == 0.5
    assert f[("baseline_clusters", "S2")]["estimate_median"] == 0.5
    assert f[("ect_cluster", "S1")]["n_holds"] == 1 and f[("ect_cluster", "S1")]["estimate_max"] == 30
    assert f[("clinical_r", "S1")]["fraction_holds"] == 0.5
    assert f[("clinical_r", "S1")]["estimate_min"] == 0.5  # the undefined estimate of b is left out
    assert f[("pls1", "S1")]["fraction_holds"] is None and f[("pls1", "S1")]["n_defined"] == 0
    assert f[("pls1", "S1")]["estimate_median"] == 0.2
    s = summary_section(spec_table(RECORDS), "product")
    assert s["n_specifications"] == 2 and s["choices"]["cluster_forming_p"] == [0.001, 0.01]
    assert s["choices"]["seed_radius_mm"] == [None]


def test_cluster_rows_take_the_largest_cluster():
    cl = pd.DataFrame(dict(size_voxels=[5, 12, 12], peak_t=[9.0, 3.0, 4.0], peak_x=[0, 1, 2], peak_y=[0, 1, 2],
                           peak_z=[0, 1, 2]))
    b = cluster_rows("baseline_clusters", "S", cl)
    assert b["estimate"] == 3 and b["holds"] and b["size_voxels"] == 12 and b["peak_t"] == 4.0 and b["peak_x"] == 2
    e = cluster_rows("ect_cluster", "S", cl.iloc[:0])
    assert e["estimate"] == 0 and e["holds"] is False and np.isnan(e["peak_t"])


def test_panels_and_figure():
    t = spec_table(RECORDS)
    panels = dict(curve_panels(t))
    assert list(panels) == ["baseline_clusters", "ect_cluster", "clinical_r", "svr_r", "pls1"]
    # baseline: seeds with a cluster per spec (a: S1 only; b: both)
    assert panels["baseline_clusters"]["estimate"].to_dict() == {"a": 1.0, "b": 2.0}
    fig = spec_curve_figure(t)
    assert len(fig.axes) == 10
