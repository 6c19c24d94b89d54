"""Real-data quirk: healthy controls without HAMD scores (hamd_pre n/a). Reading participants.tsv, the QC
propagation, Table 1, the exclusion list and the group designs must all work, and use every control."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from fcect.clinical import demographics as Dm
from fcect.core.io import InputError, save_tsv
from fcect.core.participants import read_participants
from fcect.group.design import design, read_included
from fcect.preprocess.qc import propagate

from conftest import REPO

SCHEMA = REPO / "config/schema/participants.schema.yaml"

PARTICIPANTS = """participant_id\tgroup\tage\tsex\teducation\thamd_pre\thamd_post
sub-T1\tTRD\t41\tF\t12\t24\t12
sub-T2\tTRD\t35\tM\t16\t20\t10
sub-T3\tTRD\t52\tF\t10\t30\t15
sub-T4\tTRD\t47\tM\t14\t22\t20
sub-T5\tTRD\t29\tF\t15\t26\tn/a
sub-H1\tHC\t38\tM\t16\tn/a\tn/a
sub-H2\tHC\t44\tF\t12\tn/a\tn/a
sub-H3\tHC\t31\tF\t18\t\t
sub-H4\tHC\t50\tM\t11\tn/a\tn/a
"""

# one row per scan: the post scan of T2 fails QC (T2 stays at baseline), the pre scan of H4 fails (H4 leaves)
MOTION = pd.DataFrame(dict(
    participant_id=["sub-T1", "sub-T1", "sub-T2", "sub-T2", "sub-T3", "sub-T3", "sub-T4", "sub-T4", "sub-T5",
                    "sub-H1", "sub-H2", "sub-H3", "sub-H4"],
    session=["pre", "post"] * 4 + ["pre"] * 5,
    mean_fd=[0.10, 0.12, 0.20, 0.35, 0.15, 0.11, 0.09, 0.14, 0.18, 0.08, 0.12, 0.16, 0.60],
    max_translation_mm=[0.5, 0.6, 0.7, 3.1, 0.4, 0.5, 0.3, 0.8, 0.9, 0.2, 0.4, 0.5, 2.6],
    max_rotation_deg=0.3, n_volumes=200, n_censored=0,
    included=[True, True, True, False, True, True, True, True, True, True, True, True, False],
    reason=[""] * 3 + ["max translation 3.10 mm > 2.0"] + [""] * 8 + ["max translation 2.60 mm > 2.0"]))


@pytest.fixture
def included(tmp_path):
    """participants_included.tsv as the QC stage writes it, read back as the group and clinical stages read it."""
    path = tmp_path / "participants.tsv"
    path.write_text(PARTICIPANTS)
    part = read_participants(path, SCHEMA)
    assert part.loc[part.group == "HC", "hamd_pre"].isna().all()
    out = tmp_path / "participants_included.tsv"
    save_tsv(propagate(part, MOTION, "pre", "post", "rate"), out, float_format="%.6g")
    return read_included(out)


def test_qc_propagation_without_control_hamd(included):
    p = included.set_index("participant_id")
    assert p["included_baseline"].tolist() == [True] * 5 + [True, True, True, False]
    assert p["included_ect"].tolist() == [True, False, True, True] + [False] * 5
    assert p.loc["sub-T2", "exclusion_reason"] == "ses-post: max translation 3.10 mm > 2.0"
    assert p.loc["sub-H4", "exclusion_reason"] == "ses-pre: max translation 2.60 mm > 2.0"
    assert p.loc[p.group == "HC", "hamd_reduction"].isna().all()
    assert p.loc["sub-T1", "hamd_reduction"] == pytest.approx(0.5)


def test_demographics_without_control_hamd(included):
    t = Dm.demographics_table(included).set_index("variable")
    trd = included.group == "TRD"
    hc = (included.group == "HC") & included.included_baseline
    # every included control counts in the group comparisons, although none has a HAMD score
    age = t.loc["age (years)"]
    assert (age["n_TRD"], age["n_HC"]) == (5, 3)
    ref = stats.ttest_ind(included.age[trd], included.age[hc])
    assert age["statistic"] == pytest.approx(ref.statistic) and age["p"] == pytest.approx(ref.pvalue)
    assert t.loc["sex (M/F)", "HC"] == "1/2"
    # HAMD at baseline: the patients' mean, n/a for the controls, and no test
    hamd = t.loc["HAMD baseline"]
    assert hamd["TRD"] == "24.40 (3.85)" and hamd["HC"] == "n/a"
    assert hamd["n_HC"] == 0 and hamd["test"] == "" and np.isnan(hamd["p"])
    # ECT rows: the three completers whose two scans pass QC
    paired = t.loc["HAMD pre vs post (completers)"]
    assert paired["n_TRD"] == 3
    ref = stats.ttest_rel([24, 30, 22], [12, 15, 20])
    assert paired["statistic"] == pytest.approx(ref.statistic)
    red = t[t.index.str.startswith("HAMD reduction")].iloc[0]
    assert red["TRD_mean"] == pytest.approx(np.mean([0.5, 0.5, 2 / 22]))
    ex = Dm.exclusions_table(included, MOTION)
    assert set(zip(ex.participant_id, ex.session, ex.stage)) == {
        ("sub-T2", "post", "qc"), ("sub-H4", "pre", "qc"), ("sub-T5", "post", "missing")}
    md = Dm.render_markdown(Dm.demographics_table(included), ex)
    assert "| HAMD baseline | mean (SD) | 24.40 (3.85) | n/a |" in md


def test_group_designs_without_control_hamd(included):
    sub, x, Z, desc, counts = design(included, "baseline", ["age", "sex", "education", "mean_fd"])
    assert counts == {"TRD": 5, "HC": 3} and x.tolist() == [1.0] * 5 + [0.0] * 3
    assert Z.shape == (8, 5) and np.isfinite(Z).all()
    assert np.allclose(Z[:, 4], sub.mean_fd_pre - sub.mean_fd_pre.mean())
    sub, x, Z, desc, counts = design(included, "ect", ["mean_fd_delta"])
    assert counts == {"completers": 3} and sub.participant_id.tolist() == ["sub-T1", "sub-T3", "sub-T4"]
    # HAMD as a baseline covariate cannot work without the controls' scores: an error naming who lacks it
    with pytest.raises(InputError, match="covariate 'hamd_pre' missing for sub-H1, sub-H2, sub-H3"):
        design(included, "baseline", ["hamd_pre"], "participants_included.tsv")
