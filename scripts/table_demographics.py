"""Rule table_demographics: Table 1 and the exclusion list rendered as HTML for the report."""
from fcect.core.html import table_html
from fcect.core.io import read_tsv, run_logged, save_text


def main(smk, log):
    t = read_tsv(smk.input.table)
    ex = read_tsv(smk.input.exclusions)
    cols = [c for c in ("section", "variable", "summary", "TRD", "HC", "test", "statistic", "df", "p", "note")
            if c in t.columns]
    html = table_html(t[cols], "Table 1. Demographic and clinical characteristics",
                        "Continuous variables: mean (SD), two-sample t test; sex: chi-square test; HAMD and mean FD "
                        "before vs after ECT: paired t test in completers. Two-sided p.")
    html_ex = table_html(ex, f"Exclusions and missing scans ({len(ex)})")
    body_ex = html_ex[html_ex.index("<h3>"):html_ex.index("</body>")]
    save_text(html.replace("</body>", body_ex + "</body>"), smk.output.html)
    log.info("Table 1: %d rows, %d exclusions", len(t), len(ex))


run_logged(snakemake, main)  # noqa: F821
