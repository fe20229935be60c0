"""Choosing by measuring: which engine, and how many BLAS threads, run this job's batches fastest
on this machine now.

An estimate cannot know that numba loses to NumPy's BLAS on a wide table, or that a second busy
process makes two BLAS threads eight times slower than one on small batches. So every trial here
times what the fit will run: whole training steps (forward, backward, update) of the job's own
batch size on the job's own rows, on a copy of the network, warm (one untimed run first), under
the BLAS threads the fit will hold:

1. :func:`numpy_seconds` times the reference engine's steps; a couple of them give the job's
   estimated length (:func:`estimate`), so a short job costs a few steps of measuring and no more;
2. for a job long enough (``engines.AUTO_MIN_SECONDS``), the reference engine is timed with BLAS
   on its default threads and on one (a busy machine can make one faster), and the fit holds
   the faster;
3. ``engine="auto"`` times the numba engine's compiled steps too (before step 2 where the job's
   products wake no BLAS threads or numba's trial runs on one core, and then skips step 2 where
   numba is :data:`DECISIVE_MARGIN` faster than the estimate; where its threads would share the
   batches, on one thread and on those threads in turn, :func:`numba_thread_seconds`) and takes
   it only where it is :data:`NUMBA_MARGIN` faster; its kernels are only tried when numba has compiled them before, or
   when the job is long enough (:data:`COMPILE_PAYS`) for a first compilation to pay.

Each trial's budget is a small share of the job's estimated length (at most
:data:`TRIAL_SECONDS`). The timings are kept in ``model.engine_timing_`` (and the command's report).
"""

from __future__ import annotations

import contextlib
import copy
import math
import time

import numpy as np

from .blas_work import wakes_blas_threads

#: Most seconds each candidate is timed for (after one untimed warm-up run).
TRIAL_SECONDS = 0.1
#: The share of the job's estimated length all trials together may take.
TRIAL_SHARE = 0.02
#: Estimated seconds of training from which compiling numba's kernels for the first time
#: (about 20 s on a 2-core machine) is worth trying.
COMPILE_PAYS = 120.0
#: How much faster (as a ratio) numba must measure to be taken over the reference engine.
NUMBA_MARGIN = 1.1
#: How much faster than the reference engine's first estimate numba must measure for the
#: reference not to be timed on each BLAS thread count: numba calls the same BLAS products and
#: compiles the rest, so a gap this wide is its loops, which no BLAS thread count closes.
DECISIVE_MARGIN = 3.0
#: Fewest batches a trial runs per timed call; more (up to a third of the budget per call) where
#: steps are short, so that a call's fixed costs weigh on each step as little as in an epoch.
TRIAL_BATCHES = 4
#: Seconds of steps a timed call holds at least: where two steps take this long, a call's fixed
#: cost (well under a millisecond) is lost in them, and a trial times two batches a call, not
#: :data:`TRIAL_BATCHES` (a wide table's trials then cost half as much).
TRIAL_CALL_SECONDS = 0.01


#: Seconds a BLAS library's idle worker threads keep spinning after a threaded product (OpenBLAS
#: waits about 2**28 cycles before they sleep): long enough to halve the speed of whatever is
#: timed next on a 2-core machine, so a trial after a threaded one waits this out first.
SPIN_SECONDS = 0.12
#: The last threaded trial: (which, when its threads sleep again).
_spinning = (None, 0.0)
#: Most seconds :func:`settle` waits (:func:`waiting_at_most`): a short job's trials may not.
_most_wait = math.inf


@contextlib.contextmanager
def waiting_at_most(seconds: float):
    """A context in which a trial waits at most ``seconds`` for another's spinning threads: where
    the whole job is short, a trial slowed by them (and the reference engine kept) costs less."""
    global _most_wait
    saved, _most_wait = _most_wait, seconds
    try:
        yield
    finally:
        _most_wait = saved


def settle(which: str, threaded: bool) -> None:
    """Before a trial (``which`` engine and threads; ``threaded``: it runs on several cores, BLAS's
    or numba's): wait until the worker threads of an earlier threaded trial of another kind sleep
    (a trial of the same kind meets its own threads, as its fit does; a trial on one core leaves
    the spinning workers the other cores); then note that this one leaves threads."""
    global _spinning
    if not threaded:
        return
    if _spinning[0] not in (None, which):
        time.sleep(min(_most_wait, max(0.0, _spinning[1] - time.perf_counter())))
    _spinning = (which, math.inf)


