# Stage multiverse: the headline results (baseline clusters per seed, the ECT cluster of the headline seed, its
# clinical r, the SVR r and PLS1) recomputed for every specification of the `multiverse` config section
# ({spec} wildcard), rerunning only what each choice affects: a new denoising preset / GSR / seed radius (an FC
# variant, {fcv}) recomputes the FC maps (one job per variant and scan); a specification of the main run's FC
# variant reuses results/fc/. Then the spec's group maps (one job per spec), its headline numbers (one job per
# spec), the specification table and the specification-curve figure.
# Library: fcect.multiverse (+ fcect.figures.multiverse). Config section: `multiverse`. Report category: Multiverse.
import re

from fcect.multiverse import specs as MV
from fcect.preprocess.denoise import PRESETS as _MV_PRESETS

MV_CFG = config["multiverse"]
MV_SPECS = MV.expand(MV_CFG, config, _MV_PRESETS)
MV_BY_ID = {s["id"]: s for s in MV_SPECS}
MV_VARIANTS = MV.fc_variants(MV_SPECS)
MV_RADII = sorted({f"{r:g}" for _, r in MV_VARIANTS.values() if r is not None})
MV_SEED = PRED["seed"]  # the headline seed (ECT cluster, clinical r, SVR r, PLS1)
MV_PAIRS = [("baseline", s) for s in SEED_IDS if "baseline" in GROUP_CONTRASTS] + [("ect", MV_SEED)]
MV_TABLE = f"{MV.ROOT}/specifications.tsv"
MV_HEADLINE = f"{MV.spec_dir()}/headline.json"
if MV_SPECS and "ect" not in GROUP_CONTRASTS:
    raise ValueError("multiverse: the headline ECT cluster needs 'ect' among group.contrasts (or multiverse.enabled: "
                     "false)")


wildcard_constraints:
    spec="|".join(re.escape(s) for s in MV_BY_ID) or "NO_SPEC",
    fcv="|".join(re.escape(v) for v in MV_VARIANTS) or "NO_VARIANT",
    radius="[0-9.]+",


rule multiverse_seeds:
    input:
        seeds=SEEDS_TABLE,
        cerebellum=MASKS["cerebellum"],
        code=library("multiverse_seeds.py"),
    output:
        seeds=MV.variant_seeds("{radius}"),
        seeds_tsv=MV.variant_seeds("{radius}", "tsv"),
    params:
        min_voxels=config["seeds"]["min_voxels"],
    log:
        "logs/multiverse/seeds_radius-{radius}.log",
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/multiverse_seeds.py"


