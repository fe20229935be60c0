"""ensemble.py: several trained networks saved as one whose output is the mean of theirs."""

import json

import numpy as np
import pytest

from backpropagation import NeuralNetwork, TableModel, average_networks
from backpropagation.cli import main as backprop


def data(n=120, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    X[:, 1] = rng.integers(0, 5, n)                                  # codes, for an embedding
    targets = {"regression": 3 * np.sin(X[:, 0]) + X[:, 2] + 10, "binary": (X[:, 0] + X[:, 3] > 0).astype(int),
               "classification": (X[:, 0] > 0).astype(int) + (X[:, 2] > 0.5)}
    return X, targets


def members(task, y, X, sizes=(4, 8, 6), k=3, **options):
    options = options or dict(embeddings={1: (5, 2, True)}, periodic=[0, 2, 3], input_scale=True,
                              hidden_activation="swish")
    n_out = 3 if task == "classification" else 1
    fitted = []
    for seed in range(k):
        model = NeuralNetwork([*sizes, n_out], task=task, random_state=seed, **options)
        model.fit(X, y, epochs=4, verbose=0)
        fitted.append(model)
    return fitted


def logits(model, X):
    return model.backprop.infer(np.asarray(X, dtype=model.dtype))[0]


@pytest.mark.parametrize("task", ["regression", "binary", "classification"])
@pytest.mark.parametrize("stage", ["embeddings, periodic, input scale", "plain", "input scale alone",
                                   "no hidden layer"])
def test_the_merged_network_outputs_the_mean_of_its_members_logits(task, stage):
    X, targets = data()
    options = {"plain": dict(hidden_activation="tanh"), "no hidden layer": dict(periodic=[0, 2]),
               "input scale alone": dict(input_scale=True)}.get(stage, {})
    sizes = (4,) if stage == "no hidden layer" else (4, 8, 6)
    fitted = members(task, targets[task], X, sizes, **options)
    merged = average_networks(iter(fitted))           # (any iterable of networks)
    np.testing.assert_allclose(logits(merged, X), np.mean([logits(m, X) for m in fitted], axis=0),
                               rtol=1e-12, atol=1e-12)
    assert merged.layer_sizes == (4, *(3 * h for h in sizes[1:]), fitted[0].layer_sizes[-1])
    if task == "regression":                     # (one target scaling: the mean of the members' values)
        np.testing.assert_allclose(merged.predict(X), np.mean([m.predict(X) for m in fitted], axis=0), rtol=1e-12)
    else:
        assert list(merged.classes_) == list(fitted[0].classes_)


def test_the_merged_network_saves_loads_and_exports_like_any(tmp_path):
    X, targets = data()
    merged = average_networks(members("classification", targets["classification"], X))
    merged.save(tmp_path / "m.npz")
    loaded = NeuralNetwork.load(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict_proba(X), merged.predict_proba(X))
    assert loaded.metadata["ensemble"] == {"members": 3}
    onnxruntime = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    session = onnxruntime.InferenceSession(merged.to_onnx().SerializeToString())
    outputs = session.run(None, {session.get_inputs()[0].name: X.astype(np.float64)})
    np.testing.assert_allclose(outputs[-1], merged.predict_proba(X), rtol=1e-9, atol=1e-12)


def test_members_that_differ_or_are_unfitted_say_what():
    X, targets = data()
    fitted = members("binary", targets["binary"], X, k=2)
    other = NeuralNetwork([4, 8, 5, 1], task="binary", embeddings={1: (5, 2, True)}, periodic=[0, 2, 3],
                          input_scale=True, hidden_activation="swish")
    other.fit(X, targets["binary"], epochs=1, verbose=0)
    with pytest.raises(ValueError, match="member 2 differs from the first in network"):
        average_networks([*fitted, other])
    with pytest.raises(ValueError, match="member 1 has not been fitted"):
        average_networks([fitted[0], NeuralNetwork([4, 8, 6, 1], task="binary")])
    regression = members("regression", targets["regression"], X, k=1)[0]
    shifted = NeuralNetwork([4, 8, 6, 1], embeddings={1: (5, 2, True)}, periodic=[0, 2, 3], input_scale=True,
                            hidden_activation="swish")
    shifted.fit(X, targets["regression"] + 1, epochs=1, verbose=0)
    with pytest.raises(ValueError, match="differs from the first in fitted targets"):
        average_networks([regression, shifted])
    with pytest.raises(ValueError, match="expected a list of NeuralNetwork"):
        average_networks([])


@pytest.fixture
def table(tmp_path):
    rng = np.random.default_rng(0)
    n = 240
    rows = {"area": rng.lognormal(7, 0.3, n).round(), "town": rng.choice(["north", "south", "east"], n),
            "rooms": rng.integers(1, 6, n)}
    rows["price"] = 100 * rows["area"] + 5000 * (rows["town"] == "north") + rng.normal(0, 2000, n)
    with open(tmp_path / "houses.csv", "w") as handle:
        handle.write("area,town,rooms,price\n")
        handle.writelines(f"{a},{t},{r},{p}\n" for a, t, r, p in zip(*rows.values()))
    return tmp_path


def train(where, name, *options, capsys):
    assert backprop(["train", str(where / "houses.csv"), "--target", "price", "--seed", "0", "--epochs", "15",
                     "--json", "--output", str(where / name), *options]) == 0
    return json.loads(capsys.readouterr().out)


def test_the_command_trains_k_networks_on_one_split_the_first_as_a_single_run_would(table, capsys):
    single = train(table, "one.npz", capsys=capsys)
    pytest.importorskip("matplotlib")
    report = train(table, "three.npz", "--ensemble", "3", "--plots", str(table / "plots"), capsys=capsys)
    assert report["plots"] and all((table / "plots" / name).exists() for name in report["plots"])
    assert report["ensemble"]["members"] == 3 and report["ensemble"]["seeds"] == [0, 1, 2]
    assert report["ensemble"]["epochs_run"][0] == single["epochs_run"]
    assert report["rows_validation"] == single["rows_validation"]
    assert [line for line in report["recipe"] if line.startswith("an ensemble of 3 networks (seeds 0 to 2)")]
    one, three = NeuralNetwork.load(table / "one.npz"), NeuralNetwork.load(table / "three.npz")
    width = one.layers[1].W.shape
    np.testing.assert_array_equal(three.layers[1].W[:width[0], :width[1]], one.layers[1].W)   # member 0: the same run
    assert not three.layers[1].W[:width[0], width[1]:].any()                          # blocks never mix
    frame = __import__("pandas").read_csv(table / "houses.csv")
    np.testing.assert_allclose(TableModel.load(table / "three.npz").predict(frame), three.predict(
        TableModel.load(table / "three.npz").transform(frame)), rtol=1e-12)
    assert backprop(["summary", str(table / "three.npz")]) == 0
    assert "an ensemble of 3 networks saved as one" in capsys.readouterr().out


def test_an_ensemble_is_not_streamed(table, capsys):
    assert backprop(["train", str(table / "houses.csv"), "--target", "price", "--stream", "--ensemble", "2",
                     "--output", str(table / "m.npz")]) == 2
    assert "--ensemble 2: trains its networks one after another on a table held in memory" in capsys.readouterr().err
    assert not (table / "m.npz").exists()


@pytest.mark.parametrize("pressed_at, members", [(2, None), (3, 2)])
def test_a_ctrl_c_during_a_later_member_keeps_the_members_fitted_before_it(table, capsys, ctrl_c_at_fit,
                                                                          pressed_at, members):
    ctrl_c_at_fit(pressed_at)                         # (one engine choice per member's fit)
    code = backprop(["train", str(table / "houses.csv"), "--target", "price", "--seed", "0", "--epochs", "5",
                     "--ensemble", "3", "--json", "--output", str(table / "m.npz")])
    report = json.loads(capsys.readouterr().out)
    assert code == 130 and report["interrupted"]
    saved = NeuralNetwork.load(table / "m.npz")
    assert (saved.metadata.get("ensemble") or {}).get("members") == members
    assert saved.layer_sizes[1] == 32 * (members or 1)
