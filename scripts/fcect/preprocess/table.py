"""Tab-separated tables read without pandas (whose import alone takes about as long as reading a default BOLD
file): the per-scan job needs a few columns of the confounds file and the seed identifiers, nothing more."""

from __future__ import annotations

import numpy as np

from fcect.core.io import InputError

# cells read as missing (NaN), as pandas' default missing-value strings and fMRIPrep's "n/a"
MISSING = {"", "n/a", "na", "nan", "-nan", "null", "none", "#n/a", "<na>", "n.a."}


class Table:
    """The columns of a TSV file with a header line; ``table[name]`` parses one column to float64 (missing cells
    NaN), :meth:`text` returns it as strings. ``name in table`` and ``len(table)`` (data rows) as for a
    DataFrame."""

    def __init__(self, path):
        self.path = str(path)
        with open(path, newline="") as fh:
            lines = [line.rstrip("\r\n") for line in fh if line.strip()]
        if not lines:
            raise InputError(path, "empty table (no header line)")
        self.columns = lines[0].split("\t")
        self._index = {c: j for j, c in enumerate(self.columns)}
        self._rows = [line.split("\t") for line in lines[1:]]

    def __contains__(self, name):
        return name in self._index

    def __len__(self):
        return len(self._rows)

    def text(self, name):
        """Column ``name`` as a list of strings."""
        if name not in self._index:
            raise InputError(self.path, f"no column {name!r}")
        j = self._index[name]
        return [row[j] if j < len(row) else "" for row in self._rows]

    def __getitem__(self, name):
        out = np.empty(len(self._rows))
        for i, cell in enumerate(self.text(name)):
            try:
                out[i] = float(cell)
            except ValueError:
                if cell.strip().lower() not in MISSING:
                    raise InputError(self.path, f"column {name!r}, line {i + 2}: {cell!r} is not a number") from None
                out[i] = np.nan
        return out
