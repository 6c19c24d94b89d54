"""Group stage: voxel-wise inference of one contrast (baseline TRD vs HC, or ECT post - pre) for one seed.

Reads the seed's FC maps (z-transformed, MNI grid), ``participants_included.tsv`` (the QC-included
participants, group, covariates) and the analysis mask (for ECT optionally restricted to the seed's baseline
clusters). Writes ``results/group/<contrast>/seed-<id>/``: ``stat-t.nii.gz``, ``stat-effsize.nii.gz``,
``logp-fwe_method-<m>.nii.gz`` (one per inference method), ``clusters.tsv``, ``cluster_labels.nii.gz`` (the
feed method's significant clusters) and ``group.json``.

Modules:

* :mod:`~fcect.group.run`: the stage driver ``run_group`` (load, compute, write); ``fc_inputs`` (the FC maps a job
  reads), ``permutation_seed``;
* :mod:`~fcect.group.design`: participants analysed, tested regressor, covariates, analysis mask of a contrast;
* :mod:`~fcect.group.glm`: OLS t maps and effect sizes, residuals, rearrangements (permutations, sign flips);
* :mod:`~fcect.group.permutation`: the permutation engine: FWE p of max-T, cluster extent, cluster mass, TFCE;
* :mod:`~fcect.group.tfce`: TFCE maps and exact TFCE null maxima (incremental union-find);
* :mod:`~fcect.group.grf`: DPABI-style Gaussian random field cluster correction (smoothness, cluster p);
* :mod:`~fcect.group.tables`: significant clusters of each method, the clusters table, the feed label image.
"""
