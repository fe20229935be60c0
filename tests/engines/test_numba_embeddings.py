"""The numba engine runs embeddings of code columns as the reference does: the lookup, the unseen
category's mean vector, ∂L/∂E added row by row and the unseen share spread, beside periodic
embeddings and the input scale, on a dense or sparse first layer, on one thread or two."""

import numpy as np
import pytest

pytest.importorskip("numba")
pytest.importorskip("scipy")

from engine_equality import assert_equal_training  # noqa: E402
from backpropagation import NeuralNetwork  # noqa: E402
from backpropagation.engines import numba_codes, numba_engine  # noqa: E402

RNG = np.random.default_rng(5)
N = 160
#: A code column of 9 categories (its table has a 10th row: unseen), a number, a code column of 5
#: categories (no unseen row), another number, then one-hot columns of a 12-level category.
X = np.hstack([np.column_stack([RNG.integers(0, 9, N), RNG.normal(size=N), RNG.integers(0, 5, N), RNG.normal(size=N)]),
               np.eye(12)[RNG.integers(0, 12, N)]])
Y = {"regression": X[:, 1] + (X[:, 0] > 4) + 0.3 * X[:, 2] + X[:, 4:8].sum(axis=1),
     "multiclass": (X[:, 0] > 4).astype(int) + (X[:, 3] > 0)}
X[::15, 0] = 9                      # (the unseen row's code in training too: its share is spread)
#: Validation rows whose first code column holds the unseen category (code 9) in every other row.
X_VALIDATION = X[:40].copy()
X_VALIDATION[::2, 0] = 9
EMBEDDINGS = {0: (10, 3, True), 2: (5, 2)}
STAGES = {"none": {}, "periodic": {"periodic": [1, 3]}, "scale": {"input_scale": True},
          "both": {"periodic": [1], "input_scale": True}}


def train_both(stage="both", task="regression", dtype="float64", batch_size=8):
    """(losses with the validation losses after them, parameters, steps) per engine, numpy first."""
    results = []
    for engine in ("numpy", "numba"):
        model = NeuralNetwork([X.shape[1], 12, 6, 3 if task == "multiclass" else 1],
                              task="regression" if task == "regression" else "classification",
                              embeddings=EMBEDDINGS, learning_rate=0.01, l2=0.01, random_state=4, engine=engine,
                              dtype=dtype, **STAGES[stage])
        history = model.fit(X, Y[task], epochs=3, batch_size=batch_size, verbose=0,
                            validation_data=(X_VALIDATION, Y[task][:40]))
        assert model.engine_ == engine
        losses = history.history["loss"] + history.history["val_loss"]
        results.append((np.array(losses), model.parameters.copy(), model.optimizer.iterations))
    return results


@pytest.mark.parametrize("stage", sorted(STAGES))
@pytest.mark.parametrize("task", ["regression", "multiclass"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_embeddings_train_and_score_unseen_categories_as_the_reference_does(stage, task, dtype):
    assert_equal_training(train_both(stage, task, dtype), dtype)


@pytest.mark.parametrize("stage", ["none", "both"])
def test_embeddings_beside_a_sparse_first_layer(monkeypatch, stage):
    monkeypatch.setattr(numba_engine, "SPARSE_DENSITY", 10.0)
    decided, decide = [], numba_engine.NumbaEngine.sparse_input
    monkeypatch.setattr(numba_engine.NumbaEngine, "sparse_input", lambda self, rows: decided.append(decide(self, rows))
                        or decided[-1])
    assert_equal_training(train_both(stage, "multiclass"))
    assert decided and all(decided)


def test_embeddings_on_threads(monkeypatch):
    monkeypatch.setattr(numba_engine, "thread_count", lambda model, batch_size: 2)
    assert_equal_training(train_both("both", "regression", batch_size=9))


def test_a_code_outside_the_table_is_refused_before_a_step_naming_column_and_row():
    model = NeuralNetwork([X.shape[1], 6, 1], embeddings=EMBEDDINGS, random_state=0, engine="numba")
    before = model.parameters.copy()
    bad = X.copy()
    bad[37, 2] = 5                          # (table 2 has codes 0 to 4)
    with pytest.raises(ValueError, match=r"column 2 holds category codes 0 to 4 \(an embedding\), got 5.0 in row 37"):
        model.fit(bad, Y["regression"], epochs=1, batch_size=8, verbose=0)
    assert np.array_equal(model.parameters, before)


def test_embeddings_leave_only_dropout_off_the_compiled_engine():
    assert numba_codes.unsupported(NeuralNetwork([X.shape[1], 6, 1], embeddings=EMBEDDINGS, random_state=0)) is None
    assert "dropout" in numba_codes.unsupported(NeuralNetwork([X.shape[1], 6, 1], embeddings=EMBEDDINGS, dropout=0.1,
                                                              random_state=0))
