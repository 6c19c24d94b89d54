# Stage simulate: the embedded simulated cohort (fMRIPrep-derivatives layout with planted effects).
# Library: fcect.simulate. Config section: `simulate`. Outputs under resources/simulated/<name>/.

if config["input_source"] == "simulated":

    rule simulate_participants:
        input:
            code=library("simulate_participants.py"),
        output:
            participants=f"{SIM_ROOT}/participants.tsv",
            couplings=f"{SIM_ROOT}/sourcedata/subject_couplings.tsv",
            description=f"{FMRIPREP_DIR}/dataset_description.json",
            tissue=f"{SIM_ROOT}/sourcedata/tissue.nii.gz",
        params:
            sim=config["simulate"],
            seed=config["random_seed"],
            sessions=SESSIONS,
        log:
            "logs/simulate/participants.log",
        threads: 1
        resources:
            mem_mb=1000,  # measured 0.3 GB / 5 s (tiny)
            runtime=10,
        conda:
            "../envs/analysis.yaml"
        script:
            "../scripts/simulate_participants.py"


if config["input_source"] == "simulated" and not RAW_SIM:  # simulate.mode raw: rule simulate_raw_scan (rules/raw.smk)

    rule simulate_scan:
        input:
            couplings=f"{SIM_ROOT}/sourcedata/subject_couplings.tsv",
            tissue=f"{SIM_ROOT}/sourcedata/tissue.nii.gz",
            seeds=SEEDS_TABLE,
            code=library("simulate_scan.py"),
        output:
            bold=fp_pattern("bold"),
            bold_json=fp_pattern("bold_json"),
            mask=fp_pattern("mask"),
            confounds=fp_pattern("confounds"),
            truth=f"{SIM_ROOT}/sourcedata/truth/sub-{{sub}}_ses-{{ses}}_truth.json",
        params:
            sim=config["simulate"],
            seed=config["random_seed"],
            sessions=SESSIONS,
            # the seeds table as read and validated when the DAG was built (radius_override applied): the job
            # then needs no pandas (input `seeds` stays declared, so that editing the table reruns the job)
            seeds=[dict(seed_id=str(r.seed_id), x=float(r.x), y=float(r.y), z=float(r.z),
                        radius_mm=float(r.radius_mm)) for r in SEEDS.itertuples(index=False)],
        log:
            "logs/simulate/sub-{sub}_ses-{ses}.log",
        benchmark:
            "benchmarks/simulate/sub-{sub}_ses-{ses}.tsv"
        threads: 1
        resources:
            mem_mb=1500,  # measured 0.6 GB / 12 s at most (default cohort, docs/benchmarks.md)
            runtime=10,
        group:
            # rule validate reads every simulated scan before any denoise_fc starts, so a scan's simulation and its
            # denoising cannot be one cluster job: the simulations are bundled on their own (profile:
            # group-components simulate=N); group "scan" is the per-scan denoising, as with fMRIPrep input
            "simulate"
        conda:
            "../envs/analysis.yaml"
        script:
            "../scripts/simulate_scan.py"


if config["input_source"] == "simulated":

    rule simulate_ground_truth:
        input:
            couplings=f"{SIM_ROOT}/sourcedata/subject_couplings.tsv",
            truths=expand(f"{SIM_ROOT}/sourcedata/truth/sub-{{sub}}_ses-{{ses}}_truth.json", zip,
                          sub=SCAN_SUBS, ses=SCAN_SESS),
            code=library("simulate_ground_truth.py"),
        output:
            f"{SIM_ROOT}/ground_truth.json",
        params:
            sim=config["simulate"],
            seed=config["random_seed"],
            sessions=SESSIONS,
        log:
            "logs/simulate/ground_truth.log",
        threads: 1
        resources:
            mem_mb=1000,  # measured 0.08 GB / 1 s (tiny); collects one small JSON per scan
            runtime=10,
        conda:
            "../envs/analysis.yaml"
        script:
            "../scripts/simulate_ground_truth.py"

    TARGETS["simulate"] = [f"{SIM_ROOT}/ground_truth.json"]
else:
    TARGETS["simulate"] = []
