"""The numba engine's input stage and smoothed labels equal the reference engine's.

Periodic embeddings, the input scale and label smoothing (the table defaults) trained from one
seed on each engine: loss curves and final parameters within 1e-9 relative in float64, 1e-4 in
float32, on one thread and with batches split over threads.
"""

import numpy as np
import pytest

pytest.importorskip("numba")
pytest.importorskip("scipy")

from engine_equality import assert_equal_training  # noqa: E402
from backpropagation import NeuralNetwork  # noqa: E402
from backpropagation.engines import numba_codes, numba_engine  # noqa: E402

RNG = np.random.default_rng(7)
X = RNG.normal(size=(60, 5))
TARGETS = {"regression": np.sin(2 * X[:, 0]) + X[:, 2] * X[:, 3],
           "binary": (np.cos(3 * X[:, 0]) + X[:, 1] > 0).astype(int),
           "multiclass": (X[:, 0] > 0).astype(int) + (np.sin(2 * X[:, 3]) > 0)}
WEIGHTS = RNG.uniform(0, 2, 60)
WEIGHTS[:3] = 0
#: The input stages compared: periodic columns between plain ones, the scale alone, both.
STAGES = {"periodic": {"periodic": [0, 2, 3]}, "scale": {"input_scale": True},
          "both": {"periodic": [4, 1], "input_scale": True}}


def train_both(stage, task="regression", epochs=3, batch_size=7, sample_weight=None, sizes=(5, 12, 6), **kwargs):
    """(losses, parameters, steps) per engine, numpy first."""
    n_out = {"regression": 1, "binary": 1, "multiclass": 3}[task]
    results = []
    for engine in ("numpy", "numba"):
        model = NeuralNetwork([*sizes, n_out], task="regression" if task == "regression" else "classification",
                              learning_rate=0.01, optimizer="adam", l2=0.01, random_state=2, engine=engine,
                              **{**STAGES.get(stage, {}), **kwargs})
        history = model.fit(X[:, :sizes[0]] if sizes[0] <= 5 else np.tile(X, 4)[:, :sizes[0]], TARGETS[task],
                            epochs=epochs, batch_size=batch_size, verbose=0, sample_weight=sample_weight)
        assert model.engine_ == engine
        results.append((np.array(history.history["loss"]), model.parameters.copy(), model.optimizer.iterations))
    return results


@pytest.mark.parametrize("stage", sorted(STAGES))
@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("batch_size", [1, 7])
def test_the_input_stage_trains_as_the_reference_does(stage, task, dtype, batch_size):
    results = train_both(stage, task, dtype=dtype, batch_size=batch_size,
                         sample_weight=WEIGHTS if batch_size == 1 else None)
    assert_equal_training(results, dtype)


@pytest.mark.parametrize("stage", sorted(STAGES))
@pytest.mark.parametrize("parts", [2, 3])
def test_the_input_stage_on_threads(monkeypatch, stage, parts):
    # Blocks of 4 + 3 or 3 + 3 + 1 rows: each thread's share of the stage's gradients is added.
    monkeypatch.setattr(numba_engine, "thread_count", lambda model, batch_size: parts)
    assert_equal_training(train_both(stage, "multiclass", sample_weight=WEIGHTS))


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_a_wide_input_stage_whose_products_go_to_blas(dtype):
    # 20 columns, 16 periodic: 68 first-layer inputs, batches of 16: δ Wᵀ of the first layer is a
    # BLAS product into the stage's gradient buffer.
    results = train_both("periodic", "regression", dtype=dtype, batch_size=16, sizes=(20, 32, 8),
                         periodic=list(range(16)))
    assert_equal_training(results, dtype)


