"""The specification table (``results/multiverse/specifications.tsv``: one row per specification and headline
result) and the fraction of specifications in which each headline effect holds (summary.json ``multiverse``)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fcect.multiverse.run import RESULTS, ROW_COLUMNS
from fcect.multiverse.specs import CHOICES

SPEC_COLUMNS = ["spec", *CHOICES, "fc_reused", "is_main"]
TABLE_COLUMNS = SPEC_COLUMNS + ROW_COLUMNS


def spec_table(records) -> pd.DataFrame:
    """``records``: the headline JSONs ({spec, rows}) in specification order -> the long table, rows of each
    specification in :data:`RESULTS` order (baseline rows in their seed order)."""
    out = []
    order = {r: i for i, r in enumerate(RESULTS)}
    for rec in records:
        s = rec["spec"]
        rows = sorted(enumerate(rec["rows"]), key=lambda ir: (order[ir[1]["result"]], ir[0]))
        for _, row in rows:
            out.append({"spec": s["id"], **{c: s[c] for c in CHOICES}, "fc_reused": bool(s["reuses_main_fc"]),
                        "is_main": bool(s["is_main"]), **{c: row.get(c) for c in ROW_COLUMNS}})
    df = pd.DataFrame(out, columns=TABLE_COLUMNS)
    for c in ROW_COLUMNS[2:]:
        if c != "holds":
            df[c] = pd.to_numeric(df[c], errors="coerce")
    df["holds"] = df["holds"].map(lambda v: pd.NA if v is None or (isinstance(v, float) and np.isnan(v))
                                  else bool(v)).astype("boolean")
    return df


def fractions(table: pd.DataFrame) -> list[dict]:
    """Per headline effect (result, seed): specifications, those where it holds, the fraction (None where
    ``holds`` is undefined, e.g. PLS1 without nulls) and the range and median of its estimate."""
    out = []
    for (result, seed), g in table.groupby(["result", "seed"], sort=False):
        h = g["holds"].dropna()
        est = g["estimate"].to_numpy(float)
        fin = est[np.isfinite(est)]
        out.append(dict(result=result, seed=seed, n_specifications=int(len(g)), n_defined=int(len(h)),
                        n_holds=int(h.sum()) if len(h) else 0,
                        fraction_holds=float(h.mean()) if len(h) else None,
                        estimate_min=float(fin.min()) if fin.size else None,
                        estimate_median=float(np.median(fin)) if fin.size else None,
                        estimate_max=float(fin.max()) if fin.size else None))
    return out


def summary_section(table: pd.DataFrame, design: str | None = None) -> dict:
    """The ``multiverse`` section of summary.json."""
    specs = table.drop_duplicates("spec")
    return dict(n_specifications=int(len(specs)), design=design,
                choices={c: sorted({_plain(v) for v in specs[c]}, key=lambda v: (v is None, str(v)))
                         for c in CHOICES},
                n_fc_reused=int(specs["fc_reused"].astype(bool).sum()),
                effects=fractions(table))


def _plain(v):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, (np.floating, float)):
        return float(v)
    return str(v) if not isinstance(v, (int, np.integer)) else int(v)
