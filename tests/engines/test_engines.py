"""The numba engine equals the textbook one: every built-in block, batch size, dtype, L2 and weights.

Each case trains the same network twice from the same seed, once per engine, for several
epochs, and compares the loss curves and final weights: 1e-9 relative in float64, 1e-4 in
float32. Networks wide enough for the kernels' BLAS products are compared too.
"""

import itertools
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("numba")
pytest.importorskip("scipy")

from engine_equality import (TARGETS, WEIGHTS, X, Recorder, assert_equal_training,  # noqa: E402
                             python_output, train_both)
from backpropagation import NeuralNetwork  # noqa: E402
from backpropagation import engines  # noqa: E402
from backpropagation.nn.activations import Activation  # noqa: E402
from backpropagation.engines import numba_chunk, numba_engine  # noqa: E402

@pytest.mark.parametrize("activation,batch_size,dtype", list(itertools.product(
    ["sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "swish", "linear", "softmax"],
    [1, 7, None], ["float64", "float32"])))
def test_every_activation(activation, batch_size, dtype):
    assert_equal_training(train_both(hidden_activation=activation, batch_size=batch_size, dtype=dtype), dtype)


@pytest.mark.parametrize("task,loss,output", [
    ("regression", "mse", None), ("regression", "mae", None), ("regression", "huber", None),
    ("regression", "mse", "tanh"),
    ("binary", "binary_crossentropy", None),            # fused with the sigmoid
    ("binary", "mse", None),
    ("multiclass", "categorical_crossentropy", None),   # fused with the softmax
    ("multiclass", "categorical_crossentropy", "sigmoid"),
])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_loss(task, loss, output, weighted, dtype):
    results = train_both(task=task, loss=loss, output_activation=output, dtype=dtype,
                         sample_weight=WEIGHTS if weighted else None, batch_size=1 if weighted else 7)
    assert_equal_training(results, dtype)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "rmsprop", "adam", "adamw"])
@pytest.mark.parametrize("l2", [0.0, 0.05])
@pytest.mark.parametrize("batch_size", [1, 7, None])
def test_every_optimizer_with_and_without_l2(optimizer, l2, batch_size):
    results = train_both(task="multiclass", optimizer=optimizer, l2=l2, batch_size=batch_size,
                         sample_weight=WEIGHTS)
    assert_equal_training(results)


