"""Comparison of two results/summary.json files: every number, every flag and every label, with named exceptions.

Used by the regression test of the tiny run against ``tests/data/tiny_summary_reference.json`` (a summary of the
tiny configuration from a reference version of the workflow) and usable by hand:

    python -m fcect.testing.summary results/summary.json tests/data/tiny_summary_reference.json
"""

from __future__ import annotations

import json
import math
import re
import sys

# fields that legitimately differ between two runs of the same analysis: the software and config fingerprints
VOLATILE = (r"^/workflow/version$", r"^/package_versions/", r"^/config_sha256$")


def leaves(obj, path=""):
    """(json-pointer-like path, value) of every scalar in a JSON document."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaves(v, f"{path}/{k}")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from leaves(v, f"{path}[{i}]")
    else:
        yield path, obj


def machine_fingerprint() -> dict:
    """What decides the last bits of floating-point results on a machine, besides the package versions: the CPU
    architecture, the BLAS libraries' kernels (OpenBLAS picks them per CPU) and numpy's active SIMD dispatch
    targets. Two machines with the same fingerprint and the same packages give byte-identical results; across
    fingerprints, sums and products differ in their last bits, and discrete choices built on them (a permutation
    p-value, a fold's selected cluster) can move by a step."""
    import platform

    import numpy as np
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS too)

    fp = dict(machine=platform.machine(), numpy=np.__version__)
    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__

        fp["simd"] = sorted(k for k in __cpu_dispatch__ if __cpu_features__.get(k))
    except ImportError:  # private numpy API; absent in other numpy versions
        fp["simd"] = None
    try:
        import threadpoolctl

        fp["blas"] = sorted({f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
                             for i in threadpoolctl.threadpool_info() if i.get("user_api") == "blas"})
    except ImportError:
        fp["blas"] = None
    return fp


def compare_summaries(new: dict, ref: dict, rtol: float = 1e-9, ignore=VOLATILE, labels_may_differ=(),
                      atol: float = 1e-12):
    """Differences between two summaries, as a list of (path, new value, reference value).

    Numbers are equal within ``rtol`` (relative) or ``atol`` (absolute); strings and booleans must be identical
    except at paths matching a pattern of ``labels_may_differ`` (strings only); paths matching ``ignore`` are
    skipped. A path present in one summary only is a difference."""
    skip = [re.compile(p) for p in ignore]
    lab = [re.compile(p) for p in labels_may_differ]
    a, b = dict(leaves(new)), dict(leaves(ref))
    out = []
    for path in sorted(set(a) | set(b)):
        if any(p.search(path) for p in skip):
            continue
        if path not in a or path not in b:
            out.append((path, a.get(path, "<absent>"), b.get(path, "<absent>")))
            continue
        x, y = a[path], b[path]
        if isinstance(x, bool) or isinstance(y, bool) or x is None or y is None:
            same = x is y or x == y
        elif isinstance(x, (int, float)) and isinstance(y, (int, float)):
            same = math.isclose(x, y, rel_tol=rtol, abs_tol=atol)
        elif isinstance(x, str) and isinstance(y, str) and any(p.search(path) for p in lab):
            same = True
        else:
            same = x == y
        if not same:
            out.append((path, x, y))
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__)
        return 2
    with open(argv[0]) as fa, open(argv[1]) as fb:
        diffs = compare_summaries(json.load(fa), json.load(fb))
    for path, x, y in diffs:
        print(f"{path}: {x!r} != {y!r}")
    print(f"{len(diffs)} difference(s)")
    return 1 if diffs else 0


if __name__ == "__main__":
    raise SystemExit(main())
