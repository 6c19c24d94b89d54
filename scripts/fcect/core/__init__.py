"""Shared foundations of every stage; imports no stage.

Modules: participants (participants.tsv, booleans, the HAMD reduction), paths (every path pattern), vocabulary
(contrasts, directions, labels, methods, modes, gene lists), images (index and load FC maps), atlas (AAL),
clusters (connectivity and cluster labelling), motion (framewise displacement), io (atomic writes, logging,
InputError), html (report pages), code (the library files a rule script runs).
"""
