"""Synthetic data used by the tests. No pipeline code imports this subpackage."""
