"""Registration QC of the raw preprocessing: the figures of one run (normalised mean EPI with the template brain
outline; motion traces and FD) and the per-scan table with the exclusions that the registration thresholds
(``raw.qc``) decide, which the QC stage adds to the motion exclusions. The table part needs only numpy/pandas."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd


def registration_figure(mean_img, mask_img, path, title="", dim=-0.5):
    """``mean_img`` with the outline of ``mask_img`` (red), three orthogonal cuts through the cerebellum. ``dim``:
    nilearn's background dimming (-0.5 brightens a flat mean EPI; 0 keeps a T1w's grey-white contrast)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from nilearn import plotting

    fig = plt.figure(figsize=(9, 3))
    d = plotting.plot_anat(mean_img, display_mode="ortho", cut_coords=(0, -55, -25), figure=fig, title=title,
                           draw_cross=False, dim=dim)
    d.add_contours(mask_img, levels=[0.5], colors="r", linewidths=1.0)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def motion_figure(params, fd, path, title=""):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(3, 1, figsize=(7, 5), sharex=True)
    for k, n in enumerate("xyz"):
        ax[0].plot(params[:, k], label=n)
        ax[1].plot(np.degrees(params[:, 3 + k]), label=n)
    ax[0].set_ylabel("translation (mm)")
    ax[1].set_ylabel("rotation (deg)")
    ax[2].plot(fd, color="k")
    ax[2].set_ylabel("FD (mm)")
    ax[2].set_xlabel("volume")
    ax[0].legend(ncol=3, fontsize=7)
    ax[0].set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def registration_table(scans, qc_paths, min_dice, min_corr):
    """One row per scan (``scans``: (sub, ses); ``qc_paths``: a list of the scan's run QC JSONs each): the worst
    Dice and correlation over runs, and whether the registration passes ``min_dice`` and ``min_corr``; for
    information, the correlation of the subject's normalised T1w with the template (``t1_corr_template``, from its
    anatomical step; NaN when the runs' QC does not hold it). A failed T1w -> MNI registration shows in the EPI
    metrics too, since every run's chain goes through it."""
    rows = []
    for (sub, ses), paths in zip(scans, qc_paths):
        paths = [paths] if isinstance(paths, str) else list(paths)
        qs = []
        for p in paths:
            with open(p) as f:
                qs.append(json.load(f))
        dice = min(q["dice_brain"] for q in qs)
        corr = min(q["corr_template"] for q in qs)
        reasons = []
        if not dice >= min_dice:
            reasons.append(f"registration Dice {dice:.3f} < {min_dice}")
        if not corr >= min_corr:
            reasons.append(f"registration correlation {corr:.3f} < {min_corr}")
        t1 = [q["t1_corr_template"] for q in qs if "t1_corr_template" in q]  # the subject's T1w -> MNI step
        rows.append(dict(participant_id=f"sub-{sub}", session=ses, dice_brain=dice, corr_template=corr,
                         t1_corr_template=min(t1) if t1 else np.nan,
                         registration_ok=not reasons, registration_reason="; ".join(reasons)))
    return pd.DataFrame(rows)


def apply_registration_exclusions(motion: pd.DataFrame, reg: pd.DataFrame) -> pd.DataFrame:
    """Scans whose registration failed are excluded in the motion table (reason appended), so that the
    exclusion propagates to the participants as a motion exclusion does."""
    m = motion.copy()
    bad = {(r.participant_id, r.session): r.registration_reason for r in reg.itertuples() if not r.registration_ok}
    for i, r in m.iterrows():
        why = bad.get((r.participant_id, r.session))
        if why:
            m.at[i, "included"] = False
            m.at[i, "reason"] = "; ".join(x for x in (str(r.reason) if isinstance(r.reason, str) else "", why) if x)
    return m
