"""Build the notebooks from their single source, the example scripts, and run them.

    python notebooks/build.py            # rewrite notebooks/*.ipynb with fresh outputs

Each notebook is an example script of ``examples/`` cut at its ``# %%`` markers (``# %%
[markdown]`` cells become Markdown), executed top to bottom so that the file shows its outputs.
The test suite checks that every notebook's cells are still those of its script and runs each
notebook with few epochs (``BACKPROP_EXAMPLE_EPOCHS``), so a notebook can never drift from the
code it shows.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: notebook name -> example script (the single source)
NOTEBOOKS = {
    "seed_001_single_neuron": "seed_001_single_neuron.py",
    "seed_002_manual_vs_library": "seed_002_manual_vs_library.py",
    "classification_iris": "classification_iris.py",
}


def cells_of(script: Path) -> list[tuple[str, str]]:
    """(kind, source) of each ``# %%`` cell of a script; kind is "markdown" or "code"."""
    cells, kind, lines = [], None, []
    for line in script.read_text(encoding="utf-8").splitlines():
        if line.startswith("# %%"):
            if kind is not None:
                cells.append((kind, lines))
            kind, lines = ("markdown" if "[markdown]" in line else "code"), []
            continue
        lines.append(line[2:] if kind == "markdown" and line.startswith("# ") else
                     ("" if kind == "markdown" and line == "#" else line))
    if kind is not None:
        cells.append((kind, lines))
    return [(kind, "\n".join(lines).strip("\n")) for kind, lines in cells]


def notebook_for(script: Path):
    """An unexecuted notebook holding the script's cells."""
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    notebook.cells = [nbformat.v4.new_markdown_cell(source) if kind == "markdown" else
                      nbformat.v4.new_code_cell(source) for kind, source in cells_of(script)]
    return notebook


def execute(notebook, timeout: int = 600):
    """Run every cell in a fresh kernel, in a scratch directory (the examples write plots)."""
    import tempfile

    from nbclient import NotebookClient

    with tempfile.TemporaryDirectory() as scratch:
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": scratch}}).execute()
    return notebook


def main() -> int:
    import nbformat

    for name, script in NOTEBOOKS.items():
        notebook = execute(notebook_for(ROOT / "examples" / script))
        path = ROOT / "notebooks" / f"{name}.ipynb"
        nbformat.write(notebook, str(path))
        print(f"wrote {path.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    os.environ.pop("BACKPROP_EXAMPLE_EPOCHS", None)      # the stored outputs are full runs
    sys.exit(main())
