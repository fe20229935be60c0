"""The compiled engine: chunks of batches in one numba call over the model's flat vectors.

It trains the same parameters, gradients and optimizer state as the reference engine (a model
may switch engines between ``fit`` calls, and its file is the same), with the built-in building
blocks only: :func:`unsupported` says why a model cannot use it. Batches with enough work are
split by rows over threads (:func:`thread_count`, :mod:`.numba_parallel`). The kernels are
compiled on first use and cached on disk by numba (beside the package, or in numba's user-wide
cache directory when the package directory is read-only; ``NUMBA_CACHE_DIR`` chooses another
place), and loaded when the engine is created.
"""

from __future__ import annotations

import contextlib
import functools
import math
import os
import threading
import time

import numpy as np

from .. import activations, callbacks, losses, optimizers

_ACTIVATIONS = {activations.Sigmoid: 0, activations.Tanh: 1, activations.ReLU: 2, activations.LeakyReLU: 3,
                activations.ELU: 4, activations.Softplus: 5, activations.Swish: 6, activations.Linear: 7,
                activations.Softmax: 8}
_LOSSES = {losses.MeanSquaredError: 0, losses.MeanAbsoluteError: 1, losses.Huber: 2,
           losses.BinaryCrossEntropy: 3, losses.CategoricalCrossEntropy: 4}
_OPTIMIZERS = {optimizers.SGD: 0, optimizers.RMSProp: 1, optimizers.Adam: 2, optimizers.AdamW: 3}
#: Multiply-adds of the first chunk of batches: short enough for Ctrl-C and progress to stay
#: responsive even in loops, long enough that the Python between chunks does not count.
CHUNK_WORK = 2e7
#: Seconds a chunk aims at once one has been timed: chunks grow (never below the first
#: length) while they run faster, so BLAS-sized batches are not handed out one at a time.
CHUNK_SECONDS = 0.05
#: Batch callbacks that accept being called after each chunk, in order, with each batch's loss.
CHUNK_SAFE_CALLBACKS = (callbacks.ProgressBar, callbacks.History)
#: Multiply-adds of a batch's forward pass (rows × weights) from which its rows are split over
#: threads (:mod:`.numba_parallel`); below it, starting threads and waiting at barriers cost
#: more than they save.
PARALLEL_WORK = 1 << 22
#: Fewest rows of a batch a thread takes: single-threaded products on fewer rows lose to
#: multi-threaded BLAS on the whole batch.
PARALLEL_ROWS = 64
#: Most bytes the threads' own gradient vectors (one per thread but the first) may take.
PARALLEL_BYTES = 1 << 30


