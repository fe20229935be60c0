"""Shared by the engine tests: a small data set, two trainings (numpy first, numba second) compared,
a batch callback that records what it sees, a fresh Python process's output."""

import subprocess
import sys

import numpy as np

from backpropagation import Callback, NeuralNetwork


def assert_equal_training(results, dtype="float64"):
    """``results``: ``(losses, parameters, optimizer steps)`` per engine. Equal steps, loss curves
    and final weights to 1e-9 relative in float64, 1e-4 in float32."""
    (loss_a, params_a, steps_a), (loss_b, params_b, steps_b) = results
    tolerance = 1e-9 if dtype == "float64" else 1e-4
    assert steps_a == steps_b
    np.testing.assert_allclose(loss_b, loss_a, rtol=tolerance)
    scale = np.max(np.abs(params_a))
    assert np.max(np.abs(params_b - params_a)) <= tolerance * scale


_RNG = np.random.default_rng(0)            # (the data below, drawn once: the same in every test)
X = _RNG.normal(size=(50, 3))
TARGETS = {"regression": X @ [1.0, -2.0, 0.5] + 0.1 * _RNG.normal(size=50),
           "binary": (X[:, 0] + X[:, 1] > 0).astype(int),
           "multiclass": (X[:, 0] > 0).astype(int) + (X[:, 1] > 0)}
WEIGHTS = _RNG.uniform(0, 2, 50)
WEIGHTS[:5] = 0                                       # whole batches of zero weight at batch size 1


def train_both(epochs=3, batch_size=7, sample_weight=None, **kwargs):
    """(losses, parameters, optimizer iterations) per engine, numpy first."""
    task = kwargs.setdefault("task", "regression")
    n_out = 3 if task == "multiclass" and kwargs.get("loss") != "binary_crossentropy" else 1
    results = []
    for engine in ("numpy", "numba"):
        model = NeuralNetwork([3, 6, 4, n_out], learning_rate=0.01, random_state=1, engine=engine, **kwargs)
        history = model.fit(X, TARGETS[task], epochs=epochs, batch_size=batch_size, verbose=0,
                            sample_weight=sample_weight)
        assert model.engine_ == engine
        results.append((np.array(history.history["loss"]), model.parameters.copy(), model.optimizer.iterations))
    return results


def python_output(script, environment=None):
    """What ``script`` prints when run by a fresh Python process (which must succeed)."""
    done = subprocess.run([sys.executable, "-c", script], env=environment, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


class Recorder(Callback):
    """A user's batch callback: it must see every batch, in order, as the reference shows them."""

    def on_train_begin(self, logs):
        self.seen = []

    def on_batch_end(self, batch, logs):
        self.seen.append((batch, logs["loss"], logs["size"], self.model.parameters.sum()))
