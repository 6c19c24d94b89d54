"""Prediction stage: leave-one-out linear epsilon-SVR of the HAMD reduction from baseline FC.

Reads (rule ``predict_svr``, one run per mode ``as_published`` / ``nested``)
    ``results/qc/participants_included.tsv`` (inclusion flags, HAMD reduction),
    the analysis mask ``results/masks/analysis_mask.nii.gz``,
    the Fisher-z FC maps of one seed (``results/fc/sub-*/ses-*/...desc-fcz_stat.nii.gz``) and
    the group stage's cluster labels of that seed (``results/group/<contrast>/seed-<id>/cluster_labels.nii.gz``).
Writes
    ``results/prediction/<mode>/{svr.json,predictions.tsv,null.tsv,repeated_kfold.tsv,folds.tsv}``
    and, collecting every mode (rule ``predict_summary``), ``results/prediction/svr.json``.

Modules
    ``svr``        linear epsilon-SVR (fast libsvm path verified against scikit-learn), CV folds,
                   out-of-fold predictions, metrics, permutation null and p values
    ``selection``  mask geometry and the nested cluster selection from training subjects only
                   (one-sample t, clusters by :func:`fcect.core.clusters.label_clusters`, fallback)
    ``rules``      like-for-like selection rules (uncorrected, GRF, cluster-extent FWE), each applied
                   alike on the full sample (as_published) and inside each LOO fold (nested)
    ``run``        the stage entry point: :func:`run.prediction_data` (files -> arrays),
                   :func:`run.run_mode` (LOO + permutations + repeated k-fold of one mode) and
                   :func:`run.run_rule` (one selection rule in both modes and their difference)

Synthetic test data: :mod:`fcect.testing.prediction`. Rule scripts: ``scripts/predict_svr.py``,
``scripts/predict_rule.py`` (``results/prediction/rule-<name>/``), ``scripts/predict_summary.py``.
"""
