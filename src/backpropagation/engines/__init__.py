"""Engines: what runs the training batches that the loop in ``training.py`` hands out.

``"numpy"`` is the textbook reference (:mod:`.numpy_engine`): every batch through the model's own
layers, loss and optimizer. ``"numba"`` (:mod:`.numba_engine`) runs chunks of batches in compiled
kernels over the same flat vectors, proven equal to the reference by the tests. ``"auto"`` takes
numba when it is installed, every building block is a built-in one, training runs in one
process, the job is long enough for compiling (or loading compiled kernels) to pay, or this
process holds the kernels already, and its steps measure faster than the reference engine's on
the job's own batches (:mod:`.measure`).

Both engines yield, per chunk of batches, each batch's loss, weight and size, and leave each
batch's outputs in the loop's buffer; callbacks, Ctrl-C and the divergence check stay in the loop.
"""

from __future__ import annotations

import importlib.util
import math
import sys

from .blas_work import wakes_blas_threads
from .numpy_engine import NumpyEngine

#: Engine names ``NeuralNetwork(engine=...)`` and ``--engine`` accept.
ENGINES = ("auto", "numpy", "numba")
#: Estimated seconds of reference-engine training (measured: a couple of its steps) below which
#: "auto" stays on numpy and nothing more is measured: numba's import and the loading of cached
#: kernels (or their first compilation) would not pay, nor would the trials.
AUTO_MIN_SECONDS = 2.0
#: Estimated seconds below which a short job whose batches numba would share over threads stays on
#: numpy even where numba's kernels are loaded: timing those threads first waits out the estimate's
#: spinning BLAS threads (:data:`.measure.SPIN_SECONDS`), more than such a job could gain.
SHORT_THREADED_MIN_SECONDS = 0.6
#: Choices made for short jobs in this process where numba's kernels were loaded, by network
#: shape and batch size: a second fit of the same network takes the same engine without
#: measuring (a few milliseconds once, not once a fit), so reruns stay bit-identical.
_short_choices: dict = {}
#: Seconds per reference step that a short job's estimate measured in this process, by network
#: shape and batch size: a later fit of the same network that they put at under half of
#: :data:`AUTO_MIN_SECONDS` is not estimated again (the folds of a cross-validation, a grid
#: search's fits: the estimate's few steps cost 5-10% of a fit of 25 ms).
_short_steps: dict = {}


def check_engine(engine) -> str:
    """``engine`` as one of :data:`ENGINES`; ValueError naming the choices otherwise."""
    if not isinstance(engine, str) or engine.lower() not in ENGINES:
        raise ValueError(f"engine: expected one of {', '.join(map(repr, ENGINES))}, got {engine!r}")
    return engine.lower()


def numba_installed() -> bool:
    """Whether numba (and SciPy, which its ``np.dot`` needs) can be imported, without importing them."""
    return all(importlib.util.find_spec(name) is not None for name in ("numba", "scipy"))


def choose(model, distributed: bool) -> str:
    """The engine ``fit`` may use for ``model.engine`` before measuring: ``"numpy"``, or
    ``"numba"`` for ``engine="numba"`` and for ``engine="auto"`` where it can run.

    Raises
    ------
    ValueError
        For ``engine="numba"`` where it cannot run (not installed, a custom building block,
        dropout, an embedding, MPI).
    """
    if model.engine == "numpy":
        return "numpy"
    reason = numba_unavailable(model, distributed)
    if model.engine == "numba" and reason:
        raise ValueError(f"engine='numba': {reason}; use engine='numpy' or 'auto'")
    return "numpy" if reason else "numba"


def numba_unavailable(model, distributed: bool) -> str | None:
    """Why the numba engine cannot train ``model`` here, or None."""
    from .numba_codes import unsupported

    return ("numba is not installed (pip install 'backpropagation[fast]')" if not numba_installed()
            else "it does not run under MPI" if distributed else unsupported(model))