def thread_count(model, batch_size: int) -> int:
    """Threads that share each batch's rows: numba's thread count (``NUMBA_NUM_THREADS``,
    ``numba.set_num_threads``), at most the cores this process may use (:func:`usable_cores`),
    one per :data:`PARALLEL_ROWS` rows and as many as :data:`PARALLEL_BYTES` of gradient
    vectors allow, for batches of at least :data:`PARALLEL_WORK` multiply-adds, on POSIX
    systems where threadpoolctl can hold BLAS to one thread per part; 1 otherwise."""
    import numba

    work = batch_size * sum(layer.n_weights for layer in model.layers)
    if work < PARALLEL_WORK or os.name != "posix" or _blas_controller() is None:
        return 1
    by_memory = 1 + PARALLEL_BYTES // model.parameters.nbytes
    return max(1, min(numba.get_num_threads(), usable_cores(), batch_size // PARALLEL_ROWS, by_memory))


def usable_cores(cgroup: str = "/sys/fs/cgroup") -> int:
    """Cores this process may run on: its CPU affinity, and a container's CPU quota (cgroup v2
    ``cpu.max`` or v1 ``cpu.cfs_quota_us``) where one is set, since threads that wait for each
    other by spinning must not outnumber the CPU time they get."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    for quota_file, period_file in (("cpu.max", None), ("cpu/cpu.cfs_quota_us", "cpu/cpu.cfs_period_us")):
        try:
            with open(os.path.join(cgroup, quota_file)) as handle:
                fields = handle.read().split()
            if period_file:
                with open(os.path.join(cgroup, period_file)) as handle:
                    fields.append(handle.read().strip())
            quota, period = fields[0], fields[1]
            if quota not in ("max", "-1"):
                return max(1, min(cores, math.ceil(int(quota) / int(period))))
        except (OSError, ValueError, IndexError):
            continue
    return cores


@functools.cache
def _blas_controller():
    """threadpoolctl's controller of this process's BLAS libraries, or None without threadpoolctl.
    SciPy's BLAS, which numba's ``np.dot`` calls, is loaded first, so that the controller holds it."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    import scipy.linalg.cython_blas  # noqa: F401  (loads the library numba's np.dot calls)

    return ThreadpoolController()


def _blas_on_one_thread(parts: int):
    """A context in which BLAS runs single-threaded, where ``parts`` threads share the batches."""
    return _blas_controller().limit(limits=1, user_api="blas") if parts > 1 else contextlib.nullcontext()


def unsupported(model) -> str | None:
    """Why the numba engine cannot train ``model`` (a custom building block), or None."""
    for i, layer in enumerate(model.layers):
        if type(layer.activation) not in _ACTIVATIONS:
            return f"layer {i + 1}'s activation {type(layer.activation).__name__} is not a built-in one"
    if type(model.loss) not in _LOSSES:
        return f"the loss {type(model.loss).__name__} is not a built-in one"
    if type(model.optimizer) not in _OPTIMIZERS:
        return f"the optimizer {type(model.optimizer).__name__} is not a built-in one"
    return None


def _layout(model) -> tuple[np.ndarray, np.ndarray]:
    """Per layer: fan-in, fan-out, weight offset, bias offset (-1: none), activation code, and
    the first unit of its input block in the activations buffer (input first), of its block in
    the pre-activation and delta buffers, and of its output block in the activations buffer;
    and each activation's alpha."""
    rows, alphas, w_start, b_start = [], [], 0, sum(layer.n_weights for layer in model.layers)
    a_unit, z_unit = 0, 0
    for layer in model.layers:
        rows.append([layer.fan_in, layer.fan_out, w_start, b_start if layer.use_bias else -1,
                     _ACTIVATIONS[type(layer.activation)], a_unit, z_unit, a_unit + layer.fan_in])
        alphas.append(getattr(layer.activation, "alpha", 0.0))
        w_start, b_start = w_start + layer.n_weights, b_start + layer.n_biases
        a_unit, z_unit = a_unit + layer.fan_in, z_unit + layer.fan_out
    return np.array(rows, dtype=np.int64), np.array(alphas, dtype=np.float64)


def _optimizer_arguments(optimizer, params) -> tuple[int, np.ndarray, np.ndarray, np.ndarray]:
    """Code, hyper-parameters (momentum, nesterov, rho/β1, β2, ε, weight decay) and state arrays."""
    state = optimizer.state_arrays(params)
    code = _OPTIMIZERS[type(optimizer)]
    spare = np.zeros(0, dtype=params.dtype)
    if code == 0:
        hyper = [optimizer.momentum, float(optimizer.nesterov), 0, 0, 0, 0]
        return code, np.array(hyper, dtype=np.float64), state["velocity"], spare
    if code == 1:
        hyper = [0, 0, optimizer.rho, 0, optimizer.epsilon, 0]
        return code, np.array(hyper, dtype=np.float64), spare, state["mean_square"]
    hyper = [0, 0, optimizer.beta_1, optimizer.beta_2, optimizer.epsilon, getattr(optimizer, "weight_decay", 0.0)]
    return code, np.array(hyper, dtype=np.float64), state["m"], state["v"]


def chunk_length(model, batch_size: int, n_batches: int) -> int:
    """Batches in the first compiled call: about :data:`CHUNK_WORK` multiply-adds."""
    work = 3 * batch_size * sum(layer.n_weights for layer in model.layers) + 1000
    return int(min(max(CHUNK_WORK // work, 1), n_batches))


def next_chunk_length(length: int, least: int, count: int, seconds: float) -> int:
    """Batches in the next chunk after ``count`` batches took ``seconds``: aimed at
    :data:`CHUNK_SECONDS`, at most eight times ``length`` and never below ``least`` (a first
    chunk's time may include compilation)."""
    wanted = int(count * CHUNK_SECONDS / max(seconds, 1e-9))
    return max(least, min(wanted, 8 * length))


class NumbaEngine:
    """Trains ``model`` with the compiled kernels; same contract as the reference engine."""

    name = "numba"

    def __init__(self, model, batch_callbacks, batch_size: int) -> None:
        from . import numba_kernels

        reason = unsupported(model)
        if reason:
            raise ValueError(f"engine='numba': {reason}; use engine='numpy' or 'auto'")
        self.kernels = numba_kernels
        self.model = model
        self.layout, self.alphas = _layout(model)
        self.n_weights = int(sum(layer.n_weights for layer in model.layers))
        eps = float(np.finfo(model.dtype).eps)
        self.loss = np.array([_LOSSES[type(model.loss)], getattr(model.loss, "delta", 1.0),
                              float(model.fused), eps], dtype=np.float64)
        self._length = None          # batches per chunk, learnt across the epochs of one fit
        # A callback that must see each batch as it ends gets chunks of one batch.
        self._every_batch = any(not isinstance(c, CHUNK_SAFE_CALLBACKS) for c in batch_callbacks)
        self.batch_size, self.parts = batch_size, thread_count(model, batch_size)
        # Per-thread buffers for a block of each batch's rows, and the gradient vectors of parts
        # 1.. (part 0's is the model's): allocated once a fit, not once an epoch.
        rows = math.ceil(batch_size / self.parts)
        self.works = [self._work_buffers(rows, model.layers[0].fan_in, model.layers[-1].fan_out)
                      for _ in range(self.parts)]
        self.partials = np.zeros((self.parts - 1, model.parameters.size), dtype=model.dtype)
        self._load_kernels()

    def _load_kernels(self) -> None:
        """Compile the chunk kernel this fit runs (one thread or several) for the model's dtype,
        or load it from numba's cache, now: a call with no batches and empty arrays of the types
        :meth:`chunks` passes, so that the first epoch's time is training only."""
        model, dtype = self.model, self.model.dtype
        n_in, n_out = model.layers[0].fan_in, model.layers[-1].fan_out
        empty = np.zeros(0, dtype=dtype)
        arguments = (np.zeros((0, n_in), dtype), np.zeros((0, n_out), dtype), empty, np.zeros(0, np.int64), 1, 0, 0,
                     model.parameters, model.gradients, self.layout, self.alphas, self.n_weights, float(model.l2),
                     self.loss, 0, np.zeros(6), empty, empty, 0.0, 0, np.zeros((0, n_out), dtype),
                     np.zeros(0, bool), np.zeros(0), np.zeros(0))
        if self.parts == 1:
            self.kernels.run_batches(*arguments, empty, empty, empty, empty, empty)
        else:
            from . import numba_parallel

            numba_parallel.run_part(0, self.parts, np.zeros(1, np.int64), np.zeros((2, self.parts)),
                                    np.zeros((0, 0), dtype), *arguments, empty, empty, empty, empty, empty)

    def chunks(self, batches, order, lr, outputs, trained, interrupt):
        """Yield ``(index of the first batch, (loss, weight, rows) of each batch)`` per compiled chunk."""
        model = self.model
        X, Y, size = batches.X, batches.Y, batches.batch_size
        if size != self.batch_size:         # the buffers are sized for the engine's batches
            raise ValueError(f"batches of {size} rows for an engine made for {self.batch_size}")
        n_rows = len(X)
        weights = np.zeros(0, dtype=model.dtype) if batches.weights is None else batches.weights
        order = np.arange(n_rows, dtype=np.int64) if order is None else order.astype(np.int64, copy=False)
        n_batches = math.ceil(n_rows / size)
        least = 1 if self._every_batch else chunk_length(model, size, n_batches)
        self._length = self._length or least
        code, hyper, first, second = _optimizer_arguments(model.optimizer, model.parameters)
        parts = self.parts
        works, partials = self.works, self.partials
        batch_losses = batch_weights = np.empty(0)
        start = 0
        with _blas_on_one_thread(parts):
            while start < n_batches:
                count = min(self._length, n_batches - start)
                if count > len(batch_losses):      # per-batch results of one chunk (chunks may grow)
                    batch_losses, batch_weights = np.empty(count), np.empty(count)
                arguments = (X, Y, weights, order, size, start, count, model.parameters, model.gradients,
                             self.layout, self.alphas, self.n_weights, float(model.l2), self.loss, code, hyper,
                             first, second, float(lr), int(model.optimizer.iterations), outputs, trained,
                             batch_losses, batch_weights)
                began = time.perf_counter()
                if parts == 1:
                    done, steps = self.kernels.run_batches(*arguments, *works[0])
                else:
                    done, steps = self._run_threads(parts, partials, arguments, works)
                if not self._every_batch:
                    self._length = next_chunk_length(self._length, least, count, time.perf_counter() - began)
                model.optimizer.iterations = int(steps)
                sizes = np.minimum(size, n_rows - (start + np.arange(done)) * size)
                yield start, zip(batch_losses[:done].tolist(), batch_weights[:done].tolist(), sizes.tolist())
                start += count

    def _work_buffers(self, rows: int, n_in: int, n_out: int) -> list[np.ndarray]:
        """A batch block's targets, row scales, pre-activations, activations (input first) and
        deltas, for ``rows`` rows."""
        dtype, units = self.model.dtype, int(self.layout[:, 1].sum())
        return [np.empty(rows * n_out, dtype), np.empty(rows, dtype), np.empty(rows * units, dtype),
                np.empty(rows * (units + n_in), dtype), np.empty(rows * units, dtype)]

    def _run_threads(self, parts, partials, arguments, works):
        """One chunk on ``parts`` threads: parts 1.. on new threads, part 0 on this one."""
        from . import numba_parallel

        counters, shared = np.zeros(1, np.int64), np.zeros((2, parts))

        def run(part):
            return numba_parallel.run_part(part, parts, counters, shared, partials, *arguments, *works[part])

        helpers = [threading.Thread(target=run, args=(part,), daemon=True) for part in range(1, parts)]
        for helper in helpers:
            helper.start()
        try:
            return run(0)
        finally:
            for helper in helpers:
                helper.join()
