"""Engines: what runs the training batches that the loop in ``training.py`` hands out.

``"numpy"`` is the textbook reference (:mod:`.numpy_engine`): every batch through the model's own
layers, loss and optimizer. ``"numba"`` (:mod:`.numba_engine`) runs chunks of batches in compiled
kernels over the same flat vectors, proven equal to the reference by the tests. ``"auto"`` takes
numba when it is installed, every building block is a built-in one, training runs in one
process, and the job is long enough for compiling (or loading compiled kernels) to pay.

Both engines yield, per chunk of batches, each batch's loss, weight and size, and leave each
batch's outputs in the loop's buffer; callbacks, Ctrl-C and the divergence check stay in the loop.
"""

from __future__ import annotations

import importlib.util
import math

from .numpy_engine import NumpyEngine

#: Engine names ``NeuralNetwork(engine=...)`` and ``--engine`` accept.
ENGINES = ("auto", "numpy", "numba")
#: Estimated seconds of reference-engine training below which "auto" stays on numpy: numba's
#: import and the loading of cached kernels (or their first compilation) would not pay.
AUTO_MIN_SECONDS = 2.0


def check_engine(engine) -> str:
    """``engine`` as one of :data:`ENGINES`; ValueError naming the choices otherwise."""
    if not isinstance(engine, str) or engine.lower() not in ENGINES:
        raise ValueError(f"engine: expected one of {', '.join(map(repr, ENGINES))}, got {engine!r}")
    return engine.lower()


def numba_installed() -> bool:
    """Whether numba (and SciPy, which its ``np.dot`` needs) can be imported, without importing them."""
    return all(importlib.util.find_spec(name) is not None for name in ("numba", "scipy"))


def estimated_seconds(model, n_rows: int, batch_size: int, epochs: int) -> float:
    """A rough upper bound of the reference engine's training time: Python overhead per step
    plus multiply-adds at a modest rate."""
    steps = epochs * math.ceil(n_rows / batch_size)
    macs = 3 * epochs * n_rows * sum(layer.n_weights for layer in model.layers)
    return steps * 8e-6 * (len(model.layers) + 2) + macs / 5e9


def choose(model, n_rows: int, batch_size: int, epochs: int, distributed: bool) -> str:
    """The engine name ``fit`` uses for ``model.engine`` on this job (see the module docstring).

    Raises
    ------
    ValueError
        For ``engine="numba"`` where it cannot run (not installed, a custom building block,
        dropout, MPI).
    """
    if model.engine == "numpy":
        return "numpy"
    reason = numba_unavailable(model, distributed)
    if model.engine == "numba":
        if reason:
            raise ValueError(f"engine='numba': {reason}; use engine='numpy' or 'auto'")
        return "numba"
    return "numpy" if auto_reason(model, n_rows, batch_size, epochs, distributed) else "numba"


def numba_unavailable(model, distributed: bool) -> str | None:
    """Why the numba engine cannot train ``model`` here, or None."""
    from .numba_codes import unsupported

    return ("numba is not installed (pip install 'backpropagation[fast]')" if not numba_installed()
            else "it does not run under MPI" if distributed else unsupported(model))


def auto_reason(model, n_rows: int, batch_size: int, epochs: int, distributed: bool) -> str | None:
    """Why ``engine="auto"`` trains this job with numpy (None: it takes numba)."""
    reason = numba_unavailable(model, distributed)
    if reason is None and estimated_seconds(model, n_rows, batch_size, epochs) < AUTO_MIN_SECONDS:
        reason = f"the job is estimated under {AUTO_MIN_SECONDS:g} s, too short to pay for loading the kernels"
    return reason


def decide(model, X, Y, n_rows: int, batch_size: int, epochs: int, distributed: bool) -> int | None:
    """Set ``model.engine_`` (with ``engine_reason_`` and ``engine_timing_``) for this job, by
    :func:`choose` and, for jobs of at least :data:`AUTO_MIN_SECONDS` in one process, by
    measuring (:mod:`.measure`); return the BLAS threads to hold the numpy engine to (None: as is).

    A measurement is kept in ``model.measured_`` and reused by later fits of the same network,
    engine setting and batch size (each pool of a streamed table, ``partial_fit``): once is enough.
    """
    model.engine_ = choose(model, n_rows, batch_size, epochs, distributed)
    model.engine_reason_ = auto_reason(model, n_rows, batch_size, epochs, distributed) \
        if model.engine == "auto" and model.engine_ == "numpy" else None
    model.engine_timing_ = {}
    estimate = estimated_seconds(model, n_rows, batch_size, epochs)
    if distributed or estimate < AUTO_MIN_SECONDS or not len(X):
        return None
    key = (model.engine, model.engine_, batch_size, model.n_parameters, model.dtype.str)
    measured = getattr(model, "measured_", None)
    if measured is not None and measured[0] == key:
        model.engine_, model.engine_reason_, timing, threads = measured[1]
        model.engine_timing_ = dict(timing)
        return threads
    from . import measure

    if model.engine == "auto" and model.engine_ == "numba":
        model.engine_, reason, model.engine_timing_ = measure.faster_engine(model, X, Y, batch_size, estimate)
        model.engine_reason_ = reason or None
    threads = None
    if model.engine_ == "numpy":
        threads, timing = measure.blas_threads(model, X, Y, batch_size)
        model.engine_timing_.update(timing)
    model.measured_ = (key, (model.engine_, model.engine_reason_, dict(model.engine_timing_), threads))
    return threads


def create(name: str, model, reducer, batch_callbacks, batch_size: int):
    """The engine object for ``name`` (from :func:`choose`), for batches of ``batch_size`` rows."""
    if name == "numba":
        from .numba_engine import NumbaEngine

        return NumbaEngine(model, batch_callbacks, batch_size)
    return NumpyEngine(model, reducer)
