"""The workflow's vocabulary: contrasts and their directions and labels, inference methods, prediction modes, gene
lists, the HAMD reduction and its label. Rules, library and figures take every name and label from here.

To add a contrast, a method or a mode, add it here first; the rule files and the schema list the same names
(docs/ARCHITECTURE.md, "How to add ...").
"""

from __future__ import annotations

# ---------------------------------------------------------------------------------------------- group contrasts
CONTRASTS = ("baseline", "ect")
# the maps a contrast analyses: "pre" = each participant's ses-pre map; "change" = post - pre maps (paired)
CONTRAST_DATA = {"baseline": "pre", "ect": "change"}
# sign of t: (positive t, negative t)
DIRECTIONS = {"baseline": ("TRD>HC", "HC>TRD"), "ect": ("post>pre", "pre>post")}
# figure titles, report categories, methods text
CONTRAST_TITLE = {"baseline": "Baseline: TRD vs HC", "ect": "ECT: post vs pre"}
CONTRAST_CATEGORY = {"baseline": "Baseline", "ect": "ECT"}
CONTRAST_NAME = {"baseline": "baseline (TRD vs HC)", "ect": "ECT (post vs pre)"}
# colour-bar label of the t map
STAT_LABEL = {"baseline": "t (TRD vs HC, adjusted for covariates)", "ect": "t (post vs pre ECT, paired)"}
STAT_LABEL_SHORT = {"baseline": "t (TRD vs HC, adjusted)", "ect": "t (post vs pre, paired)"}
# the regional response of the transcriptomics stage (regional mean of the group t map)
RESPONSE_LABEL = {"baseline": "regional mean t (TRD vs HC)", "ect": "regional mean t (post vs pre)"}

# ---------------------------------------------------------------------------------------------- FWE methods
PERMUTATION_METHODS = ("maxt", "cluster_extent", "cluster_mass", "tfce")
METHODS = PERMUTATION_METHODS + ("grf",)
METHOD_NAMES = {"maxt": "voxel-wise maximum-statistic (max-T)", "cluster_extent": "cluster extent",
                "cluster_mass": "cluster mass", "tfce": "threshold-free cluster enhancement (TFCE)",
                "grf": "Gaussian random field (GRF) cluster correction"}

# ---------------------------------------------------------------------------------------------- prediction
PREDICTION_MODES = ("as_published", "nested")
MODE_TITLE = {"as_published": "as published (clusters from the full sample)",
              "nested": "leakage-free (clusters re-selected in each fold)"}

# ---------------------------------------------------------------------------------------------- transcriptomics
GENE_LISTS = ("pls1pos", "pls1neg", "gsea")
GENE_LIST_TITLE = {"pls1pos": "PLS1+ genes (ORA)", "pls1neg": "PLS1- genes (ORA)", "gsea": "GSEA on PLS1 Z"}

# ---------------------------------------------------------------------------------------------- HAMD reduction
# the formulas themselves: fcect.core.participants.hamd_reduction (config key clinical.hamd_reduction)
REDUCTION_LABEL = {"rate": "HAMD reduction rate", "difference": "HAMD reduction (points)"}
REDUCTION_FORMULA = {"rate": "(pre - post) / pre", "difference": "pre - post"}


def reduction_label(formula: str = "rate", with_formula: bool = False) -> str:
    """'HAMD reduction rate' (axis labels), or with its formula: 'HAMD reduction rate, (pre - post) / pre'."""
    label = REDUCTION_LABEL[formula]
    return f"{label}, {REDUCTION_FORMULA[formula]}" if with_formula else label


def contrast_label(contrast: str, table: dict) -> str:
    """Label of a contrast in one of the tables above; the contrast name itself for an unknown contrast."""
    return table.get(contrast, contrast)
