"""Figure 1, the seed stage: the cerebellar seed spheres on the MNI template, one orthogonal view per seed,
coloured by network, with the cerebellar grey-matter mask they are restricted to."""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib import colors as mcolors
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from fcect.figures.style import WIDTH_IN, anat_background, network_colour, plot_background, pretty, style

# MNI bounding box (mm) of the seed views
CEREBELLUM_BOX = ((-62, 62), (-102, -22), (-72, 2))


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