@pytest.mark.parametrize("task", ["regression", "multiclass"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("batch_size", [16, None])
def test_products_large_enough_for_blas_equal_the_reference(task, dtype, weighted, batch_size):
    # 16 x 20 x 64 multiply-adds and more: the kernels hand these products to BLAS (np.dot on
    # views of the flat buffers), the output layer's small ones stay loops.
    rng = np.random.default_rng(2)
    wide_X = rng.normal(size=(120, 20))
    targets = {"regression": wide_X[:, :3] @ [1.0, -2.0, 0.5],
               "multiclass": (wide_X[:, 0] > 0).astype(int) + (wide_X[:, 1] > 0)}
    weights = rng.uniform(0, 2, 120) if weighted else None
    results = []
    for engine in ("numpy", "numba"):
        model = NeuralNetwork([20, 64, 32, 3 if task == "multiclass" else 1], task=task, learning_rate=0.01,
                              hidden_activation="elu", l2=0.01, dtype=dtype, random_state=1, engine=engine)
        history = model.fit(wide_X, targets[task], epochs=3, batch_size=batch_size, verbose=0,
                            sample_weight=weights)
        results.append((np.array(history.history["loss"]), model.parameters.copy(), model.optimizer.iterations))
    assert_equal_training(results, dtype)


@pytest.mark.skipif(not numba_chunk.X86, reason="flushing subnormals is x86's MXCSR")
def test_the_compiled_engine_flushes_subnormal_numbers_and_gives_the_mode_back():
    # A weight of 1e-310 on a column of zeros gets no gradient: the reference keeps it, the
    # kernels read it as zero (arithmetic on subnormals would take microcode, 100x slower).
    data = X.copy()
    data[:, 2] = 0.0
    kept = {}
    for engine in ("numpy", "numba"):
        model = NeuralNetwork([3, 4, 1], optimizer="sgd", random_state=0, engine=engine)
        model.layers[0].W[2, :] = 1e-310
        model.fit(data, TARGETS["regression"], epochs=1, verbose=0)
        kept[engine] = model.layers[0].W[2].copy()
    # (compared as bit patterns: a comparison itself would read subnormals as zero if the mode leaked)
    tiny = np.array([1e-310]).view(np.int64)[0]
    assert (kept["numpy"].view(np.int64) == tiny).all() and (kept["numba"].view(np.int64) == 0).all()
    # This thread's arithmetic keeps its subnormals after the fit.
    assert (np.array([1e-300]) * np.array([1e-10])).view(np.int64)[0] != 0


def test_an_engine_refuses_batches_larger_than_its_buffers():
    from backpropagation.data import MiniBatches

    model = NeuralNetwork([3, 6, 1], engine="numba")
    engine = numba_engine.NumbaEngine(model, [], batch_size=4)
    batches = MiniBatches(X, X[:, :1].copy(), None, batch_size=8)
    with pytest.raises(ValueError, match="batches of 8 rows for an engine made for 4"):
        next(engine.chunks(batches, None, 0.01, np.zeros((50, 1)), np.zeros(50, bool), None))


def test_a_model_switches_engines_between_fits_and_saves_the_same_file(tmp_path):
    mixed = NeuralNetwork([3, 6, 1], random_state=2, engine="numba")
    mixed.fit(X, TARGETS["regression"], epochs=2, batch_size=5, verbose=0)
    mixed.engine = "numpy"
    mixed.fit(X, TARGETS["regression"], epochs=2, batch_size=5, verbose=0)
    plain = NeuralNetwork([3, 6, 1], random_state=2, engine="numpy")
    plain.fit(X, TARGETS["regression"], epochs=2, batch_size=5, verbose=0)
    plain.fit(X, TARGETS["regression"], epochs=2, batch_size=5, verbose=0)
    np.testing.assert_allclose(mixed.parameters, plain.parameters, rtol=1e-9, atol=1e-12)
    mixed.save(tmp_path / "m.npz")
    loaded = NeuralNetwork.load(tmp_path / "m.npz")
    assert loaded.engine == "numpy" and loaded.optimizer.iterations == plain.optimizer.iterations
    np.testing.assert_allclose(loaded.optimizer.m, plain.optimizer.m, rtol=1e-9, atol=1e-15)


def test_a_batch_callback_sees_every_batch_as_under_the_reference():
    seen = []
    for engine in ("numpy", "numba"):
        recorder = Recorder()
        model = NeuralNetwork([3, 6, 1], random_state=3, engine=engine)
        model.fit(X, TARGETS["regression"], epochs=2, batch_size=8, verbose=0, callbacks=[recorder])
        seen.append(np.array(recorder.seen))
    assert len(seen[0]) == 14
    np.testing.assert_allclose(seen[1], seen[0], rtol=1e-9)


def test_one_compiled_kernel_per_dtype_whatever_types_the_inputs_arrive_in():
    # Fortran order, integers, lists, a float32 table for a float64 model, integer weights and an
    # integer L2 set afterwards: all reach the chunk kernel as the types it was loaded for. In a
    # fresh process: one in which the threaded kernel was compiled holds one more signature of
    # the chunk kernel (the call inside it), whatever the inputs.
    script = ("import numpy as np; from backpropagation import NeuralNetwork\n"
              "from backpropagation.engines import numba_chunk\n"
              "rng = np.random.default_rng(0); X = rng.normal(size=(50, 3)); y = X[:, 0] > 0\n"
              "three = (X[:, :2] > 0).sum(axis=1).tolist()\n"
              "inputs = [('regression', 1, np.asfortranarray(X), X[:, 1], None),\n"
              "          ('classification', 1, X.astype(np.float32), y.astype(int), None),\n"
              "          ('classification', 3, X.tolist(), three, np.ones(50, dtype=int))]\n"
              "for dtype in ('float64', 'float32'):\n"
              "    for task, n_out, features, target, weights in inputs:\n"
              "        model = NeuralNetwork([3, 4, n_out], task=task, dtype=dtype, engine='numba')\n"
              "        model.l2 = 0\n"
              "        model.fit(features, target, epochs=2, batch_size=5, verbose=0, sample_weight=weights,\n"
              "                  validation_split=0.2)\n"
              "print(len(numba_chunk.run_chunk.signatures))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["2"]


def test_the_kernels_are_loaded_before_the_first_epoch_begins():
    # In a fresh process: the first epoch's time is training, not loading compiled code; for
    # one thread and, where the batches are split over threads, for the threaded kernel.
    script = ("import numpy as np; from backpropagation import Callback, NeuralNetwork; "
              "from backpropagation.engines import numba_chunk as c, numba_engine as e\n"
              "class First(Callback):\n"
              "    def on_epoch_begin(self, epoch, logs):\n"
              "        print(len(c.run_chunk.signatures))\n"
              "for dtype in ('float64', 'float32'):\n"
              "    NeuralNetwork([2, 3, 1], dtype=dtype, engine='numba').fit("
              "np.eye(2), [0.0, 1.0], epochs=1, verbose=0, callbacks=[First()])\n"
              "e.thread_count = lambda model, batch_size: 2\n"
              "NeuralNetwork([2, 3, 1], engine='numba').fit(np.eye(2), [0.0, 1.0], epochs=1, verbose=0, "
              "callbacks=[First()])\n")
    # one kernel per dtype, the same for one thread and several
    assert python_output(script).split() == ["1", "2", "2"]


def test_auto_picks_numba_only_where_it_can_run_and_pays():

    code = ("import numpy as np; from backpropagation import NeuralNetwork; "
            "m = NeuralNetwork([3, 6, 1], random_state=0); "
            "m.fit(np.random.default_rng(0).normal(size=(40, 3)), np.zeros(40), epochs=2, verbose=0); "
            "print(m.engine_, '|', m.engine_reason_)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    engine, reason = done.stdout.strip().split(" | ")        # a fresh process: loading would not pay
    assert engine == "numpy" and "too short to pay" in reason, done.stderr[-2000:]
    small = NeuralNetwork([3, 6, 1], random_state=0)
    assert engines.choose(small, distributed=False) == "numba"
    assert engines.choose(small, distributed=True) == "numpy"         # MPI: the reference

    class Cube(Activation):
        def forward(self, Z):
            return Z**3

        def backward(self, Z, A, dA):
            return 3 * Z**2 * dA

    custom = NeuralNetwork([3, 6, 1], hidden_activation=Cube(), random_state=0)
    assert engines.choose(custom, distributed=False) == "numpy"
    custom.engine = "numba"
    with pytest.raises(ValueError, match="engine='numba': layer 1's activation Cube is not a built-in one"):
        custom.fit(X, TARGETS["regression"], epochs=1, verbose=0)
    with pytest.raises(ValueError, match="engine: expected one of 'auto', 'numpy', 'numba', got 'fast'"):
        NeuralNetwork([3, 1], engine="fast")


def test_kernels_are_cached_on_disk_where_numba_is_told(tmp_path):
    # Every kernel the engine calls from Python is compiled with cache=True ...
    from numba.core.caching import NullCache

    from backpropagation.engines import numba_chunk
    for kernel in (numba_chunk.run_chunk, numba_chunk.summed_row_loss, numba_chunk.flush_subnormals):
        assert not isinstance(kernel._cache, NullCache), kernel
    # ... and numba writes this package's kernels where NUMBA_CACHE_DIR says (shown with a small one:
    # compiling the whole chunk again takes about 20 s).
    code = ("import numpy as np; from backpropagation.engines.numba_input import sin_cos; "
            "sin_cos(np.zeros(3), np.empty(3), np.empty(3)); print('compiled')")
    environment = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    assert python_output(code, environment).strip() == "compiled"
    assert any(name.startswith("numba_input.sin_cos") and name.endswith(".nbi")
               for _, _, files in os.walk(tmp_path / "cache") for name in files)


def test_the_command_line_takes_an_engine_and_both_train_the_same_model(tmp_path, capsys):
    import json

    from backpropagation.cli import demo_data_path
    from backpropagation.cli import main as backprop

    reports = {}
    for engine in ("numpy", "numba", "auto"):
        assert backprop(["train", demo_data_path(), "--target", "species", "--epochs", "4", "--seed", "0",
                         "--no-periodic", "--no-input-scale", "--label-smoothing", "0",     # (what numba runs)
                         "--engine", engine, "--output", str(tmp_path / f"{engine}.npz"), "--json"]) == 0
        reports[engine] = json.loads(capsys.readouterr().out)
    assert [reports[e]["engine"] for e in ("numpy", "numba")] == ["numpy", "numba"]
    # a small job, but numba's kernels are loaded in this process by then: it is timed, not skipped
    assert "numba" in reports["auto"]["engine_ms_per_batch"] and reports["auto"]["engine"] in ("numpy", "numba")
    assert reports["numpy"]["kernel_seconds"] == 0 <= reports["numba"]["kernel_seconds"]   # (0: loaded earlier)
    numpy_model, numba_model = (NeuralNetwork.load(tmp_path / f"{e}.npz") for e in ("numpy", "numba"))
    np.testing.assert_allclose(numba_model.parameters, numpy_model.parameters, rtol=1e-9, atol=1e-12)


def test_the_estimators_take_an_engine():
    from backpropagation.sklearn import BackpropClassifier

    fitted = [BackpropClassifier(hidden_layer_sizes=(6,), epochs=5, tol=10.0, n_iter_no_change=2, engine=engine,
                                 random_state=0)
              .fit(X, TARGETS["multiclass"]) for engine in ("numpy", "numba")]
    assert [f.model_.engine_ for f in fitted] == ["numpy", "numba"]
    np.testing.assert_allclose(fitted[1].model_.parameters, fitted[0].model_.parameters, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("use_bias", [True, False])
@pytest.mark.parametrize("shuffle", [True, False])
def test_multi_output_regression_without_biases_and_in_stored_order(use_bias, shuffle):
    targets = X @ np.random.default_rng(3).normal(size=(3, 3))
    results = []
    for engine in ("numpy", "numba"):
        model = NeuralNetwork([3, 5, 3], use_bias=use_bias, random_state=0, engine=engine)
        history = model.fit(X, targets, epochs=3, batch_size=8, verbose=0, shuffle=shuffle,
                            validation_split=0.2, early_stopping=True, lr_schedule="plateau")
        results.append((np.array(history.history["loss"]), model.parameters.copy(), model.optimizer.iterations))
    assert_equal_training(results)


def test_an_unknown_code_is_an_error_in_every_kernel_never_another_rule():
    from backpropagation.engines import numba_codes, numba_kernels as kernels

    Z, A = np.ones(4), np.empty(4)
    with pytest.raises(ValueError, match="unknown activation code"):
        kernels.activate(99, 0.0, Z, 0, A, 0, 2, 2)
    with pytest.raises(ValueError, match="unknown activation code"):
        kernels.activation_backward(99, 0.0, Z, A, 0, np.ones(4), 0, 2, 2)
    loss = numba_codes.loss_of(NeuralNetwork([3, 1]))
    loss["code"], loss["fused"] = 99, False
    with pytest.raises(ValueError, match="unknown loss code"):
        kernels.sample_loss(loss[0], Z, A, Z, 0, 0, 0, 2)
    with pytest.raises(ValueError, match="unknown loss code"):
        kernels.loss_gradient(loss[0], 0.5, 0.25, 2, 2)
    spec = numba_codes.optimizer_of(NeuralNetwork([3, 1]).optimizer)
    constants = kernels.step_constants(spec[0], 0.1, 1, Z)
    with pytest.raises(ValueError, match="unknown optimizer code"):
        kernels.update_range(99, Z, Z.copy(), Z.copy(), Z.copy(), constants, 0, 4)


def test_the_codes_cover_every_built_in_block_and_the_records_name_their_fields_as_the_classes_do():
    from backpropagation import activations, losses, optimizers
    from backpropagation.engines import numba_codes

    base = activations.Activation
    built_in = {cls for cls in vars(activations).values() if isinstance(cls, type) and issubclass(cls, base)} - {base}
    assert built_in == set(numba_codes.ACTIVATIONS)
    assert len(set(numba_codes.ACTIVATIONS.values())) == len(built_in)        # one code each
    assert {losses.Huber} <= set(numba_codes.LOSSES) and len(set(numba_codes.LOSSES.values())) == 5
    adamw = optimizers.AdamW(beta_1=0.8, beta_2=0.9, epsilon=1e-6, weight_decay=0.1)
    record = numba_codes.optimizer_of(adamw)[0]
    assert (record["beta_1"], record["beta_2"], record["epsilon"], record["weight_decay"]) == (0.8, 0.9, 1e-6, 0.1)
    nesterov = numba_codes.optimizer_of(optimizers.SGD(momentum=0.9, nesterov=True))[0]
    assert record["code"] == numba_codes.ADAMW and nesterov["nesterov"] and nesterov["momentum"] == 0.9


def test_the_history_says_how_long_the_kernels_took_to_load():
    numba_history = NeuralNetwork([3, 4, 1], engine="numba", random_state=0).fit(X, TARGETS["regression"], epochs=1,
                                                                              verbose=0)
    numpy_history = NeuralNetwork([3, 4, 1], engine="numpy", random_state=0).fit(X, TARGETS["regression"], epochs=1,
                                                                              verbose=0)
    assert numba_history.kernel_seconds > 0 and numpy_history.kernel_seconds == 0


