"""The specifications of the multiverse and what each one reruns.

A specification is one value of each of the four choices (:data:`CHOICES`):

* ``denoise``: a denoising preset of :data:`fcect.preprocess.denoise.PRESETS`, optionally suffixed ``+gsr``
  (the preset's confounds plus fMRIPrep's ``global_signal`` column: global signal regression);
* ``seed_radius_mm``: the seed sphere radius (mm); ``null`` = the main run's radii (seeds table, or
  ``seeds.radius_override``);
* ``cluster_forming_p``: the two-sided voxel p of the cluster-forming threshold (permutation cluster methods) and of
  the GRF voxel threshold;
* ``fwe_method``: the group FWE method (one of ``group.methods``' vocabulary) whose clusters are the spec's result.

``design`` turns the listed values into specifications:

* ``product``: every combination (the Cartesian product, choices in :data:`CHOICES` order, values in listed order);
* ``one_at_a_time``: the main run's values, then each listed alternative of one choice with the others at the main
  run's values;
* ``list``: the ``specifications`` entries (each a partial mapping; a missing choice takes the main run's value).

Duplicates are dropped (first kept). A choice not listed takes the main run's value (``denoise.preset``, null,
``group.cluster_forming_p``, ``group.feed_method``).

The denoising preset and seed radius change the FC maps (an *FC variant*); a specification whose FC variant is the
main run's reuses ``results/fc/`` and reruns only the group, clinical, prediction and PLS steps.
"""

from __future__ import annotations

import itertools
import math

CHOICES = ("denoise", "seed_radius_mm", "cluster_forming_p", "fwe_method")
FC_CHOICES = ("denoise", "seed_radius_mm")  # the choices that change the FC maps
GSR_SUFFIX = "+gsr"
GSR_COLUMN = "global_signal"
FWE_METHODS = ("maxt", "cluster_extent", "cluster_mass", "tfce", "grf")
DESIGNS = ("product", "one_at_a_time", "list")
ROOT = "results/multiverse"


def main_choices(config) -> dict:
    """The main run's value of each choice."""
    return {"denoise": config["denoise"]["preset"], "seed_radius_mm": None,
            "cluster_forming_p": float(config["group"]["cluster_forming_p"]),
            "fwe_method": config["group"]["feed_method"]}


def _norm(choice, value, main):
    if choice == "denoise":
        return str(value)
    if choice == "seed_radius_mm":
        if value is None:
            return None
        v = float(value)
        return None if main.get("_radius_override") is not None and v == float(main["_radius_override"]) else v
    if choice == "cluster_forming_p":
        return float(value)
    return str(value)


def check_choice(choice, value, presets=None):
    """Raise ValueError for a value the workflow cannot run."""
    if choice == "denoise":
        base = value[:-len(GSR_SUFFIX)] if value.endswith(GSR_SUFFIX) else value
        if presets is not None and base not in presets:
            raise ValueError(f"multiverse denoise choice {value!r}: unknown preset {base!r} "
                             f"(presets: {sorted(presets)}, optionally with '{GSR_SUFFIX}')")
        if presets is not None and value.endswith(GSR_SUFFIX) and GSR_COLUMN in presets[base]["columns"]:
            raise ValueError(f"multiverse denoise choice {value!r}: preset {base!r} already regresses the global "
                             "signal")
    elif choice == "seed_radius_mm":
        if value is not None and not value > 0:
            raise ValueError(f"multiverse seed_radius_mm must be > 0 or null, not {value!r}")
    elif choice == "cluster_forming_p":
        if not 0 < value < 1:
            raise ValueError(f"multiverse cluster_forming_p must be in (0, 1), not {value!r}")
    elif choice == "fwe_method":
        if value not in FWE_METHODS:
            raise ValueError(f"multiverse fwe_method {value!r}: choose from {list(FWE_METHODS)}")


def _fmt(x):
    return "main" if x is None else f"{x:g}"


def fc_variant_id(denoise, seed_radius_mm) -> str:
    """Folder name of one FC variant, e.g. ``dpabi-gsr_rmain``."""
    return f"{denoise.replace(GSR_SUFFIX, '-gsr')}_r{_fmt(seed_radius_mm)}"


def spec_id(spec) -> str:
    """Name of one specification (its {spec} wildcard), e.g. ``dpabi-gsr_rmain_p0.001_cluster_extent``."""
    return (f"{fc_variant_id(spec['denoise'], spec['seed_radius_mm'])}_p{spec['cluster_forming_p']:g}_"
            f"{spec['fwe_method']}")