@pytest.mark.parametrize("task,kwargs", [
    ("binary", {}),                                              # sigmoid fused with the cross-entropy
    ("multiclass", {}),                                          # softmax fused with the cross-entropy
    ("multiclass", {"output_activation": "sigmoid"}),            # not fused: through the activation
    ("multiclass", {"loss": "binary_crossentropy", "output_activation": "softmax"}),   # not fused
])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_smoothed_labels_train_as_the_reference_does(task, kwargs, dtype):
    results = train_both("none", task, dtype=dtype, label_smoothing=0.2, sample_weight=WEIGHTS, **kwargs)
    assert_equal_training(results, dtype)
    # Smoothing changed training: the same network without it ends elsewhere.
    plain = train_both("none", task, dtype=dtype, sample_weight=WEIGHTS, **kwargs)
    assert not np.allclose(plain[1][1], results[1][1])


def test_the_table_recipe_is_one_the_kernels_run():
    model = NeuralNetwork([5, 8, 3], task="classification", periodic=[0, 1], input_scale=True, label_smoothing=0.1)
    assert numba_codes.unsupported(model) is None
    stage = numba_codes.stage_of(model)
    assert stage.active and stage.width == model.layers[0].fan_in == 5 + 2 * 3
    assert list(stage.plain_places) == [8, 9, 10] and list(stage.periodic_places) == [0, 4]
    assert not numba_codes.stage_of(NeuralNetwork([5, 8, 1])).active


def test_sines_and_cosines_equal_numpys_to_an_ulp():
    from backpropagation.engines.numba_input import REDUCED_UP_TO, sin_cos

    u = np.concatenate([RNG.uniform(-30, 30, 5000), np.linspace(-REDUCED_UP_TO, REDUCED_UP_TO, 2001),
                        np.pi / 4 * np.arange(-40, 41), [0.0, -0.0, 1e-300, 5e-324, 1e6, -3e9, 1e300]])
    sines, cosines = np.empty_like(u), np.empty_like(u)
    sin_cos(u, sines, cosines)
    np.testing.assert_allclose(sines, np.sin(u), rtol=0, atol=2.3e-16)
    np.testing.assert_allclose(cosines, np.cos(u), rtol=0, atol=2.3e-16)
    # Beyond the reduction's range, NaN and infinities: libm's own answers.
    odd = np.array([np.nan, np.inf, -np.inf])
    sines, cosines = np.empty(3), np.empty(3)
    sin_cos(odd, sines, cosines)
    assert np.isnan(sines).all() and np.isnan(cosines).all()
    single = RNG.uniform(-30, 30, 1000).astype(np.float32)
    sines, cosines = np.empty_like(single), np.empty_like(single)
    sin_cos(single, sines, cosines)
    np.testing.assert_allclose(cosines, np.cos(single), rtol=0, atol=1.2e-7)


