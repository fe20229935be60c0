"""training.py: the loop and its reducer seam."""

import numpy as np
import pytest

from backpropagation import DivergenceError, NeuralNetwork
from backpropagation.interrupt import InterruptGuard
from backpropagation.training import LocalReducer, train


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
    model = NeuralNetwork([2, 3, 1], random_state=0)
    Y = model.head.fit_encode(y, model.dtype)
    reducer = CountingReducer()
    reducer.start(model, len(X), has_validation=False)
    history = train(model, X, Y, None, None, None, reducer, epochs=3, batch_size=4, shuffle=False,
                    callbacks=[], interrupt=InterruptGuard())
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
