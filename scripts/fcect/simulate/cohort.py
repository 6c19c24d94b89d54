"""The simulated cohort: participants, sessions and per-subject planted couplings (:func:`cohort_table`, cheap
and deterministic, so the workflow calls it to know which scans exist), the public ``participants.tsv``, and the
ground truth that collects the planted values with every scan's realised coupling (``ground_truth.json``).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from fcect.core.io import save_json, save_tsv
from fcect.simulate.anatomy import write_tissue
from fcect.simulate.params import (BASELINE_EFFECT_PAIRS, CONTROL_REGION, COUPLINGS, ECT_EFFECT_PAIR,
                                   GENERATOR_VERSION, NULL_SEEDS, REGIONS, SimParams, hash_str)


# --------------------------------------------------------------------------------------------- cohort table
def cohort_table(p: SimParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Participants (with planted responsiveness, HAMD reduction and motion-outlier session) and per-subject,
    per-session planted couplings (long format). Cheap and deterministic: it is called at DAG construction time to
    know which scans exist."""
    rng = np.random.default_rng(np.random.SeedSequence([p.seed, 1]))
    n = p.n_trd + p.n_hc
    if p.n_completers > p.n_trd:
        raise ValueError("simulate.n_completers cannot exceed simulate.n_trd")
    groups = np.array(["TRD"] * p.n_trd + ["HC"] * p.n_hc)
    order = rng.permutation(n)
    groups = groups[order]
    ids = [f"{i + 1:03d}" for i in range(n)]
    trd_idx = np.flatnonzero(groups == "TRD")
    completers = set(rng.choice(trd_idx, size=p.n_completers, replace=False).tolist())
    age = np.clip(rng.normal(np.where(groups == "TRD", 41, 39), 11), 18, 65).round().astype(int)
    sex = np.where(rng.random(n) < 0.6, "F", "M")
    education = np.clip(rng.normal(np.where(groups == "TRD", 12, 13), 3), 6, 20).round().astype(int)

    eff = p.effects()
    # responsiveness R drives the ECT rise; HAMD reduction correlates with R at clinical_r
    R = rng.standard_normal(n)
    eps = rng.standard_normal(n)
    rate = np.clip(0.55 + 0.2 * (p.clinical_r * R + np.sqrt(1 - p.clinical_r ** 2) * eps), 0.0, 1.0)
    hamd_pre = np.where(groups == "TRD", np.clip(rng.normal(24, 4, n), 18, 38),
                        np.clip(rng.normal(3, 2, n), 0, 7)).round().astype(int)
    hamd_post = np.round(hamd_pre * (1 - rate)).astype(float)
    is_completer = np.array([i in completers for i in range(n)])
    hamd_post[~is_completer] = np.nan

    rows = []
    for i in range(n):
        row = dict(participant_id=f"sub-{ids[i]}", group=groups[i], age=int(age[i]), sex=sex[i],
                   education=int(education[i]), hamd_pre=int(hamd_pre[i]), hamd_post=hamd_post[i])
        rows.append(row)
    part = pd.DataFrame(rows)

    # per-subject couplings per session (the null cohort treats the ECT pair like every other pair: no rise, no
    # link of baseline coupling with responsiveness, the same session-to-session variability)
    sub_rows = []
    for i in range(n):
        trd = groups[i] == "TRD"
        sessions = [p.ses_pre] + ([p.ses_post] if is_completer[i] else [])
        for ses in sessions:
            post = ses == p.ses_post
            for seed, target, c0 in COUPLINGS:
                srng = np.random.default_rng(np.random.SeedSequence([p.seed, 2, i, hash_str(seed + target)]))
                c = c0 + p.coupling_sd * srng.standard_normal()
                if trd and (seed, target) in BASELINE_EFFECT_PAIRS:
                    c -= eff["baseline_effect"]
                ect_pair = (seed, target) == ECT_EFFECT_PAIR and not p.null_cohort
                if ect_pair:
                    # baseline coupling of patients tracks responsiveness (so it predicts the reduction)
                    if trd:
                        b = p.baseline_predicts_r
                        z = b * R[i] + np.sqrt(1 - b ** 2) * srng.standard_normal()
                        c = c0 + p.ect_baseline_sd * z
                        if post:
                            c += eff["ect_effect"] + eff["ect_effect_sd"] * R[i]
                if post and not ect_pair:
                    # session-to-session variability without any systematic change
                    c += 0.5 * p.coupling_sd * np.random.default_rng(
                        np.random.SeedSequence([p.seed, 3, i, hash_str(seed + target)])).standard_normal()
                sub_rows.append(dict(participant_id=f"sub-{ids[i]}", session=ses, seed=seed, target=target,
                                     coupling=float(np.clip(c, 0.0, p.max_coupling))))
    couplings = pd.DataFrame(sub_rows)
    part["responsiveness"] = R
    part["hamd_reduction_planted"] = np.where(is_completer, rate, np.nan)

    # motion outliers: assign to random scans of the named category
    mo = dict(p.motion_outliers or {})
    part["motion_outlier_sessions"] = ""
    orng = np.random.default_rng(np.random.SeedSequence([p.seed, 4]))
    cats = {"hc_pre": (np.flatnonzero(groups == "HC"), p.ses_pre),
            "trd_pre": (np.flatnonzero((groups == "TRD") & ~is_completer), p.ses_pre),
            "trd_post": (np.flatnonzero(is_completer), p.ses_post)}
    for key, k in mo.items():
        if key not in cats:
            raise ValueError(f"simulate.motion_outliers: unknown category {key!r} (use {sorted(cats)})")
        idx, ses = cats[key]
        for j in orng.choice(idx, size=min(int(k), len(idx)), replace=False):
            part.loc[j, "motion_outlier_sessions"] = ses
    return part, couplings



