"""References of the methods text and their numbering.

:data:`REFERENCES` holds every work the methods text can cite, by key. A paragraph marks a citation with
:func:`ref` (a placeholder naming the keys); :class:`Citations` then numbers the works in order of first appearance
(``[n, m]``, each group sorted) and lists them, and :func:`strip_citations` removes the placeholders from text that
stands alone without a reference list (e.g. the methods paragraph stored in pls.json).
"""

from __future__ import annotations

import re

# every work the methods text can cite
REFERENCES = {
    "paper": "Zhang et al. Effects of electroconvulsive therapy on cerebellar-cerebral functional connectivity in "
             "patients with treatment-resistant depression and their correlations with gene expression profiles. "
             "Psychiatry Clin Neurosci 2026. doi:10.1111/pcn.70071",
    "snakemake": "Mölder F, et al. Sustainable data analysis with Snakemake. F1000Research 2021;10:33. "
                 "doi:10.12688/f1000research.29032.2",
    "nilearn": "Abraham A, et al. Machine learning for neuroimaging with scikit-learn. Front Neuroinform 2014;8:14. "
               "doi:10.3389/fninf.2014.00014",
    "dpabi": "Yan C-G, Wang X-D, Zuo X-N, Zang Y-F. DPABI: Data Processing & Analysis for (Resting-State) Brain "
             "Imaging. Neuroinformatics 2016;14:339-351. doi:10.1007/s12021-016-9299-4",
    "mni2009": "Fonov V, et al. Unbiased average age-appropriate atlases for pediatric studies. NeuroImage "
               "2011;54:313-327. doi:10.1016/j.neuroimage.2010.07.033",
    "friston24": "Friston KJ, Williams S, Howard R, Frackowiak RSJ, Turner R. Movement-related effects in fMRI "
                 "time-series. Magn Reson Med 1996;35:346-355. doi:10.1002/mrm.1910350312",
    "36p": "Satterthwaite TD, et al. An improved framework for confound regression and filtering for control of "
           "motion artifact in the preprocessing of resting-state functional connectivity data. NeuroImage "
           "2013;64:240-256. doi:10.1016/j.neuroimage.2012.08.052",
    "compcor": "Behzadi Y, Restom K, Liau J, Liu TT. A component based noise correction method (CompCor) for BOLD "
               "and perfusion based fMRI. NeuroImage 2007;37:90-101. doi:10.1016/j.neuroimage.2007.04.042",
    "power2012": "Power JD, Barnes KA, Snyder AZ, Schlaggar BL, Petersen SE. Spurious but systematic correlations "
                 "in functional connectivity MRI networks arise from subject motion. NeuroImage 2012;59:2142-2154. "
                 "doi:10.1016/j.neuroimage.2011.10.018",
    "power2014": "Power JD, et al. Methods to detect, characterize, and remove motion artifact in resting state "
                 "fMRI. NeuroImage 2014;84:320-341. doi:10.1016/j.neuroimage.2013.08.048",
    "jenkinson": "Jenkinson M, Bannister P, Brady M, Smith S. Improved optimization for the robust and accurate "
                 "linear registration and motion correction of brain images. NeuroImage 2002;17:825-841. "
                 "doi:10.1006/nimg.2002.1132",
    "aal": "Rolls ET, Joliot M, Tzourio-Mazoyer N. Implementation of a new parcellation of the orbitofrontal cortex "
           "in the automated anatomical labeling atlas. NeuroImage 2015;122:1-5. "
           "doi:10.1016/j.neuroimage.2015.07.075",
    "freedmanlane": "Freedman D, Lane D. A nonstochastic interpretation of reported significance levels. J Bus Econ "
                    "Stat 1983;1:292-298. doi:10.1080/07350015.1983.10509354",
    "winkler": "Winkler AM, Ridgway GR, Webster MA, Smith SM, Nichols TE. Permutation inference for the general "
               "linear model. NeuroImage 2014;92:381-397. doi:10.1016/j.neuroimage.2014.01.060",
    "nichols": "Nichols TE, Holmes AP. Nonparametric permutation tests for functional neuroimaging: a primer with "
               "examples. Hum Brain Mapp 2002;15:1-25. doi:10.1002/hbm.1058",
    "tfce": "Smith SM, Nichols TE. Threshold-free cluster enhancement: addressing problems of smoothing, threshold "
            "dependence and localisation in cluster inference. NeuroImage 2009;44:83-98. "
            "doi:10.1016/j.neuroimage.2008.03.061",
    "grf": "Friston KJ, Worsley KJ, Frackowiak RSJ, Mazziotta JC, Evans AC. Assessing the significance of focal "
           "activations using their spatial extent. Hum Brain Mapp 1994;1:210-220. doi:10.1002/hbm.460010306",
    "hamd": "Hamilton M. A rating scale for depression. J Neurol Neurosurg Psychiatry 1960;23:56-62. "
            "doi:10.1136/jnnp.23.1.56",
    "sklearn": "Pedregosa F, et al. Scikit-learn: machine learning in Python. J Mach Learn Res 2011;12:2825-2830",
    "libsvm": "Chang C-C, Lin C-J. LIBSVM: a library for support vector machines. ACM Trans Intell Syst Technol "
              "2011;2:27. doi:10.1145/1961189.1961199",
    "ahba": "Hawrylycz MJ, et al. An anatomically comprehensive atlas of the adult human brain transcriptome. "
            "Nature 2012;489:391-399. doi:10.1038/nature11405",
    "abagen": "Markello RD, et al. Standardizing workflows in imaging transcriptomics with the abagen toolbox. "
              "eLife 2021;10:e72129. doi:10.7554/eLife.72129",
    "arnatkeviciute": "Arnatkevičiūtė A, Fulcher BD, Fornito A. A practical guide to linking brain-wide gene "
                      "expression and neuroimaging data. NeuroImage 2019;189:353-367. "
                      "doi:10.1016/j.neuroimage.2019.01.011",
    "itx": "Martins D, et al. Imaging transcriptomics: convergent cellular, transcriptomic, and molecular "
           "neuroimaging signatures in the healthy adult human brain. Cell Rep 2021;37:110173. "
           "doi:10.1016/j.celrep.2021.110173",
    "dk": "Desikan RS, et al. An automated labeling system for subdividing the human cerebral cortex on MRI scans "
          "into gyral based regions of interest. NeuroImage 2006;31:968-980. doi:10.1016/j.neuroimage.2006.01.021",
    "whitaker": "Whitaker KJ, et al. Adolescence is associated with genomically patterned consolidation of the hubs "
                "of the human brain connectome. Proc Natl Acad Sci USA 2016;113:9105-9110. "
                "doi:10.1073/pnas.1601745113",
    "morgan": "Morgan SE, et al. Cortical patterning of abnormal morphometric similarity in psychosis is "
              "associated with brain expression of schizophrenia-related genes. Proc Natl Acad Sci USA "
              "2019;116:9604-9609. doi:10.1073/pnas.1820754116",
    "spin": "Alexander-Bloch AF, et al. On testing for spatial correspondence between maps of human brain "
            "structure and function. NeuroImage 2018;178:540-551. doi:10.1016/j.neuroimage.2018.05.070",
    "vasa": "Váša F, et al. Adolescent tuning of association cortex in human structural brain networks. Cereb "
            "Cortex 2018;28:281-294. doi:10.1093/cercor/bhx249",
    "burt": "Burt JB, Helmer M, Shinn M, Anticevic A, Murray JD. Generative modeling of brain maps with spatial "
            "autocorrelation. NeuroImage 2020;220:117038. doi:10.1016/j.neuroimage.2020.117038",
    "bh": "Benjamini Y, Hochberg Y. Controlling the false discovery rate: a practical and powerful approach to "
          "multiple testing. J R Stat Soc B 1995;57:289-300. doi:10.1111/j.2517-6161.1995.tb02031.x",
    "gsea": "Subramanian A, et al. Gene set enrichment analysis: a knowledge-based approach for interpreting "
            "genome-wide expression profiles. Proc Natl Acad Sci USA 2005;102:15545-15550. "
            "doi:10.1073/pnas.0506580102",
    "blitzgsea": "Lachmann A, Xie Z, Ma'ayan A. blitzGSEA: efficient computation of gene set enrichment analysis "
                 "through gamma distribution approximation. Bioinformatics 2022;38:2356-2357. "
                 "doi:10.1093/bioinformatics/btac076",
    "knijnenburg": "Knijnenburg TA, Wessels LFA, Reinders MJT, Shmulevich I. Fewer permutations, more accurate "
                   "P-values. Bioinformatics 2009;25:i161-i168.",
    "simonsohn": "Simonsohn U, Simmons JP, Nelson LD. Specification curve analysis. Nat Hum Behav 2020;4:1208-1214. "
                 "doi:10.1038/s41562-020-0912-z",
    "steegen": "Steegen S, Tuerlinckx F, Gelman A, Vanpaemel W. Increasing transparency through a multiverse "
               "analysis. Perspect Psychol Sci 2016;11:702-712. doi:10.1177/1745691616658637",
    "ants": "Avants BB, Epstein CL, Grossman M, Gee JC. Symmetric diffeomorphic image registration with "
            "cross-correlation: evaluating automated labeling of elderly and neurodegenerative brain. Med Image Anal "
            "2008;12:26-41. doi:10.1016/j.media.2007.06.004",
    "fonov": "Fonov V, et al. Unbiased average age-appropriate atlases for pediatric studies. NeuroImage "
             "2011;54:313-327. doi:10.1016/j.neuroimage.2010.07.033",
    "fulcher": "Fulcher BD, Arnatkevičiūtė A, Fornito A. Overcoming false-positive gene-category enrichment in the "
               "analysis of spatially resolved transcriptomic brain atlas data. Nat Commun 2021;12:2669. "
               "doi:10.1038/s41467-021-22862-1",
}


