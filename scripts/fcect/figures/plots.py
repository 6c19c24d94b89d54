"""Paper figures: pure plotting functions (data in, matplotlib Figure out) and an atomic saver.

Every figure is ``WIDTH_IN`` (7.0 in, a two-column journal page) or ``HALF_WIDTH_IN`` wide, saved as PNG at
``dpi`` (300) plus a vector copy (SVG or PDF), without ``bbox_inches='tight'`` so that the pixel size is exactly
``figsize x dpi`` (checked by the tests). Layout is done explicitly so that nothing is clipped.

Colours: Okabe-Ito (colour-blind safe) for groups and networks; diverging ``RdBu_r`` centred on zero for signed
statistics (red = positive t, i.e. the first named direction of the contrast); every colour bar names the statistic.
The ``scripts/figures_*.py`` wrappers read the workflow's result files and call these functions.
"""
from __future__ import annotations

import os
import re
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from fcect.core.participants import as_bool, hamd_reduction

WIDTH_IN = 7.0
HALF_WIDTH_IN = 3.5
DPI = 300

# Okabe & Ito (2008) colour-blind-safe palette
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
NETWORK_COLOURS = {"executive": "#0072B2", "default_mode": "#E69F00", "affective_limbic": "#CC79A7"}
GROUP_COLOURS = {"HC": "#0072B2", "TRD": "#D55E00", "HC pre": "#0072B2", "TRD pre": "#D55E00",
                 "TRD post": "#009E73"}
DIVERGING = "RdBu_r"

RC = {
    "font.size": 8, "axes.titlesize": 8.5, "axes.labelsize": 8, "xtick.labelsize": 7, "ytick.labelsize": 7,
    "legend.fontsize": 7, "figure.titlesize": 9.5, "axes.spines.top": False, "axes.spines.right": False,
    "svg.fonttype": "none", "pdf.fonttype": 42, "savefig.facecolor": "white", "figure.facecolor": "white",
    "font.family": "DejaVu Sans",
}


def style():
    """Apply the paper style (call once per script)."""
    plt.rcParams.update(RC)


def network_colour(network: str, i: int = 0) -> str:
    return NETWORK_COLOURS.get(str(network), OKABE_ITO[(i + 4) % len(OKABE_ITO)])


def pretty(name: str) -> str:
    """'default_mode' -> 'default mode'."""
    return str(name).replace("_", " ")


def fmt_p(p, digits: int = 3) -> str:
    """p for a panel: 'p = 0.012', 'p < 0.001', 'p = n/a'."""
    try:
        p = float(p)
    except (TypeError, ValueError):
        return "n/a"
    if not np.isfinite(p):
        return "n/a"
    if p < 10 ** -digits:
        return f"< {10 ** -digits:.{digits}f}"
    return f"= {p:.{digits}f}"


def save_figure(fig, png, vector=None, dpi: int = DPI):
    """Write ``fig`` to ``png`` (``dpi``) and ``vector`` (format from its suffix) atomically; close it."""
    from fcect.core.io import atomic_path

    for path, kw in ((png, dict(dpi=dpi, format="png")), (vector, {})):
        if path is None:
            continue
        fmt = kw.get("format") or Path(path).suffix.lstrip(".").lower()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, **{k: v for k, v in kw.items() if k != "format"},
                        metadata=_metadata(fmt))
    plt.close(fig)


def _metadata(fmt):
    # reproducible files: no creation date in the vector formats
    if fmt == "svg":
        return {"Date": None}
    if fmt == "pdf":
        return {"CreationDate": None, "ModDate": None}
    return {"Software": "fcect (matplotlib)"}