def settled() -> None:
    """After a trial: the threads of the last threaded one spin for :data:`SPIN_SECONDS` from now
    if it was this one (else their clock runs on)."""
    global _spinning
    if _spinning[0] is not None and _spinning[1] == math.inf:
        _spinning = (_spinning[0], time.perf_counter() + SPIN_SECONDS)


def seconds_per_call(step, budget: float = TRIAL_SECONDS, least: int = 3) -> float:
    """The median of repeated timed calls of ``step()`` over about ``budget`` seconds (at least
    ``least`` of them, after one untimed warm-up call). The median, not the fastest: on a busy
    machine a lucky call is not what the fit will see."""
    step()                                              # warm-up: caches, lazy allocations
    times, spent = [], 0.0
    while len(times) < least or spent < budget:
        began = time.perf_counter()
        step()
        times.append(time.perf_counter() - began)
        spent += times[-1]
        if len(times) >= 1000:
            break
    return float(np.median(times))


def paired_seconds(alone, shared, budget: float = TRIAL_SECONDS, least: int = 2, lead_until: float = 0.0,
                   ready=lambda: None) -> tuple[float, float]:
    """Median seconds per call of ``alone()`` and of ``shared()``, timed in turn (one call of each,
    then again) after a warm-up call of each, until each has at least ``least`` calls and
    ``budget`` seconds: a slow spell of a shared machine then falls on both alike, where two trials
    one after the other can each meet a different one. Before ``shared`` is first called,
    ``alone`` is timed by itself until ``lead_until`` (a :func:`time.perf_counter` reading) and
    ``ready()`` is called (it may wait)."""
    def timed(step) -> float:
        began = time.perf_counter()
        step()
        return time.perf_counter() - began

    alone()
    first, second = [], []
    while time.perf_counter() < lead_until and len(first) < 1000:
        first.append(timed(alone))
    ready()
    shared()
    while len(second) < least or min(sum(first), sum(second)) < budget:
        second.append(timed(shared))
        first.append(timed(alone))
        if len(second) >= 1000:
            break
    return float(np.median(first)), float(np.median(second))


def spinning_until(which: str) -> float:
    """When the spinning worker threads of the last threaded trial sleep (a :func:`time.perf_counter`
    reading), where that trial was of another kind than ``which`` and this context lets a trial
    wait for them (:func:`waiting_at_most`); 0.0 otherwise."""
    if _spinning[0] in (None, which):
        return 0.0
    return min(_spinning[1], time.perf_counter() + _most_wait)


def blas_controller():
    """threadpoolctl's controller of the BLAS libraries, or None without threadpoolctl."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def default_blas_threads(controller=None) -> int:
    """How many threads BLAS runs on when left alone (1 without threadpoolctl)."""
    controller = controller or blas_controller()
    if controller is None:
        return 1
    return max((info["num_threads"] for info in controller.select(user_api="blas").info()), default=1)


def holding_blas(threads: int | None):
    """A context that holds BLAS to ``threads`` threads (None: leaves it as it is)."""
    controller = blas_controller() if threads else None
    return controller.limit(limits=threads, user_api="blas") if controller else contextlib.nullcontext()


def trial_batches(step_seconds: float, budget: float) -> int:
    """Batches per timed call for steps of about ``step_seconds``: a third of ``budget`` a call,
    at least :data:`TRIAL_BATCHES` (an engine's fixed cost per call, its setup and its thread
    limits, is paid once an epoch in a fit, not once every few steps), or two where two steps
    fill :data:`TRIAL_CALL_SECONDS`."""
    step_seconds = max(step_seconds, 1e-7)
    least = min(TRIAL_BATCHES, max(2, math.ceil(TRIAL_CALL_SECONDS / step_seconds)))
    return max(least, min(256, int(budget / 3 / step_seconds)))


def trial(model, name: str, X: np.ndarray, Y: np.ndarray, batch_size: int, parts: int | None = None,
          batches: int = TRIAL_BATCHES):
    """``(run, steps, engine)``: a function running ``batches`` training steps of engine ``name``
    on a copy of ``model`` (the model, its optimizer state and its generators untouched), on the
    job's rows; how many steps it runs; the engine it runs them on."""
    from ..data import MiniBatches

    rows = min(len(X), batch_size * batches)
    batches = MiniBatches(np.ascontiguousarray(X[:rows]), np.ascontiguousarray(Y[:rows]), None, batch_size)
    outputs, trained = np.empty((rows, Y.shape[1]), dtype=model.dtype), np.zeros(rows, dtype=bool)
    copied = copy.deepcopy(model)
    if name == "numba":
        from .numba_engine import NumbaEngine

        engine = NumbaEngine(copied, [], batch_size, parts)
        engine.sparse_input(batches.X)       # (decided now: :func:`numba_seconds` reads it)
    else:
        from .numpy_engine import NumpyEngine

        engine = NumpyEngine(copied)
    steps = math.ceil(rows / batch_size)

    def run():
        for _ in engine.chunks(batches, None, model.learning_rate, outputs, trained, None):
            pass
    return run, steps, engine