def decide(model, X, Y, n_rows: int, batch_size: int, epochs: int, distributed: bool) -> int | None:
    """Set ``model.engine_`` (with ``engine_reason_`` and ``engine_timing_``) for this job, and return
    the BLAS threads to hold the reference engine to (None: as it is), by measuring the job's own
    training steps (:mod:`.measure`): a couple of reference steps estimate the job; a job of at
    least :data:`AUTO_MIN_SECONDS` in one process is then measured with each BLAS thread count and,
    under ``engine="auto"``, with each engine. A shorter job stays on numpy, unless this process
    holds numba's kernels already: then numba's steps are timed against the estimate's, once per
    network shape and batch size in the process (:func:`measure_short_job`).

    A measurement is kept in ``model.measured_`` and reused by later fits of the same network,
    engine setting and batch size (``partial_fit``, a streamed table's later fits): once is enough.
    """
    candidate = choose(model, distributed)
    model.engine_, model.engine_timing_, model.engine_parts_ = candidate, {}, None
    model.engine_reason_ = numba_unavailable(model, distributed) if model.engine == "auto" else None
    if distributed or not len(X) or (model.engine == "numba"):
        return None
    key = (model.engine, batch_size, model.n_parameters, model.dtype.str)
    measured = getattr(model, "measured_", None)
    if measured is not None and measured[0] == key:
        model.engine_, model.engine_reason_, timing, threads, model.engine_parts_ = measured[1]
        model.engine_timing_ = dict(timing)
        return threads
    shape = job_shape(model, key)
    step, seconds = short_job_estimate(model, X, Y, batch_size, n_rows, epochs, shape)
    model.engine_, threads, timing = "numpy", None, {"numpy (estimate)": step}
    if seconds >= AUTO_MIN_SECONDS:
        model.engine_, threads, timing = measure_long_job(model, X, Y, batch_size, step, seconds, candidate)
    elif candidate == "numba" and kernels_loaded(model.dtype):
        if shape not in _short_choices:
            _short_choices[shape] = measure_short_job(model, X, Y, batch_size, step, seconds)
        model.engine_, model.engine_reason_, timing, threads, model.engine_parts_ = _short_choices[shape]
        timing = dict(timing)
    elif candidate == "numba":
        model.engine_reason_ = (f"the job is estimated at {seconds:.2g} s ({step * 1e3:.3g} ms per step, "
                                f"measured), too short to pay for loading the compiled kernels")
    model.engine_timing_ = timing
    model.measured_ = (key, (model.engine_, model.engine_reason_, dict(timing), threads, model.engine_parts_))
    return threads


def job_shape(model, key: tuple) -> tuple:
    """What a training step's time depends on besides the rows: ``key`` (engine setting, batch
    size, parameters, dtype), the layers, loss, optimizer and dropout, and the input stage's
    periodic phases and embeddings."""
    stage = model.embedded_input
    periodic = None if stage is None or stage.periodic is None else (len(stage.periodic.columns),
                                                                      stage.periodic.n_frequencies)
    embeddings = None if stage is None else tuple((e.column, e.n_categories, e.dim) for e in stage.embeddings)
    return (key, repr(model.layers), repr(model.loss), repr(model.optimizer), repr(model.dropouts), periodic,
            embeddings, None if stage is None else stage.scale is not None)


def short_job_estimate(model, X, Y, batch_size: int, n_rows: int, epochs: int, shape: tuple) -> tuple[float, float]:
    """``(seconds per reference step, estimated seconds of the job)``: measured
    (:func:`.measure.estimate`), or, where an earlier short job of this ``shape`` in this process
    measured a step that puts this job under half of :data:`AUTO_MIN_SECONDS`, that step."""
    from . import measure

    step = _short_steps.get(shape)
    if step is not None and step * epochs * math.ceil(n_rows / batch_size) < AUTO_MIN_SECONDS / 2:
        return step, step * epochs * math.ceil(n_rows / batch_size)
    step, seconds = measure.estimate(model, X, Y, batch_size, n_rows, epochs)
    if seconds < AUTO_MIN_SECONDS:
        _short_steps[shape] = step
    return step, seconds


def kernels_loaded(dtype) -> bool:
    """Whether this process holds numba's compiled kernels for ``dtype`` (an engine made them ready)."""
    engine = sys.modules.get(f"{__name__}.numba_engine")
    return engine is not None and engine.loaded_dtype(dtype)


