"""The QC figure is the same from run to run: the strip plot's jitter (seaborn draws it from numpy's global
generator) is seeded with a fixed constant, and the caller's global random state is left as it was."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from fcect.figures.qc import qc_figure  # noqa: E402


def _tables():
    rng = np.random.default_rng(3)
    ids = [f"sub-{i:02d}" for i in range(12)]
    part = pd.DataFrame(dict(participant_id=ids, group=["TRD"] * 7 + ["HC"] * 5))
    rows = [dict(participant_id=p, session=s) for p in ids for s in (["pre", "post"] if p < "sub-07" else ["pre"])]
    motion = pd.DataFrame(rows)
    motion["mean_fd"] = rng.uniform(0.05, 0.4, len(motion))
    motion["max_translation_mm"] = rng.uniform(0.1, 2.5, len(motion))
    motion["max_rotation_deg"] = rng.uniform(0.1, 1.5, len(motion))
    motion["included"] = motion["max_translation_mm"] <= 2.0
    return motion, part


def _strip_offsets(fig):
    ax = fig.axes[0]
    return [np.asarray(c.get_offsets()).copy() for c in ax.collections]


def test_qc_strip_plot_jitter_is_seeded():
    motion, part = _tables()
    np.random.seed(1)
    a = _strip_offsets(qc_figure(motion, part))
    np.random.seed(2)                       # a different global state before the second drawing
    expected_next = np.random.random_sample(3)
    np.random.seed(2)
    b = _strip_offsets(qc_figure(motion, part))
    # the global stream continues as if no figure had been drawn
    np.testing.assert_array_equal(np.random.random_sample(3), expected_next)
    plt.close("all")
    assert len(a) == len(b) and len(a) >= 3
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    jittered = np.concatenate([x[:, 0] for x in a if len(x) > 1])
    assert np.any(np.abs(jittered - np.round(jittered)) > 1e-3)   # there is jitter, and it is reproducible
