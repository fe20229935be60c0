"""Save and load: exact round trips, continued training, atomic writes, refusal of bad files."""

import json
import os

import numpy as np
import pytest

from backpropagation import Activation, NeuralNetwork, activations
from backpropagation import io as model_io


@pytest.fixture
def trained():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3))
    y = np.array(["cat", "dog", "emu", "dog"] * 10)
    model = NeuralNetwork([3, 8, 3], task="classification", hidden_activation=activations.LeakyReLU(0.2),
                          optimizer="adam", learning_rate=0.01, l2=0.001, random_state=0)
    model.fit(X, y, epochs=3, batch_size=8, verbose=0)
    return model, X, y


def test_round_trip_reproduces_predictions_exactly(trained, tmp_path):
    model, X, y = trained
    model.save(tmp_path / "model.npz")
    loaded = NeuralNetwork.load(tmp_path / "model.npz")
    np.testing.assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    assert loaded.classes_.tolist() == ["cat", "dog", "emu"]
    assert loaded.layers[0].activation.alpha == 0.2 and loaded.l2 == 0.001
    assert loaded.summary() == model.summary()


def test_training_continues_after_load_as_if_never_saved(trained, tmp_path):
    model, X, y = trained
    model.save(tmp_path / "model.npz")
    loaded = NeuralNetwork.load(tmp_path / "model.npz")
    model.fit(X, y, epochs=2, batch_size=8, verbose=0)
    loaded.fit(X, y, epochs=2, batch_size=8, verbose=0)
    assert loaded.parameters.tobytes() == model.parameters.tobytes()


@pytest.mark.parametrize("version", [1, 2])
def test_older_format_files_with_adam_state_load_and_continue(trained, tmp_path, version):
    # Format 1 saved Adam's moments m and v as today; format 2 saved m / (1 - β1) and v / (1 - β2).
    model, X, y = trained
    model.save(tmp_path / "now.npz")
    with np.load(tmp_path / "now.npz") as archive:
        arrays = {key: archive[key] for key in archive.files}
    description = json.loads(arrays.pop("config.json").tobytes())
    assert description["version"] == model_io.FORMAT_VERSION == 3
    description["version"] = version
    if version == 2:
        arrays["optimizer.m_sum"] = arrays.pop("optimizer.m") / (1 - 0.9)
        arrays["optimizer.v_sum"] = arrays.pop("optimizer.v") / (1 - 0.999)
    write_archive(tmp_path / "old.npz", **{"config.json": config_bytes(description)}, **arrays)
    loaded = NeuralNetwork.load(tmp_path / "old.npz")
    np.testing.assert_allclose(loaded.optimizer.m, model.optimizer.m, rtol=1e-12)
    model.fit(X, y, epochs=2, batch_size=8, verbose=0)
    loaded.fit(X, y, epochs=2, batch_size=8, verbose=0)
    np.testing.assert_allclose(loaded.parameters, model.parameters, rtol=1e-10, atol=1e-12)


