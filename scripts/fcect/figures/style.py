"""Shared figure style and helpers: sizes, colours, rc style, number formats, the atomic saver, message panels, inch
layout, and the brain-plot helpers that several stages use (anatomy background, crop, FWE-thresholded maps, slice
positions, symmetric colour scale and colour bar).

Every figure is ``WIDTH_IN`` (7.0 in, a two-column journal page) or ``HALF_WIDTH_IN`` wide, saved as PNG at
``dpi`` (300) plus a vector copy (SVG or PDF), without ``bbox_inches='tight'`` so that the pixel size is exactly
``figsize x dpi`` (checked by the tests). Layout is done explicitly so that nothing is clipped.

Colours: Okabe-Ito (colour-blind safe) for groups and networks; diverging ``RdBu_r`` centred on zero for signed
statistics (red = positive t, i.e. the first named direction of the contrast); every colour bar names the statistic.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import colors as mcolors

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
    """Apply the paper style (call once per script). Also moves every object alive so far (the imported modules,
    loaded images) out of the garbage collector's reach until the figure is saved: nilearn's plotting calls
    ``gc.collect()`` for every image it reads, and each call otherwise scans the whole of matplotlib and nilearn,
    about 2.5 s of a 9 s per-seed figure job (bench: ``python -X importtime`` and cProfile of a figure job)."""
    import gc

    import nilearn.plotting  # noqa: F401  (imported here so that its modules are frozen too)

    plt.rcParams.update(RC)
    gc.freeze()


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


# ---------------------------------------------------------------------------------------------------- saving
def save_figure(fig, png, vector=None, dpi: int = DPI):
    """Write ``fig`` to ``png`` (``dpi``) and ``vector`` (format from its suffix) atomically; close it."""
    from fcect.core.io import atomic_path

    for path, kw in ((png, dict(dpi=dpi, format="png")), (vector, dict(dpi=dpi))):  # vector: dpi of rasterized parts
        if path is None:
            continue
        fmt = kw.get("format") or Path(path).suffix.lstrip(".").lower()
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=fmt, **{k: v for k, v in kw.items() if k != "format"},
                        metadata=_metadata(fmt))
    plt.close(fig)
    import gc

    gc.unfreeze()  # what style() froze can be collected again (a process that draws many figures)


def _metadata(fmt):
    # reproducible files: no creation date in the vector formats
    if fmt == "svg":
        return {"Date": None}
    if fmt == "pdf":
        return {"CreationDate": None, "ModDate": None}
    return {"Software": "fcect (matplotlib)"}


# ---------------------------------------------------------------------------------------------------- layout
def text_panel(ax, text, fontsize=8):
    """An empty axis carrying a centred message (used when a result does not exist)."""
    ax.set_axis_off()
    ax.text(0.5, 0.5, "\n".join(textwrap.wrap(text, 70)), ha="center", va="center", fontsize=fontsize,
            transform=ax.transAxes, color="0.25")


def message_figure(title, text, width=WIDTH_IN, height=1.6):
    """A figure that only carries a message (a result that does not exist), titled like the figure it replaces."""
    style()
    fig = plt.figure(figsize=(width, height))
    ax = fig.add_axes([0.02, 0.02, 0.96, 0.8])
    text_panel(ax, text)
    fig.suptitle(title, y=0.95)
    return fig


class Inches:
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


# ---------------------------------------------------------------------------------------------------- brain plots
def crop_to_box(img, box):
    """Crop ``img`` to the MNI bounding box ``box`` = ((x0, x1), (y0, y1), (z0, z1)) in mm."""
    import nibabel as nib

    inv = np.linalg.inv(img.affine)
    corners = np.array([[x, y, z] for x in box[0] for y in box[1] for z in box[2]])
    ijk = nib.affines.apply_affine(inv, corners)
    lo = np.clip(np.floor(ijk.min(axis=0)).astype(int), 0, None)
    hi = np.minimum(np.ceil(ijk.max(axis=0)).astype(int) + 1, img.shape[:3])
    return img.slicer[lo[0]:hi[0], lo[1]:hi[1], lo[2]:hi[2]]


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


def symmetric_vmax(imgs, floor=1.0):
    """Upper limit of a symmetric colour scale: max |value| over ``imgs`` (None skipped), at least ``floor``,
    rounded up to 0.5."""
    v = floor
    for im in imgs:
        if im is not None:
            a = np.abs(np.asarray(im.get_fdata()))
            if a.size and np.isfinite(a).any():
                v = max(v, float(np.nanmax(a)))
    return float(np.ceil(v * 2) / 2)


def stat_colorbar(fig, rect, vmax, label, threshold=None, cmap=DIVERGING):
    """Horizontal colour bar of a signed statistic in ``rect`` (figure fraction), -vmax..vmax, labelled;
    black ticks at +-``threshold``."""
    cax = fig.add_axes(rect)
    norm = mcolors.Normalize(-vmax, vmax)
    cb = fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax, orientation="horizontal")
    cb.set_label(label, fontsize=7.5, labelpad=2)
    cb.ax.tick_params(labelsize=6.5, length=2, pad=1.5)
    if threshold:
        for v in (-threshold, threshold):
            cax.axvline(v, color="black", lw=0.6)
    return cb
