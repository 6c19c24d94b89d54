"""Entry points of the stage that the Snakemake scripts call: :func:`denoise_and_fc` per scan (denoise, seed-to-voxel
Fisher-z maps, denoising info JSON) and :func:`qc_tables` per cohort (motion table, exclusions, participants with
inclusion flags).
"""

from __future__ import annotations

import os

import nibabel as nib
import numpy as np

from fcect.core.io import InputError, save_json, save_nifti
from fcect.preprocess.denoise import PRESETS, censor_mask, denoise_scan
from fcect.preprocess.fc import fisher_z, seed_to_voxel_r
from fcect.preprocess.table import Table

# pandas and the QC modules are imported by qc_tables only: the per-scan job (denoise_and_fc) does without them


def _files(x):
    """One path, or a list of them (one per run), as given by the rule's inputs."""
    return str(x) if isinstance(x, (str, bytes, os.PathLike)) else [str(p) for p in x]


def per_scan(paths, n_runs):
    """Split the rule's flat list of run files into one list per scan (``n_runs``: runs per scan, in scan order);
    with ``n_runs`` None, one path per scan."""
    paths = [str(p) for p in paths]
    if n_runs is None:
        return paths
    if sum(n_runs) != len(paths):
        raise ValueError(f"{len(paths)} files for {sum(n_runs)} runs")
    out, k = [], 0
    for n in n_runs:
        out.append(paths[k:k + n])
        k += n
    return out


def denoise_and_fc(bold, confounds, bold_json, analysis_mask, seeds_img, seeds_tsv, params, seed_ids,
                   out_maps, out_info, runs=None):
    """Denoise one scan and write one Fisher-z FC map per seed (zeros outside the analysis mask). ``bold``,
    ``confounds``, ``bold_json`` may be lists (one file per run, in run order; ``runs`` their labels): each run is
    denoised on its own and the cleaned series concatenated before FC; the info records the runs used."""
    bold, confounds, bold_json = _files(bold), _files(confounds), _files(bold_json)
    mask_img = nib.load(str(analysis_mask))
    amask = np.asarray(mask_img.dataobj) > 0
    smask = np.asarray(nib.load(str(seeds_img)).dataobj) > 0
    table = Table(seeds_tsv)
    if table.text("seed_id") != [str(s) for s in seed_ids] or smask.shape[-1] != len(seed_ids):
        raise InputError(seeds_tsv, "seed masks do not match the configured seeds table; rerun rule masks")
    union = amask | smask.any(axis=-1)
    # reduced: the k coordinates per run whose inner products are those of the centred cleaned series
    Y, info = denoise_scan(bold, confounds, bold_json, union, mask_img.affine, params, runs=runs, reduced=True)
    col = np.full(amask.shape, -1, dtype=np.int64)
    col[union] = np.arange(union.sum())
    seed_cols = [col[smask[..., k]] for k in range(len(seed_ids))]
    target_cols = col[amask]
    r, n_const = seed_to_voxel_r(Y, seed_cols, target_cols, source=bold if isinstance(bold, str) else bold[0],
                                 centre=False)
    z = fisher_z(r).astype(np.float32)
    for k, path in enumerate(out_maps):
        vol = np.zeros(amask.shape, dtype=np.float32)
        vol[amask] = z[k]
        save_nifti(nib.Nifti1Image(vol, mask_img.affine), path)
    info["bold_files"] = [bold] if isinstance(bold, str) else list(bold)
    info.update(n_constant_voxels=n_const, n_analysis_voxels=int(amask.sum()),
                seed_voxels=dict(zip(seed_ids, [int(len(c)) for c in seed_cols])))
    save_json(info, out_info)
    return info


def qc_tables(participants_path, schema_path, scans, confounds_paths, qc, denoise, ses_pre, ses_post,
              out_motion=None, out_participants=None, reduction="rate", registration=None):
    """Motion QC of every scan (``scans``: (sub, ses) pairs, with their confounds files: a path, or a list of the
    scan's run files, judged together, :func:`fcect.preprocess.qc.scan_motion`) against the ``qc``
    thresholds, counting the volumes the ``denoise`` settings censor; exclusions propagated to the participants.
    ``registration``: the raw stage's registration table (a path), whose failures exclude scans as motion does.
    Returns (motion table, participants with inclusion flags), written when output paths are given."""
    import pandas as pd

    from fcect.core.io import read_tsv, save_tsv
    from fcect.core.participants import read_participants
    from fcect.preprocess.qc import decide, propagate, scan_motion

    part = read_participants(participants_path, schema_path)
    rows = []
    drop = int(denoise.get("drop_volumes", 0))
    for (sub, ses), cpath in zip(scans, confounds_paths):
        cpaths = [cpath] if isinstance(cpath, (str, bytes, os.PathLike)) else list(cpath)
        confs = [read_tsv(p) for p in cpaths]  # one table per run; the scan is judged over all its runs
        mot = scan_motion(confs if len(confs) > 1 else confs[0], drop, qc["fd_method"],
                          cpaths if len(cpaths) > 1 else cpaths[0])
        n_cens = 0
        if PRESETS[denoise["preset"]]["censor"]:
            b, a = denoise.get("censor_neighbors", [1, 2])
            for conf in confs:
                keep = censor_mask(conf["framewise_displacement"].to_numpy(float)[drop:], denoise["fd_threshold"],
                                   b, a)
                n_cens += int((~keep).sum())
        row = dict(participant_id=f"sub-{sub}", session=ses, mean_fd=mot["mean_fd"], fd_method=mot["fd_method"],
                   max_fd=mot["max_fd"], max_translation_mm=mot["max_translation_mm"],
                   max_rotation_deg=mot["max_rotation_deg"], n_volumes=mot["n_volumes"], n_censored=n_cens)
        inc, reason = decide(row, qc)
        row.update(included=inc, reason=reason)
        rows.append(row)
    motion = pd.DataFrame(rows)
    if registration is not None:
        from fcect.raw.qc import apply_registration_exclusions
        motion = apply_registration_exclusions(motion, read_tsv(registration))
    part_out = propagate(part, motion, ses_pre, ses_post, reduction)
    if out_motion:
        save_tsv(motion, out_motion, float_format="%.6g")
    if out_participants:
        save_tsv(part_out, out_participants, float_format="%.6g")
    return motion, part_out
