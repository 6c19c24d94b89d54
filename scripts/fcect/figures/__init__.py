"""Paper figures: pure plotting functions (data in, matplotlib Figure out), one module per workflow stage plus the
shared style. The package reads only result files of the workflow (never raw data or analysis intermediates), so
that a plotting change reruns figure rules only.

Modules:

* :mod:`fcect.figures.style` -- sizes, colours, rc style, number formats, the atomic saver (``save_figure``),
  message panels, inch layout, and the brain-plot helpers shared by several stages;
* :mod:`fcect.figures.seeds` -- the cerebellar seed spheres (Figure 1);
* :mod:`fcect.figures.qc` -- head motion and exclusions;
* :mod:`fcect.figures.group` -- per-seed t maps and the per-contrast grids of FWE-thresholded maps (Figures 2, 3);
* :mod:`fcect.figures.clinical` -- FC change vs HAMD reduction, HAMD before / after ECT (Figure 4);
* :mod:`fcect.figures.prediction` -- predicted vs observed HAMD reduction, permutation null (Figure 5);
* :mod:`fcect.figures.transcriptomics` -- PLS, surface maps, enrichment (Figures 6, 7).

The rule scripts ``scripts/figure_*.py`` read the result files, call these functions and save with
``style.save_figure``. Labels (contrasts, statistics, modes, gene lists, the HAMD reduction) come from
:mod:`fcect.core.vocabulary`. Nothing is imported here, so that a rule depends only on the modules it uses.
"""
