"""The raw stage's settings as rule preprocess_raw passes them to scripts/preprocess_raw.py (``--params``), from the
validated workflow config: one definition for the rule (rules/common.smk) and for tools that rerun a scan outside
the workflow (bench/raw_vs_clean_fc.py). Imports nothing, so the Snakefile's parse stays light."""


def run_params(config, **change):
    """The per-run preprocessing parameters (key order fixed: the rule's params string, whose change reruns the
    jobs, stays the same), with ``change`` applied."""
    raw = config["raw"]
    p = dict(drop_volumes=config["denoise"]["drop_volumes"], voxel_mm=config["analysis"]["voxel_mm"],
             slice_timing=raw["slice_timing"], slice_timing_ref=raw["slice_timing_ref"],
             template_mm=raw["template_mm"], epi_t1=raw["epi_t1"], epi_t1_fixed_factor=raw["epi_t1_fixed_factor"],
             aff_iterations=raw["aff_iterations"], syn_iterations=raw["syn_iterations"],
             moco_iterations=raw["moco_iterations"], moco_interpolation=raw["moco_interpolation"],
             interpolation=raw["interpolation"], seed=config["random_seed"])
    return {**p, **change}
