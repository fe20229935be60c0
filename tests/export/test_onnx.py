"""ONNX export: the graph's outputs equal predict's, in onnxruntime and ONNX's reference evaluator."""

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from onnx.reference import ReferenceEvaluator  # noqa: E402

from backpropagation import Activation, NeuralNetwork  # noqa: E402
from backpropagation.cli import demo_data_path  # noqa: E402
from backpropagation.cli import main as backprop  # noqa: E402

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3))


def run_both(proto, feeds):
    """The graph's outputs in onnxruntime and in the reference evaluator."""
    session = ort.InferenceSession(proto.SerializeToString())
    return session.run(None, feeds), ReferenceEvaluator(proto).run(None, feeds)


@pytest.mark.parametrize("dtype,tolerance", [("float64", 1e-12), ("float32", 1e-5)])
@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh", "linear", "leaky_relu", "elu", "softplus",
                                        "swish", "softmax"])
def test_every_activation_runs_as_predict_does(activation, dtype, tolerance):
    model = NeuralNetwork([3, 5, 4, 2], hidden_activation=activation, dtype=dtype, random_state=0)
    model.fit(X, np.c_[X.sum(axis=1) * 100, X[:, 0] + 7], epochs=3, verbose=0)     # (target units undone)
    for outputs in run_both(model.to_onnx(), {"X": X.astype(dtype)}):
        np.testing.assert_allclose(outputs[0], model.predict(X), rtol=tolerance, atol=tolerance * 100)


@pytest.mark.parametrize("labels,outputs", [
    (np.where(X[:, 0] > 0, "yes", "no"), 1),                        # sigmoid, text labels
    ((X[:, 0] > 0).astype(int) + (X[:, 1] > 0), 3),                 # softmax, integer labels
    (np.where(X[:, 1] > 0, 10, 20), 2),                             # softmax over two classes
])
@pytest.mark.parametrize("use_bias", [True, False])
def test_classifiers_give_predict_s_labels_and_probabilities(labels, outputs, use_bias):
    model = NeuralNetwork([3, 6, outputs], task="classification", use_bias=use_bias, random_state=0)
    model.fit(X, labels, epochs=5, verbose=0)
    for label, proba in run_both(model.to_onnx(), {"X": X}):
        assert np.asarray(label).tolist() == model.predict(X).tolist()
        np.testing.assert_allclose(proba, model.predict_proba(X), rtol=1e-12, atol=1e-15)


def test_a_one_output_regression_and_the_file_written(tmp_path):
    model = NeuralNetwork([3, 4, 1], random_state=0)
    model.fit(X, X[:, 0] * 1000 + 5, epochs=3, verbose=0)
    model.to_onnx(tmp_path / "m.onnx")
    proto = onnx.load(str(tmp_path / "m.onnx"))
    values = ort.InferenceSession(proto.SerializeToString()).run(None, {"X": X})[0]
    np.testing.assert_allclose(values[:, 0], model.predict(X), rtol=1e-9)


def test_custom_blocks_and_unfitted_classifiers_are_refused_by_name():
    class Cube(Activation):
        def forward(self, Z):
            return Z ** 3

        def backward(self, Z, A, dA):
            return 3 * Z * Z * dA

    model = NeuralNetwork([3, 4, 1], hidden_activation=Cube(), random_state=0)
    with pytest.raises(ValueError, match="the activation Cube is not a built-in one"):
        model.to_onnx()
    with pytest.raises(ValueError, match="fit the classifier first"):
        NeuralNetwork([3, 2], task="classification").to_onnx()


def test_the_estimators_export_their_network():
    from backpropagation.sklearn import BackpropClassifier

    estimator = BackpropClassifier(hidden_layer_sizes=(5,), epochs=5, random_state=0).fit(X, X[:, 0] > 0)
    label, proba = ort.InferenceSession(estimator.to_onnx().SerializeToString()).run(None, {"X": X})
    assert label.tolist() == estimator.predict(X).tolist()


def raw_columns(frame, preprocessing):
    """A DataFrame's columns as the exported graph's inputs: floats with NaN, strings."""
    feeds = {}
    for spec in preprocessing["columns"]:
        column = frame[spec["name"]]
        feeds[spec["name"]] = (column.to_numpy(dtype=np.float64) if spec["kind"] == "numeric" else
                               column.fillna("").astype(str).to_numpy(dtype=object)).reshape(-1, 1)
    return feeds


