"""The numba engine's batches split over threads: equal to the reference and bit-identical for a
seed, BLAS held to one thread while they share the batches, chunks sized to their time, Ctrl-C
within a chunk, divergence stopped with finite weights."""

import os

import numpy as np
import pytest

pytest.importorskip("numba")
pytest.importorskip("scipy")

from engine_equality import (TARGETS, WEIGHTS, X, Recorder, assert_equal_training,  # noqa: E402
                             python_output, train_both)
from backpropagation import Callback, DivergenceError, NeuralNetwork  # noqa: E402
from backpropagation.engines import measure, numba_chunk, numba_engine  # noqa: E402


@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("task,loss", [("regression", None), ("multiclass", None), ("binary", "binary_crossentropy")])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("weighted", [False, True])
def test_batches_split_over_threads_equal_the_reference(monkeypatch, parts, task, loss, dtype, weighted):
    # Batches of 7 rows over 2 or 3 threads: blocks of 4 + 3 or 3 + 3 + 1 rows, and the last
    # batch's single row leaves the other threads without rows. Zero-weight batches included.
    monkeypatch.setattr(numba_engine, "thread_count", lambda model, batch_size: parts)
    kwargs = {"loss": loss} if loss else {}
    results = train_both(task=task, dtype=dtype, l2=0.01, optimizer="adam", hidden_activation="tanh",
                         sample_weight=WEIGHTS if weighted else None, **kwargs)
    assert_equal_training(results, dtype)



def test_threads_give_bit_identical_results_for_the_same_seed(monkeypatch):
    monkeypatch.setattr(numba_engine, "thread_count", lambda model, batch_size: 2)
    runs = []
    for _ in range(2):
        model = NeuralNetwork([3, 16, 8, 3], task="classification", random_state=5, engine="numba")
        model.fit(X, TARGETS["multiclass"], epochs=4, batch_size=8, verbose=0, sample_weight=WEIGHTS)
        runs.append(model.parameters.copy())
    assert np.array_equal(runs[0], runs[1])



@pytest.mark.parametrize("parts", [2, 3])
@pytest.mark.parametrize("activation", ["softmax", "relu", "leaky_relu"])
def test_threads_with_other_hidden_activations(monkeypatch, parts, activation):
    monkeypatch.setattr(numba_engine, "thread_count", lambda model, batch_size: parts)
    results = train_both(task="multiclass", hidden_activation=activation, batch_size=7, l2=0.01)
    assert_equal_training(results)



@pytest.mark.parametrize("batch_size", [1, 2])
def test_threads_skip_zero_weight_batches_as_the_reference_does(monkeypatch, batch_size):
    # Batch size 1: the second thread never has rows; the first five rows weigh nothing.
    monkeypatch.setattr(numba_engine, "thread_count", lambda model, batch_size: 2)
    results = train_both(task="binary", batch_size=batch_size, sample_weight=WEIGHTS, optimizer="rmsprop", l2=0.01)
    assert_equal_training(results)



@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "rmsprop", "adamw"])
def test_every_optimizer_on_threads(monkeypatch, optimizer):
    monkeypatch.setattr(numba_engine, "thread_count", lambda model, batch_size: 2)
    assert_equal_training(train_both(task="multiclass", optimizer=optimizer, l2=0.05, batch_size=None))



@pytest.mark.parametrize("optimizer", ["adamw", "momentum"])
def test_threads_step_many_pieces_of_a_larger_network(monkeypatch, optimizer):
    # 35,000 parameters: each thread steps its block in several pieces, and the weights end
    # (the L2 penalty's last entry) inside a piece of the second thread's block.
    monkeypatch.setattr(numba_engine, "thread_count", lambda model, batch_size: 2)
    rng = np.random.default_rng(4)
    data = rng.normal(size=(120, 20))
    target, weights = (data[:, 0] > 0).astype(int) + (data[:, 1] > 0), rng.uniform(0, 2, 120)
    results = []
    for engine in ("numpy", "numba"):
        model = NeuralNetwork([20, 200, 150, 3], task="classification", optimizer=optimizer, l2=0.01,
                              learning_rate=0.01, random_state=4, engine=engine)
        history = model.fit(data, target, epochs=2, batch_size=16, verbose=0, sample_weight=weights)
        results.append((np.array(history.history["loss"]), model.parameters.copy(), model.optimizer.iterations))
    assert model.parameters.size > 2 * numba_chunk.STEP_PIECE
    assert_equal_training(results)



@pytest.mark.parametrize("files,quota", [
    ({"cpu.max": "150000 100000\n"}, 2), ({"cpu.max": "50000 100000"}, 1), ({"cpu.max": "max 100000"}, None),
    ({"cpu/cpu.cfs_quota_us": "100000", "cpu/cpu.cfs_period_us": "100000"}, 1),
    ({"cpu/cpu.cfs_quota_us": "-1", "cpu/cpu.cfs_period_us": "100000"}, None),
    ({"cpu.max": "garbage"}, None), ({}, None)])
