"""Targets and labels: every label type fit accepts survives save and load; the rest is refused."""

import numpy as np
import pandas as pd
import pytest

from backpropagation import ModelCheckpoint, NeuralNetwork
from backpropagation.sklearn import BackpropClassifier

RNG = np.random.default_rng(0)
X = RNG.normal(size=(30, 3))
SPECIES = ["Adelie", "Chinstrap", "Gentoo"] * 10

LABELS = {
    "pandas str": lambda: pd.Series(SPECIES),
    "pandas object": lambda: pd.Series(SPECIES, dtype=object),
    "pandas category": lambda: pd.Series(SPECIES, dtype="category"),
    "pandas string": lambda: pd.Series(SPECIES, dtype="string"),
    "pandas nullable Int64": lambda: pd.Series([3, 1, 2] * 10, dtype="Int64"),
    "pandas int category": lambda: pd.Series([30, 10, 20] * 10, dtype="category"),
    "numpy object text": lambda: np.array(SPECIES, dtype=object),
    "numpy object ints": lambda: np.array([3, 1, 2] * 10, dtype=object),
    "numpy StringDType": lambda: np.array(SPECIES, dtype=np.dtypes.StringDType()),
    "numpy bytes": lambda: np.array([b"x", b"\xff", b"z"] * 10),
    "python list of text": lambda: list(SPECIES),
    "uint64 beyond int64": lambda: np.array([10**19, 10**19 + 1, 3] * 10, dtype=object),
    "float32": lambda: np.array([0.5, 1.5, 2.5] * 10, dtype=np.float32),
    "bool": lambda: np.array([True, False, True] * 10),
}


