"""The notebooks: built from the example scripts (their single source), and they run."""

import importlib.util
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("build", ROOT / "notebooks" / "build.py")
build = importlib.util.module_from_spec(spec)
spec.loader.exec_module(build)


@pytest.mark.parametrize("name", sorted(build.NOTEBOOKS))
def test_each_notebook_holds_its_scripts_cells_and_their_outputs(name):
    stored = nbformat.read(str(ROOT / "notebooks" / f"{name}.ipynb"), as_version=4)
    expected = build.cells_of(ROOT / "examples" / build.NOTEBOOKS[name])
    assert [(cell.cell_type, cell.source) for cell in stored.cells] == expected, \
        "notebook out of date: run python notebooks/build.py"
    code = [cell for cell in stored.cells if cell.cell_type == "code"]
    assert any(cell.outputs for cell in code)                              # outputs are stored
    assert any("image/png" in out.get("data", {}) for cell in code for out in cell.outputs)   # pictures inline
    assert sum(cell.cell_type == "markdown" for cell in stored.cells) >= 3  # prose between the outputs
    assert not any(out.output_type == "error" for cell in code for out in cell.outputs)


def test_the_notebooks_are_the_examples_that_test_examples_leaves_to_them():
    from test_examples import WITH_NOTEBOOKS

    assert set(build.NOTEBOOKS.values()) == WITH_NOTEBOOKS


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(build.NOTEBOOKS))
def test_each_notebook_runs_top_to_bottom_and_prints_what_its_script_must(name, monkeypatch):
    from test_examples import check_output

    monkeypatch.setenv("BACKPROP_EXAMPLE_EPOCHS", "3")                     # quick: few epochs
    monkeypatch.setenv("MPLBACKEND", "Agg")
    notebook = build.execute(build.notebook_for(ROOT / "examples" / build.NOTEBOOKS[name]), timeout=300)
    outputs = [out for cell in notebook.cells for out in cell.get("outputs", [])]
    assert not any(out.output_type == "error" for out in outputs)
    check_output(build.NOTEBOOKS[name], "".join(out.get("text", "") for out in outputs if out.output_type == "stream"))
