"""ONNX on real tables no one here wrote: the documented serving recipe (docs/onnx.md), run on the
raw file (and on a copy spelled the way hand-kept files are spelled), gives ``backprop predict``'s
answers."""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pd = pytest.importorskip("pandas")

from backpropagation.cli import demo_data_path  # noqa: E402
from backpropagation.cli import main as backprop  # noqa: E402


def vega(name):
    local_data = pytest.importorskip("vega_datasets").local_data
    return getattr(local_data, name.replace("-", "_"))()


def vega_file(name, **read):
    """vega's file ``name`` as shipped (its Seattle files write dates year first with slashes)."""
    folder = Path(pytest.importorskip("vega_datasets").__file__).parent / "_data"
    return pd.read_csv(folder / name, keep_default_na=False, **read)


TABLES = {   # name: (the frame, its target, extra train options)
    "penguins": (lambda: pd.read_csv(demo_data_path(), keep_default_na=False, dtype=str), "species", []),
    "cars": (lambda: vega("cars"), "Origin", []),
    "barley": (lambda: vega("barley"), "yield", []),
    "seattle-weather": (lambda: vega("seattle-weather"), "weather", []),
    "airports": (lambda: vega("airports").head(1200), "state", ["--max-categories", "20"]),
    "seattle-weather.csv": (lambda: vega_file("seattle-weather.csv", dtype=str), "weather", []),
    "seattle-temps.csv": (lambda: vega_file("seattle-temps.csv", dtype={"date": str}).iloc[::4], "temp", []),
    "stocks.csv": (lambda: vega_file("stocks.csv", dtype={"date": str}), "price", []),     # (dates: Jan 1 2000)
    # (a spreadsheet's European CSV: semicolons, decimal commas; the graph's metadata says so)
    "cars;": (lambda: vega("cars"), "Miles_per_Gallon", ["--delimiter", ";", "--decimal", ",", "--na-values", "-1"],
              {"sep": ";", "decimal": ","}),
}


def scuffed(frame: pd.DataFrame, target: str, seed: int = 0, decimal: str = ".", na: tuple = ()) -> pd.DataFrame:
    """``frame`` as hand-kept files spell it: text padded with spaces, gaps written ``NA``, ``n/a``
    or ``  null `` (or one of ``na``), a few numbers ``inf`` (written with ``decimal``), a few dates
    in spellings that are no ISO date."""
    rng = np.random.default_rng(seed)
    frame = frame.copy()
    for name in frame.columns.drop(target):
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column):
            text = column.astype(object).where(column.notna(), "")
            text = text.astype(str).str.replace(".", decimal, regex=False) if decimal != "." else text
            text[rng.random(len(column)) < 0.02] = "inf"
        else:
            text = column.astype(str).where(column.notna(), "")
            pad = rng.random(len(column)) < 0.3
            text[pad] = " " + text[pad] + "  "
        if name == "date":     # spellings pandas' ISO 8601 reading takes and backprop reads as missing
            odd = rng.random(len(column)) < 0.03
            text[odd] = rng.choice(["2012/1/5", "20120105", "2012.01.05", "2012-01", "2012", "jan 5 2012",
                                    "January 5 2012"], int(odd.sum()))
        gap = rng.random(len(column)) < 0.05
        text[gap] = rng.choice(["NA", "n/a", "  null ", "", *na], int(gap.sum()))
        frame[name] = text
    return frame


def serve(tmp_path: Path, csvs: list) -> list:
    """The onnxruntime recipe of docs/onnx.md, as written, on each of ``csvs`` (one process); its
    first output for each."""
    page = (Path(__file__).parents[2] / "docs" / "onnx.md").read_text(encoding="utf-8")
    recipe = next(block for block in re.findall(r"```python\n(.*?)```", page, flags=re.S) if "onnxruntime" in block)
    recipe = recipe.replace('"new_rows.csv"', "CSV").replace("label, probabilities", "first, *_")
    script = (f"import numpy as np\nfor K, CSV in enumerate({[str(csv) for csv in csvs]!r}):\n"
              + textwrap.indent(recipe, "    ") + "\n    np.save(f'served{K}.npy', np.asarray(first))\n")
    (tmp_path / "serve.py").write_text(script)
    done = subprocess.run([sys.executable, "serve.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return [np.load(tmp_path / f"served{k}.npy", allow_pickle=True).tolist() for k in range(len(csvs))]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TABLES))
def test_the_served_graph_answers_as_backprop_predict_on_a_real_table_as_written(tmp_path, name):
    load, target, options, *written = TABLES[name]
    frame, spelling = load(), written[0] if written else {}
    frame.to_csv(tmp_path / "train.csv", index=False, **spelling)
    na = tuple(options[options.index("--na-values") + 1:][:1]) if "--na-values" in options else ()
    scuffed(frame, target, decimal=spelling.get("decimal", "."), na=na).to_csv(tmp_path / "scuffed.csv",
                                                                                index=False, **spelling)
    model = str(tmp_path / "m.npz")
    assert backprop(["train", str(tmp_path / "train.csv"), "--target", target, "--epochs", "3", "--seed", "0",
                     "--layers", "8", "--quiet", *options, "--output", model]) == 0
    assert backprop(["export", model, str(tmp_path / "model.onnx"), "--data", str(tmp_path / "scuffed.csv")]) == 0
    files = ("train.csv", "scuffed.csv")
    for csv, served in zip(files, serve(tmp_path, [tmp_path / csv for csv in files])):
        assert backprop(["predict", model, str(tmp_path / csv), "-o", str(tmp_path / "p.csv")]) == 0
        predicted = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)[f"predicted_{target}"]
        if frame[target].dtype.kind == "f":
            np.testing.assert_allclose(np.ravel(served), predicted.to_numpy(float), rtol=1e-9, err_msg=csv)
        else:
            assert [str(label) for label in served] == predicted.astype(str).tolist(), csv