def test_usable_cores_follow_a_containers_cpu_quota(tmp_path, files, quota):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    cores = len(os.sched_getaffinity(0))
    assert numba_engine.usable_cores(str(tmp_path)) == (cores if quota is None else min(cores, quota))



def test_threads_are_capped_by_the_memory_of_their_gradient_vectors(monkeypatch):
    model = NeuralNetwork([784, 512, 256, 10], task="classification", dtype="float32")
    monkeypatch.setattr(numba_engine, "usable_cores", lambda: 8)
    monkeypatch.setattr(__import__("numba"), "get_num_threads", lambda: 8)
    assert numba_engine.thread_count(model, 4096) == 8
    monkeypatch.setattr(numba_engine, "PARALLEL_BYTES", 3 * model.parameters.nbytes)
    assert numba_engine.thread_count(model, 4096) == 4          # the first thread uses the model's
    assert numba_engine.thread_count(model, 128) == 2           # 64 rows a thread at least



def test_blas_runs_on_one_thread_while_threads_share_the_batches_and_on_all_after():
    # In a fresh process, where SciPy's BLAS (the one numba's np.dot calls) is not loaded yet:
    # the engine must load it before it asks threadpoolctl to hold every BLAS to one thread.
    if min(numba_engine.usable_cores(), __import__("numba").get_num_threads()) < 2:
        pytest.skip("one usable core (affinity or the container's CPU quota): batches are not split over threads")
    script = ("import numpy as np, threadpoolctl; from backpropagation import Callback, NeuralNetwork; "
              "from backpropagation.engines import numba_engine as e\n"
              "e.PARALLEL_WORK, e.PARALLEL_ROWS = 0, 1\n"
              "def blas(): return sorted((i['filepath'], i['num_threads']) for i in threadpoolctl.threadpool_info() "
              "if i['user_api'] == 'blas')\n"
              "class Probe(Callback):\n"
              "    def on_batch_end(self, batch, logs): self.during = blas()\n"
              "probe = Probe()\n"
              "NeuralNetwork([4, 8, 1], engine='numba').fit(np.eye(4), np.arange(4.0), epochs=1, batch_size=2, "
              "verbose=0, callbacks=[probe])\n"
              "import scipy.linalg.cython_blas\n"
              "print({n for _, n in probe.during}, len(probe.during) == len(blas()), min(n for _, n in blas()))\n"
              "print('during', probe.during, 'after', blas(), 'cores', __import__('os').sched_getaffinity(0))\n")
    clean = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    printed = python_output(script, clean)    # (BLAS at its own default; the second line: what to look at)
    assert printed.split("\n")[0] == f"{{1}} True {min(2, os.cpu_count())}", printed



def test_wide_batches_are_split_over_the_cores_where_threadpoolctl_holds_blas():
    import numba

    model = NeuralNetwork([784, 512, 256, 10], task="classification")
    expected = min(numba.get_num_threads(), numba_engine.usable_cores())   # (a container's quota counts)
    assert numba_engine.thread_count(model, 256) == expected
    assert numba_engine.thread_count(model, 1) == 1                       # too little work a batch
    assert numba_engine.thread_count(NeuralNetwork([2, 16, 8, 1]), 4096) == 1


class ChunkCounter:
    """The compiled kernels, with the number of batches of each chunk kernel call recorded."""

    def __init__(self, kernels):
        self.kernels, self.counts = kernels, []

    def __getattr__(self, name):
        return getattr(self.kernels, name)

    def run_chunk(self, *args, **batches):
        self.counts.append(batches["n_batches"])
        return self.kernels.run_chunk(*args, **batches)



@pytest.mark.parametrize("every_batch", [False, True])
def test_chunks_grow_towards_their_target_time_unless_a_callback_needs_every_batch(monkeypatch, every_batch):
    many_X, many_y = np.tile(X, (40, 1)), np.tile(TARGETS["regression"], 40)
    monkeypatch.setattr(numba_engine, "CHUNK_WORK", 1)       # a first chunk of one batch
    counters = []
    original_init = numba_engine.NumbaEngine.__init__

    def counting_init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.chunk = ChunkCounter(self.chunk)
        counters.append(self.chunk)

    monkeypatch.setattr(numba_engine.NumbaEngine, "__init__", counting_init)
    results = []
    for engine in ("numpy", "numba"):
        model = NeuralNetwork([3, 6, 1], random_state=3, engine=engine)
        history = model.fit(many_X, many_y, epochs=2, batch_size=1, verbose=0,
                            callbacks=[Recorder()] if every_batch else None)
        results.append((np.array(history.history["loss"]), model.parameters.copy(), model.optimizer.iterations))
    assert_equal_training(results)
    counts = counters[0].counts
    assert sum(counts) == 2 * len(many_X)
    if every_batch:
        assert set(counts) == {1}
    else:
        assert counts[:3] == [1, 8, 64] and max(counts) > 64   # eightfold at most, while fast



