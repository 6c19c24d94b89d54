"""Which library files a rule script runs: the fcect modules it imports, directly or through other fcect modules.

The rules declare these files as inputs (``rules/common.smk``: ``library(script)``), so that editing a module
reruns exactly the jobs whose scripts use it, and no others. Imports are read from the source with ``ast``
(nothing is imported), including imports inside functions.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path


def _module_file(root: Path, dotted: str) -> Path | None:
    """File of module ``fcect.a.b`` (a.py or a package's __init__.py) under ``root`` (the fcect folder)."""
    parts = dotted.split(".")[1:]
    base = root.joinpath(*parts) if parts else root
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    return None


def _imported_modules(path: Path, package: str | None) -> set[str]:
    """Dotted names of the fcect modules (or candidate modules) imported by one file."""
    return set(_imported_modules_cached(str(path), package))


@lru_cache(maxsize=None)
def _imported_modules_cached(path: str, package: str | None) -> frozenset[str]:
    """:func:`_imported_modules`, parsed once per file and process: the closures of the ~40 rule scripts share
    most of their modules (the Snakefile computes them all when it builds the DAG: 645 parses of ~80 files took
    8.7 s of the Snakemake process in the tiny run; all ~40 scripts take 0.7 s with this cache)."""
    tree = ast.parse(Path(path).read_text(), filename=path)
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name == "fcect" or a.name.startswith("fcect."))
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:  # relative import inside the package
                if package is None:
                    continue
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([mod] if mod else []))
            if mod == "fcect" or mod.startswith("fcect."):
                out.add(mod)
                out.update(f"{mod}.{a.name}" for a in node.names)  # `from fcect.core import io` imports a module
    return frozenset(out)


@lru_cache(maxsize=None)
def _closure(script: str, root: str) -> tuple[str, ...]:
    root_p = Path(root)
    seen: set[Path] = set()
    todo = [(Path(script), None)]
    while todo:
        path, package = todo.pop()
        for dotted in _imported_modules(path, package):
            parts = dotted.split(".")
            # the module and every package above it (their __init__.py run on import)
            for k in range(1, len(parts) + 1):
                f = _module_file(root_p, ".".join(parts[:k]))
                if f is None or f in seen:
                    continue
                seen.add(f)
                pkg = ".".join(parts[:k]) if f.name == "__init__.py" else ".".join(parts[:k - 1])
                todo.append((f, pkg))
    return tuple(sorted(str(f) for f in seen))


def library_files(script, root) -> list[str]:
    """Sorted paths of the files of the fcect package under ``root`` that ``script`` imports (transitively)."""
    return list(_closure(str(Path(script).resolve()), str(Path(root).resolve())))