def numpy_seconds(model, X, Y, batch_size: int, threads: int | None = None, budget: float = TRIAL_SECONDS,
                  batches: int = TRIAL_BATCHES) -> float:
    """Seconds per training step of the reference engine on ``batches`` of the job's batches, BLAS
    held to ``threads`` (None: as it is)."""
    run, steps, _ = trial(model, "numpy", X, Y, batch_size, batches=batches)
    settle(f"numpy {threads}", threads != 1 and wakes_blas_threads(model, batch_size))
    try:
        with holding_blas(threads):
            return seconds_per_call(run, budget, least=2) / steps
    finally:
        settled()


def numba_seconds(model, X, Y, batch_size: int, budget: float = TRIAL_SECONDS, parts: int | None = None,
                  batches: int = TRIAL_BATCHES) -> float:
    """Seconds per training step of the compiled engine (its kernels loaded) on ``batches`` of the
    job's batches, its threads its own or ``parts`` of them sharing each batch. Its trial waits
    for another's spinning BLAS threads only where it runs on several cores: its own threads, or
    BLAS's in its products (a sparse first layer's are its own loops, on one core)."""
    run, steps, engine = trial(model, "numba", X, Y, batch_size, parts, batches)
    threaded = engine.parts > 1 or wakes_blas_threads(model, batch_size, skip_first=bool(engine.layers[0]["sparse_in"]))
    settle(f"numba {parts}", parts != 1 and threaded)
    try:
        with holding_blas(1 if parts == 1 else None):
            return seconds_per_call(run, budget, least=2) / steps
    finally:
        settled()


def numba_thread_seconds(model, X, Y, batch_size: int, budget: float = TRIAL_SECONDS,
                         batches: int = TRIAL_BATCHES) -> tuple[float, float]:
    """Seconds per training step of the compiled engine on one thread (BLAS held to one) and on its
    own threads sharing each batch, timed in turn (:func:`paired_seconds`). The one-thread calls
    begin while another trial's BLAS threads may still spin (on one core, they leave those the
    others); the threaded calls, once they sleep (:func:`settle`)."""
    run_alone, steps, _ = trial(model, "numba", X, Y, batch_size, 1, batches)
    run_shared, shared_steps, _ = trial(model, "numba", X, Y, batch_size, None, batches)
    controller = blas_controller()

    def alone():
        with controller.limit(limits=1, user_api="blas") if controller else contextlib.nullcontext():
            run_alone()
    try:
        one, many = paired_seconds(alone, run_shared, budget, lead_until=spinning_until("numba None"),
                                   ready=lambda: settle("numba None", True))
    finally:
        settled()
    return one / steps, many / shared_steps


def estimate(model, X, Y, batch_size: int, n_rows: int, epochs: int) -> tuple[float, float]:
    """``(seconds per step, estimated seconds of the whole job)`` of the reference engine, from a
    couple of its steps on the job's batches (cheap: the first thing measured for every job)."""
    per_step = numpy_seconds(model, X, Y, batch_size, budget=0.0)
    return per_step, per_step * epochs * math.ceil(n_rows / batch_size)


def blas_threads(model, X, Y, batch_size: int, budget: float, batches: int = TRIAL_BATCHES,
                 known: float | None = None) -> tuple[int | None, dict]:
    """BLAS threads for the reference engine on the job's batches: 1 when one thread runs its
    training steps faster than the default count, else None (leave it); and the seconds per step
    measured with each. A job whose products are all too small to wake BLAS's threads
    (:func:`wakes_blas_threads`) is measured once, as it is. ``known``: seconds per step already
    timed on the default thread count exactly as this trial would time them (the estimate, where
    its two calls already fill the budget), so not timed again."""
    controller = blas_controller()
    default = default_blas_threads(controller) if controller else 1
    if default <= 1:
        return None, {}
    if not wakes_blas_threads(model, batch_size):      # (every product runs on one thread either way)
        return None, {"numpy": known or numpy_seconds(model, X, Y, batch_size, None, budget, batches)}
    many = known or numpy_seconds(model, X, Y, batch_size, None, budget, batches)
    one = numpy_seconds(model, X, Y, batch_size, 1, budget, batches)
    timing = {f"numpy, {default} BLAS threads": many, "numpy, 1 BLAS thread": one}
    return (1 if one < many else None), timing


