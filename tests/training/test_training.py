"""training.py: the loop and its reducer seam."""

import numpy as np
import pytest

from backpropagation import DivergenceError, NeuralNetwork
from backpropagation.training.callbacks import Callback
from backpropagation.interrupt import InterruptGuard
from backpropagation.training.loop import train
from backpropagation.training.reducers import LocalReducer
from backpropagation.training.sources import InMemoryRows


class CountingReducer(LocalReducer):
    """A local reducer that counts what the loop asks of it."""

    def __init__(self):
        super().__init__()
        self.combined = 0

    def combine(self, grads, loss, weight, interrupt):
        self.combined += 1
        return super().combine(grads, loss, weight, interrupt)


def test_every_batch_goes_through_the_reducer_once():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(10, 2)), rng.normal(size=10)
    model = NeuralNetwork([2, 3, 1], random_state=0, engine="numpy")    # (the engine that calls the reducer)
    Y = model.task_.fit_encode(y, model.dtype)
    reducer = CountingReducer()
    reducer.start(model, has_validation=False)
    source = InMemoryRows(X, Y, None, reducer, batch_size=4, shuffle=False)
    history = train(model, source, (None, None), reducer, epochs=3, callbacks=[], interrupt=InterruptGuard())
    assert reducer.combined == 3 * 3 and len(history.epoch) == 3      # batches of 4, 4 and 2


def test_the_local_reducer_combines_nothing():
    reducer = LocalReducer()
    grads = np.arange(3.0)
    assert reducer.combine(grads, 0.5, 2.0, interrupt=None) == (0.5, 2.0)
    np.testing.assert_array_equal(grads, np.arange(3.0))
    assert reducer.total(np.array([1.0])) == 1.0 and reducer.mean(0.25, 7) == 0.25
    assert reducer.collectively(lambda: "ran") == "ran"


def test_divergence_is_raised_after_the_callbacks_end_with_finite_weights():
    X, y = np.ones((4, 1)) * 1e100, np.ones(4)
    model = NeuralNetwork([1, 1], optimizer="sgd", standardize_target=False, random_state=0)
    with pytest.raises(DivergenceError):
        model.fit(X, y, epochs=2, verbose=0)
    assert np.isfinite(model.parameters).all() and model.history_.stop_reason.startswith("diverged")


class Poison(Callback):
    """Sets the last parameter (the output's bias) so large after ``at_batch`` that the next
    batch's loss overflows, or to NaN after the last batch of ``at_epoch``; records the weights it
    left and those the epoch started from. The other parameters stay small: an update to them
    shows."""

    def __init__(self, value, at_batch=None, at_epoch=None):
        self.value, self.at_batch, self.at_epoch = value, at_batch, at_epoch
        self.epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch, self.epoch_start = epoch, self.model.parameters.copy()

    def on_batch_end(self, batch, logs=None):
        if batch == self.at_batch or (self.epoch == self.at_epoch and batch == 1):
            self.model.parameters[-1] = self.value
            self.left = self.model.parameters.copy()


def regression_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 2))
    return X, X @ [1.0, -2.0]


@pytest.mark.parametrize("engine", ["numpy", "numba"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])   # adam moves weights even on zero gradients
def test_a_batch_whose_loss_is_not_finite_is_never_applied(engine, optimizer):
    if engine == "numba":
        pytest.importorskip("numba")
    poison = Poison(1e200, at_batch=0)
    model = NeuralNetwork([2, 4, 1], optimizer=optimizer, engine=engine, random_state=0)
    with pytest.raises(DivergenceError, match="the loss became inf at epoch 1, batch 2"):
        model.fit(*regression_data(), epochs=3, batch_size=4, shuffle=False, callbacks=[poison], verbose=0)
    np.testing.assert_array_equal(model.parameters, poison.left)


def test_a_non_finite_loss_leaves_the_gradients_zero():
    model = NeuralNetwork([2, 4, 1], random_state=0)
    X, y = regression_data()
    model.fit(X, y, epochs=1, verbose=0)
    Y = model.task_.encode(y, model.dtype)
    assert np.isfinite(model.backprop.loss_and_gradients(X, Y)) and model.gradients.any()
    model.parameters[0] = 1e300
    assert not np.isfinite(model.backprop.loss_and_gradients(X, Y))
    assert not model.gradients.any()


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_weights_that_become_non_finite_are_rolled_back_to_the_epoch_s_start(engine):
    if engine == "numba":
        pytest.importorskip("numba")
    poison = Poison(np.nan, at_epoch=1)   # after the last batch: no loss sees it, the epoch's check does
    model = NeuralNetwork([2, 4, 1], optimizer="sgd", engine=engine, random_state=0)
    with pytest.raises(DivergenceError, match="non-finite weights at epoch 2"):
        model.fit(*regression_data(), epochs=3, batch_size=4, shuffle=False, callbacks=[poison], verbose=0)
    np.testing.assert_array_equal(model.parameters, poison.epoch_start)
    assert len(model.history_.epoch) == 1


def test_class_weights_multiply_the_rows_weights_as_scikit_learn_computes_them():
    from sklearn.utils.class_weight import compute_class_weight

    from backpropagation.training.prepare import class_weighted
    from backpropagation.training.reducers import LocalReducer

    y = np.array(["a"] * 6 + ["b"] * 3 + ["c"])
    model = NeuralNetwork([2, 3], task="classification")
    Y = model.task_.fit_encode(y, model.dtype)
    expected = dict(zip(["a", "b", "c"], compute_class_weight("balanced", classes=np.array(["a", "b", "c"]), y=y)))
    np.testing.assert_allclose(class_weighted(model, Y, None, "balanced", LocalReducer()), [expected[v] for v in y])
    weights = np.arange(1.0, 11.0)
    np.testing.assert_allclose(class_weighted(model, Y, weights, {"c": 5.0}, LocalReducer()),
                               weights * np.where(y == "c", 5.0, 1.0))
    with pytest.raises(ValueError, match="class_weight: 'd' is not a class of y"):
        class_weighted(model, Y, None, {"d": 2.0}, LocalReducer())
    with pytest.raises(ValueError, match="expected 'balanced' or a dict"):
        class_weighted(model, Y, None, "balance", LocalReducer())
    with pytest.raises(ValueError, match="only for classification"):
        NeuralNetwork([2, 1]).fit(np.ones((4, 2)), np.arange(4.0), verbose=0, class_weight="balanced")


def test_the_classifier_estimator_takes_class_weight():
    from backpropagation.sklearn import BackpropClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    y = (X[:, 0] + 0.3 * rng.normal(size=300) > 1.6).astype(int)
    plain = BackpropClassifier(hidden_layer_sizes=(8,), epochs=30, random_state=0).fit(X, y)
    weighted = BackpropClassifier(hidden_layer_sizes=(8,), epochs=30, random_state=0, class_weight="balanced").fit(X, y)
    recall = [np.mean(model.predict(X)[y == 1] == 1) for model in (plain, weighted)]
    assert recall[1] > recall[0] and weighted.get_params()["class_weight"] == "balanced"