_OPEN, _CLOSE = "\u27e6", "\u27e7"
_MARK = re.compile(f"{_OPEN}([^{_CLOSE}]+){_CLOSE}")
_MARK_WITH_SPACE = re.compile(f" ?{_OPEN}[^{_CLOSE}]+{_CLOSE}")


def ref(*keys: str) -> str:
    """Citation placeholder for the works ``keys`` (each a key of :data:`REFERENCES`)."""
    for k in keys:
        if k not in REFERENCES:
            raise KeyError(f"unknown reference {k!r}")
    return _OPEN + ",".join(keys) + _CLOSE


def strip_citations(text: str) -> str:
    """``text`` without its citation placeholders (and the space before each)."""
    return _MARK_WITH_SPACE.sub("", text)


class Citations:
    """Numbered citations in order of first appearance: :meth:`resolve` turns the placeholders of :func:`ref` into
    ``[n, m]``; resolving several texts in turn with one instance numbers them as one text."""

    def __init__(self):
        self.order: list[str] = []

    def resolve(self, text: str) -> str:
        def repl(m):
            keys = m.group(1).split(",")
            for k in keys:
                if k not in self.order:
                    self.order.append(k)
            return "[" + ", ".join(str(n) for n in sorted(self.order.index(k) + 1 for k in keys)) + "]"

        return _MARK.sub(repl, text)

    def listing(self) -> list[str]:
        """The reference list: '<n>. <reference>' for every work cited so far, in citation order."""
        return [f"{i}. {REFERENCES[k]}" for i, k in enumerate(self.order, start=1)]
