"""Clinical stage: demographics (Table 1), exclusions, and FC-change vs HAMD-reduction correlations.

Reads
    ``results/qc/participants_included.tsv`` (participants.tsv + inclusion flags, mean FD, HAMD reduction),
    ``results/qc/motion.tsv`` (one row per scan; exclusion reasons),
    the Fisher-z FC maps of the clinical seeds (``results/fc/sub-*/ses-*/...desc-fcz_stat.nii.gz``) and
    the group stage's cluster labels (``results/group/<contrast>/seed-<id>/cluster_labels.nii.gz``,
    with that folder's ``clusters.tsv`` for the cluster descriptions) and the analysis mask (LOSO t maps).
Writes
    ``results/clinical/{correlations,cluster_values,clusters}.tsv`` (rule ``clinical_correlations``) and
    ``results/tables/{demographics.tsv,demographics.md,exclusions.tsv}`` (rule ``clinical_demographics``).

Modules
    ``stats``         correlation tests (Pearson, Spearman, partial, partial Spearman), Bonferroni,
                      covariate coding
    ``correlations``  cluster values per participant from the files and the correlation tables
    ``loso``          leave-one-subject-out cluster values (ECT clusters re-defined without each completer)
    ``demographics``  Table 1 (group and pre/post tests), the exclusion list and its markdown

Rule scripts: ``scripts/clinical_demographics.py``, ``scripts/clinical_correlations.py``.
"""
