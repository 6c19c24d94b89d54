# Head-motion QC: per-scan motion summary, exclusions and their propagation to participants.


rule qc_table:
    input:
        participants=PARTICIPANTS,
        confounds=expand(fp_pattern("confounds"), zip, sub=SCAN_SUBS, ses=SCAN_SESS),
    output:
        motion="results/qc/motion.tsv",
        participants="results/qc/participants_included.tsv",
    params:
        qc=config["qc"],
        denoise=config["denoise"],
        scans=SCANS,
        sessions=[SES_PRE, SES_POST],
        schema=str(Path(workflow.basedir) / "config/schema/participants.schema.yaml"),
    log:
        "logs/qc/qc_table.log",
    threads: 1
    resources:
        mem_mb=1000,  # measured 0.09 GB / 2 s (tiny, 23 scans); reads one small TSV per scan
        runtime=10,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/qc_table.py"
