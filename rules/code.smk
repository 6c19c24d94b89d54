# Code provenance: one stamp per rule script, listing the SHA-256 of every fcect module the script imports
# (fcect.core.code.library_files). Each rule declares its script's stamp as input (`code=library("<script>.py")`,
# rules/common.smk), so that editing a module reruns exactly the jobs that run it; one stamp instead of the 7-55
# module files per job keeps the scheduler's per-iteration stat of every ready job's inputs small.


rule code_stamp:
    input:
        lambda wc: library_of(f"{wc.script}.py"),
    output:
        P.code_stamp(),
    params:
        scripts=lambda wc: str(Path(workflow.basedir) / "scripts"),
    log:
        "logs/code/{script}.log",
    wildcard_constraints:
        script=r"\w+",
    localrule: True
    threads: 1
    resources:
        mem_mb=100,
        runtime=1,
    conda:
        "../envs/analysis.yaml"
    shell:
        # paths relative to the scripts folder, so that the stamp does not depend on where the clone lives
        "(cd {params.scripts:q} && sha256sum -- $(for f in {input:q}; do realpath --relative-to=. \"$f\"; done)) "
        "> {output:q}.tmp 2> {log:q} && mv -- {output:q}.tmp {output:q}"
