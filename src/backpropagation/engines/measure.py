"""Choosing by measuring: which engine, and how many BLAS threads, run this job's batches fastest
on this machine now.

An estimate cannot know that numba loses to NumPy's BLAS on a wide table, or that a second busy
process makes two BLAS threads eight times slower than one on small batches. So, for jobs long
enough that a fraction of a second of trial does not matter (``engines.AUTO_MIN_SECONDS``):

- ``engine="auto"`` times a few batches with each engine, on copies of the network, and trains
  with the faster; numba's kernels are only tried when numba has compiled them before, or when
  the job is long enough (:data:`COMPILE_PAYS`) for a first compilation to pay;
- the numpy engine times one batch's forward and backward pass with BLAS on one thread and on
  its default count, and holds BLAS to one thread for the fit when that is faster.

The timings are kept in ``model.engine_timing_`` (and the command's report).
"""

from __future__ import annotations

import contextlib
import copy
import time

import numpy as np

#: Seconds each candidate is timed for (after one untimed warm-up run).
TRIAL_SECONDS = 0.1
#: Estimated seconds of training from which compiling numba's kernels for the first time
#: (about 20 s on a 2-core machine) is worth trying.
COMPILE_PAYS = 120.0
#: How much faster (as a ratio) numba must measure to be taken over the reference engine.
NUMBA_MARGIN = 1.1


def seconds_per_call(step, budget: float = TRIAL_SECONDS, least: int = 3) -> float:
    """The fastest of repeated timed calls of ``step()`` over about ``budget`` seconds."""
    step()                                              # warm-up: caches, lazy allocations
    best, spent, calls = float("inf"), 0.0, 0
    while calls < least or spent < budget:
        began = time.perf_counter()
        step()
        took = time.perf_counter() - began
        best, spent, calls = min(best, took), spent + took, calls + 1
        if calls >= 1000:
            break
    return best


def blas_controller():
    """threadpoolctl's controller of the BLAS libraries, or None without threadpoolctl."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def blas_threads(model, X: np.ndarray, Y: np.ndarray, batch_size: int) -> tuple[int | None, dict]:
    """BLAS threads for the numpy engine on batches of ``X``: 1 when one thread runs a batch's
    forward and backward pass faster than the default count, else None (leave it); and the
    seconds per batch measured for each."""
    controller = blas_controller()
    if controller is None:
        return None, {}
    default = max((info["num_threads"] for info in controller.select(user_api="blas").info()), default=1)
    if default <= 1:
        return None, {}
    Xb, Yb = X[:batch_size], Y[:batch_size]

    def step():
        model.backprop.loss_and_gradients(Xb, Yb, penalty_gradient=False)

    generator = model.dropout_rng                    # (dropout draws masks: the fit's draws stay the same)
    state = None if generator is None else generator.bit_generator.state
    many = seconds_per_call(step)
    with controller.limit(limits=1, user_api="blas"):
        one = seconds_per_call(step)
    if generator is not None:
        generator.bit_generator.state = state
    timing = {f"numpy, {default} BLAS threads": many, "numpy, 1 BLAS thread": one}
    return (1 if one < many else None), timing


def holding_blas(threads: int | None):
    """A context that holds BLAS to ``threads`` threads (None: leaves it as it is)."""
    controller = blas_controller() if threads else None
    return controller.limit(limits=threads, user_api="blas") if controller else contextlib.nullcontext()


def numba_compiled_before() -> bool:
    """Whether numba's on-disk cache holds the chunk kernel (else the first use compiles it)."""
    import os

    try:
        from . import numba_chunk

        return os.path.exists(numba_chunk.run_chunk._cache._cache_file._index_path)   # (numba's own layout)
    except (AttributeError, ImportError, OSError):
        return True                        # (unknown: let the measurement decide)


def faster_engine(model, X: np.ndarray, Y: np.ndarray, batch_size: int, estimate: float) -> tuple[str, str, dict]:
    """``(engine, why, seconds per batch)`` for ``engine="auto"`` on this job (numba possible)."""
    if estimate < COMPILE_PAYS and not numba_compiled_before():
        return "numpy", (f"numba's kernels were never compiled here (about 20 s the first time) and the job is "
                         f"estimated at {estimate:.0f} s; engine='numba' once compiles them"), {}
    from ..data import MiniBatches
    from .numba_engine import NumbaEngine
    from .numpy_engine import NumpyEngine

    rows = min(len(X), batch_size * 8)
    batches = MiniBatches(X[:rows], Y[:rows], None, batch_size)
    outputs, trained = np.empty_like(Y[:rows]), np.zeros(rows, dtype=bool)
    timing = {}
    for name in ("numpy", "numba"):
        trial = copy.deepcopy(model)
        engine = NumpyEngine(trial) if name == "numpy" else NumbaEngine(trial, [], batch_size)

        def epoch(engine=engine):
            for _ in engine.chunks(batches, None, model.learning_rate, outputs, trained, None):
                pass
        timing[name] = seconds_per_call(epoch, least=2) * batch_size / rows      # per batch
    if timing["numba"] * NUMBA_MARGIN < timing["numpy"]:
        return "numba", "", timing
    return "numpy", (f"it measured faster here: {timing['numpy'] * 1e3:.3g} ms per batch against numba's "
                     f"{timing['numba'] * 1e3:.3g} ms"), timing