@pytest.mark.parametrize("target", ["species", "body_mass_g"])
def test_the_exported_command_line_pipeline_equals_backprop_predict_on_raw_columns(tmp_path, capsys, target):
    pd = pytest.importorskip("pandas")
    data = pd.read_csv(demo_data_path())
    data.loc[3, "island"] = "Atlantis"                       # an unseen category
    data.loc[5, "sex"] = None                                # a gap in a text column
    data.loc[7, "bill_depth_mm"] = None                      # a gap in a number column
    data.to_csv(tmp_path / "d.csv", index=False)
    assert backprop(["train", str(tmp_path / "d.csv"), "--target", target, "--drop", "year", "--epochs", "5",
                     "--seed", "0", "--quiet", "--output", str(tmp_path / "m.npz")]) == 0
    assert backprop(["export", str(tmp_path / "m.npz"), str(tmp_path / "m.onnx")]) == 0
    assert backprop(["predict", str(tmp_path / "m.npz"), str(tmp_path / "d.csv"), "--proba",
                     "-o", str(tmp_path / "p.csv")]) == 0
    written = pd.read_csv(tmp_path / "p.csv")
    model = NeuralNetwork.load(tmp_path / "m.npz")
    proto = onnx.load(str(tmp_path / "m.onnx"))
    assert "year" not in [i.name for i in proto.graph.input]
    feeds = raw_columns(data, model.metadata["preprocessing"])
    outputs = ort.InferenceSession(proto.SerializeToString()).run(None, feeds)
    if target == "species":
        assert outputs[0].tolist() == written[f"predicted_{target}"].tolist()
        np.testing.assert_allclose(outputs[1], written[[f"proba_{c}" for c in model.classes_]], rtol=1e-5, atol=1e-9)
    else:
        np.testing.assert_allclose(outputs[0][:, 0], written[f"predicted_{target}"], rtol=1e-9)
    assert "ONNX graph written to" in capsys.readouterr().out


