# Stage raw: preprocessing of raw BIDS scans to the MNI analysis grid (input_source bids, or the simulated cohort
# with simulate.mode raw, whose raw scans are written here too). Library: fcect.raw (antspyx, in its own
# environment: envs/ants.yaml, envs/requirements-ants.txt; rule preprocess_raw runs raw.python), fcect.simulate.raw.
# Per subject, rule preprocess_anat registers the anatomical reference (T1w) to MNI once; every run of the subject
# (rule preprocess_raw) reuses that transform.
# Config section: `raw` (and denoise.drop_volumes, analysis.voxel_mm). Outputs: fMRIPrep-like derivatives under
# results/preproc/ (read by the preprocess stage through the input functions of rules/common.smk), per-run QC in
# results/qc/raw/, the registration table results/qc/registration.tsv (exclusions applied by rule qc_table).
# Report category: QC.

if RAW:
    if RAW_SIM:

        rule simulate_raw_t1w:
            input:
                code=library("simulate_raw_t1w.py"),
            output:
                t1w=f"{BIDS_DIR}/sub-{{sub}}/anat/sub-{{sub}}_T1w.nii.gz",
            params:
                sim=config["simulate"],
                seed=config["random_seed"],
                sessions=SESSIONS,
            log:
                "logs/simulate/sub-{sub}_T1w.log",
            threads: 1
            resources:
                mem_mb=1500,
                runtime=10,
            conda:
                "../envs/analysis.yaml"
            script:
                "../scripts/simulate_raw_t1w.py"

        rule simulate_raw_scan:
            input:
                couplings=f"{SIM_ROOT}/sourcedata/subject_couplings.tsv",
                tissue=f"{SIM_ROOT}/sourcedata/tissue.nii.gz",
                seeds=SEEDS_TABLE,
                code=library("simulate_raw_scan.py"),
            output:
                bold=f"{BIDS_DIR}/sub-{{sub}}/ses-{{ses}}/func/sub-{{sub}}_ses-{{ses}}_task-{TASK}_bold.nii.gz",
                bold_json=f"{BIDS_DIR}/sub-{{sub}}/ses-{{ses}}/func/sub-{{sub}}_ses-{{ses}}_task-{TASK}_bold.json",
                truth=f"{SIM_ROOT}/sourcedata/truth/sub-{{sub}}_ses-{{ses}}_truth.json",
                raw_truth=f"{SIM_ROOT}/sourcedata/raw_truth/sub-{{sub}}_ses-{{ses}}_raw.json",
            params:
                sim=config["simulate"],
                seed=config["random_seed"],
                sessions=SESSIONS,
                radius_override=config["seeds"]["radius_override"],
            log:
                "logs/simulate/sub-{sub}_ses-{ses}.log",
            benchmark:
                "benchmarks/simulate/sub-{sub}_ses-{ses}.tsv"
            threads: 1
            resources:
                mem_mb=2000,
                runtime=10,
            group:
                "simulate"
            conda:
                "../envs/analysis.yaml"
            script:
                "../scripts/simulate_raw_scan.py"

    rule preprocess_anat:
        input:
            t1w=lambda wc: RAW_ANAT[wc.sub],
            code=library("preprocess_anat.py"),
        output:
            xfm=P.anat_xfm(),
            qc_json=P.raw_anat_qc(kind="qc.json"),
            qc_png=report(P.raw_anat_qc(kind="registration.png"), category="QC",
                          subcategory="Raw preprocessing: T1w to MNI", caption="../report/raw_anat.rst",
                          labels={"subject": "sub-{sub}", "figure": "normalised T1w"}),
        params:
            python=RAWCFG["python"],
            scripts=lambda wc: str(Path(workflow.basedir) / "scripts"),
            params=raw_anat_params,
        log:
            "logs/raw/sub-{sub}_T1w.log",
        benchmark:
            "benchmarks/raw/sub-{sub}_T1w.tsv"
        threads: job_threads(RAWCFG["threads"])
        resources:
            mem_mb=3000,
            runtime=60,
        conda:
            "../envs/ants.yaml"
        shell:
            "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS={threads} PYTHONPATH={params.scripts} "
            "{params.python} {params.scripts}/preprocess_anat.py --t1w {input.t1w:q} --out-xfm {output.xfm} "
            "--out-qc {output.qc_json} --out-qc-png {output.qc_png} --params {params.params:q} > {log} 2>&1"

    _PRE = P.fmriprep_paths(FMRIPREP_DIR, "{sub}", "{ses}", TASK, SPACE, RES, _RAW_RUN)

    rule preprocess_raw:
        input:
            unpack(raw_inputs),
            code=library("preprocess_raw.py"),
        output:
            bold=str(_PRE["bold"]),
            bold_json=str(_PRE["bold_json"]),
            mask=str(_PRE["mask"]),
            confounds=str(_PRE["confounds"]),
            qc_json=P.raw_qc(run=_RAW_RUN, kind="qc.json"),
            qc_png=report(P.raw_qc(run=_RAW_RUN, kind="registration.png"), category="QC",
                          subcategory="Raw preprocessing: registration",
                          caption="../report/raw_registration.rst",
                          labels={"scan": "sub-{sub} ses-{ses}", "figure": "normalised mean EPI"}),
            motion_png=report(P.raw_qc(run=_RAW_RUN, kind="motion.png"), category="QC",
                              subcategory="Raw preprocessing: motion", caption="../report/raw_motion.rst",
                              labels={"scan": "sub-{sub} ses-{ses}", "figure": "motion traces"}),
        params:
            python=RAWCFG["python"],
            scripts=lambda wc: str(Path(workflow.basedir) / "scripts"),  # PYTHONPATH (fcect) and the script
            params=raw_params,
        log:
            "logs/raw/sub-{sub}_ses-{ses}" + ("" if RUN is None else "_run-{run}") + ".log",
        benchmark:
            "benchmarks/raw/sub-{sub}_ses-{ses}" + ("" if RUN is None else "_run-{run}") + ".tsv"
        threads: job_threads(RAWCFG["threads"])
        resources:
            mem_mb=4000,  # bench/bench_preproc.py: peak memory per scan
            runtime=60,
        conda:
            "../envs/ants.yaml"
        shell:
            "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS={threads} PYTHONPATH={params.scripts} "
            "{params.python} {params.scripts}/preprocess_raw.py --bold {input.bold:q} "
            "--bold-json {input.bold_json:q} --t1w {input.t1w:q} --out-bold {output.bold} "
            "--out-bold-json {output.bold_json} --out-mask {output.mask} --out-confounds {output.confounds} "
            "--out-qc {output.qc_json} --out-qc-png {output.qc_png} --out-motion-png {output.motion_png} "
            "--t1-xfm {input.t1_xfm:q} --t1-qc {input.t1_qc:q} --params {params.params:q} > {log} 2>&1"

    rule raw_registration_qc:
        input:
            qc=raw_qc_files("qc.json"),
            code=library("raw_registration_qc.py"),
        output:
            table=P.REGISTRATION_TABLE,
        params:
            scans=SCANS,
            n_runs=SCAN_N_RUNS,
            qc=RAWCFG["qc"],
        log:
            "logs/raw/registration_qc.log",
        threads: 1
        resources:
            mem_mb=500,
            runtime=10,
        conda:
            "../envs/analysis.yaml"
        script:
            "../scripts/raw_registration_qc.py"

    TARGETS["raw"] = ([P.REGISTRATION_TABLE] + raw_qc_files("registration.png") + raw_qc_files("motion.png")
                      + [P.raw_anat_qc(s, "registration.png") for s in sorted(RAW_ANAT)])
else:
    TARGETS["raw"] = []
