"""Transcriptomics stage figures: PLS1 against its spatial null, regional response vs PLS1 score and the top genes
(Figure 6a-c), the Desikan-Killiany maps of the response and the PLS1 score on the fsaverage5 surface (Figure 6d),
and the enrichment of the gene lists per gene-set library (Figure 7). Contrast names and gene-list titles:
fcect.core.vocabulary."""
from __future__ import annotations

import re
import textwrap

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D

from fcect.core.vocabulary import CONTRAST_NAME, GENE_LIST_TITLE, GENE_LISTS, contrast_label
from fcect.figures.style import DIVERGING, WIDTH_IN, Inches, fmt_p, stat_colorbar, style, text_panel

# bar colours of the gene lists (PLS1+ red, PLS1- blue as in Figure 6)
LIST_COLOURS = {"pls1pos": "#D55E00", "pls1neg": "#0072B2", "gsea": "#009E73"}


def _regions_frame(pls: dict) -> pd.DataFrame:
    return pd.DataFrame(pls.get("regions") or [], columns=["id", "label", "structure", "n_voxels", "response",
                                                           "pls1_score"])


def pls_figure(pls: dict, null_var: np.ndarray | None, genes: pd.DataFrame | None, top_genes: int = 15,
               response_label="regional mean t"):
    """Figure 6a-d: (a) PLS1 variance explained against its spatial null; (b) regional response vs PLS1 score;
    (c, d) the top PLS1+ and PLS1- genes by |bootstrap Z| (FDR-significant ones filled)."""
    style()
    fig = plt.figure(figsize=(WIDTH_IN, 2.6 + 0.16 * top_genes + 0.6))
    gs = fig.add_gridspec(2, 2, height_ratios=[2.0, 0.16 * top_genes], left=0.1, right=0.98,
                          top=1 - 0.5 / fig.get_figheight(), bottom=0.45 / fig.get_figheight(), wspace=0.35,
                          hspace=0.3)
    comps = pls.get("components") or []
    c1 = comps[0] if comps else {}
    ve, p = c1.get("var_explained", np.nan), c1.get("p_spatial", c1.get("p_null", np.nan))
    ax = fig.add_subplot(gs[0, 0])
    if null_var is not None and len(null_var):
        nv = 100 * np.asarray(null_var, float)
        ax.hist(nv, bins=min(50, max(10, len(nv) // 20)), color="0.75", edgecolor="white", lw=0.3)
        ax.set_ylabel("spatial nulls")
    else:
        ax.set_yticks([])
    ax.axvline(100 * ve, color="#D55E00", lw=1.5)
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, hi * 1.3)
    nn = len(null_var) if null_var is not None else 0
    ax.text(0.98, 0.97, f"PLS1: {100 * ve:.1f}% (orange)\np(spatial) {fmt_p(p)}, {nn:,} nulls",
            transform=ax.transAxes, ha="right", va="top", fontsize=6.8,
            bbox=dict(facecolor="white", edgecolor="none", alpha=0.85, pad=1.0))
    ax.set_xlabel("variance of the response explained by PLS1 (%)")
    ax.set_title("a  PLS1 against spatially autocorrelated nulls", loc="left", fontsize=8)
    ax = fig.add_subplot(gs[0, 1])
    reg = _regions_frame(pls)
    if len(reg):
        cols = np.where(reg["structure"].astype(str) == "cortex", "#0072B2", "#E69F00")
        ax.scatter(reg["pls1_score"], reg["response"], c=cols, s=14, edgecolor="white", lw=0.4, zorder=3)
        if len(reg) > 2:
            b, a = np.polyfit(reg["pls1_score"], reg["response"], 1)
            xx = np.linspace(reg["pls1_score"].min(), reg["pls1_score"].max(), 2)
            ax.plot(xx, a + b * xx, color="black", lw=0.9)
        r = c1.get("r_scores_response", np.corrcoef(reg["pls1_score"], reg["response"])[0, 1] if len(reg) > 2
                   else np.nan)
        ax.text(0.03, 0.97, f"r = {r:.2f}, {len(reg)} regions", transform=ax.transAxes, va="top", fontsize=6.8)
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + 0.2 * (hi - lo))
        if (reg["structure"].astype(str) != "cortex").any():
            ax.legend(handles=[Line2D([], [], marker="o", lw=0, color="#0072B2", label="cortex"),
                               Line2D([], [], marker="o", lw=0, color="#E69F00", label="subcortex")],
                      loc="lower right", frameon=False, fontsize=6.5)
    ax.set_xlabel("PLS1 score (weighted gene expression)")
    ax.set_ylabel(response_label)
    ax.set_title("b  Regional response vs PLS1 score", loc="left", fontsize=8)
    n_pos = int((genes["list"] == "PLS1+").sum()) if genes is not None and "list" in genes else 0
    n_neg = int((genes["list"] == "PLS1-").sum()) if genes is not None and "list" in genes else 0
    for j, (sign, lab, col) in enumerate(((1, "PLS1+", "#D55E00"), (-1, "PLS1-", "#0072B2"))):
        ax = fig.add_subplot(gs[1, j])
        if genes is None or not len(genes) or "PLS1_z" not in genes:
            text_panel(ax, "No gene weights.")
            continue
        g = genes.dropna(subset=["PLS1_z"])
        g = g[np.sign(g["PLS1_z"]) == sign].sort_values("PLS1_z", ascending=sign < 0, key=np.abs)
        g = g.reindex(g["PLS1_z"].abs().sort_values(ascending=False).index).head(top_genes)
        yy = np.arange(len(g))[::-1]
        sig = g["list"].astype(str).eq(lab).to_numpy() if "list" in g else np.zeros(len(g), bool)
        ax.barh(yy, g["PLS1_z"].abs(), color=[col if s_ else "white" for s_ in sig], edgecolor=col, lw=0.7,
                height=0.72)
        ax.set_yticks(yy, g["gene"].astype(str), fontsize=6.3, fontstyle="italic")
        ax.set_ylim(-0.6, top_genes - 0.4)
        ax.set_xlabel(f"|PLS1 bootstrap Z| ({'positive' if sign > 0 else 'negative'} weights)")
        n_sig = n_pos if sign > 0 else n_neg
        ax.set_title(f"{'cd'[j]}  Top {lab} genes ({n_sig:,} pass FDR: filled)", loc="left",
                     fontsize=8, color=col)
    con = contrast_label(pls.get("contrast"), CONTRAST_NAME)
    fig.suptitle(f"Imaging transcriptomics: {con} t map of seed {pls.get('seed', '')} x AHBA expression (PLS)",
                 y=0.985, va="top")
    return fig


def surface_figure(pls: dict, response_label="regional mean t"):
    """Figure 6d: the left-hemisphere Desikan-Killiany maps of the regional response and of the PLS1 score on the
    fsaverage5 inflated surface (nilearn), lateral and medial views; regions not analysed are grey."""
    from nilearn import datasets, plotting

    from fcect.transcriptomics.nulls import dk_surface_labels

    style()
    reg = _regions_frame(pls)
    labels, table = dk_surface_labels("lh")
    by_name = {str(v).lower(): k for k, v in table.items()}
    fs = datasets.load_fsaverage("fsaverage5")
    mesh = fs["inflated"].parts["left"]
    sulc = datasets.load_fsaverage_data(mesh="fsaverage5", mesh_type="inflated", data_type="sulcal")
    bg = np.asarray(sulc.data.parts["left"], float)
    fig = plt.figure(figsize=(WIDTH_IN, 2.85))
    P = Inches(fig)
    maps = [("response", response_label, DIVERGING), ("pls1_score", "PLS1 score", DIVERGING)]
    for i, (col, lab, cmap) in enumerate(maps):
        tex = np.full(labels.shape, np.nan)
        for r in reg.itertuples():
            k = by_name.get(str(r.label).lower().removeprefix("l_").removeprefix("lh_"))
            if k is not None and str(r.structure) == "cortex":
                tex[labels == k] = getattr(r, col)
        v = np.nanmax(np.abs(tex)) if np.isfinite(tex).any() else 1.0
        for j, view in enumerate(("lateral", "medial")):
            ax = P.axes(0.05 + i * 3.5 + j * 1.7, 0.3, 1.7, 1.7, projection="3d")
            plotting.plot_surf_stat_map(mesh, tex, hemi="left", view=view, bg_map=bg, axes=ax, figure=fig,
                                        colorbar=False, cmap=cmap, vmin=-v, vmax=v, threshold=None)
            ax.set_box_aspect(None, zoom=1.45)
            for c in ax.collections:  # the mesh (10,242 faces) as an image in the vector copy: as SVG paths it
                c.set_rasterized(True)  # took 27 s to write and 30 MB; the PNG is unchanged
        stat_colorbar(fig, P.rect(0.55 + i * 3.5, 2.1, 2.4, 0.1), v, lab, cmap=cmap)
        P.text(0.1 + i * 3.5, 0.1, f"{'ab'[i]}  {lab}", fontsize=8)
    P.text(WIDTH_IN / 2, 2.62, "Left hemisphere, Desikan-Killiany regions, lateral and medial views; grey: not "
                               "analysed", ha="center", fontsize=6.8, color="0.3")
    return fig


def short_term(term, width=64) -> str:
    """A gene-set name shortened for an axis label, keeping a trailing identifier such as '(GO:0007268)'."""
    term = str(term)
    m = re.match(r"^(.*?)\s*(\((?:GO|R-HSA|hsa)[^()]*\))$", term)
    if m and len(term) > width:
        head, ident = m.groups()
        return textwrap.shorten(head, max(10, width - len(ident) - 1), placeholder="...") + " " + ident
    return textwrap.shorten(term, width, placeholder="...")


def enrichment_figure(tables: dict, library: str, top_terms: int = 10, alpha: float = 0.05):
    """Figure 7: per list (PLS1+, PLS1- over-representation; preranked GSEA on PLS1 Z) the top terms by the
    spatially calibrated q; bar length -log10 q (gene-permutation q when no calibration), filled if q < alpha."""
    style()
    keys = [k for k in GENE_LISTS if k in tables]
    rows = max(1, top_terms)
    fig = plt.figure(figsize=(WIDTH_IN, 0.75 + len(keys) * (0.2 * rows + 0.55)))
    H = fig.get_figheight()
    P = Inches(fig)
    y = 0.5
    for k in keys:
        df = tables[k]
        qcol = "q_spatial" if "q_spatial" in df and df["q_spatial"].notna().any() else "q_geneperm"
        d = df.dropna(subset=[qcol]).sort_values([qcol, "p_geneperm"] if "p_geneperm" in df else [qcol],
                                                 kind="stable").head(top_terms)
        h = 0.2 * rows
        ax = P.axes(3.3, y + 0.25, WIDTH_IN - 3.3 - 0.35, h)
        if len(d):
            q = np.clip(d[qcol].to_numpy(float), 1e-300, 1)
            val = -np.log10(q)
            yy = np.arange(len(d))[::-1]
            sig = q < alpha
            if k == "gsea" and "nes" in d:   # colour = direction of the enrichment along PLS1 Z
                cols = ["#D55E00" if (np.isfinite(v_) and v_ > 0) else "#0072B2" for v_ in d["nes"].to_numpy(float)]
            else:
                cols = [LIST_COLOURS[k]] * len(d)
            ax.barh(yy, val, color=[c_ if s_ else "white" for c_, s_ in zip(cols, sig)], edgecolor=cols, lw=0.7,
                    height=0.7)
            ax.axvline(-np.log10(alpha), color="0.3", ls="--", lw=0.7)
            ax.set_yticks(yy, [short_term(t) for t in d["term"]], fontsize=6.3)
            ax.set_ylim(-0.6, rows - 0.4)
            ax.set_xlim(0, max(1.5, float(val.max()) * 1.3, -np.log10(alpha) * 1.3))
            if k == "gsea" and "nes" in d:
                extra = [f"NES {v_:+.2f}" if np.isfinite(v_) else "" for v_ in d["nes"].to_numpy(float)]
            elif "overlap" in d:
                extra = [f"{int(o)} genes" for o in d["overlap"]]
            else:
                extra = [""] * len(d)
            for yi, v_, qq, e_ in zip(yy, val, q, extra):
                ax.text(v_, yi, f" q = {qq:.2g}" + (f", {e_}" if e_ else ""), va="center", fontsize=5.8,
                        color="0.3")
            if not sig.any():
                ax.text(0.98, 0.04, f"no term with q < {alpha:g}", transform=ax.transAxes, ha="right",
                        va="bottom", fontsize=6.8, color="0.3")
        else:
            text_panel(ax, "No term tested (empty list or no set within the size limits).")
        ax.set_xlabel(f"-log10 q ({'spatially calibrated' if qcol == 'q_spatial' else 'gene permutation'})",
                      fontsize=7)
        ax.set_title(f"{GENE_LIST_TITLE[k]}" + (" (red: positive NES, blue: negative)" if k == "gsea" else ""),
                     loc="left", fontsize=8, color=LIST_COLOURS[k])
        y += h + 0.55
    fig.suptitle(f"Enrichment, {library}: top {top_terms} terms per list (filled: q < {alpha:g}; dashed: q = "
                 f"{alpha:g})", y=1 - 0.08 / H, va="top")
    return fig