def text_panel(ax, text, fontsize=8):
    """An empty axis carrying a centred message (used when a result does not exist)."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, "\n".join(textwrap.wrap(text, 70)), ha="center", va="center", fontsize=fontsize,
            transform=ax.transAxes, color="0.25")


def message_figure(title, text, width=WIDTH_IN, height=1.6):
    style()
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes([0.02, 0.02, 0.96, 0.8])
    text_panel(ax, text)
    fig.suptitle(title, y=0.95)
    return fig


# ---------------------------------------------------------------------------------------------------- seeds
def seed_label_image(seeds_img, seeds: pd.DataFrame):
    """3-D image whose voxels carry 1 + the network index of the seed covering them (0 elsewhere), and the list of
    networks in index order."""
    import nibabel as nib

    data = np.asarray(seeds_img.dataobj)
    if data.ndim == 3:
        data = data[..., None]
    networks = list(dict.fromkeys(seeds["network"].astype(str)))
    out = np.zeros(data.shape[:3], np.int16)
    for k, net in enumerate(seeds["network"].astype(str)):
        out[data[..., k] > 0] = networks.index(net) + 1
    return nib.Nifti1Image(out, seeds_img.affine), networks


def crop_to_box(img, box):
    """Crop ``img`` to the MNI bounding box ``box`` = ((x0, x1), (y0, y1), (z0, z1)) in mm."""
    import nibabel as nib

    inv = np.linalg.inv(img.affine)
    corners = np.array([[x, y, z] for x in box[0] for y in box[1] for z in box[2]])
    ijk = nib.affines.apply_affine(inv, corners)
    lo = np.clip(np.floor(ijk.min(axis=0)).astype(int), 0, None)
    hi = np.minimum(np.ceil(ijk.max(axis=0)).astype(int) + 1, img.shape[:3])
    return img.slicer[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]


CEREBELLUM_BOX = ((-62, 62), (-102, -22), (-72, 2))


def anat_background(template=None, box=None):
    """The MNI152 (2009) T1 template (nilearn package data), optionally cropped."""
    if template is None:
        from nilearn.datasets import load_mni152_template

        template = load_mni152_template(resolution=1)
    return crop_to_box(template, box) if box is not None else template


def plot_background(img, ax, fig, cut_coords, display_mode="ortho"):
    """Grey-scale anatomy on a white background (zeros transparent), small annotations."""
    from nilearn import plotting

    data = np.asarray(img.dataobj)
    vmax = float(np.percentile(data[data > 0], 99.5)) if (data > 0).any() else 1.0
    disp = plotting.plot_img(img, display_mode=display_mode, cut_coords=cut_coords, axes=ax, figure=fig,
                             threshold=vmax * 0.02, cmap="gray", vmin=0, vmax=vmax, colorbar=False,
                             black_bg=False, draw_cross=False, annotate=False)
    disp.annotate(size=6.5, left_right=True, positions=True, decimals=0)
    return disp


def seeds_figure(seeds_img, seeds: pd.DataFrame, cerebellum_img=None, template=None, radius_note=""):
    """Figure 1: the seed spheres on the MNI template (cropped to the cerebellum), one orthogonal view centred on
    each seed, all seeds coloured by network; the cerebellar grey-matter mask they are restricted to is outlined."""
    style()
    bg = anat_background(template, CEREBELLUM_BOX)
    lab, networks = seed_label_image(seeds_img, seeds)
    cols = [network_colour(n, i) for i, n in enumerate(networks)]
    cmap = mcolors.ListedColormap(cols)
    n = len(seeds)
    ncol = 2
    nrow = int(np.ceil((n + 1) / ncol))
    row_h = 1.32
    top = 0.4
    fig = plt.figure(figsize=(WIDTH_IN, row_h * nrow + top + 0.05))
    H = fig.get_figheight()
    for i, r in enumerate(seeds.itertuples(index=False)):
        rr, cc = divmod(i, ncol)
        rect = [0.01 + cc * 0.5, 1 - (top + (rr + 1) * row_h) / H, 0.48, (row_h - 0.3) / H]
        ax = fig.add_axes(rect)
        disp = plot_background(bg, ax, fig, (r.x, r.y, r.z))
        if cerebellum_img is not None:
            disp.add_contours(cerebellum_img, levels=[0.5], colors=["0.35"], linewidths=0.5)
        disp.add_overlay(lab, cmap=cmap, vmin=0.5, vmax=len(networks) + 0.5, threshold=0.5, transparency=0.9)
        disp.add_markers([(r.x, r.y, r.z)], marker_color="black", marker_size=14, marker="+", linewidths=0.8)
        nvox = f", {int(r.n_voxels)} voxels" if hasattr(r, "n_voxels") and pd.notna(r.n_voxels) else ""
        col = network_colour(r.network, networks.index(str(r.network)))
        fig.text(rect[0] + 0.005, rect[1] + rect[3] + 0.17 / H, f"{r.seed_id}", fontsize=8.5, fontweight="bold",
                 color=col, va="bottom")
        fig.text(rect[0] + 0.085, rect[1] + rect[3] + 0.17 / H,
                 f"{r.lobule} {r.hemi}, {pretty(r.network)}", fontsize=7.5, color=col, va="bottom")
        fig.text(rect[0] + 0.005, rect[1] + rect[3] + 0.03 / H,
                 f"MNI ({r.x:g}, {r.y:g}, {r.z:g}), radius {float(r.radius_mm):g} mm{nvox}", fontsize=6.8,
                 color="0.3", va="bottom")
    rr, cc = divmod(n, ncol)
    ax = fig.add_axes([0.01 + cc * 0.5 + 0.04, 1 - (top + (rr + 1) * row_h) / H, 0.42, (row_h - 0.1) / H])
    ax.set_axis_off()
    handles = [Patch(color=c, label=pretty(nn)) for nn, c in zip(networks, cols)]
    handles += [Line2D([], [], color="0.35", lw=0.8, label="cerebellar grey matter (seed restriction)"),
                Line2D([], [], color="black", marker="+", lw=0, label="seed centre")]
    ax.legend(handles=handles, loc="center left", frameon=False, title="network", fontsize=7.5,
              title_fontsize=8, alignment="left")
    fig.suptitle("Cerebellar seed regions" + (f" ({radius_note})" if radius_note else ""), y=1 - 0.08 / H,
                 va="top")
    return fig


# ---------------------------------------------------------------------------------------------------- QC
def qc_figure(motion: pd.DataFrame, participants: pd.DataFrame, max_translation=2.0, max_rotation=2.0,
              max_mean_fd=None, fd_method="power", sessions=("pre", "post")):
    """QC: (a) mean FD per group and session (every scan, excluded ones marked), (b) maximum translation vs
    rotation with the exclusion thresholds, (c) included / excluded scans per group and session."""
    import seaborn as sns


    style()
    m = motion.copy()
    grp = dict(zip(participants["participant_id"], participants["group"]))
    m["group"] = m["participant_id"].map(grp).fillna("?")
    m["session"] = m["session"].astype(str).str.removeprefix("ses-")
    m["included"] = as_bool(m["included"]) if "included" in m else True
    m["cell"] = m["group"] + " " + m["session"]
    order = [c for c in (f"HC {sessions[0]}", f"TRD {sessions[0]}", f"TRD {sessions[1]}", f"HC {sessions[1]}")
             if c in set(m["cell"])] + sorted(set(m["cell"]) - {f"HC {sessions[0]}", f"TRD {sessions[0]}",
                                                                 f"TRD {sessions[1]}", f"HC {sessions[1]}"})
    pal = {c: GROUP_COLOURS.get(c.replace(sessions[0], "pre").replace(sessions[1], "post"), "0.5")
           for c in order}
    fig, axes = plt.subplots(1, 3, figsize=(WIDTH_IN, 2.6), gridspec_kw=dict(width_ratios=[1.15, 1.1, 1.0]))
    fig.subplots_adjust(left=0.075, right=0.99, bottom=0.2, top=0.83, wspace=0.45)
    ax = axes[0]
    inc_m = m[m["included"]]
    data = [inc_m.loc[inc_m["cell"] == c, "mean_fd"].dropna().to_numpy(float) for c in order]
    keep = [i for i, d in enumerate(data) if len(d)]
    bp = ax.boxplot([data[i] for i in keep], positions=keep, widths=0.55, showfliers=False, patch_artist=True,
                    medianprops=dict(color="0.15", lw=0.9), whiskerprops=dict(color="0.35", lw=0.8),
                    capprops=dict(color="0.35", lw=0.8), boxprops=dict(lw=0.8, color="0.35"))
    for patch, i in zip(bp["boxes"], keep):
        patch.set_facecolor(mcolors.to_rgba(pal[order[i]], 0.35))
    sns.stripplot(data=m[m["included"]], x="cell", y="mean_fd", order=order, hue="cell", palette=pal,
                  legend=False, ax=ax, size=2.6, jitter=0.18, alpha=0.9)
    ex = m[~m["included"]]
    if len(ex):
        xs = [order.index(c) for c in ex["cell"]]
        ax.scatter(xs, ex["mean_fd"], marker="x", color="black", s=18, lw=1.0, zorder=5, label="excluded scan")
    lo, hi = float(m["mean_fd"].min()), float(m["mean_fd"].max())
    ax.set_ylim(max(0.0, lo - 0.05 * (hi - lo)), hi + 0.3 * (hi - lo) + 1e-6)
    if len(ex):
        ax.text(0.02, 0.98, "× excluded scan", transform=ax.transAxes, va="top", ha="left", fontsize=6.8)
    if max_mean_fd:
        ax.axhline(max_mean_fd, color="0.3", ls="--", lw=0.8)
    ax.set_xticks(range(len(order)), order)
    ax.set_xlim(-0.6, len(order) - 0.4)
    ax.set_xlabel("")
    ax.set_ylabel(f"mean FD ({'Power' if fd_method == 'power' else 'Jenkinson'}), mm")
    ax.tick_params(axis="x", rotation=0)
    ax.set_title("a  Head motion per scan", loc="left")
    ax = axes[1]
    for c in order:
        s = m[m["cell"] == c]
        ax.scatter(s["max_translation_mm"], s["max_rotation_deg"], s=10, color=pal[c],
                   marker="o", alpha=0.85, label=c, edgecolor="none")
    if len(ex):
        ax.scatter(ex["max_translation_mm"], ex["max_rotation_deg"], marker="x", color="black", s=22, lw=1.0,
                   zorder=5, label="excluded")
    ax.axvline(max_translation, color="0.3", ls="--", lw=0.8,
               label=f"threshold ({max_translation:g} mm, {max_rotation:g}°)")
    ax.axhline(max_rotation, color="0.3", ls="--", lw=0.8)
    ax.set_xlabel("max |translation|, mm")
    ax.set_ylabel("max |rotation|, degrees")
    ax.set_xlim(0, max(max_translation * 1.6, float(m["max_translation_mm"].max()) * 1.08))
    ax.set_ylim(0, max(max_rotation * 1.6, float(m["max_rotation_deg"].max()) * 1.08))
    leg = ax.legend(loc="lower right", frameon=True, framealpha=1.0, edgecolor="none", fontsize=6.5,
              handletextpad=0.3, borderaxespad=0.1)
    leg.set_zorder(10)
    ax.set_title("b  Exclusion thresholds", loc="left")
    ax = axes[2]
    counts = m.groupby(["cell", "included"]).size().unstack(fill_value=0).reindex(order, fill_value=0)
    inc = counts.get(True, pd.Series(0, index=order))
    exc = counts.get(False, pd.Series(0, index=order))
    x = np.arange(len(order))
    ax.bar(x, inc, color=[pal[c] for c in order], width=0.6, label="included")
    has = np.asarray(exc) > 0
    ax.bar(x[has], np.asarray(exc)[has], bottom=np.asarray(inc)[has], color="white", edgecolor="black",
           hatch="///", width=0.6, lw=0.6, label="excluded")
    for xi, a, b in zip(x, inc, exc):
        ax.text(xi, a / 2, str(int(a)), ha="center", va="center", color="white", fontsize=7.5, fontweight="bold")
        if b:
            ax.text(xi, a + b + 0.01 * max(1, (inc + exc).max()), f"+{int(b)}", ha="center", va="bottom",
                    fontsize=7)
    ax.set_xticks(x, order)
    ax.set_ylabel("scans")
    ax.set_ylim(0, (inc + exc).max() * 1.4 + 0.5)
    ax.legend(loc="upper center", frameon=False, ncol=2, borderaxespad=0.0, handlelength=1.5)
    ax.set_title("c  Scans after QC", loc="left")
    for a in axes:
        for lab in a.get_xticklabels():
            lab.set_fontsize(6.8)
    return fig


# ---------------------------------------------------------------------------------------------------- group maps
def fwe_threshold_map(t_img, logp_img, alpha: float):
    """t image restricted to voxels with FWE p < alpha (zero elsewhere)."""
    import nibabel as nib

    t = np.asarray(t_img.get_fdata(), float)
    lp = np.asarray(logp_img.get_fdata(), float)
    out = np.where(lp > -np.log10(alpha), t, 0.0)
    return nib.Nifti1Image(out.astype(np.float32), t_img.affine)


def slice_positions(clusters: pd.DataFrame, n: int = 5, t_img=None, axis: str = "z", threshold=None):
    """Cut coordinates (mm) along ``axis``: the peaks of the largest clusters first, then the slices holding the
    most voxels of ``t_img`` above ``threshold`` (|t|), then evenly spaced cerebral slices; at least two voxels
    apart, sorted."""
    col = f"peak_{axis}"
    k = "xyz".index(axis)
    pos = []
    sep = 6.0
    if t_img is not None:
        sep = max(6.0, 2 * float(np.sqrt((t_img.affine[:3, k] ** 2).sum())))

    def add(v):
        if all(abs(v - p) >= sep - 1e-6 for p in pos) and len(pos) < n:
            pos.append(float(v))

    if clusters is not None and len(clusters):
        for v in clusters.sort_values("size_voxels", ascending=False)[col]:
            add(v)
    if len(pos) < n and t_img is not None:
        a = np.abs(np.asarray(t_img.get_fdata(), float))
        sup = np.nan_to_num(a) > (threshold if threshold else 0)
        counts = sup.sum(axis=tuple(i for i in range(3) if i != k))
        for idx in np.argsort(-counts, kind="stable"):
            if counts[idx] == 0:
                break
            ijk = np.zeros(3)
            ijk[k] = idx
            add(float((t_img.affine[:3, :3] @ ijk + t_img.affine[:3, 3])[k]))
    for v in np.linspace(-24, 60, n):
        add(v)
    return sorted(pos)


def stat_colorbar(fig, rect, vmax, label, threshold=None):
    cax = fig.add_axes(rect)
    norm = mcolors.Normalize(-vmax, vmax)
    cb = fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=DIVERGING), cax=cax, orientation="horizontal")
    cb.set_label(label, fontsize=7.5, labelpad=2)
    cb.ax.tick_params(labelsize=6.5, length=2, pad=1.5)
    if threshold:
        for v in (-threshold, threshold):
            cax.axvline(v, color="black", lw=0.6)
    return cb


def _vmax(imgs, floor=1.0):
    v = floor
    for im in imgs:
        if im is not None:
            a = np.abs(np.asarray(im.get_fdata()))
            if a.size and np.isfinite(a).any():
                v = max(v, float(np.nanmax(a)))
    return float(np.ceil(v * 2) / 2)


class _Inches:
    """Place axes by inches from the top-left corner of a figure of fixed size."""

    def __init__(self, fig):
        self.fig = fig
        self.W, self.H = fig.get_size_inches()

    def rect(self, left, top, width, height):
        return [left / self.W, 1 - (top + height) / self.H, width / self.W, height / self.H]

    def axes(self, left, top, width, height, **kw):
        return self.fig.add_axes(self.rect(left, top, width, height), **kw)

    def text(self, left, top, s, **kw):
        kw.setdefault("va", "top")
        return self.fig.text(left / self.W, 1 - top / self.H, s, **kw)


def _brain_row(fig, box, img, cuts, vmax, threshold, display="slices", glass_w=2.45):
    """Glass brain (lzr) + axial slices (``display='slices'``) or a 4-view glass brain, in the inch box
    (left, top, width, height); small annotations."""
    from nilearn import plotting

    left, top, width, height = box
    P = _Inches(fig)
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
    P = _Inches(fig)
    vmax = _vmax([r["t_img"] for r in rows])
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
    P = _Inches(fig)
    vmax = _vmax([t_img])
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


# ---------------------------------------------------------------------------------------------------- clinical
MEASURE_LABEL = {"pearson": "r", "spearman": "rho", "partial": "partial r", "partial_spearman": "partial rho"}


def clinical_scatter_figure(values: pd.DataFrame, correlations: pd.DataFrame, measure="pearson",
                            analysis="delta_fc_vs_reduction", max_panels=6, reduction_label="HAMD reduction rate"):
    """Figure 4a: per cluster, FC change (post - pre) vs HAMD reduction in completers, OLS line with 95% CI; the
    chosen correlation, its p and the Bonferroni-corrected p in the panel. Panels ordered by p (at most
    ``max_panels``)."""
    import seaborn as sns

    style()
    c = correlations[(correlations["analysis"] == analysis) & (correlations["measure"] == measure)]
    c = c.sort_values("p", kind="stable")
    if c.empty:
        return message_figure("FC change vs clinical improvement",
                              "No cluster was available for the clinical correlation (no significant cluster of the "
                              "contrasts in clinical.analyses, or the analysis is disabled).", height=1.6)
    shown = c.head(max_panels)
    n = len(shown)
    ncol = 3
    nrow = int(np.ceil(n / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(WIDTH_IN, 2.35 * nrow + 0.45), squeeze=False)
    fig.subplots_adjust(left=0.09, right=0.98, top=1 - 0.5 / fig.get_figheight(), bottom=0.5 / fig.get_figheight(),
                        wspace=0.38, hspace=0.62)
    xcol = "delta_fc" if analysis == "delta_fc_vs_reduction" else "fc_pre"
    ycol = "hamd_reduction" if analysis == "delta_fc_vs_reduction" else "hamd_pre"
    for ax, r in zip(axes.flat, shown.itertuples(index=False)):
        v = values[(values["seed"] == r.seed) & (values["cluster_contrast"] == r.cluster_contrast)
                   & (values["cluster_id"] == r.cluster_id)]
        if analysis == "delta_fc_vs_reduction":
            v = v[v["included_ect"].astype(str).str.lower().isin(["true", "1"]) & (v["group"] == "TRD")]
        else:
            v = v[v["group"] == "TRD"]
        v = v[[xcol, ycol]].apply(pd.to_numeric, errors="coerce").dropna()
        sns.regplot(data=v, x=xcol, y=ycol, ax=ax, ci=95, scatter_kws=dict(s=12, color="#009E73", alpha=0.85,
                                                                        edgecolor="none"),
                    line_kws=dict(color="black", lw=1.0), n_boot=1000, seed=0, truncate=False)
        lab = getattr(r, "group_aal_peak", None)
        peak = ""
        if hasattr(r, "group_peak_x") and pd.notna(getattr(r, "group_peak_x", np.nan)):
            peak = f" ({r.group_peak_x:.0f}, {r.group_peak_y:.0f}, {r.group_peak_z:.0f})"
        con = {"ect": "ECT", "baseline": "baseline"}.get(str(r.cluster_contrast), str(r.cluster_contrast))
        title = f"{r.seed}, {con} cluster {int(r.cluster_id)}{peak}"
        ax.set_title(title, fontsize=7.5, loc="left")
        if isinstance(lab, str) and lab not in ("n/a", ""):
            ax.text(0.0, 1.01, lab.replace("_", " "), transform=ax.transAxes, fontsize=6.5, color="0.35",
                    va="bottom")
            ax.set_title(title, fontsize=7.5, loc="left", pad=11)
        ml = MEASURE_LABEL.get(measure, measure)
        ax.text(0.03, 0.97, f"{ml} = {r.r:.2f}, p {fmt_p(r.p)}\np(Bonferroni ×{int(r.n_tests)}) "
                            f"{fmt_p(r.p_bonferroni)}\nn = {int(r.n)}",
                transform=ax.transAxes, va="top", fontsize=6.8,
                bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=1.5))
        ax.set_xlabel("FC change, post - pre (Fisher z)" if xcol == "delta_fc" else "baseline FC (Fisher z)")
        ax.set_ylabel(reduction_label if ycol == "hamd_reduction" else "baseline HAMD")
        lo, hi = ax.get_ylim()
        ax.set_ylim(lo, hi + 0.35 * (hi - lo))
    for ax in list(axes.flat)[n:]:
        ax.set_axis_off()
    more = f" (the {n} with the smallest p of {len(c)})" if len(c) > n else ""
    what = ("FC change (post - pre) vs HAMD reduction, completers" if analysis == "delta_fc_vs_reduction"
            else "baseline FC vs baseline HAMD, patients")
    fig.suptitle(f"{what}: significant clusters{more}",
                 y=1 - 0.08 / fig.get_figheight(), va="top")
    return fig


def hamd_paired_figure(participants: pd.DataFrame, reduction="rate"):
    """Figure 4b: HAMD before and after ECT in completers included in the ECT analysis (one line per patient),
    with the paired t test."""
    from scipy import stats


    style()
    p = participants[(participants["group"] == "TRD") & as_bool(participants["included_ect"])]
    pre = pd.to_numeric(p["hamd_pre"], errors="coerce")
    post = pd.to_numeric(p["hamd_post"], errors="coerce")
    ok = pre.notna() & post.notna()
    pre, post = pre[ok].to_numpy(float), post[ok].to_numpy(float)
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(HALF_WIDTH_IN, 2.8), gridspec_kw=dict(width_ratios=[1.3, 1]))
    fig.subplots_adjust(left=0.16, right=0.97, bottom=0.25, top=0.8, wspace=0.65)
    if len(pre) == 0:
        text_panel(ax, "No completer with both HAMD scores.")
        ax2.set_axis_off()
        return fig
    rng = np.random.default_rng(0)
    jit = rng.uniform(-0.06, 0.06, len(pre))
    for a, b, j in zip(pre, post, jit):
        ax.plot([0 + j, 1 + j], [a, b], color="0.6", lw=0.6, alpha=0.8)
    ax.scatter(np.zeros(len(pre)) + jit, pre, color=GROUP_COLOURS["TRD pre"], s=10, zorder=3, edgecolor="none")
    ax.scatter(np.ones(len(post)) + jit, post, color=GROUP_COLOURS["TRD post"], s=10, zorder=3, edgecolor="none")
    for x, d, col in ((0, pre, GROUP_COLOURS["TRD pre"]), (1, post, GROUP_COLOURS["TRD post"])):
        ax.errorbar(x + (-0.22 if x == 0 else 0.22), d.mean(), yerr=d.std(ddof=1) if len(d) > 1 else 0,
                    fmt="o", color=col, ms=4.5, capsize=2.5, lw=1.1, mec="black", mew=0.5)
    ax.set_xticks([0, 1], ["before ECT", "after ECT"])
    ax.set_xlim(-0.45, 1.45)
    ax.set_ylabel("HAMD total score")
    if len(pre) > 1:
        t, pv = stats.ttest_rel(pre, post)
        ax.set_title(f"paired t({len(pre) - 1}) = {t:.2f}\np {fmt_p(pv)}, n = {len(pre)}", fontsize=7)
    ax.set_ylim(0, max(pre.max(), post.max()) * 1.08 + 1)
    red = hamd_reduction(pre, post, reduction)
    red = red[np.isfinite(red)]
    ax2.boxplot([red], widths=0.5, showfliers=False, medianprops=dict(color="black"),
                boxprops=dict(color="0.4"), whiskerprops=dict(color="0.4"), capprops=dict(color="0.4"))
    ax2.scatter(1 + rng.uniform(-0.12, 0.12, len(red)), red, color=GROUP_COLOURS["TRD post"], s=10, zorder=3,
                edgecolor="none")
    if reduction == "rate":
        ax2.axhline(0.5, color="0.3", ls="--", lw=0.7)
        ax2.set_ylabel("HAMD reduction rate")
    else:
        ax2.set_ylabel("HAMD reduction, pre - post")
    ax2.set_xticks([1], ["completers\n(dashed: 50%\nresponse)" if reduction == "rate" else "completers"])
    ax2.set_xlim(0.5, 1.5)
    fig.suptitle("Depression severity before and after ECT", y=0.97, fontsize=8.5)
    return fig


# ---------------------------------------------------------------------------------------------------- prediction
MODE_TITLE = {"as_published": "as published (clusters from the full sample)",
              "nested": "leakage-free (clusters re-selected in each fold)"}


def prediction_figure(modes: list, target_label="HAMD reduction rate"):
    """Figure 5: per mode, (left) LOO-predicted vs observed HAMD reduction with r, permutation p and MAE;
    (right) the permutation null distribution of r with the observed r.

    ``modes``: list of dicts(mode, summary (svr.json mode entry), predictions (DataFrame), null (DataFrame))."""
    style()
    ok = [m.get("summary", {}).get("status", "ok") == "ok" and m.get("predictions") is not None
          and not m["predictions"].empty for m in modes]
    heights = [2.45 if o else 0.45 for o in ok] or [0.45]
    H = sum(heights) + 0.35 * len(heights) + 0.65
    fig = plt.figure(figsize=(WIDTH_IN, H))
    gs = fig.add_gridspec(len(heights), 2, height_ratios=heights, width_ratios=[1, 1.15], left=0.09, right=0.98,
                          top=1 - 0.62 / H, bottom=0.45 / H, wspace=0.3, hspace=0.35 * len(heights) / sum(heights) * 2)
    letters = iter("abcdefgh")
    for i, (m, good) in enumerate(zip(modes, ok)):
        s = m.get("summary") or {}
        if not good:
            ax = fig.add_subplot(gs[i, :])
            text_panel(ax, f"{MODE_TITLE.get(m['mode'], m['mode'])}: {s.get('status', 'not run')}")
            continue
        ax, axn = fig.add_subplot(gs[i, 0]), fig.add_subplot(gs[i, 1])
        pr = m["predictions"]
        obs, pred = pr["observed"].to_numpy(float), pr["predicted"].to_numpy(float)
        loo = s.get("loo", {})
        pp = s.get("p_permutation", {})
        ax.scatter(obs, pred, s=14, color="#0072B2", edgecolor="white", lw=0.4, zorder=3)
        lo = float(np.nanmin(np.r_[obs, pred]))
        hi = float(np.nanmax(np.r_[obs, pred]))
        pad = 0.08 * (hi - lo + 1e-9)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], color="0.6", ls="--", lw=0.8)
        if len(obs) > 2 and np.std(obs) > 0:
            b, a = np.polyfit(obs, pred, 1)
            xx = np.array([lo - pad, hi + pad])
            ax.plot(xx, a + b * xx, color="black", lw=1.0)
        ax.set_xlim(lo - pad, hi + pad)
        ax.set_ylim(lo - pad, hi + pad + 0.45 * (hi - lo))
        ax.set_xlabel(f"observed {target_label}")
        ax.set_ylabel("predicted (LOO)")
        ax.text(0.03, 0.97, f"r = {loo.get('r', np.nan):.2f}, p(perm) {fmt_p(pp.get('r'))}\n"
                            f"MAE = {loo.get('mae', np.nan):.3f}, p(perm) {fmt_p(pp.get('mae'))}\n"
                            f"n = {int(s.get('n', len(obs)))}; solid: least squares, dashed: identity",
                transform=ax.transAxes, va="top", fontsize=6.6)
        ax.set_title(f"{next(letters)}  {MODE_TITLE.get(m['mode'], m['mode'])}", loc="left", fontsize=8)
        null = m.get("null")
        r0 = loo.get("r", np.nan)
        if null is not None and len(null) and "r" in null:
            nr = pd.to_numeric(null["r"], errors="coerce").dropna().to_numpy()
            axn.hist(nr, bins=min(50, max(10, len(nr) // 20)), color="0.75", edgecolor="white", lw=0.3)
            axn.axvline(r0, color="#D55E00", lw=1.5)
            axn.set_xlabel("r (predicted, observed) with permuted targets")
            axn.set_ylabel("permutations")
            axn.text(0.02, 0.97, f"observed r = {r0:.2f} (orange)\np(perm) {fmt_p(pp.get('r'))}, "
                                 f"{len(nr):,} permutations", transform=axn.transAxes, va="top", fontsize=6.6,
                     bbox=dict(facecolor="white", edgecolor="none", alpha=0.85, pad=1.0))
            lo_, hi_ = axn.get_ylim()
            axn.set_ylim(lo_, hi_ * 1.3)
        else:
            text_panel(axn, "No permutation null (prediction.n_permutations = 0).")
        axn.set_title(f"{next(letters)}  permutation null", loc="left", fontsize=8)
    fig.suptitle("Prediction of the HAMD reduction from baseline FC (linear SVR, leave-one-out)",
                 y=1 - 0.08 / H, va="top")
    return fig


# ---------------------------------------------------------------------------------------------------- transcriptomics
def _regions_frame(pls: dict) -> pd.DataFrame:
    return pd.DataFrame(pls.get("regions") or [], columns=["id", "label", "structure", "n_voxels", "response",
                                                           "pls1_score"])


def pls_figure(pls: dict, null_var: np.ndarray | None, genes: pd.DataFrame | None, top_genes: int = 15,
               response_label="regional mean t"):
    """Figure 6a-d: (a) PLS1 variance explained against its spatial null; (b) regional response vs PLS1 score;
    (c, d) the top PLS1+ and PLS1- genes by |bootstrap Z| (FDR-significant ones filled)."""
    style()
    fig = plt.figure(figsize=(WIDTH_IN, 2.6 + 0.16 * top_genes + 0.6))
    gs = fig.add_gridspec(2, 2, height_ratios=[2.0, 0.16 * top_genes], left=0.1, right=0.98, top=1 - 0.5 / fig.get_figheight(),
                          bottom=0.45 / fig.get_figheight(), wspace=0.35, hspace=0.3)
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
    con = {"ect": "ECT (post vs pre)", "baseline": "baseline (TRD vs HC)"}.get(pls.get("contrast"), pls.get("contrast"))
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
    P = _Inches(fig)
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
        cb = fig.colorbar(matplotlib.cm.ScalarMappable(norm=mcolors.Normalize(-v, v), cmap=cmap),
                          cax=P.axes(0.55 + i * 3.5, 2.1, 2.4, 0.1), orientation="horizontal")
        cb.set_label(lab, fontsize=7.5, labelpad=2)
        cb.ax.tick_params(labelsize=6.5, length=2, pad=1.5)
        P.text(0.1 + i * 3.5, 0.1, f"{'ab'[i]}  {lab}", fontsize=8)
    P.text(WIDTH_IN / 2, 2.62, "Left hemisphere, Desikan-Killiany regions, lateral and medial views; grey: not analysed",
           ha="center", fontsize=6.8, color="0.3")
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
    keys = [k for k in ("pls1pos", "pls1neg", "gsea") if k in tables]
    titles = {"pls1pos": "PLS1+ genes (ORA)", "pls1neg": "PLS1- genes (ORA)", "gsea": "GSEA on PLS1 Z"}
    colours = {"pls1pos": "#D55E00", "pls1neg": "#0072B2", "gsea": "#009E73"}
    rows = max(1, top_terms)
    fig = plt.figure(figsize=(WIDTH_IN, 0.75 + len(keys) * (0.2 * rows + 0.55)))
    H = fig.get_figheight()
    P = _Inches(fig)
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
                cols = [colours[k]] * len(d)
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
        ax.set_title(f"{titles[k]}" + (" (red: positive NES, blue: negative)" if k == "gsea" else ""), loc="left",
                     fontsize=8, color=colours[k])
        y += h + 0.55
    fig.suptitle(f"Enrichment, {library}: top {top_terms} terms per list (filled: q < {alpha:g}; dashed: q = "
                 f"{alpha:g})", y=1 - 0.08 / H, va="top")
    return fig
