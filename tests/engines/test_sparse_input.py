"""The numba engine's first layer fed mostly zeros (one-hot columns) skips them and still trains as
the reference does: the forward product, the weight gradient and the input stage's ``δ Wᵀ``."""

import numpy as np
import pytest

pytest.importorskip("numba")
pytest.importorskip("scipy")

from engine_equality import assert_equal_training  # noqa: E402
from backpropagation import NeuralNetwork  # noqa: E402
from backpropagation.engines import numba_codes, numba_engine  # noqa: E402

RNG = np.random.default_rng(11)
N, LEVELS = 90, 30
#: Two numeric columns (one holding exact zeros), then one-hot columns of a 30-level category.
X = np.hstack([RNG.normal(size=(N, 1)), np.where(RNG.random((N, 1)) < 0.3, 0.0, RNG.normal(size=(N, 1))),
               np.eye(LEVELS)[RNG.integers(0, LEVELS, N)]])
Y = {"regression": X[:, 0] + np.arange(N) % 7 * 0.1 + X[:, 2:9].sum(axis=1),
     "multiclass": (X[:, 0] > 0).astype(int) + X[:, 2:12].sum(axis=1).astype(int)}
STAGES = {"none": {}, "periodic": {"periodic": [0, 1]}, "scale": {"input_scale": True},
          "both": {"periodic": [1], "input_scale": True}}


def sparse_decisions(monkeypatch) -> list:
    """What the numba engines made in the test decide for each array of rows (appended as they go)."""
    decided, decide = [], numba_engine.NumbaEngine.sparse_input
    monkeypatch.setattr(numba_engine.NumbaEngine, "sparse_input", lambda self, X: decided.append(decide(self, X))
                        or decided[-1])
    return decided


def train_both(stage, task, dtype="float64", batch_size=8, validation_split=0.0):
    """(losses, parameters, steps) per engine, numpy first."""
    results = []
    for engine in ("numpy", "numba"):
        model = NeuralNetwork([X.shape[1], 10, 5, 3 if task == "multiclass" else 1],
                              task="regression" if task == "regression" else "classification",
                              learning_rate=0.01, l2=0.01, random_state=3, engine=engine, dtype=dtype,
                              **STAGES[stage])
        history = model.fit(X, Y[task], epochs=3, batch_size=batch_size, verbose=0,
                            validation_split=validation_split)
        assert model.engine_ == engine
        losses = history.history["loss"] + history.history.get("val_loss", [])
        results.append((np.array(losses), model.parameters.copy(), model.optimizer.iterations))
    return results


@pytest.fixture
def always_sparse(monkeypatch):
    monkeypatch.setattr(numba_engine, "SPARSE_DENSITY", 10.0)
    decided = sparse_decisions(monkeypatch)
    yield
    assert decided and all(decided)


@pytest.mark.parametrize("stage", sorted(STAGES))
@pytest.mark.parametrize("task", ["regression", "multiclass"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_sparse_first_layer_trains_and_scores_as_the_reference_does(always_sparse, stage, task, dtype):
    assert_equal_training(train_both(stage, task, dtype, validation_split=0.2), dtype)


@pytest.mark.parametrize("stage", ["none", "both"])
def test_a_sparse_first_layer_on_threads(always_sparse, monkeypatch, stage):
    monkeypatch.setattr(numba_engine, "thread_count", lambda model, batch_size: 2)
    assert_equal_training(train_both(stage, "multiclass", batch_size=9))


def test_the_share_of_nonzero_inputs_that_pays_grows_with_the_units_and_behind_a_stage():
    limits = [numba_engine.sparse_limit(units, False) for units in (8, 32, 64, 256)]
    assert limits[0] < 0 and limits == sorted(limits) and 0.04 < limits[1] < 0.055 < 0.08 < limits[3] < 0.095
    assert numba_engine.sparse_limit(32, True) > limits[1]


def test_the_first_layer_is_sparse_for_one_hot_columns_only(monkeypatch):
    decided = sparse_decisions(monkeypatch)
    one_hot = np.eye(500)[RNG.integers(0, 500, 200)]
    dense = RNG.normal(size=(200, 20))
    for rows, stage, sparse in ((one_hot, {}, True), (dense, {}, False),
                                (np.hstack([dense[:, :2], one_hot]), {"periodic": [0, 1], "input_scale": True}, True),
                                (np.hstack([dense, one_hot[:, :40]]), {"periodic": list(range(20))}, False)):
        model = NeuralNetwork([rows.shape[1], 64, 1], engine="numba", random_state=0, **stage)
        model.fit(rows, rows[:, 0], epochs=1, batch_size=16, verbose=0)
        assert decided.pop() == sparse, (rows.shape, stage)
    stage = numba_codes.stage_of(NeuralNetwork([4, 3, 1], periodic=[0], random_state=0))
    assert numba_codes.first_input_density(np.array([[1.0, 0, 0, 2], [0, 0, 0, 0]]), stage) == \
        pytest.approx((2 * 4 + 1) / (2 * (3 + 4)))     # (the periodic column: 1 + 3 features, all nonzero)


def test_a_periodic_feature_that_is_exactly_zero_still_passes_its_gradient_through_the_scale(always_sparse):
    # V = c = 0 make every periodic feature 0 in the first batch: a zero input, not among the row's
    # nonzero places, whose ∂L/∂a the input scale (2, not its initial 1) must still scale for the
    # periodic layer's ∂L/∂V.
    results = []
    for engine in ("numpy", "numba"):
        model = NeuralNetwork([X.shape[1], 10, 1], learning_rate=0.01, random_state=3, engine=engine,
                              periodic=[0, 1], input_scale=True)
        periodic = model.embedded_input.periodic
        periodic.V[...], periodic.c[...], model.embedded_input.scale.s[...] = 0.0, 0.0, 2.0
        history = model.fit(X, Y["regression"], epochs=1, batch_size=8, verbose=0)
        results.append((np.array(history.history["loss"]), model.parameters.copy(), model.optimizer.iterations))
    assert_equal_training(results)