rule multiverse_fc:
    input:
        unpack(scan_files),
        unpack(lambda wc: MV.variant_seed_inputs(MV_VARIANTS, wc.fcv, MASKS["seeds"], MASKS["seeds_tsv"])),
        analysis_mask=MASKS["analysis"],
        validation=VALIDATION,
        code=library("multiverse_fc.py"),
    output:
        maps=expand(MV.variant_fc_map(FC_PATTERN), seed=SEED_IDS, allow_missing=True),
        info=MV.variant_fc_map(P.denoise_info()),
    params:
        denoise=config["denoise"],
        choice=lambda wc: MV_VARIANTS[wc.fcv][0],
        seed_ids=SEED_IDS,
        runs=scan_runs,
    log:
        "logs/multiverse/fc/{fcv}/sub-{sub}_ses-{ses}.log",
    benchmark:
        "benchmarks/multiverse/fc/{fcv}/sub-{sub}_ses-{ses}.tsv"
    threads: 1
    resources:
        # as rule denoise_fc (the same library call on the same scan)
        mem_mb=lambda wc, input, attempt: attempt * max(3000, 2000 + 10 * bold_mb(input)),
        runtime=lambda wc, input, attempt: attempt * max(15, 10 + bold_mb(input) // 10),
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/multiverse_fc.py"


rule multiverse_group:
    input:
        maps=lambda wc: MV.group_fc_inputs(MV_BY_ID[wc.spec], MV_PAIRS, SCANS, SES_PRE, SES_POST, fc_map),
        participants=PARTICIPANTS_INCLUDED,
        mask=MASKS["analysis"],
        code=library("multiverse_group.py"),
    output:
        [MV.spec_group_file(f, contrast=c, seed=k) for c, k in MV_PAIRS for f in P.GROUP_FILES],
    params:
        pairs=MV_PAIRS,
        group=lambda wc: MV.group_config(GROUP, MV_BY_ID[wc.spec], MV_CFG["n_perm"]),
        out_dirs=lambda wc: [str(Path(MV.spec_group_file("x", wc.spec, c, k)).parent) for c, k in MV_PAIRS],
        random_seed=config["random_seed"],
        n_seeds=len(SEED_IDS),
        sessions=SESSIONS,
    log:
        "logs/multiverse/group_{spec}.log",
    benchmark:
        "benchmarks/multiverse/group_{spec}.tsv"
    threads: job_threads(GROUP["threads"])
    resources:
        # one group analysis per (contrast, seed) of MV_PAIRS in turn, with one FWE method each (rule
        # group_inference: ~0.4 GB, minutes per method with 5000 permutations at paper size)
        mem_mb=lambda wc, attempt: attempt * 3000,
        runtime=lambda wc, attempt: attempt * 10 * len(MV_PAIRS),
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/multiverse_group.py"


rule multiverse_headline:
    input:
        unpack(lambda wc: {f"tx_{k}": v for k, v in dict(TX_EXPRESSION_FILES, atlas=TX_ATLAS).items()}
               if MV_CFG["pls"] else {}),
        participants=PARTICIPANTS_INCLUDED,
        mask=MASKS["analysis"],
        fc=lambda wc: [MV.spec_fc_map(MV_BY_ID[wc.spec], fc_map(s, t, MV_SEED)) for s, t in SCANS],
        baseline=[MV.spec_group_file("clusters.tsv", contrast="baseline", seed=k) for c, k in MV_PAIRS
                  if c == "baseline"],
        ect=[MV.spec_group_file(f, contrast="ect", seed=MV_SEED) for f in P.GROUP_FILES],
        code=library("multiverse_headline.py"),
    output:
        json=MV_HEADLINE,
        response=f"{MV.spec_dir()}/regional_response.tsv",
    params:
        spec=lambda wc: MV_BY_ID[wc.spec],
        baseline_seeds=[k for c, k in MV_PAIRS if c == "baseline"],
        seed=MV_SEED,
        cfg={"prediction": PRED, "transcriptomics": TX, "sessions": SESSIONS, "reduction": HAMD_REDUCTION,
             "alpha": MV_CFG["alpha"], "n_permutations": MV_CFG["n_permutations"],
             "random_seed": PRED_SEED_RANDOM, "pls_nulls": MV_CFG["pls_nulls"] if MV_CFG["pls"] else 0,
             "tx_random_seed": TX_SEED_RANDOM},
    log:
        "logs/multiverse/headline_{spec}.log",
    benchmark:
        "benchmarks/multiverse/headline_{spec}.tsv"
    threads: 1
    resources:
        # one seed's maps of every scan (as rule predict_svr) and the expression matrix (as transcriptomics_pls)
        mem_mb=lambda wc, attempt: attempt * 3000,
        runtime=lambda wc, attempt: attempt * 30,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/multiverse_headline.py"


rule multiverse_table:
    input:
        headline=expand(MV_HEADLINE, spec=list(MV_BY_ID)),
        code=library("multiverse_table.py"),
    output:
        tsv=MV_TABLE,
        html=report(P.table("multiverse", "html"), caption="../report/table_multiverse.rst", category="Multiverse",
                    subcategory="Specifications", labels={"table": "specifications"}),
    log:
        "logs/multiverse/table.log",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/multiverse_table.py"


rule figure_multiverse:
    input:
        table=MV_TABLE,
        code=library("figure_multiverse.py"),
    output:
        png=report(P.figure("multiverse_spec_curve"), caption="../report/multiverse.rst", category="Multiverse",
                   subcategory="Specification curve", labels={"figure": "specification curve"}),
        vector=P.figure("multiverse_spec_curve", FIG_EXT),
    params:
        dpi=FIG["dpi"],
    log:
        "logs/figures/multiverse.log",
    threads: 1
    resources:
        **FIG_RES,
    conda:
        "../envs/analysis.yaml"
    script:
        "../scripts/figure_multiverse.py"


TARGETS["multiverse"] = ([MV_TABLE, P.table("multiverse", "html")] + figure_outputs("multiverse_spec_curve")
                         if MV_SPECS else [])
