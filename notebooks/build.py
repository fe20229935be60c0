"""Rebuild the notebooks from their single source, the example scripts, with jupytext, and run them.

    python notebooks/build.py            # rewrite notebooks/*.ipynb with fresh outputs
    python notebooks/build.py NAME ...   # only those

Each notebook is paired with an example script of ``examples/`` in jupytext's percent format
(``# %%`` cells, ``# %% [markdown]`` for text; ``jupytext.toml`` records the pairing, so
``jupytext --sync notebooks/NAME.ipynb`` works from Jupyter too). This script reads each script
with jupytext and executes it top to bottom with nbclient, so that the file shows its outputs.
The test suite checks that every notebook's cells are still those of its script and runs each
notebook with few epochs (``BACKPROP_EXAMPLE_EPOCHS``), so a notebook never drifts from its code.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: notebook name -> example script (the single source)
NOTEBOOKS = {
    "one_neuron": "one_neuron.py",
    "backprop_derived": "backprop_derived.py",
    "two_layers_by_hand": "two_layers_by_hand.py",
    "exercise_backward": "exercise_backward.py",
    "exercise_optimizer": "exercise_optimizer.py",
    "vanishing_gradients": "vanishing_gradients.py",
    "classification_iris": "classification_iris.py",
    "regression_placement": "regression_placement.py",
    "compare_frameworks": "compare_frameworks.py",
}


def notebook_for(script: Path):
    """The script's cells as an unexecuted notebook (jupytext's percent format)."""
    import jupytext

    notebook = jupytext.read(script, fmt="py:percent")
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.metadata.pop("jupytext", None)       # the pairing lives in jupytext.toml, not in each file
    return notebook


def cells_of(script: Path) -> list[tuple[str, str]]:
    """(kind, source) of each cell of the script's notebook."""
    return [(cell.cell_type, cell.source) for cell in notebook_for(script).cells]


def execute(notebook, timeout: int = 600):
    """Run every cell in a fresh kernel, in a scratch directory (the examples write plots)."""
    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory() as scratch:
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": scratch}}).execute()
    return notebook


def main() -> int:
    import nbformat

    chosen = sys.argv[1:] or list(NOTEBOOKS)            # python notebooks/build.py [NAME ...]
    unknown = sorted(set(chosen) - set(NOTEBOOKS))
    if unknown:
        print(f"unknown notebook {unknown[0]!r}; the notebooks are {', '.join(NOTEBOOKS)}", file=sys.stderr)
        return 2
    for name, script in ((name, NOTEBOOKS[name]) for name in chosen):
        notebook = execute(notebook_for(ROOT / "examples" / script))
        path = ROOT / "notebooks" / f"{name}.ipynb"
        nbformat.write(notebook, str(path))
        print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.pop("BACKPROP_EXAMPLE_EPOCHS", None)      # the stored outputs are full runs
    sys.exit(main())
