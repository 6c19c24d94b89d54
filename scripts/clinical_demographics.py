"""Rule clinical_demographics: Table 1 (TSV + markdown) and the exclusion list."""
from fcect.clinical import demographics as Dm
from fcect.core.io import read_tsv, run_logged, save_text, save_tsv


def main(smk, log):
    p = smk.params
    part = read_tsv(smk.input.participants)
    motion = read_tsv(smk.input.motion)
    table = Dm.demographics_table(part, ttest=p.ttest, yates=p.yates, sample=p.sample,
                                  reduction=p.reduction)
    excl = Dm.exclusions_table(part, motion, sessions=p.sessions)
    save_tsv(table, smk.output.table, float_format="%.6g")
    save_tsv(excl, smk.output.exclusions, float_format="%.6g")
    save_text(Dm.render_markdown(table, excl, ttest=p.ttest, yates=p.yates), smk.output.markdown)
    log.info("demographics: %d rows, %d exclusions / missing scans", len(table), len(excl))


run_logged(snakemake, main)  # noqa: F821
