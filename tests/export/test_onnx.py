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


def test_the_readme_serving_example_runs_as_written(tmp_path):
    import re
    import subprocess
    import sys
    from pathlib import Path

    pytest.importorskip("pandas")
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
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
