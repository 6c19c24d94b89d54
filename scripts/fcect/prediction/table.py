"""The prediction table (``results/tables/prediction.tsv``): one row per prediction mode of the main analysis, then,
for every like-for-like selection rule (``prediction.selection_rules``), its as_published and nested rows side by
side with the difference of r between them (the leakage alone: same rule, same model, same permutations)."""
from __future__ import annotations

import pandas as pd

COLUMNS = ["analysis", "selection_rule", "mode", "status", "seed", "n", "r", "p_perm_r", "mae", "p_perm_mae",
           "rmse", "r2", "n_permutations", "kfold_r_mean", "kfold_r_sd", "r_as_published_minus_nested"]


def _row(res, **fixed):
    loo, pp = res.get("loo") or {}, res.get("p_permutation") or {}
    rk = (res.get("repeated_kfold_summary") or {}).get("r") or {}
    return dict(fixed, status=res.get("status", "ok"), n=res.get("n"), r=loo.get("r"), p_perm_r=pp.get("r"),
                mae=loo.get("mae"), p_perm_mae=pp.get("mae"), rmse=loo.get("rmse"), r2=loo.get("r2"),
                n_permutations=res.get("n_permutations"), kfold_r_mean=rk.get("mean"), kfold_r_sd=rk.get("sd"))


def prediction_table(svr: dict) -> pd.DataFrame:
    """Rows of ``svr.json`` (rule predict_summary): ``analysis`` is ``main`` (the configured modes: nested
    re-selects with ``prediction.nested``, as_published takes the full-sample group clusters) or ``rule`` (one
    selection rule applied alike on the full sample and inside the folds)."""
    seed = svr.get("seed")
    rows = [_row(res, analysis="main", selection_rule="configured", mode=mode, seed=seed)
            for mode, res in (svr.get("modes") or {}).items()]
    for name, res in (svr.get("rules") or {}).items():
        diff = (res.get("difference") or {}).get("r")
        for mode in ("as_published", "nested"):
            sub = dict(res.get(mode) or {}, n=(res.get(mode) or {}).get("n", res.get("n")))
            sub.setdefault("n_permutations", svr.get("n_permutations"))
            sub["status"] = sub.get("status") or res.get("status", "ok")
            rows.append(dict(_row(sub, analysis="rule", selection_rule=name, mode=mode, seed=seed),
                             r_as_published_minus_nested=diff if mode == "as_published" else None))
    return pd.DataFrame(rows, columns=COLUMNS)
