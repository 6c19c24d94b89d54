"""Group stage figures: per contrast and seed, the uncorrected and the FWE-thresholded t map; per contrast, the
grid of FWE-thresholded t maps of every seed with a significant cluster (Figures 2 and 3)."""
from __future__ import annotations

import matplotlib.pyplot as plt

from fcect.figures.style import (DIVERGING, WIDTH_IN, Inches, message_figure, network_colour, pretty,
                                 slice_positions, stat_colorbar, style, symmetric_vmax)


def _brain_row(fig, box, img, cuts, vmax, threshold, display="slices", glass_w=2.45):
    """Glass brain (lzr) + axial slices (``display='slices'``) or a 4-view glass brain, in the inch box
    (left, top, width, height); small annotations."""
    from nilearn import plotting

    left, top, width, height = box
    P = Inches(fig)
    kw = dict(threshold=threshold, vmax=vmax, colorbar=False, cmap=DIVERGING, figure=fig, annotate=False,
              symmetric_cbar=True)
    if display == "glass":
        d = plotting.plot_glass_brain(img, display_mode="lyrz", axes=P.axes(left, top, width, height),
                                      plot_abs=False, **kw)
        d.annotate(size=6.5)
        return
    d = plotting.plot_glass_brain(img, display_mode="lzr", axes=P.axes(left, top, glass_w, height), plot_abs=False,
                                  **kw)
    d.annotate(size=6.5)
    d = plotting.plot_stat_map(img, display_mode="z", cut_coords=cuts,
                               axes=P.axes(left + glass_w + 0.05, top, width - glass_w - 0.05, height),
                               draw_cross=False, black_bg=False, dim=-0.3, **kw)
    d.annotate(size=6.5, left_right=True, positions=True, decimals=0)


def group_grid_figure(rows, contrast_label, stat_label, method_label, alpha, display="slices", n_slices=5,
                      title=None):
    """Figures 2 and 3: one row per seed with a significant result: FWE-thresholded t map.

    ``rows``: list of dicts(seed, network, t_img (thresholded), clusters (DataFrame of the shown method)).
    ``display``: ``slices`` (glass brain + axial slices through the cluster peaks) or ``glass`` (glass brain,
    four projections). Shared symmetric colour scale; one colour bar labelled with the statistic."""
    style()
    if not rows:
        return message_figure(title or "Group comparison",
                              f"No cluster survived FWE correction ({method_label}, p < {alpha:g}) for any seed.")
    row_h, top, bottom = 1.25, 0.45, 0.95
    fig = plt.figure(figsize=(WIDTH_IN, top + bottom + row_h * len(rows)))
    P = Inches(fig)
    vmax = symmetric_vmax([r["t_img"] for r in rows])
    label_w = 0.95
    for i, r in enumerate(rows):
        y = top + i * row_h
        nclu = len(r["clusters"]) if r.get("clusters") is not None else 0
        P.text(0.1, y + 0.38, r["seed"], fontsize=9, fontweight="bold", color=network_colour(r.get("network", "")))
        P.text(0.1, y + 0.6, f"{pretty(r.get('network', ''))}\n{nclu} cluster{'s' if nclu != 1 else ''}",
               fontsize=6.8, color="0.25")
        cuts = slice_positions(r.get("clusters"), n_slices, r["t_img"])
        _brain_row(fig, (label_w, y + 0.05, WIDTH_IN - label_w - 0.05, row_h - 0.12), r["t_img"], cuts, vmax, 1e-6,
                   display)
    yb = top + len(rows) * row_h + 0.12
    stat_colorbar(fig, P.rect(2.1, yb, 2.8, 0.12), vmax, stat_label)
    P.text(WIDTH_IN / 2, yb + 0.55, f"voxels with FWE-corrected p < {alpha:g} ({method_label}); red: "
                                    f"{contrast_label[0]}, blue: {contrast_label[1]}",
           ha="center", fontsize=6.8, color="0.25")
    if title:
        P.text(WIDTH_IN / 2, 0.1, title, ha="center", fontsize=9.5)
    return fig


def group_seed_figure(t_img, thr_img, clusters, seed, stat_label, method_label, alpha, t_display, t_display_note,
                      direction, title=None, n_slices=5):
    """One contrast and seed: (a) the unthresholded t map above ``t_display`` (uncorrected, for orientation);
    (b) the FWE-thresholded map, or a note that no cluster survived."""
    style()
    n = 0 if clusters is None else len(clusters)
    row_h = 1.3
    hb = row_h if n else 0.45
    fig = plt.figure(figsize=(WIDTH_IN, 0.45 + 0.25 + row_h + 0.25 + hb + 0.95))
    P = Inches(fig)
    vmax = symmetric_vmax([t_img])
    cuts = slice_positions(clusters, n_slices, t_img, threshold=t_display)
    if title:
        P.text(WIDTH_IN / 2, 0.1, title, ha="center", fontsize=9.5)
    P.text(0.08, 0.45, f"a  t map, |t| > {t_display:.2f} ({t_display_note}), uncorrected", fontsize=8,
           fontweight="bold")
    _brain_row(fig, (0.05, 0.7, WIDTH_IN - 0.1, row_h - 0.1), t_img, cuts, vmax, t_display)
    yb = 0.7 + row_h
    P.text(0.08, yb, f"b  FWE-corrected, {method_label}, p < {alpha:g}: {n} cluster{'s' if n != 1 else ''}",
           fontsize=8, fontweight="bold")
    if n:
        _brain_row(fig, (0.05, yb + 0.25, WIDTH_IN - 0.1, row_h - 0.1), thr_img, cuts, vmax, 1e-6)
    else:
        P.text(WIDTH_IN / 2, yb + 0.25, f"No cluster survived FWE correction ({method_label}, p < {alpha:g}).",
               ha="center", fontsize=7.5, color="0.3")
    yc = yb + 0.25 + hb + 0.1
    stat_colorbar(fig, P.rect(2.1, yc, 2.8, 0.12), vmax, stat_label, threshold=t_display)
    P.text(WIDTH_IN / 2, yc + 0.55, f"red: {direction[0]}, blue: {direction[1]}; black ticks: display threshold "
                                    f"of panel a", ha="center", fontsize=6.8, color="0.25")
    return fig
