"""data.py: the validators every entry point shares (TypeError: wrong kind; ValueError: wrong value)."""

import numpy as np
import pytest

from backpropagation import NeuralNetwork
from backpropagation.data import (MiniBatches, check_dtype, check_layer_sizes, check_random_state,
                                  check_sample_weight, validation_split)


@pytest.mark.parametrize("call,error", [
    (lambda: check_layer_sizes(5), TypeError),
    (lambda: check_layer_sizes("4,2"), TypeError),
    (lambda: check_layer_sizes([4]), ValueError),
    (lambda: check_layer_sizes([4, 0, 1]), ValueError),
    (lambda: check_dtype("float16"), ValueError),
    (lambda: check_random_state(-1), ValueError),
    (lambda: check_random_state("seed"), ValueError),
    (lambda: check_sample_weight([1, -1], 2, np.float64), ValueError),
    (lambda: check_sample_weight(["a", "b"], 2, np.float64), TypeError),
    (lambda: check_sample_weight([0, 0], 2, np.float64), ValueError),
    (lambda: validation_split(10, 1.0, np.random.default_rng(0)), ValueError),
])
def test_validators_refuse_with_the_documented_error_type(call, error):
    with pytest.raises(error):
        call()


def test_random_states_give_reproducible_generators():
    assert check_random_state(3).integers(1000) == check_random_state(3).integers(1000)
    generator = np.random.default_rng(1)
    assert check_random_state(generator) is generator
    first, second = np.random.RandomState(7), np.random.RandomState(7)
    assert check_random_state(first).integers(10**9) == check_random_state(second).integers(10**9)
    assert check_layer_sizes([np.int64(3), 2]) == (3, 2)


def test_mini_batches_cover_every_row_once_in_the_given_order():
    X, Y = np.arange(20.0).reshape(10, 2), np.arange(10.0).reshape(10, 1)
    weights = np.linspace(1, 2, 10)
    order = np.random.default_rng(0).permutation(10)
    for batch_size in (1, 3, 10):
        for given in (None, order):
            seen = []
            for rows, X_batch, Y_batch, w_batch in MiniBatches(X, Y, weights, batch_size)(given):
                np.testing.assert_array_equal(X_batch, X[rows])
                np.testing.assert_array_equal(Y_batch, Y[rows])
                np.testing.assert_array_equal(w_batch, weights[rows])
                seen.extend(np.arange(10)[rows].tolist())
            assert seen == (list(range(10)) if given is None else order.tolist())


def test_validation_split_is_stratified_for_classes():
    # 80 of class 0 and 20 of class 1: every split holds out 20% of each class, whatever the seed.
    y = np.array([0] * 80 + [1] * 20)
    for seed in range(20):
        train, val = validation_split(100, 0.2, np.random.default_rng(seed), labels=y)
        assert np.bincount(y[val]).tolist() == [16, 4] and np.bincount(y[train]).tolist() == [64, 16]
        assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 100
    model = NeuralNetwork([2, 2], task="classification", random_state=0)
    history = model.fit(np.random.default_rng(0).normal(size=(100, 2)), y, epochs=1, verbose=0,
                        validation_split=0.2)
    assert "val_accuracy" in history.history


FRAMES = {
    "pandas": lambda df: df,
    "polars": lambda df: pytest.importorskip("polars").from_pandas(df),
    "arrow": lambda df: pytest.importorskip("pyarrow").Table.from_pandas(df),
}


@pytest.mark.parametrize("kind", sorted(FRAMES))
def test_frames_record_their_column_names_and_other_columns_are_refused(kind, tmp_path):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.normal(size=(20, 3)), columns=["bill", "flipper", "mass"])
    y = df.sum(axis=1).to_numpy()
    frame = FRAMES[kind](df)
    model = NeuralNetwork([3, 4, 1], random_state=0)
    model.fit(frame, y, epochs=2, verbose=0)
    assert model.feature_names_in_.tolist() == ["bill", "flipper", "mass"]
    np.testing.assert_array_equal(model.predict(frame), model.predict(df.to_numpy()))   # arrays pass
    with pytest.raises(ValueError, match="missing 'mass'; unexpected 'weight'"):
        model.predict(df.rename(columns={"mass": "weight"}))
    with pytest.raises(ValueError, match="another order"):
        model.score(df[["mass", "bill", "flipper"]], y)
    model.save(tmp_path / "m.npz")
    assert NeuralNetwork.load(tmp_path / "m.npz").feature_names_in_.tolist() == ["bill", "flipper", "mass"]


def test_dates_are_refused_alike_in_arrays_and_frames_for_fit_and_predict():
    pd = pytest.importorskip("pandas")
    days = np.arange(8).astype("datetime64[D]").reshape(4, 2)
    frame = pd.DataFrame({"when": days[:, 0], "x": [1.0, 2.0, 3.0, 4.0]})
    y = np.array([0.0, 1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match=r"X: expected numbers, got datetime64\[D\] values"):
        NeuralNetwork([2, 1], random_state=0).fit(days, y, verbose=0)
    with pytest.raises(TypeError, match="non-numeric columns: when"):
        NeuralNetwork([2, 1], random_state=0).fit(frame, y, verbose=0)
    model = NeuralNetwork([2, 1], random_state=0)
    model.fit(np.ones((4, 2)), y, epochs=1, verbose=0)
    for unit in ("D", "ns"):  # raw counts differ by unit: no unit may reach the network
        with pytest.raises(TypeError, match=rf"datetime64\[{unit}\]"):
            model.predict(days.astype(f"datetime64[{unit}]"))
