"""Rule predict_summary: collect the per-mode and per-rule results into results/prediction/svr.json."""
import json

from fcect.core.io import run_logged, save_json


def main(smk, log):
    modes = {}
    for mode, path, pred, null, kfold, folds in zip(smk.params.modes, smk.input.json,
                                                    smk.input.predictions, smk.input.null,
                                                    smk.input.kfold, smk.input.folds):
        with open(path) as fh:
            res = json.load(fh)
        res["files"] = dict(predictions=pred, null=null, repeated_kfold=kfold, folds=folds)
        modes[mode] = res
        log.info("%s: %s", mode, res.get("status"))
    first = next(iter(modes.values()))
    out = dict(seed=first["seed"], sample=first["sample"],
               sample_description=first["sample_description"], n=first["n"],
               target=first["target"], model=first["model"], cv=first["cv"],
               n_permutations=first["n_permutations"], modes=modes,
               note=("as_published selects clusters on the full sample (the left-out subject "
                     "contributes to feature selection); nested redoes the selection inside each "
                     "fold from the training subjects only. Feature selection does not use the "
                     "target, so per-fold features are reused across permutations, which equals "
                     "rerunning the whole cross-validation. The parametric p of r(predicted, "
                     "observed) ignores the dependence between cross-validated predictions; "
                     "prefer the permutation p."))
    rules = {}
    for name, path in zip(smk.params.rules, smk.input.rules):
        with open(path) as fh:
            res = json.load(fh)
        rules[name] = {k: res[k] for k in ("rule", "n", "as_published", "nested", "difference", "status")}
        log.info("rule %s: r as_published - nested = %s", name, res["difference"]["r"])
    if rules:
        out["rules"] = rules
        out["rules_note"] = ("Each selection rule is applied alike on the full sample (as_published) and inside "
                             "each leave-one-out fold (nested); difference = as_published - nested, the effect "
                             "of the leakage alone (same rule, same model, same permutations of the target).")
    save_json(out, smk.output.json)


run_logged(snakemake, main)  # noqa: F821
