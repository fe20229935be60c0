"""The compiled engine: chunks of batches in one numba call over the model's flat vectors.

It trains the same parameters, gradients and optimizer state as the reference engine (a model
may switch engines between ``fit`` calls, and its file is the same), with the built-in building
blocks only: :func:`unsupported` says why a model cannot use it. The model reaches the kernels as
the codes and records of :mod:`.numba_codes`; one kernel, :func:`.numba_chunk.run_chunk`, runs a
chunk of batches on one thread or, for batches with enough work, split by rows over threads
(:func:`thread_count`). The kernels are
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
import weakref

import numpy as np

from ..training import callbacks
from .blas_work import wakes_blas_threads
from .numba_codes import (Data, Network, Optimizer, Results, Threads, Work, first_input_density, layers_of, loss_of,
                          optimizer_of, optimizer_state, stage_of, unsupported)

#: Multiply-adds of the first chunk of batches: short enough for Ctrl-C and progress to stay
#: responsive even in loops, long enough that the Python between chunks does not count.
CHUNK_WORK = 2e7
#: Seconds a chunk aims at once one has been timed: chunks grow (never below the first
#: length) while they run faster, so BLAS-sized batches are not handed out one at a time.
CHUNK_SECONDS = 0.05
#: Batch callbacks that accept being called after each chunk, in order, with each batch's loss.
CHUNK_SAFE_CALLBACKS = (callbacks.ProgressBar, callbacks.History)
#: Multiply-adds of a batch's forward pass (rows × weights) from which its rows are split over
#: threads (:mod:`.numba_chunk`); below it, starting threads and waiting at barriers cost
#: more than they save.
PARALLEL_WORK = 1 << 22
#: Multiply-adds a row's periodic phase counts as in that work (its cosine and sine, its share of
#: the embeddings' products, forward and backward, in compiled loops rather than BLAS): fitted to
#: the film-ratings table's network (11 periodic columns of 16 frequencies, 32-16-1, batches of 128),
#: whose epoch two threads ran 1.2× faster than one, and to 5 columns at 128 rows and 11 at 64,
#: where they did not (bench/README.md).
PHASE_WORK = 200
#: Fewest rows of a batch a thread takes: single-threaded products on fewer rows lose to
#: multi-threaded BLAS on the whole batch.
PARALLEL_ROWS = 64
#: Most bytes the threads' own gradient vectors (one per thread but the first) may take.
PARALLEL_BYTES = 1 << 30
#: When the first layer's products skip the zeros of its input (one-hot columns) in loops
#: rather than call BLAS on the whole block: while the share of nonzero inputs is at most
#: ``SPARSE_DENSITY - SPARSE_TESTS / units`` (skipping costs a test per input, once a batch, and
#: a row update per nonzero one, BLAS a multiply-add per input and unit at a higher rate, so the
#: share that pays grows with the layer's units), and ``SPARSE_STAGED`` more behind an input
#: stage, whose ``δ Wᵀ`` it also spares. Fitted to bench/sparse_input.py, at or below where the
#: two meet: about 0.05 at 32 units, 0.07 at 64, 0.09 at 256.
SPARSE_DENSITY, SPARSE_TESTS, SPARSE_STAGED = 0.095, 1.5, 0.03
#: The dtypes whose kernels an engine of this process has compiled or loaded (:func:`loaded_dtype`).
_loaded_dtypes: set = set()


def thread_count(model, batch_size: int) -> int:
    """Threads that share each batch's rows: numba's thread count (``NUMBA_NUM_THREADS``,
    ``numba.set_num_threads``), at most the cores this process may use (:func:`usable_cores`),
    one per :data:`PARALLEL_ROWS` rows and as many as :data:`PARALLEL_BYTES` of gradient
    vectors allow, for batches of at least :data:`PARALLEL_WORK` multiply-adds (a periodic
    phase counting :data:`PHASE_WORK`), on POSIX
    systems where threadpoolctl can hold BLAS to one thread per part; 1 otherwise."""
    import numba

    work = batch_size * (sum(layer.n_weights for layer in model.layers) + PHASE_WORK * phases_per_row(model))
    if work < PARALLEL_WORK or os.name != "posix" or _blas_controller() is None:
        return 1
    by_memory = 1 + PARALLEL_BYTES // model.parameters.nbytes
    return max(1, min(numba.get_num_threads(), usable_cores(), batch_size // PARALLEL_ROWS, by_memory))


def on_threads(run, parts: int):
    """``run(part)`` for each of ``parts`` parts at once: parts 1.. on new threads, part 0 on this
    one (its result returned); returns once every part has."""
    helpers = [threading.Thread(target=run, args=(part,), daemon=True) for part in range(1, parts)]
    for helper in helpers:
        helper.start()
    try:
        return run(0)
    finally:
        for helper in helpers:
            helper.join()


def phases_per_row(model) -> int:
    """Periodic phases ``2π w x + b`` of one row: periodic columns × frequencies (0 without)."""
    stage = model.embedded_input
    periodic = None if stage is None else stage.periodic
    return 0 if periodic is None else len(periodic.columns) * periodic.n_frequencies


def sparse_limit(units: int, staged: bool) -> float:
    """The largest share of nonzero entries in the first layer's input at which its products skip
    the zeros, for a first layer of ``units`` units (see :data:`SPARSE_DENSITY`)."""
    return SPARSE_DENSITY - SPARSE_TESTS / units + (SPARSE_STAGED if staged else 0.0)


def sparse_first_layer(model, X) -> bool:
    """Whether the engine's first layer would loop over the nonzero inputs of rows like ``X``'s
    (:func:`sparse_limit`), as :meth:`NumbaEngine.sparse_input` decides it, without an engine."""
    stage = stage_of(model)
    return first_input_density(X, stage) <= sparse_limit(model.layers[0].fan_out, stage.active)


def loaded_dtype(dtype) -> bool:
    """Whether an engine of this process has compiled or loaded the kernels for ``dtype``."""
    return np.dtype(dtype).str in _loaded_dtypes


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

    def __init__(self, model, batch_callbacks, batch_size: int, parts: int | None = None) -> None:
        from . import numba_chunk

        reason = unsupported(model)
        if reason:
            raise ValueError(f"engine='numba': {reason}; use engine='numpy' or 'auto'")
        self.chunk = numba_chunk
        self.model = model
        self.layers, self.loss, self.stage = layers_of(model), loss_of(model), stage_of(model)
        self.n_weights = int(model.n_weights)       # (the input stage's parameters count as weights)
        self._length = None          # batches per chunk, learnt across the epochs of one fit
        self._sparse = {}            # id of an array of rows: (weak reference to it, sparse first input?)
        # A callback that must see each batch as it ends gets chunks of one batch.
        self._every_batch = any(not isinstance(c, CHUNK_SAFE_CALLBACKS) for c in batch_callbacks)
        # (``parts``: how many threads share each batch; default :func:`thread_count`, fewer where
        # measuring found them faster: a busy machine)
        self.batch_size, self.parts = batch_size, min(parts or thread_count(model, batch_size),
                                                      thread_count(model, batch_size))
        # Per-thread buffers for a block of each batch's rows, and the gradient vectors of parts
        # 1.. (part 0's is the model's): allocated once a fit, not once an epoch.
        rows = math.ceil(batch_size / self.parts)
        self.works = [self._work_buffers(rows) for _ in range(self.parts)]
        self.partials = np.zeros((self.parts - 1, model.parameters.size), dtype=model.dtype)
        began = time.perf_counter()
        self._load_kernels()
        #: Seconds compiling (first use) or loading (from numba's cache) the kernels took.
        self.load_seconds = time.perf_counter() - began

    @property
    def blas_threads(self) -> int | None:
        """BLAS threads to hold the whole fit to: one where this engine's threads share each batch,
        so that no BLAS call between its chunks (a metric's dot product over the epoch's rows, a
        validation pass) leaves BLAS's own threads spinning on the cores the next chunk's threads
        need (a batch then waits at the barriers for a thread that has no core); else None."""
        return 1 if self.parts > 1 else None

    def network(self) -> Network:
        """The model as the kernels see it (its L2 factor read now: it may change between fits)."""
        model = self.model
        return Network(model.parameters, model.gradients, self.layers, self.loss, self.n_weights, float(model.l2),
                       self.stage)

    def _load_kernels(self) -> None:
        """Compile the chunk kernel for the model's dtype, or load it from numba's cache, now:
        a call with no batches and empty arrays of the types :meth:`chunks` passes, so that the
        first epoch's time is training only."""
        model, dtype = self.model, self.model.dtype
        n_in, n_out = self.stage.n_raw, model.layers[-1].fan_out
        data = Data(np.zeros((0, n_in), dtype), np.zeros((0, n_out), dtype), np.zeros(0, dtype), np.zeros(0, np.int64))
        results = Results(np.zeros((0, n_out), dtype), np.zeros(0, bool), np.zeros(0), np.zeros(0))
        first, second = optimizer_state(model.optimizer, model.parameters)
        optimizer = Optimizer(optimizer_of(model.optimizer), first, second)
        self._run(data, optimizer, results, batch_size=1, first_batch=0, n_batches=0, lr=0.0, t=0)
        _loaded_dtypes.add(dtype.str)

    def _run(self, data, optimizer, results, **batches) -> tuple[int, int]:
        """One chunk on this engine's threads: parts 1.. on new threads, part 0 on this one."""
        parts, net = self.parts, self.network()
        counters, shared = np.zeros(1, np.int64), np.zeros((2, parts))

        def run(part):
            threads = Threads(part, parts, counters, shared, self.partials)
            return self.chunk.run_chunk(threads, data, net, optimizer, results, self.works[part], **batches)
        return on_threads(run, parts)

    def chunks(self, batches, order, lr, outputs, trained, interrupt):
        """Yield ``(index of the first batch, (loss, weight, rows) of each batch)`` per compiled chunk."""
        model = self.model
        X, size = batches.X, batches.batch_size
        if size != self.batch_size:         # the buffers are sized for the engine's batches
            raise ValueError(f"batches of {size} rows for an engine made for {self.batch_size}")
        n_rows = len(X)
        weights = np.zeros(0, dtype=model.dtype) if batches.weights is None else batches.weights
        order = np.arange(n_rows, dtype=np.int64) if order is None else order.astype(np.int64, copy=False)
        data = Data(X, self._targets(batches.Y), weights, order)   # (smoothing labels changes the targets)
        self.sparse_input(X)
        first, second = optimizer_state(model.optimizer, model.parameters)
        optimizer = Optimizer(optimizer_of(model.optimizer), first, second)
        n_batches = math.ceil(n_rows / size)
        least = 1 if self._every_batch else chunk_length(model, size, n_batches)
        self._length = self._length or least
        batch_losses = batch_weights = np.empty(0)
        start = 0
        with _blas_on_one_thread(self.parts):
            while start < n_batches:
                count = min(self._length, n_batches - start)
                if count > len(batch_losses):      # per-batch results of one chunk (chunks may grow)
                    batch_losses, batch_weights = np.empty(count), np.empty(count)
                began = time.perf_counter()
                done, steps = self._run(data, optimizer, Results(outputs, trained, batch_losses, batch_weights),
                                        batch_size=size, first_batch=start, n_batches=count, lr=float(lr),
                                        t=int(model.optimizer.iterations))
                if not self._every_batch:
                    self._length = next_chunk_length(self._length, least, count, time.perf_counter() - began)
                model.optimizer.iterations = int(steps)
                sizes = np.minimum(size, n_rows - (start + np.arange(done)) * size)
                yield start, zip(batch_losses[:done].tolist(), batch_weights[:done].tolist(), sizes.tolist())
                start += count

    def objective(self, X, Y, outputs) -> float:
        """Loss plus L2 penalty on validation rows ``X`` with encoded ``Y``, each row's output into
        ``outputs``: the reference's :meth:`Backprop.objective <backpropagation.nn.backprop.Backprop.objective>`,
        by the compiled forward pass in blocks of a batch's rows, the rows shared by the engine's
        threads where they share the batches (the fit then holds BLAS to one thread), and on one
        thread where the network has an input stage (the compiled sines and cosines take a ninth
        of NumPy's time) or its products are too small for BLAS's threads (NumPy's calls would
        cost more than the arithmetic); else by the reference's own passes over many rows (NaN
        for no rows)."""
        model = self.model
        block_rows = len(self.works[0].row_scale)
        if not len(X) or (self.parts == 1 and wakes_blas_threads(model, block_rows) and not self.stage.active):
            return model.backprop.objective(X, Y, outputs)
        self.sparse_input(X)                 # (the caller's array: the same one every epoch)
        X, Y = np.ascontiguousarray(X, dtype=model.dtype), np.ascontiguousarray(Y, dtype=model.dtype)
        return self._mean_row_loss(X, self._targets(Y), block_rows, outputs) + model.backprop.penalty()

    def _mean_row_loss(self, X, Y, block_rows: int, outputs) -> float:
        """The mean loss of rows ``X`` with targets ``Y`` (:func:`.numba_chunk.summed_row_loss`), an
        equal share of the rows on each of the engine's threads (part 0 on this one); one thread
        where the rows do not fill a block each."""
        n_rows, net = len(X), self.network()
        parts = self.parts if n_rows >= self.parts * block_rows else 1
        bounds = [n_rows * part // parts for part in range(parts + 1)]
        totals = [0.0] * parts

        def run(part):
            start, stop = bounds[part], bounds[part + 1]
            rows = np.arange(stop - start, dtype=np.int64)
            share = Data(X[start:stop], Y[start:stop], np.zeros(0, dtype=X.dtype), rows)
            totals[part] = self.chunk.summed_row_loss(share, net, self.works[part], block_rows, outputs[start:stop])
        on_threads(run, parts)
        return sum(totals) / n_rows

    def sparse_input(self, X) -> bool:
        """Whether the first layer's products skip zeros for rows like ``X``'s (at most
        :func:`sparse_limit` of its input nonzero: one-hot columns); set in its record.
        Measured once per array (an epoch's training rows and validation rows are the same arrays
        every epoch), remembered by a weak reference, so that no array is kept alive for it; the
        embedded columns' codes are checked then too (the kernels trust them), ValueError as the
        reference's :meth:`Embedding.codes_of <backpropagation.nn.layers.Embedding.codes_of>` gives."""
        known = self._sparse.get(id(X))
        if known is None or known[0]() is not X:
            for embedding in self.model.embeddings:
                embedding.codes_of(X[:, embedding.column])
            if len(self._sparse) >= 8:
                self._sparse.clear()
            limit = sparse_limit(int(self.layers[0]["fan_out"]), self.stage.active)
            known = self._sparse[id(X)] = (weakref.ref(X), first_input_density(X, self.stage) <= limit)
        self.layers[0]["sparse_in"] = known[1]
        if known[1] and not self.works[0].places.size:     # (the lists of nonzero places, once needed)
            width = int(self.layers[0]["fan_in"]) + 1
            self.works = [work._replace(places=np.empty(len(work.row_scale) * width, np.int64)) for work in self.works]
        return known[1]

    def _targets(self, Y):
        """The targets the kernels train toward: smoothed where the loss smooths its labels."""
        loss = self.model.loss
        return loss.smoothed_targets(Y) if getattr(loss, "label_smoothing", 0.0) else Y

    def _work_buffers(self, rows: int) -> Work:
        """A batch block's targets, row scales, pre-activations, activations (the first layer's
        input first) and deltas, and the input stage's buffers (empty without one), for ``rows``
        rows; the places of each row's nonzero inputs stay empty until :meth:`sparse_input` finds
        the first layer sparse."""
        dtype, units, stage = self.model.dtype, int(self.layers["fan_out"].sum()), self.stage
        n_in, n_out = int(self.layers[0]["fan_in"]), int(self.layers[-1]["fan_out"])
        staged = rows if stage.active else 0
        phases = staged * stage.periodic_columns.size * stage.k
        return Work(np.empty(rows * n_out, dtype), np.empty(rows, dtype), np.empty(rows * units, dtype),
                    np.empty(rows * (units + n_in), dtype), np.empty(rows * units, dtype),
                    np.empty(staged * stage.n_raw, dtype), np.empty(staged * n_in if stage.s_start >= 0 else 0, dtype),
                    np.empty(phases, dtype), np.empty(phases, dtype), np.empty(phases, dtype),
                    np.empty(staged * n_in, dtype), np.empty(0, np.int64))