@pytest.mark.parametrize("kind", sorted(LABELS))
def test_every_label_type_fit_accepts_round_trips_through_save_and_load(kind, tmp_path):
    y = LABELS[kind]()
    n_classes = len(set(np.asarray(y).tolist()))
    model = NeuralNetwork([3, 5, n_classes], task="classification", random_state=0)
    model.fit(X, y, epochs=2, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = NeuralNetwork.load(tmp_path / "m.npz")
    assert loaded.predict(X).tolist() == model.predict(X).tolist()
    assert set(loaded.classes_.tolist()) == set(np.asarray(y).tolist())
    assert loaded.score(X, y) == model.score(X, y)      # the user's labels still encode


def test_large_integer_labels_stay_distinct_classes():
    y = np.array([10**19, 10**19 + 1, 2 * 10**18] * 10, dtype=object)
    model = NeuralNetwork([3, 4, 3], task="classification", random_state=0)
    model.fit(X, y, epochs=1, verbose=0)
    assert model.classes_.tolist() == [2 * 10**18, 10**19, 10**19 + 1]


def test_model_checkpoint_writes_a_loadable_model_for_pandas_labels(tmp_path):
    y = pd.Series(SPECIES, dtype="category")
    model = NeuralNetwork([3, 5, 3], task="classification", optimizer="adam", random_state=0)
    model.fit(X, y, epochs=3, verbose=0, validation_split=0.2,
              callbacks=[ModelCheckpoint(tmp_path / "best.npz")])
    assert NeuralNetwork.load(tmp_path / "best.npz").classes_.tolist() == sorted(set(SPECIES))


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimator_model_with_object_labels_saves_and_loads(tmp_path):
    clf = BackpropClassifier(hidden_layer_sizes=(5,), epochs=2, random_state=0)
    clf.fit(X, pd.Series(SPECIES, dtype=object))
    clf.model_.save(tmp_path / "m.npz")
    assert NeuralNetwork.load(tmp_path / "m.npz").predict(X).tolist() == clf.predict(X).tolist()


def test_partial_fit_with_object_labels_works_like_fit():
    y = np.array(SPECIES, dtype=object)
    clf = BackpropClassifier(hidden_layer_sizes=(5,), random_state=0)
    clf.partial_fit(X[:15], y[:15], classes=np.unique(y))
    clf.partial_fit(X[15:], y[15:])
    assert clf.classes_.tolist() == sorted(set(SPECIES))
    assert set(clf.predict(X).tolist()) <= set(SPECIES)


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
def test_estimators_accept_a_numpy_random_state():
    first = BackpropClassifier(hidden_layer_sizes=(5,), epochs=2, random_state=np.random.RandomState(3))
    second = BackpropClassifier(hidden_layer_sizes=(5,), epochs=2, random_state=np.random.RandomState(3))
    first.fit(X, SPECIES)
    second.fit(X, SPECIES)
    np.testing.assert_array_equal(first.predict_proba(X), second.predict_proba(X))


@pytest.mark.parametrize("classes, dtype, message", [
    (["apple", "banana"], "<U3", "does not hold the labels"),          # truncates
    ([1.5, 2.5], "<i8", "does not hold the labels"),                   # truncates
    ([1, 300], "|i1", "does not hold the labels"),                     # overflows
    (["a", "b"], "|O", "plain dtype"),
    (["b", "a"], "<U1", "sorted order"),
])
def test_a_stored_classes_dtype_that_changes_the_labels_is_refused(classes, dtype, message):
    head = NeuralNetwork([3, 2], task="classification").task_
    with pytest.raises(ValueError, match=message):
        head.set_state({"classes": classes, "classes_dtype": dtype})


def grams(n=200, seed=0):
    """Inputs and a target in the thousands, like a penguin's body mass."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    return X, 4200 + 800 * (X[:, 0] - 0.5 * X[:, 1] ** 2) + 50 * rng.normal(size=n)


def test_regression_targets_are_standardised_by_default_and_predicted_in_their_units():
    X, y = grams()
    model = NeuralNetwork([3, 32, 1], random_state=0)
    model.fit(X, y, epochs=100, verbose=0)                 # plain SGD on raw grams would diverge
    assert model.task_.target_mean_[0] == pytest.approx(y.mean())
    assert model.task_.target_scale_[0] == pytest.approx(y.std())
    assert model.score(X, y) > 0.9 and abs(model.predict(X).mean() - y.mean()) < 100


def test_evaluate_loss_is_the_objective_and_errors_are_in_the_targets_units():
    X, y = grams()
    model = NeuralNetwork([3, 8, 1], l2=0.01, random_state=0)
    history = model.fit(X, y, epochs=5, verbose=0)
    result = model.evaluate(X, y)
    error = model.predict(X) - y
    assert result["mse"] == pytest.approx(np.mean(error**2), rel=1e-12)
    assert result["mae"] == pytest.approx(np.mean(np.abs(error)), rel=1e-12)
    weights = model.parameters[: 3 * 8 + 8]
    objective = np.mean((error / y.std()) ** 2) + 0.005 * weights @ weights
    assert result["loss"] == pytest.approx(objective, rel=1e-9)
    assert history.history["loss"][-1] < 10 * result["loss"]   # in standardised units too, not grams²


def test_the_switch_off_trains_on_raw_targets():
    X, y = grams()
    raw = NeuralNetwork([3, 8, 1], standardize_target=False, random_state=0)
    raw.fit(X[:20], y[:20], epochs=1, batch_size=None, verbose=0)
    assert raw.task_.target_mean_ is None
    assert raw.evaluate(X, y)["loss"] == pytest.approx(np.mean((raw.predict(X) - y) ** 2), rel=1e-12)


def test_statistics_are_per_column_weighted_and_saved(tmp_path):
    X, y = grams()
    Y = np.column_stack([y, np.full(len(y), 7.0)])         # a constant column keeps scale 1
    weights = np.where(np.arange(len(y)) % 2, 3.0, 1.0)
    model = NeuralNetwork([3, 8, 2], random_state=0)
    model.fit(X, Y, epochs=2, sample_weight=weights, verbose=0)
    np.testing.assert_allclose(model.task_.target_mean_, np.average(Y, axis=0, weights=weights))
    assert model.task_.target_scale_[1] == 1.0
    model.save(tmp_path / "m.npz")
    loaded = NeuralNetwork.load(tmp_path / "m.npz")
    assert loaded.predict(X).tobytes() == model.predict(X).tobytes()
    assert loaded.standardize_target and loaded.get_config()["standardize_target"]


def test_files_from_before_the_switch_load_as_raw_target_models(tmp_path):
    import json

    X, y = grams()
    model = NeuralNetwork([3, 4, 1], standardize_target=False, random_state=0)
    model.fit(X, y / 1000, epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")
    with np.load(tmp_path / "m.npz") as archive:
        arrays = {key: archive[key] for key in archive.files}
    description = json.loads(arrays["config.json"].tobytes())
    del description["network"]["standardize_target"]       # as written before this switch existed
    arrays["config.json"] = np.frombuffer(json.dumps(description).encode(), dtype=np.uint8)
    with open(tmp_path / "old.npz", "wb") as handle:
        np.savez(handle, **arrays)
    old = NeuralNetwork.load(tmp_path / "old.npz")
    assert not old.standardize_target and old.predict(X).tobytes() == model.predict(X).tobytes()


@pytest.mark.parametrize("state", [
    {"target_ndim": 1, "target_mean": [1.0]},
    {"target_ndim": 1, "target_mean": [1.0], "target_scale": [0.0]},
    {"target_ndim": 1, "target_mean": [1.0, 2.0], "target_scale": [1.0, 1.0]},
    {"target_ndim": 1, "target_mean": [float("nan")], "target_scale": [1.0]},
])
def test_broken_target_statistics_are_refused(state):
    with pytest.raises(ValueError, match="target_mean"):
        NeuralNetwork([3, 1]).task_.set_state(state)