def scans_of(part: pd.DataFrame, p: SimParams):
    """The (subject label, session) of every scan: the pre-ECT session for everyone, the post-ECT session for
    patients with a post-ECT HAMD."""
    out = []
    for row in part.itertuples(index=False):
        sub = row.participant_id[4:]
        out.append((sub, p.ses_pre))
        if row.group == "TRD" and not pd.isna(row.hamd_post):
            out.append((sub, p.ses_post))
    return out


# --------------------------------------------------------------------------------------------- writing
def write_participants(p: SimParams, participants_path, couplings_path, description_path, tissue_path=None):
    """participants.tsv (public columns), the planted per-subject couplings, dataset_description.json and, with
    ``tissue_path``, the tissue maps every scan is simulated on."""
    part, couplings = cohort_table(p)
    if tissue_path:
        write_tissue(p, tissue_path)
    public = part[["participant_id", "group", "age", "sex", "education", "hamd_pre", "hamd_post"]].copy()
    public["hamd_post"] = public["hamd_post"].map(lambda v: "n/a" if pd.isna(v) else str(int(v)))
    save_tsv(public, participants_path)
    save_tsv(part.merge(couplings, on="participant_id"), couplings_path, float_format="%.6g")
    save_json({"Name": f"fcect simulated cohort '{p.name}'", "BIDSVersion": "1.8.0", "DatasetType": "derivative",
               "GeneratedBy": [{"Name": "fcect.simulate", "Version": str(GENERATOR_VERSION),
                                "Description": "simulated fMRIPrep-like derivatives with planted effects; not real "
                                "data"}]}, description_path)


def ground_truth(p: SimParams, part: pd.DataFrame, couplings: pd.DataFrame, scan_truths: list) -> dict:
    """Planted values plus every realised per-scan coupling, and the derived sampling-error statements."""
    eff = p.effects()
    realised = pd.DataFrame([dict(participant_id=t["participant_id"], session=t["session"], pair=k, z=v)
                             for t in scan_truths for k, v in t["realised_fc_z"].items()])
    out = dict(
        description="Planted effects of the fcect simulated cohort. Couplings c are the correlation-scale "
                    "weights of a seed's driver in a target region's signal; realised_fc_z is the Fisher z of "
                    "the noise-free seed-target correlation of each scan (band-passed, dummy volumes dropped).",
        generator_version=GENERATOR_VERSION,
        null_cohort=bool(p.null_cohort), parameters={k: v for k, v in p.__dict__.items()},
        regions={k: dict(v) for k, v in REGIONS.items()}, control_region=CONTROL_REGION,
        couplings=[dict(seed=s, target=t, c=c) for s, t, c in COUPLINGS],
        null_seeds=NULL_SEEDS,
        effects=dict(
            baseline=[dict(seed=s, target=t, network=REGIONS[t]["network"], direction="HC>TRD",
                           delta_coupling=eff["baseline_effect"]) for s, t in BASELINE_EFFECT_PAIRS],
            ect=[dict(seed=ECT_EFFECT_PAIR[0], target=ECT_EFFECT_PAIR[1], direction="post>pre",
                      mean_delta_coupling=eff["ect_effect"], sd_delta_coupling=eff["ect_effect_sd"])],
        ),
    )
    # clinical: correlation of the realised ECT change with the HAMD reduction rate among completers whose scans
    # are both included (motion outliers are excluded by QC with default thresholds)
    pair = f"{ECT_EFFECT_PAIR[0]}-{ECT_EFFECT_PAIR[1]}"
    if not realised.empty:
        wide = realised[realised.pair == pair].pivot(index="participant_id", columns="session", values="z")
        outl = {t["participant_id"] for t in scan_truths if t["motion_outlier"]}
        if p.ses_post in wide.columns:
            w = wide.dropna()
            w = w[~w.index.isin(outl)]
            red = part.set_index("participant_id").loc[w.index, "hamd_reduction_planted"].astype(float)
            d = w[p.ses_post] - w[p.ses_pre]
            n = len(w)
            if n > 3 and not p.null_cohort:
                r = float(np.corrcoef(d, red)[0, 1])
                rb = float(np.corrcoef(w[p.ses_pre], red)[0, 1])
            else:
                r = rb = 0.0
            se = lambda rr: float((1 - rr ** 2) / np.sqrt(max(n - 1, 1)))  # noqa: E731
            out["clinical"] = dict(
                seed=ECT_EFFECT_PAIR[0], target=ECT_EFFECT_PAIR[1], n=n, measure="hamd_reduction_rate",
                planted_r_responsiveness=0.0 if p.null_cohort else p.clinical_r,
                realised_r_delta_fc=r, se_r_delta_fc=se(r),
                fisher_z_se=float(1 / np.sqrt(max(n - 3, 1))),
                realised_r_baseline_fc=rb, se_r_baseline_fc=se(rb),
                mean_delta_fc_z=float(d.mean()) if n else 0.0,
                note="realised_r_* use the noise-free couplings; estimates from the images carry extra "
                     "measurement noise, so compare within a few fisher_z_se, attenuated towards 0. "
                     "realised_r_baseline_fc carries the planted sign; a linear SVR's r(predicted, observed) "
                     "estimates its absolute value.")
    out["scans"] = scan_truths
    return out


def write_ground_truth(p: SimParams, couplings_path, truth_paths, out_path):
    """ground_truth.json from the cohort table and the per-scan truth JSONs; returns it."""
    part, couplings = cohort_table(p)
    truths = [json.loads(open(t).read()) for t in truth_paths]
    gt = ground_truth(p, part, couplings, truths)
    save_json(gt, out_path)
    return gt

