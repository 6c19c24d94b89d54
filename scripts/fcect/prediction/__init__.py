"""Leave-one-out SVR of the HAMD reduction from baseline FC, permutation and nested selection."""