def test_float32_and_regression_rank_survive(tmp_path):
    model = NeuralNetwork([2, 3, 1], dtype="float32", random_state=0)
    model.fit(np.ones((4, 2)), np.arange(4.0), epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = NeuralNetwork.load(tmp_path / "m.npz")
    assert loaded.parameters.dtype == np.float32 and loaded.predict(np.ones((2, 2))).shape == (2,)


def test_the_file_is_written_exactly_where_asked(tmp_path):
    NeuralNetwork([2, 1]).save(tmp_path / "model.bin")
    assert os.listdir(tmp_path) == ["model.bin"]


def test_a_failed_save_leaves_the_previous_file_intact(trained, tmp_path, monkeypatch):
    model, X, _ = trained
    path = tmp_path / "model.npz"
    model.save(path)
    before = path.read_bytes()

    def broken_savez(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(model_io.np, "savez", broken_savez)
    with pytest.raises(OSError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["model.npz"]          # no temporary file left behind


def test_unregistered_custom_activation_cannot_be_saved_silently(tmp_path):
    class Mine(Activation):
        def forward(self, Z):
            return Z

        def backward(self, Z, A, dA):
            return dA

    with pytest.raises(ValueError, match="register it"):
        NeuralNetwork([2, 2, 1], hidden_activation=Mine()).save(tmp_path / "m.npz")


def write_archive(path, **arrays):
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def config_bytes(description):
    return np.frombuffer(json.dumps(description).encode(), dtype=np.uint8)


def valid_description(tmp_path):
    NeuralNetwork([2, 3, 1], random_state=0).save(tmp_path / "good.npz")
    with np.load(tmp_path / "good.npz") as archive:
        return json.loads(archive["config.json"].tobytes()), archive["parameters"]


def test_pickled_content_is_refused(tmp_path):
    path = tmp_path / "evil.npz"
    write_archive(path, **{"config.json": np.array([{"a": 1}], dtype=object), "parameters": np.zeros(3)})
    with pytest.raises(ValueError, match="pickle"):
        NeuralNetwork.load(path)


def test_truncated_file_is_refused(trained, tmp_path):
    model, _, _ = trained
    model.save(tmp_path / "m.npz")
    data = (tmp_path / "m.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="not a readable model file"):
        NeuralNetwork.load(tmp_path / "cut.npz")


@pytest.mark.parametrize("change,message", [
    (lambda d, p: d.update(version=99), "version 99 is not supported"),
    (lambda d, p: d.update(version=True), "version True is not supported"),
    (lambda d, p: d.update(format="other"), "not a backpropagation model"),
    (lambda d, p: d["network"].update(layer_sizes=[2, 0, 1]), "invalid network description"),
    (lambda d, p: d["network"]["hidden_activation"][0].update(name="nope"), "unknown activation"),
    (lambda d, p: d["network"].pop("task"), "invalid network description"),
])
def test_broken_descriptions_are_refused(tmp_path, change, message):
    description, params = valid_description(tmp_path)
    change(description, params)
    write_archive(tmp_path / "bad.npz", **{"config.json": config_bytes(description), "parameters": params})
    with pytest.raises(ValueError, match=message):
        NeuralNetwork.load(tmp_path / "bad.npz")


@pytest.mark.parametrize("params,message", [
    (np.zeros(5), "declares 13 parameters but the file holds 5"),
    (np.full(13, np.nan), "non-finite"),
    (np.zeros(13, dtype=np.int64), "parameters have shape"),
])
def test_bad_parameter_arrays_are_refused(tmp_path, params, message):
    description, _ = valid_description(tmp_path)
    write_archive(tmp_path / "bad.npz", **{"config.json": config_bytes(description), "parameters": params})
    with pytest.raises(ValueError, match=message):
        NeuralNetwork.load(tmp_path / "bad.npz")


def test_missing_entries_and_missing_files(tmp_path):
    write_archive(tmp_path / "empty.npz", other=np.zeros(1))
    with pytest.raises(ValueError, match="missing entry 'config.json'"):
        NeuralNetwork.load(tmp_path / "empty.npz")
    with pytest.raises(FileNotFoundError):
        NeuralNetwork.load(tmp_path / "absent.npz")
    (tmp_path / "text.npz").write_text("not a zip")
    with pytest.raises(ValueError, match="not a readable model file"):
        NeuralNetwork.load(tmp_path / "text.npz")


def adam_archive(tmp_path):
    """A trained Adam model's description and arrays, ready to be altered and rewritten."""
    model = NeuralNetwork([2, 3, 1], optimizer="adam", random_state=0)
    model.fit(np.ones((4, 2)), np.arange(4.0), epochs=2, verbose=0)
    model.save(tmp_path / "adam.npz")
    with np.load(tmp_path / "adam.npz") as archive:
        arrays = {key: archive[key] for key in archive.files}
    return json.loads(arrays.pop("config.json").tobytes()), arrays


@pytest.mark.parametrize("change,message", [
    (lambda d, a: a["optimizer.v"].__setitem__(0, -1.0), "cannot be negative"),
    (lambda d, a: a["optimizer.m"].__setitem__(0, np.nan), "non-finite"),
    (lambda d, a: d.update(optimizer_iterations=-3), "iterations: expected an integer >= 0"),
    (lambda d, a: d.update(optimizer_iterations=2.5), "iterations: expected an integer >= 0"),
    (lambda d, a: d.update(optimizer_iterations="7"), "iterations: expected an integer >= 0"),
    (lambda d, a: a.pop("optimizer.v"), "missing v"),
])
def test_corrupt_optimizer_state_is_refused_at_load(tmp_path, change, message):
    description, arrays = adam_archive(tmp_path)
    change(description, arrays)
    write_archive(tmp_path / "bad.npz", **{"config.json": config_bytes(description)}, **arrays)
    with pytest.raises(ValueError, match=message):
        NeuralNetwork.load(tmp_path / "bad.npz")


def test_a_description_nested_100000_deep_is_one_value_error(tmp_path):
    text = '{"format": "backpropagation.model", "version": 2, "network": ' + "[" * 100_000 + "]" * 100_000 + "}"
    write_archive(tmp_path / "deep.npz", **{"config.json": np.frombuffer(text.encode(), dtype=np.uint8),
                                            "parameters": np.zeros(3)})
    with pytest.raises(ValueError, match="nested too deeply"):
        NeuralNetwork.load(tmp_path / "deep.npz")


@pytest.fixture
def own_registry(own_names):
    """Names registered here are unregistered after the test (see conftest's ``own_names``)."""


class ScaledTanh(Activation):
    """A registered activation with a constructor parameter but no get_config."""

    def __init__(self, scale=1.0):
        self.scale = scale

    def forward(self, Z):
        return self.scale * np.tanh(Z)

    def backward(self, Z, A, dA):
        return dA * self.scale * (1 - np.tanh(Z) ** 2)


def test_a_constructor_parameter_that_get_config_would_lose_is_refused_at_save(tmp_path, own_registry):
    activations.register("scaled_tanh_test", ScaledTanh)
    model = NeuralNetwork([2, 3, 1], hidden_activation=ScaledTanh(3.0))
    with pytest.raises(ValueError, match=r"constructor takes scale, which get_config\(\) does not return"):
        model.save(tmp_path / "m.npz")
    assert not (tmp_path / "m.npz").exists()


def test_a_get_config_that_json_cannot_hold_is_named(tmp_path, own_registry):
    class Odd(ScaledTanh):
        def get_config(self):
            return {"scale": np.float32(2.0) + 1j}

    activations.register("odd_test", Odd)
    with pytest.raises(ValueError, match="get_config"):
        NeuralNetwork([2, 3, 1], hidden_activation=Odd()).save(tmp_path / "m.npz")
