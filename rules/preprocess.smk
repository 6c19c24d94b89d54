# Stage preprocess: input validation (before any heavy job); analysis masks and seed spheres; per-scan denoising +
# seed-to-voxel FC; head-motion QC and the exclusions every later stage uses; the seed and QC figures.
# Library: fcect.preprocess. Config sections: `validate`, `seeds`, `analysis`, `denoise`, `qc`.
# Report categories: Methods (seeds), QC.

VALIDATION = "results/qc/validation.tsv"  # every problem of the inputs (errors stop the run; warnings listed)


rule validate:
    input:
        participants=PARTICIPANTS,
        bold=scan_file_list("bold"),
        bold_json=scan_file_list("bold_json"),
        mask=scan_file_list("mask"),
        confounds=scan_file_list("confounds"),
        code=library("validate.py"),
    output:
        table=VALIDATION,
    params:
        # the fMRIPrep folder (scanned for scans the participants table leaves unused), from the first BOLD path
        fmriprep_dir=lambda wc, input: str(Path(input.bold[0]).parents[3]),
        scans=SCANS,
        runs=[SCAN_RUNS[scan] for scan in SCANS],  # every run file of a scan is validated
        sessions=SESSIONS,
        task=TASK,
        space=SPACE,
        res=RES,
        denoise=config["denoise"],
        validate=config["validate"],
        schema=str(Path(workflow.basedir) / "config/schema/participants.schema.yaml"),
    log:
        "logs/preprocess/validate.log",
        # the table also lands here: Snakemake deletes a failed job's outputs, never its logs
        table="logs/preprocess/validation.tsv",
    threads: config["validate"]["threads"]
    resources:
        # one streamed pass through each BOLD file (gzip decompression), a few volumes in memory per thread:
        # measured 0.3 GB, 3 s once + 0.3 s per default simulated scan, 0.1 s per tiny one (bench/README.md,
        # Validation); ~4 s per 2 mm fMRIPrep run (extrapolated)
        mem_mb=1000,
        runtime=lambda wc, input, threads: 10 + len(input.bold) // (10 * threads),
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/validate.py"


rule masks:
    input:
        seeds=SEEDS_TABLE,
        code=library("masks.py"),
    output:
        **MASKS,
    params:
        analysis=config["analysis"],
        min_voxels=config["seeds"]["min_voxels"],
        radius_override=config["seeds"]["radius_override"],
    log:
        "logs/preprocess/masks.log",
    threads: 1
    resources:
        mem_mb=2000,  # measured 0.3 GB / 6 s (tiny); templates are loaded at 1-2 mm whatever the grid
        runtime=10,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/masks.py"


rule denoise_fc:
    input:
        unpack(scan_files),
        analysis_mask=MASKS["analysis"],
        seeds=MASKS["seeds"],
        seeds_tsv=MASKS["seeds_tsv"],
        validation=VALIDATION,  # no scan is denoised before every input passed validation
        code=library("denoise_fc.py"),
    output:
        maps=expand(FC_PATTERN, seed=SEED_IDS, allow_missing=True),
        info=P.denoise_info(),
    params:
        denoise=config["denoise"],
        seed_ids=SEED_IDS,
        runs=scan_runs,  # recorded in the denoise info
    log:
        "logs/preprocess/denoise_fc/sub-{sub}_ses-{ses}.log",
    benchmark:
        "benchmarks/denoise_fc/sub-{sub}_ses-{ses}.tsv"
    threads: 1
    resources:
        # measured: 1.3 GB / 58 s at most on the default simulated scan (docs/benchmarks.md). Memory and time grow
        # with the BOLD file(s) (every run of the scan with inputs.run: concatenate): ~10 MB of memory and ~0.1 min per MB of .nii.gz (a 2 mm fMRIPrep run of 300 MB asks
        # for 5 GB / 40 min); where the BOLD does not exist yet (simulated, same group job) the floor applies.
        # A retry (profile `retries:`) asks for attempt x memory.
        mem_mb=lambda wc, input, attempt: attempt * max(3000, 2000 + 10 * bold_mb(input)),
        runtime=lambda wc, input, attempt: attempt * max(15, 10 + bold_mb(input) // 10),
    group:
        "scan"  # one SLURM job per scan chain (simulate_scan -> denoise_fc); profile: group-components
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/denoise_fc.py"


rule qc_table:
    input:
        participants=PARTICIPANTS,
        confounds=scan_file_list("confounds"),
        validation=VALIDATION,
        **({"registration": P.REGISTRATION_TABLE} if RAW else {}),  # raw input: registration failures exclude too
        code=library("qc_table.py"),
    output:
        motion=MOTION_TABLE,
        participants=PARTICIPANTS_INCLUDED,
    params:
        qc=config["qc"],
        denoise=config["denoise"],
        reduction=HAMD_REDUCTION,
        scans=SCANS,
        n_runs=SCAN_N_RUNS,  # the confounds list holds each scan's runs in turn; a scan is judged over all of them
        sessions=SESSIONS,
        schema=str(Path(workflow.basedir) / "config/schema/participants.schema.yaml"),
    log:
        "logs/preprocess/qc_table.log",
    threads: 1
    resources:
        mem_mb=1000,  # measured 0.09 GB / 2 s (tiny, 23 scans); reads one small TSV per scan
        runtime=10,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/qc_table.py"


rule figure_seeds:
    input:
        seeds=MASKS["seeds"],
        seeds_tsv=MASKS["seeds_tsv"],
        cerebellum=MASKS["cerebellum"],
        code=library("figure_seeds.py"),
    output:
        png=report(P.figure("seeds"), caption="../report/seeds.rst", category="Methods", subcategory="Seeds",
                   labels={"figure": "seed regions"}),
        vector=P.figure("seeds", FIG_EXT),
    params:
        dpi=FIG["dpi"],
        radius_override=config["seeds"]["radius_override"],
    log:
        "logs/figures/seeds.log",
    threads: 1
    resources:
        **FIG_RES,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/figure_seeds.py"


rule figure_qc:
    input:
        motion=MOTION_TABLE,
        participants=PARTICIPANTS_INCLUDED,
        code=library("figure_qc.py"),
    output:
        png=report(P.figure("qc_motion"), caption="../report/qc_motion.rst", category="QC",
                   subcategory="Head motion", labels={"figure": "head motion and exclusions"}),
        vector=P.figure("qc_motion", FIG_EXT),
    params:
        dpi=FIG["dpi"],
        qc=config["qc"],
        sessions=SESSIONS,
    log:
        "logs/figures/qc_motion.log",
    threads: 1
    resources:
        **FIG_RES,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/figure_qc.py"


TARGETS["preprocess"] = (all_fc_maps() + [VALIDATION, MOTION_TABLE, PARTICIPANTS_INCLUDED, MASKS["analysis"]]
                         + figure_outputs("seeds") + figure_outputs("qc_motion"))