def measure_short_job(model, X, Y, batch_size: int, step: float, seconds: float) -> tuple:
    """``(engine, reason, timing, BLAS threads, parts)`` of a job estimated at ``seconds`` (under
    :data:`AUTO_MIN_SECONDS`; ``step`` seconds per reference step) where numba's kernels are loaded:
    numba's steps timed briefly against the estimate's (BLAS's threads as they are). Where numba
    runs the batches on one thread, its trial does not wait for the estimate's BLAS threads to
    sleep (they spin on the other cores; waiting would cost a large share of a short job); where
    its threads share the batches, it waits, as for a long job, and a job shorter than
    :data:`SHORT_THREADED_MIN_SECONDS` is not timed at all (numpy)."""
    from . import measure
    from .numba_engine import thread_count

    threaded = thread_count(model, batch_size) > 1
    if threaded and seconds < SHORT_THREADED_MIN_SECONDS:
        return "numpy", (f"the job is estimated at {seconds:.2g} s, too short to pay for timing numba's threads "
                         f"(their trial first waits up to {measure.SPIN_SECONDS:g} s for BLAS's threads to sleep)"), \
            {"numpy (estimate)": step}, None, None
    budget = measure.TRIAL_SHARE * seconds / 3
    batches = min(measure.trial_batches(step, budget), max(1, math.ceil(len(X) / batch_size)))
    with measure.waiting_at_most(math.inf if threaded else 0.0):
        numba, parts, why_not = measure.numba_trials(model, X, Y, batch_size, seconds, 0.0, batches)
    engine, why_not = measure.faster_engine(numba, why_not, step)
    timing = {"numpy (estimate)": step, **numba}
    if engine == "numpy":
        return engine, why_not or None, timing, None, None
    return engine, None, timing, (1 if parts == 1 else None), parts        # (one part: BLAS held to one thread)


def measure_long_job(model, X, Y, batch_size: int, step: float, seconds: float, candidate: str):
    """``(engine, BLAS threads, timing)`` of a job estimated at ``seconds`` (``step`` seconds per
    reference step): the reference engine on each BLAS thread count and, where numba is the
    candidate, numba's steps; numba's first where the job's products wake no BLAS threads or
    numba's trial runs on one core (:func:`.measure.numba_on_one_core`), and
    then, where they were decisive (:func:`.measure.decisive`), nothing more. Sets
    ``model.engine_reason_`` and ``model.engine_parts_``."""
    from . import measure

    budget = min(measure.TRIAL_SECONDS, measure.TRIAL_SHARE * seconds / 3)
    n_batches = max(1, math.ceil(len(X) / batch_size))
    batches = min(measure.trial_batches(step, budget), n_batches)
    # The estimate's reading stands for the default BLAS threads where it timed as much as that
    # trial would, and wherever the products wake BLAS's threads: timing them again would restart
    # the spin that numba's trial must then wait out (SPIN_SECONDS) for little more precision.
    wakes = wakes_blas_threads(model, batch_size)
    known = step if wakes or measure.estimate_suffices(step, budget, batches, n_batches) else None
    numba, parts, why_not = {}, None, ""
    numba_first = candidate == "numba" and (not wakes or (measure.numba_may_run(seconds) and
                                                          measure.numba_on_one_core(model, X, batch_size)))
    if numba_first:
        numba, parts, why_not = measure.numba_trials(model, X, Y, batch_size, seconds, budget, batches)
    if measure.decisive(numba, step):
        engine, threads, timing = "numba", None, {"numpy (estimate)": step}
    elif candidate == "numba":
        threads, timing = measure.blas_threads(model, X, Y, batch_size, budget, batches, known)
        if not numba_first:
            numba, parts, why_not = measure.numba_trials(model, X, Y, batch_size, seconds, budget, batches)
        engine, why_not = measure.faster_engine(numba, why_not, min(timing.values(), default=step))
    else:                                # (engine="numpy", or numba unavailable: its reason stays)
        engine, (threads, timing) = "numpy", measure.blas_threads(model, X, Y, batch_size, budget, batches, known)
    if candidate == "numba":
        model.engine_reason_ = why_not or None
    model.engine_parts_ = parts if engine == "numba" else None
    timing.update(numba)
    threads = threads if engine == "numpy" else (1 if parts == 1 else None)
    return engine, threads, timing


def create(name: str, model, reducer, batch_callbacks, batch_size: int):
    """The engine object for ``name`` (from :func:`choose`), for batches of ``batch_size`` rows."""
    if name == "numba":
        from .numba_engine import NumbaEngine

        return NumbaEngine(model, batch_callbacks, batch_size, getattr(model, "engine_parts_", None))
    return NumpyEngine(model, reducer)