@pytest.mark.parametrize("stage", ["none", "both"])
@pytest.mark.parametrize("task", ["regression", "binary", "multiclass"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_the_compiled_engine_scores_validation_rows_as_the_reference_does(monkeypatch, stage, task, dtype):
    from backpropagation.nn import backprop

    histories = {}
    for engine in ("numpy", "numba"):
        if engine == "numba":       # (the compiled forward pass scores them: the reference's is not called)
            monkeypatch.setattr(backprop.Backprop, "objective", lambda *args, **kwargs: pytest.fail("reference"))
        model = NeuralNetwork([5, 12, 6, 3 if task == "multiclass" else 1],
                              task="regression" if task == "regression" else "classification", l2=0.01,
                              label_smoothing=0.1 if task != "regression" else 0.0, random_state=4, engine=engine,
                              dtype=dtype, **STAGES.get(stage, {}))
        history = model.fit(X, TARGETS[task], epochs=3, batch_size=7, verbose=0, validation_split=0.25)
        histories[engine] = history.history
    metric = "r2" if task == "regression" else "accuracy"
    tolerance = 1e-9 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(histories["numba"]["val_loss"], histories["numpy"]["val_loss"], rtol=tolerance)
    np.testing.assert_allclose(histories["numba"]["val_" + metric], histories["numpy"]["val_" + metric],
                               rtol=tolerance)


@pytest.mark.parametrize("stage", ["none", "both"])
def test_validation_rows_of_a_network_big_enough_for_blas_threads(monkeypatch, stage):
    # Products that wake BLAS's threads are scored by the reference's passes over many rows,
    # unless the network has an input stage: its sines and cosines are the compiled pass's gain.
    from backpropagation.engines.blas_work import wakes_blas_threads
    from backpropagation.nn import backprop

    calls, objective = [], backprop.Backprop.objective
    monkeypatch.setattr(backprop.Backprop, "objective", lambda *args, **kwargs: calls.append(1) or objective(
        *args, **kwargs))
    model = NeuralNetwork([5, 2048, 1], random_state=0, engine="numba", **STAGES.get(stage, {}))
    history = model.fit(X, TARGETS["regression"], epochs=2, batch_size=128, verbose=0, validation_split=0.25)
    assert wakes_blas_threads(model, 45)             # (45 training rows: one batch)
    assert bool(calls) == (stage == "none")
    assert np.isfinite(history.history["val_loss"]).all()



@pytest.mark.parametrize("stage", ["none", "both"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_validation_rows_are_shared_by_the_threads_that_share_the_batches(monkeypatch, stage, dtype):
    # Where numba's threads share the batches the fit holds BLAS to one thread, so the validation
    # rows go to the compiled pass on every thread (each its share), even where the products
    # would wake BLAS's threads, and score as the reference does.
    from backpropagation.engines import numba_chunk
    from backpropagation.nn import backprop

    shares, compiled = [], numba_chunk.summed_row_loss
    monkeypatch.setattr(numba_chunk, "summed_row_loss", lambda data, *rest: shares.append(len(data.X)) or compiled(
        data, *rest))
    histories = {}
    for engine in ("numpy", "numba"):
        if engine == "numba":
            monkeypatch.setattr(numba_engine, "thread_count", lambda model, batch_size: 2)
            monkeypatch.setattr(backprop.Backprop, "objective", lambda *args, **kwargs: pytest.fail("reference"))
        model = NeuralNetwork([5, 4096, 16, 1], l2=0.01, random_state=4, engine=engine, dtype=dtype,
                              **STAGES.get(stage, {}))
        histories[engine] = model.fit(X, TARGETS["regression"], epochs=2, batch_size=8, verbose=0,
                                      validation_split=0.25).history
    assert sorted(shares[-2:]) == [7, 8]                 # (15 validation rows: 7 and 8 a thread)
    assert numba_engine.wakes_blas_threads(model, 4)     # (4 rows a thread: the reference's passes before)
    tolerance = 1e-9 if dtype == "float64" else 1e-4
    np.testing.assert_allclose(histories["numba"]["val_loss"], histories["numpy"]["val_loss"], rtol=tolerance)
    np.testing.assert_allclose(histories["numba"]["val_r2"], histories["numpy"]["val_r2"], rtol=tolerance)

def test_every_column_periodic_and_engines_switched_between_fits():
    # No plain column at all; then one network trained by numba then numpy, another the other
    # way round: the optimizer state and the stage's parameters carry over either way.
    assert_equal_training(train_both("none", "binary", periodic=[0, 1, 2, 3, 4]))
    models = []
    for first, second in (("numba", "numpy"), ("numpy", "numba")):
        model = NeuralNetwork([5, 8, 1], periodic=[1, 3], input_scale=True, random_state=0, engine=first)
        model.fit(X, TARGETS["regression"], epochs=2, batch_size=8, verbose=0)
        model.engine = second
        model.fit(X, TARGETS["regression"], epochs=2, batch_size=8, verbose=0)
        assert model.engine_ == second
        models.append(model.parameters.copy())
    np.testing.assert_allclose(models[0], models[1], rtol=1e-9, atol=1e-12)