def test_next_chunk_length_aims_at_the_target_time_within_its_bounds():
    target = numba_engine.CHUNK_SECONDS
    assert numba_engine.next_chunk_length(10, 2, 10, target / 2) == 20       # twice as many
    assert numba_engine.next_chunk_length(10, 2, 10, target / 100) == 80     # at most eightfold
    assert numba_engine.next_chunk_length(10, 2, 10, target * 100) == 2      # never below the first
    assert numba_engine.next_chunk_length(10, 2, 4, target * 2) == 2        # a short last chunk counts as 4



@pytest.mark.parametrize("parts", [1, 2])
def test_divergence_stops_the_numba_engine_with_finite_weights(monkeypatch, parts):
    monkeypatch.setattr(numba_engine, "thread_count", lambda model, batch_size: parts)
    model = NeuralNetwork([3, 6, 1], random_state=0, optimizer="sgd", learning_rate=1e6, engine="numba",
                          standardize_target=False)
    with pytest.raises(DivergenceError, match="training diverged"):
        model.fit(X, TARGETS["regression"] * 1e6, epochs=50, batch_size=5, verbose=0)
    assert np.isfinite(model.parameters).all() and model.stop_reason.startswith("diverged")



@pytest.mark.parametrize("parts", [1, 2])
def test_ctrl_c_stops_a_long_compiled_run_within_a_chunk(monkeypatch, parts):
    import signal
    import threading

    monkeypatch.setattr(numba_engine, "thread_count", lambda model, batch_size: parts)
    model = NeuralNetwork([3, 6, 1], random_state=0, engine="numba")
    model.fit(X, TARGETS["regression"], epochs=1, batch_size=1, verbose=0)          # compiled before timing

    class PressLater(Callback):        # from inside fit, its Ctrl-C guard in place: no race with its start
        def on_train_begin(self, logs):
            threading.Timer(0.5, lambda: os.kill(os.getpid(), signal.SIGINT)).start()

    history = model.fit(np.tile(X, (200, 1)), np.tile(TARGETS["regression"], 200), epochs=10_000, batch_size=1,
                        verbose=0, callbacks=[PressLater()])
    assert history.interrupted and len(history.epoch) < 10_000
    assert np.isfinite(model.parameters).all() and "interrupted (Ctrl-C)" in history.stop_reason



@pytest.mark.parametrize("parts", [1, 2])
def test_a_fit_whose_batches_threads_share_holds_blas_to_one_thread_throughout(monkeypatch, parts):
    # Between chunks (a metric's dot product over the epoch's rows, validation) a BLAS call on its
    # own threads leaves them spinning on the cores the next chunk's threads need: on the film
    # ratings table that made each threaded batch three times slower. So the whole loop holds BLAS
    # to one thread where numba's threads share the batches, and leaves it alone where they do not.
    threadpoolctl = pytest.importorskip("threadpoolctl")
    if measure.default_blas_threads() < 2:
        pytest.skip("BLAS runs on one thread here: nothing to tell apart")
    monkeypatch.setattr(numba_engine, "thread_count", lambda model, batch_size: parts)
    seen = []

    class BlasThreads(Callback):
        def on_epoch_end(self, epoch, logs):
            seen.append(max(i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"))
    model = NeuralNetwork([3, 16, 1], random_state=0, engine="numba")
    model.fit(X, TARGETS["regression"], epochs=2, batch_size=8, verbose=0, validation_split=0.25,
              callbacks=[BlasThreads()])
    assert seen == ([1, 1] if parts > 1 else [measure.default_blas_threads()] * 2)



def test_periodic_phases_count_toward_the_work_that_splits_a_batch_over_threads(monkeypatch):
    # The film-ratings network: 2,128 weights a row alone stay on one thread at 128 rows; its 176
    # periodic phases a row make the batch worth two (1.2× faster, bench/README.md).
    import numba

    if numba.get_num_threads() < 2:
        pytest.skip("numba runs one thread here")
    monkeypatch.setattr(numba_engine, "usable_cores", lambda: 2)
    plain = NeuralNetwork([50, 32, 16, 1])
    staged = NeuralNetwork([17, 32, 16, 1], periodic=list(range(11)), input_scale=True)
    assert numba_engine.phases_per_row(plain) == 0 and numba_engine.phases_per_row(staged) == 11 * 16
    assert numba_engine.thread_count(plain, 128) == 1 and numba_engine.thread_count(staged, 128) == 2
    assert numba_engine.thread_count(staged, 64) == 1
