"""Group inference: GLM, permutation engine (max-T, cluster extent/mass, TFCE), GRF, cluster tables."""