def test_the_documented_serving_recipe_runs_as_written(tmp_path):
    import re
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("pandas")
    readme = (Path(__file__).parents[2] / "docs" / "onnx.md").read_text(encoding="utf-8")
    script = next(block for block in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "onnxruntime" in block)
    assert backprop(["train", demo_data_path(), "--target", "species", "--epochs", "2", "--quiet",
                     "--output", str(tmp_path / "m.npz")]) == 0
    assert backprop(["export", str(tmp_path / "m.npz"), str(tmp_path / "model.onnx")]) == 0
    (tmp_path / "new_rows.csv").write_bytes(Path(demo_data_path()).read_bytes())
    (tmp_path / "serve.py").write_text(script + "\nprint(len(label), probabilities.shape)\n")
    done = subprocess.run([sys.executable, "serve.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[0] == "344"


def test_a_model_fitted_on_a_frame_takes_one_named_input_per_column():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=["height", "width", "depth"])
    model = NeuralNetwork([3, 4, 1], random_state=0)
    model.fit(frame, X[:, 0] + 1, epochs=2, verbose=0)
    proto = model.to_onnx()
    assert [i.name for i in proto.graph.input] == ["height", "width", "depth"]
    feeds = {name: frame[[name]].to_numpy() for name in frame.columns}
    for outputs in run_both(proto, feeds):
        np.testing.assert_allclose(outputs[0][:, 0], model.predict(frame), rtol=1e-12)


def test_an_export_that_disagrees_with_predict_writes_nothing_and_says_so(tmp_path, monkeypatch, capsys):
    from backpropagation.tables.table_model import TableModel

    assert backprop(["train", demo_data_path(), "--target", "species", "--epochs", "2", "--quiet",
                     "--output", str(tmp_path / "m.npz")]) == 0
    real = TableModel.predict_proba
    monkeypatch.setattr(TableModel, "predict_proba", lambda self, frame: real(self, frame) + 0.01)
    assert backprop(["export", str(tmp_path / "m.npz"), str(tmp_path / "m.onnx")]) == 2
    assert "differ from predict's by up to 0.01" in capsys.readouterr().err
    assert not (tmp_path / "m.onnx").exists()


# ------------------------------------------------------------------ the graph reads cells as predict does
def table_model_of(frame, target, na_values=(), dtype="float64", epochs=1, seed=0):
    """A model trained on ``frame`` as ``backprop train`` trains it (its preprocessing in front)."""
    from backpropagation.tables.csv_source import TextFormat
    from backpropagation.tables.preprocessing import TabularPreprocessor
    from backpropagation.tables.table_model import TableModel, table_of

    fmt = TextFormat(na_values=tuple(na_values))
    pre = TabularPreprocessor(target).fit(table_of(frame, fmt))
    X, y, _ = pre.transform(table_of(frame, fmt), with_target=True, dtype=dtype)
    task = pre.resolved_task
    n_out = 1 if task == "regression" or len(set(y.tolist())) == 2 else len(set(y.tolist()))
    network = NeuralNetwork([X.shape[1], 6, n_out], task=task, dtype=dtype, random_state=seed)
    network.fit(X, y, epochs=epochs, verbose=0)
    network.metadata.update(preprocessing=pre.to_dict(), text_format=fmt.to_dict())
    return TableModel(network, pre, fmt)


def graph_equals_predict(table_model, cells: dict):
    """Run the exported graph on raw ``cells`` in onnxruntime and compare with TableModel.predict."""
    import pyarrow as pa

    from backpropagation.export.table_graph import export_table_model

    proto = export_table_model(table_model)                  # (checks itself before returning)
    n = max(len(v) for v in cells.values())
    feeds, columns = {}, {}
    for spec in table_model.preprocessing.columns:
        values = [cells[spec["name"]][i % len(cells[spec["name"]])] for i in range(n)]
        numeric = spec["kind"] == "numeric" or spec.get("codes", False)
        feeds[spec["name"]] = np.array(values, dtype=table_model.network.dtype if numeric else object).reshape(-1, 1)
        columns[spec["name"]] = pa.array(values, type=pa.float64() if numeric else pa.string())
    got = ort.InferenceSession(proto.SerializeToString()).run(None, feeds)
    frame = pa.table(columns)
    tolerance = 1e-9 if table_model.network.dtype == np.float64 else 1e-4
    if table_model.network.task_.is_classifier:
        assert got[0].tolist() == table_model.predict(frame).tolist()
        np.testing.assert_allclose(got[1], table_model.predict_proba(frame), rtol=tolerance, atol=tolerance)
    else:
        np.testing.assert_allclose(got[0][:, 0], table_model.predict(frame), rtol=tolerance, atol=tolerance)
    return proto


SPELLINGS = ["WD", "WD ", " WD", "\tWD\u00a0", "wd", "New  Con", "New  Con ", "NA", " NA", "NA ", "na", "N/A",
             "null", "", "  ", "None", "none", "NONE", "?", " - ", "COD", "unseen one", "Oth",
             "information not available", "INFORMATION NOT AVAILABLE", " Information Not Available "]


@pytest.mark.parametrize("none_is_a_category", [False, True])
def test_the_graph_reads_every_spelling_of_a_cell_as_predict_does(none_is_a_category):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    n = 300
    kinds = ["WD", "New  Con", "COD", "Oth"] + (["none"] if none_is_a_category else [])
    frame = pd.DataFrame({"area": rng.normal(1500, 300, n), "sale": rng.choice(kinds, n),
                          "price": rng.normal(2e5, 3e4, n)})
    frame.loc[::17, "area"] = np.nan
    frame.loc[::13, "sale"] = "information not available"
    model = table_model_of(frame, "price", na_values=["information not available"])
    assert ("none" in model.preprocessing.columns[1]["categories"]) == none_is_a_category
    graph_equals_predict(model, {"area": [1200.0, np.nan, np.inf, -np.inf, 1e300, 1800.0],
                                 "sale": SPELLINGS})


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_column_of_group_codes_is_a_number_input_looked_up_as_predict_does(dtype):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(5)
    trees = rng.permutation(np.repeat(np.arange(1, 41), 4)).astype(float)
    frame = pd.DataFrame({"tree": trees, "x": rng.normal(size=160)})
    frame["y"] = trees % 5 + frame.x
    frame.loc[::9, "tree"] = np.nan                           # (gaps: the column's own level)
    model = table_model_of(frame, "y", dtype=dtype, epochs=3)
    assert model.preprocessing.columns[0]["codes"] and model.preprocessing.columns[0]["missing_level"]
    proto = graph_equals_predict(model, {"tree": [1.0, 7.0, 40.0, 41.0, 0.0, -3.0, 7.5, np.nan, np.inf, -np.inf,
                                                  1e30, 2.0**40, 12.0], "x": [0.0, 1.0, -2.0]})
    tree = next(i for i in proto.graph.input if i.name == "tree")
    assert tree.type.tensor_type.elem_type == (1 if dtype == "float32" else 11)     # (FLOAT, DOUBLE)


@pytest.mark.parametrize("name", ["c_13", "label", "probabilities", "values", "where_2", "X", "regexfullmatch_5",
                                  "add_0", "values_output"])
def test_column_names_never_collide_with_the_graph_s_own(name):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({name: rng.normal(size=200), "kind": rng.choice(["a", "b"], 200)})
    frame["y"] = np.where(frame[name] + (frame.kind == "a") > 0.5, "yes", "no")
    model = table_model_of(frame, "y", epochs=3)
    proto = graph_equals_predict(model, {name: [0.1, -2.0, np.nan, 3.0], "kind": ["a", "b", " a", "B", ""]})
    outputs = [o.name for o in proto.graph.output]
    assert name not in outputs and len(set(outputs)) == 2
    assert outputs == (["label_output", "probabilities"] if name == "label" else
                       ["label", "probabilities_output"] if name == "probabilities" else ["label", "probabilities"])


def test_a_long_missing_token_is_matched_in_any_case_without_enumerating_its_spellings():
    pd = pytest.importorskip("pandas")
    token = "information not available for this"
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"x": rng.normal(size=200), "k": rng.choice(["p", "q", token], 200),
                          "y": rng.normal(size=200)})
    model = table_model_of(frame, "y", na_values=[token])
    proto = graph_equals_predict(model, {"x": [0.0], "k": [token.upper(), token.title(), f"  {token} ", "p", "Q"]})
    assert len(proto.SerializeToString()) < 100_000


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_serving_recipe_reads_codes_as_written_and_numbers_in_the_model_s_dtype(tmp_path, dtype):
    import re
    import subprocess
    import sys
    from pathlib import Path

    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(3)
    n = 400
    frame = pd.DataFrame({"zip": rng.choice(["02139", "10001", "94105", "00501"], n),
                          "code": rng.choice(["1", "2", "3", ""], n), "size": rng.normal(100, 20, n)})
    frame["price"] = frame["size"] * 3 + frame["zip"].map({"02139": 50, "10001": 80, "94105": 120, "00501": 10})
    path = tmp_path / "rows.csv"
    frame.to_csv(path, index=False)
    options = ["--float32"] if dtype == "float32" else []
    assert backprop(["train", str(path), "--target", "price", "--text", "zip", "--text", "code", "--epochs", "3",
                     "--seed", "0", "--quiet", *options, "--output", str(tmp_path / "m.npz")]) == 0
    assert backprop(["export", str(tmp_path / "m.npz"), str(tmp_path / "model.onnx")]) == 0
    assert backprop(["predict", str(tmp_path / "m.npz"), str(path), "-o", str(tmp_path / "p.csv")]) == 0
    readme = (Path(__file__).parents[2] / "docs" / "onnx.md").read_text(encoding="utf-8")
    script = next(block for block in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "onnxruntime" in block)
    (tmp_path / "new_rows.csv").write_bytes(path.read_bytes())
    (tmp_path / "serve.py").write_text(script.replace("label, probabilities", "values,")
                                       + "\nnp.save('values.npy', values)\n")
    done = subprocess.run([sys.executable, "serve.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    predicted = pd.read_csv(tmp_path / "p.csv")["predicted_price"].to_numpy()
    np.testing.assert_allclose(np.load(tmp_path / "values.npy")[:, 0], predicted,
                               rtol=1e-5 if dtype == "float32" else 1e-9)


def test_network_to_onnx_checks_its_graph_against_predict(monkeypatch):
    model = NeuralNetwork([3, 4, 1], random_state=0)
    model.fit(X, X[:, 0], epochs=2, verbose=0)
    real = NeuralNetwork.predict
    monkeypatch.setattr(NeuralNetwork, "predict", lambda self, X: real(self, X) + 1e-3)
    with pytest.raises(ValueError, match="on random rows the graph's outputs differ from predict's"):
        model.to_onnx()


def test_export_checks_the_graph_on_the_training_file_s_own_rows(tmp_path, capsys):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(4)
    frame = pd.DataFrame({"kind": rng.choice(["WD ", " New", "COD"], 300), "x": rng.normal(size=300)})
    frame["y"] = frame["x"] + (frame.kind == "WD ")
    frame.to_csv(tmp_path / "t.csv", index=False)
    assert backprop(["train", str(tmp_path / "t.csv"), "--target", "y", "--epochs", "2", "--quiet",
                     "--output", str(tmp_path / "m.npz")]) == 0
    assert NeuralNetwork.load(tmp_path / "m.npz").metadata["training_data"] == str(tmp_path / "t.csv")
    from backpropagation.export import table_graph
    from backpropagation.tables.table_model import TableModel

    feeds = table_graph.rows_of_file(TableModel.load(tmp_path / "m.npz"), tmp_path / "t.csv")
    assert sorted(set(feeds["kind"][:, 0].tolist())) == [" New", "COD", "WD "]        # as written, untrimmed
    assert backprop(["export", str(tmp_path / "m.npz"), "-"]) == 2
    assert "not standard output" in capsys.readouterr().err


def random_table(rng, n=120):
    """A table of numbers (gaps, a huge value) and text (categories holding regex characters,
    inner spaces, other scripts, the ambiguous tokens) with a class or number target."""
    import pandas as pd

    words = ["a.b", "x*y", "(p)", "[q]", "{r}", "s|t", "u+v", "w?", "^z$", "back\\slash", "ü ö", "日本", "two  spaces",
             "none", "-", "?", "A.B", "tab\there"]
    frame = {}
    for j in range(rng.integers(1, 4)):
        values = rng.normal(rng.uniform(-1e3, 1e3), rng.uniform(0.1, 100), n)
        values[rng.random(n) < 0.1] = np.nan
        frame[f"n{j}"] = values
    for j in range(rng.integers(1, 3)):
        chosen = list(rng.choice(words, rng.integers(2, 7), replace=False))
        cells = np.array(chosen, dtype=object)[rng.integers(0, len(chosen), n)]
        cells[rng.random(n) < 0.1] = None
        frame[f"t{j}"] = cells
    frame = pd.DataFrame(frame)
    frame["y"] = rng.choice(["yes", "no", "maybe"][: rng.integers(2, 4)], n) if rng.random() < 0.5 else \
        rng.normal(size=n) * 50
    return frame


@pytest.mark.parametrize("seed", range(12))
def test_random_tables_export_graphs_equal_to_predict_on_hostile_cells(seed):
    pytest.importorskip("pandas")
    rng = np.random.default_rng(seed)
    frame = random_table(rng)
    model = table_model_of(frame, "y", dtype="float32" if seed % 3 == 0 else "float64", seed=seed)
    cells = {}
    for spec in model.preprocessing.columns:
        if spec["kind"] == "numeric":
            cells[spec["name"]] = [np.nan, np.inf, -np.inf, spec["median"], spec["mean"] + 2 * spec["std"]]
        else:
            known = [c for c in spec["categories"] if c != "(other)"]
            cells[spec["name"]] = [c for k in known for c in (k, f" {k}\t", k.upper(), k.lower())] + \
                ["", " ", "None", "NA", "nan", "N/A", "never seen", "\u3000"]
    graph_equals_predict(model, cells)


def test_float32_outputs_compare_to_the_precision_of_the_largest_output():
    # (found on DAAG's cps2 earnings, float32: a prediction of 16.85 is the difference of numbers the
    # size of the targets' mean, 8,648, and its float32 rounding there is a few thousandths)
    from backpropagation.export.onnx import compare

    expected = np.array([17999.44921875, 16.85644531, 0.0])
    compare([np.float32([17999.445, 16.854492, 0.0])], expected, None, np.float32, "rows")
    with pytest.raises(ValueError, match=r"differ from predict's by up to 1 \(first at row 1\)"):
        compare([np.float32([17999.445, 17.856445, 0.0])], expected, None, np.float32, "rows")
    with pytest.raises(ValueError, match="differ from predict's"):
        compare([np.array([17999.44921875, 16.8565, 0.0])], expected, None, np.float64, "rows")
