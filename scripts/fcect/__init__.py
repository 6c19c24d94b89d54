"""fcect: cerebellar-cerebral functional connectivity after ECT, analysis library.

Every analysis step of the workflow is a function in one of these modules; the scripts under ``scripts/`` only
read the ``snakemake`` object and call them. Tests call the same functions directly.
"""

__version__ = "0.2.0"
