"""Clinical stage: demographics (Table 1) and FC-change vs HAMD-reduction correlations."""