def expand(mcfg, config, presets=None) -> list[dict]:
    """The specifications of the ``multiverse`` config section (empty when disabled), each a dict with the four
    choices, ``id``, ``fc_variant``, ``reuses_main_fc`` and ``is_main`` (every choice at the main run's value)."""
    if not mcfg or mcfg == "none" or not mcfg.get("enabled", True):
        return []
    design = mcfg.get("design", "product")
    if design not in DESIGNS:
        raise ValueError(f"multiverse.design {design!r}: choose from {list(DESIGNS)}")
    main = main_choices(config)
    main["_radius_override"] = config["seeds"].get("radius_override")
    base = {c: main[c] for c in CHOICES}
    listed = dict(mcfg.get("choices") or {})
    unknown = sorted(set(listed) - set(CHOICES))
    if unknown:
        raise ValueError(f"multiverse.choices: unknown choice(s) {unknown}; choose from {list(CHOICES)}")
    values = {c: [_norm(c, v, main) for v in (listed.get(c) or [base[c]])] for c in CHOICES}
    if design == "product":
        combos = [dict(zip(CHOICES, vs)) for vs in itertools.product(*(values[c] for c in CHOICES))]
    elif design == "one_at_a_time":
        combos = [dict(base)] + [dict(base, **{c: v}) for c in CHOICES for v in values[c] if v != base[c]]
    else:
        entries = mcfg.get("specifications") or []
        if not entries:
            raise ValueError("multiverse.design is list: give multiverse.specifications")
        combos = []
        for e in entries:
            bad = sorted(set(e) - set(CHOICES))
            if bad:
                raise ValueError(f"multiverse.specifications entry {e}: unknown choice(s) {bad}")
            combos.append({c: _norm(c, e[c], main) if c in e else base[c] for c in CHOICES})
    out, seen = [], set()
    for s in combos:
        for c in CHOICES:
            check_choice(c, s[c], presets)
        sid = spec_id(s)
        if sid in seen:
            continue
        seen.add(sid)
        out.append(dict(s, id=sid, fc_variant=fc_variant_id(s["denoise"], s["seed_radius_mm"]),
                        reuses_main_fc=all(s[c] == base[c] for c in FC_CHOICES),
                        is_main=all(s[c] == base[c] for c in CHOICES)))
    cap = int(mcfg.get("max_specifications", 64))
    if len(out) > cap:
        raise ValueError(f"multiverse: {len(out)} specifications exceed multiverse.max_specifications = {cap}; "
                         "list fewer values, use design one_at_a_time or list, or raise the cap")
    return out


def fc_variants(specs) -> dict:
    """{FC variant id: (denoise, seed_radius_mm)} of the specifications that do not reuse the main FC maps."""
    return {s["fc_variant"]: (s["denoise"], s["seed_radius_mm"]) for s in specs if not s["reuses_main_fc"]}


def reruns(spec) -> list[str]:
    """The steps one specification runs: FC maps only for a new FC variant; then group, clinical, prediction and
    PLS always."""
    return (["fc"] if not spec["reuses_main_fc"] else []) + ["group", "clinical", "prediction", "transcriptomics"]


def denoise_params(denoise_cfg, choice) -> dict:
    """The ``denoise`` settings of one FC variant: the main settings with the preset of the choice."""
    base = choice[:-len(GSR_SUFFIX)] if choice.endswith(GSR_SUFFIX) else choice
    return dict(denoise_cfg, preset=base, gsr=choice.endswith(GSR_SUFFIX))


def group_config(group_cfg, spec, n_perm=None) -> dict:
    """The ``group`` settings of one specification: its FWE method alone (also the feed method), its cluster-forming
    p (also the GRF voxel p) and, if given, its number of permutations."""
    p = float(spec["cluster_forming_p"])
    cfg = dict(group_cfg, methods=[spec["fwe_method"]], feed_method=spec["fwe_method"], cluster_forming_p=p,
               grf=dict(group_cfg.get("grf") or {}, voxel_p=p))
    if n_perm is not None:
        cfg["n_perm"] = int(n_perm)
    return cfg


def spec_dir(spec="{spec}") -> str:
    return f"{ROOT}/specs/{spec}"


def spec_group_file(name, spec="{spec}", contrast="{contrast}", seed="{seed}") -> str:
    return f"{spec_dir(spec)}/group/{contrast}/seed-{seed}/{name}"


def variant_fc_map(main_fc_map_path: str, variant="{fcv}") -> str:
    """The FC map of an FC variant: the main map's path with ``results/fc/`` -> ``results/multiverse/fc/<variant>/``
    (same file name, so :func:`fcect.core.images.index_fc_maps` reads it)."""
    prefix = "results/fc/"
    if not main_fc_map_path.startswith(prefix):
        raise ValueError(f"unexpected FC map path {main_fc_map_path}")
    return f"{ROOT}/fc/{variant}/{main_fc_map_path[len(prefix):]}"


def variant_seeds(radius, kind="seeds") -> str:
    """Seed masks of one radius (``kind``: seeds | seeds_tsv)."""
    return f"{ROOT}/seeds/radius-{radius}/" + ("seeds.nii.gz" if kind == "seeds" else "seeds.tsv")


def is_finite(x) -> bool:
    try:
        return math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


# ------------------------------------------------------------------------------------------------ rule inputs
def spec_fc_map(spec, main_path: str) -> str:
    """One scan's FC map of a specification: ``main_path`` (the main run's map) or that of the spec's FC variant."""
    return main_path if spec["reuses_main_fc"] else variant_fc_map(main_path, spec["fc_variant"])


def variant_seed_inputs(variants: dict, fcv: str, main_seeds: str, main_seeds_tsv: str) -> dict:
    """Seed masks of an FC variant: the main run's, or those of its radius (rule multiverse_seeds)."""
    _, radius = variants[fcv]
    if radius is None:
        return {"seeds": main_seeds, "seeds_tsv": main_seeds_tsv}
    return {"seeds": variant_seeds(f"{radius:g}"), "seeds_tsv": variant_seeds(f"{radius:g}", "tsv")}


def group_fc_inputs(spec, pairs, scans, ses_pre, ses_post, fc_map) -> list[str]:
    """The FC maps a specification's group analyses read: :func:`fcect.group.run.fc_inputs` of each (contrast,
    seed) pair, of the spec's FC variant (``fc_map(sub, ses, seed)``: the main run's map)."""
    from fcect.group.run import fc_inputs

    maps = lambda s, t, k: spec_fc_map(spec, fc_map(s, t, k))  # noqa: E731
    return sorted({f for c, k in pairs for f in fc_inputs(c, k, scans, ses_pre, ses_post, maps)})
