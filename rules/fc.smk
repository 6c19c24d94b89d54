# Analysis masks, seed spheres, and per-scan denoising + seed-to-voxel FC.


rule masks:
    input:
        seeds=SEEDS_TABLE,
    output:
        analysis="results/masks/analysis_mask.nii.gz",
        cerebellum="results/masks/cerebellum_gm.nii.gz",
        seeds="results/masks/seeds.nii.gz",
        seeds_tsv="results/masks/seeds.tsv",
    params:
        analysis=config["analysis"],
        min_voxels=config["seeds"]["min_voxels"],
        radius_override=config["seeds"]["radius_override"],
    log:
        "logs/masks.log",
    threads: 1
    resources:
        mem_mb=2000,  # measured 0.3 GB / 6 s (tiny); templates are loaded at 1-2 mm whatever the grid
        runtime=10,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/make_masks.py"


rule denoise_fc:
    input:
        unpack(scan_files),
        analysis_mask="results/masks/analysis_mask.nii.gz",
        seeds="results/masks/seeds.nii.gz",
        seeds_tsv="results/masks/seeds.tsv",
    output:
        maps=expand(FC_PATTERN, seed=SEED_IDS, allow_missing=True),
        info="results/fc/sub-{sub}/ses-{ses}/sub-{sub}_ses-{ses}_desc-denoise_info.json",
    params:
        denoise=config["denoise"],
        seed_ids=SEED_IDS,
    log:
        "logs/denoise_fc/sub-{sub}_ses-{ses}.log",
    benchmark:
        "benchmarks/denoise_fc/sub-{sub}_ses-{ses}.tsv"
    threads: 1
    resources:
        # measured: 1.3 GB / 58 s at most on the default simulated scan (docs/benchmarks.md). Memory and time grow
        # with the BOLD file: ~10 MB of memory and ~0.1 min per MB of .nii.gz (a 2 mm fMRIPrep run of 300 MB asks
        # for 5 GB / 40 min); where the BOLD does not exist yet (simulated, same group job) the floor applies.
        # A retry (profile `retries:`) asks for attempt x memory.
        mem_mb=lambda wc, input, attempt: attempt * max(3000, 2000 + 10 * (os.path.getsize(input.bold) >> 20 if os.path.exists(input.bold) else 0)),
        runtime=lambda wc, input, attempt: attempt * max(15, 10 + (os.path.getsize(input.bold) >> 20 if os.path.exists(input.bold) else 0) // 10),
    group:
        "scan"  # one SLURM job per scan chain (simulate_scan -> denoise_fc); profile: group-components
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/denoise_fc.py"
