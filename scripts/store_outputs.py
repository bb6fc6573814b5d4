"""Execute notebooks and keep only the outputs that nbval checks.

A code cell whose source contains ``# NBVAL_CHECK_OUTPUT`` keeps its (seeded, textual) outputs;
every other cell is stored without outputs, and widget state is dropped, so that diffs stay
reviewable and nbval (run with --nbval-lax) compares exactly what we meant it to.

Usage: python scripts/store_outputs.py notebooks/01-at-most-once.ipynb [...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

MARK = "NBVAL_CHECK_OUTPUT"


def store(path: Path, timeout: int = 600) -> None:
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in nb.cells:
        cell.metadata.pop("execution", None)  # timestamps: noise in every diff
        if cell.cell_type != "code":
            continue
        if MARK in cell.source:
            cell.outputs = [o for o in cell.outputs if o.get("output_type") in ("stream", "execute_result")
                            and "image/png" not in o.get("data", {})]
            for o in cell.outputs:
                if o.get("output_type") == "execute_result":
                    o["data"] = {k: v for k, v in o["data"].items() if k == "text/plain"}
                    o["metadata"] = {}
        else:
            cell.outputs = []
            cell.execution_count = None
    nb.metadata.pop("widgets", None)
    nbformat.write(nb, path)


def main(paths: list[str]) -> None:
    if not paths:
        sys.exit(__doc__)
    for p in paths:
        store(Path(p))
        print(f"stored checked outputs of {p}")


if __name__ == "__main__":
    main(sys.argv[1:])
