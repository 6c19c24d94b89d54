"""Multiverse of the headline results: the specifications (:mod:`.specs`), their per-scan FC maps, group maps and
headline numbers (:mod:`.run`), the specification table and fractions (:mod:`.table`) and the specification-curve
figure (:mod:`fcect.figures.multiverse`). Every step calls the stage libraries (fcect.preprocess, fcect.group,
fcect.clinical, fcect.prediction, fcect.transcriptomics); nothing of the analysis is reimplemented here."""