def estimate_suffices(step: float, budget: float, batches: int, n_batches: int) -> bool:
    """Whether :func:`estimate`, on a job of ``n_batches``, timed at least what a trial of
    ``batches`` a call within ``budget`` would: as many batches a call, and two calls (the fewest
    any trial makes) that fill the budget."""
    timed = min(TRIAL_BATCHES, n_batches)
    return batches <= timed and 2 * step * timed >= budget


def numba_compiled_before() -> bool:
    """Whether numba's on-disk cache holds the chunk kernel (else the first use compiles it)."""
    import os

    try:
        from . import numba_chunk

        return os.path.exists(numba_chunk.run_chunk._cache._cache_file._index_path)   # (numba's own layout)
    except (AttributeError, ImportError, OSError):
        return True                        # (unknown: let the measurement decide)


def numba_may_run(estimate_seconds: float) -> bool:
    """Whether numba's kernels may be tried for a job estimated at ``estimate_seconds``: they were
    compiled here before, or the job is long enough (:data:`COMPILE_PAYS`) for compiling them to pay."""
    return estimate_seconds >= COMPILE_PAYS or numba_compiled_before()


def numba_on_one_core(model, X, batch_size: int) -> bool:
    """Whether numba's trial runs on one core, so may start while another trial's BLAS threads
    still spin on the others: one thread takes each batch, its first layer loops over a sparse
    input's nonzeros, and no other product wakes BLAS's threads."""
    from .numba_engine import sparse_first_layer, thread_count

    return thread_count(model, batch_size) == 1 and not wakes_blas_threads(model, batch_size, skip_first=True) \
        and sparse_first_layer(model, X)


def numba_trials(model, X, Y, batch_size: int, estimate_seconds: float, budget: float,
                 batches: int = TRIAL_BATCHES) -> tuple[dict, int | None, str]:
    """``(seconds per step, parts, why not)`` of the compiled engine on the job's batches. Where
    several threads share numba's batches, one thread alone is timed too (a busy machine makes
    threads wait for each other); ``parts`` is 1 where that measured faster, else None (numba's
    own count); the two are timed in turn (:func:`numba_thread_seconds`). Nothing is timed (and
    ``why not`` says why) where numba's kernels were never compiled here and the job is too short
    (:data:`COMPILE_PAYS`) for compiling them to pay."""
    from .numba_engine import thread_count

    if not numba_may_run(estimate_seconds):
        return {}, None, (f"numba's kernels were never compiled here (about 20 s the first time) and the job is "
                          f"estimated at {estimate_seconds:.0f} s; engine='numba' once compiles them")
    if thread_count(model, batch_size) > 1:
        one, many = numba_thread_seconds(model, X, Y, batch_size, budget, batches)
        return {"numba, 1 thread": one, "numba": many}, (1 if one < many else None), ""
    return {"numba": numba_seconds(model, X, Y, batch_size, budget, batches=batches)}, None, ""


def decisive(numba_timing: dict, numpy_estimate: float) -> bool:
    """Whether numba measured so much faster (:data:`DECISIVE_MARGIN`) than the reference engine's
    first estimate that timing the reference on each BLAS thread count could not change the choice."""
    return bool(numba_timing) and min(numba_timing.values()) * DECISIVE_MARGIN < numpy_estimate


def faster_engine(numba_timing: dict, why_not: str, numpy_step: float) -> tuple[str, str]:
    """``(engine, why)`` for ``engine="auto"`` where numba can run: numba when it measured
    :data:`NUMBA_MARGIN` faster than ``numpy_step`` (the reference engine's seconds per step under
    the BLAS threads the fit holds), from :func:`numba_trials`' timing and reason."""
    if not numba_timing:
        return "numpy", why_not
    numba = min(numba_timing.values())
    if numba * NUMBA_MARGIN < numpy_step:
        return "numba", ""
    return "numpy", (f"it measured faster here: {numpy_step * 1e3:.3g} ms per step against numba's "
                     f"{numba * 1e3:.3g} ms")
