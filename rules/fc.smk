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
        mem_mb=2000,
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
        mem_mb=3000,
        runtime=15,
    group:
        "scan"
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/denoise_fc.py"
