"""Fixtures the tests share, and the suite's hypothesis profile."""

import pytest

try:
    from hypothesis import settings as hypothesis_settings
except ImportError:                                   # (the tests that use it skip or fail saying so)
    hypothesis_settings = None
else:
    # The suite draws the same examples on every run, so that a run cannot fail by the luck of the
    # draw and a failure reproduces; `pytest --hypothesis-profile explore` draws new ones each run.
    hypothesis_settings.register_profile("suite", derandomize=True)
    hypothesis_settings.register_profile("explore", derandomize=False)
    hypothesis_settings.load_profile("suite")


@pytest.fixture
def own_names():
    """Names a test registers (activations, losses, optimizers, initializers, schedules) are
    unregistered after it: no other test sees them."""
    from backpropagation import activations, initializers, losses, optimizers, schedules

    registries = [module.registry for module in (activations, initializers, losses, optimizers, schedules)]
    before = [set(registry.names()) for registry in registries]
    yield
    for registry, names in zip(registries, before):
        for name in set(registry.names()) - names:
            registry.unregister(name)


@pytest.fixture(autouse=True)
def python_s_own_ctrl_c():
    """Each test starts with Python's own SIGINT handler, as a program does: ``fit`` turns Ctrl-C
    into a stop only where nobody installed another, so a handler some library left behind in this
    worker (or SIGINT ignored by the process that started it) must not decide a Ctrl-C test."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture(autouse=True)
def short_jobs_estimated_afresh(monkeypatch):
    """Each test estimates its short jobs as a fresh process does: ``auto`` reuses a step time
    measured by an earlier short fit of the same network in the process (``engines._short_steps``),
    which would make a test's trials depend on which tests ran before it in this worker."""
    from backpropagation import engines

    monkeypatch.setattr(engines, "_short_steps", {})


@pytest.fixture
def ctrl_c_at_fit(monkeypatch):
    """``press(n)``: a Ctrl-C (SIGINT to this process) as the ``n``-th network fit of the test
    begins (``engines.choose`` runs once per fit), as a user pressing it mid-command would."""
    import os
    import signal

    from backpropagation import engines

    def press(at: int) -> None:
        calls, original = [], engines.choose

        def choose(*args, **kwargs):
            calls.append(1)
            if len(calls) == at:
                os.kill(os.getpid(), signal.SIGINT)
            return original(*args, **kwargs)
        monkeypatch.setattr(engines, "choose", choose)
    return press


def pytest_collection_finish(session):
    """Compile numba's kernels once per dtype across the workers, not once per worker.

    Without cached kernels (a fresh clone) every worker that meets a numba test compiles all of
    them, about a minute each. Each worker instead compiles one dtype's kernels first, under that
    dtype's lock, then takes the other dtype's lock (waiting while the other worker compiles it)
    and loads those from numba's on-disk cache. With a warm cache this only loads the kernels.
    Nothing a test asserts depends on it: a kernel missing from the cache compiles as usual."""
    workers = getattr(session.config, "workerinput", {})
    if int(workers.get("workercount", 1)) < 2 or not any("tests/engines/" in item.nodeid for item in session.items):
        return
    try:
        import fcntl

        import numba  # noqa: F401
    except ImportError:
        return
    import numpy as np

    from backpropagation import NeuralNetwork

    dtypes = ["float64", "float32"]
    first = int(workers["workerid"].removeprefix("gw")) % len(dtypes)
    locks = session.config._tmp_path_factory.getbasetemp().parent
    X = np.random.default_rng(0).normal(size=(40, 3))
    for dtype in dtypes[first:] + dtypes[:first]:
        with open(locks / f"numba-kernels-{dtype}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                NeuralNetwork([3, 4, 2], task="classification", engine="numba", dtype=dtype, periodic=[0],
                              input_scale=True, optimizer="adam").fit(
                    X, (X[:, 0] > 0).astype(int), epochs=1, batch_size=4, validation_split=0.25, verbose=0)
            except Exception:          # (the engine's own tests then fail, each saying why)
                return


def pytest_configure(config):
    """pytest-xdist's ``--dist loadfile`` hands out files in the order collected (below), as its
    ``--no-loadscope-reorder`` does: by default it orders them by their number of tests. Set here,
    not in pyproject's addopts, so that pytest still runs without xdist (``-p no:xdist``)."""
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False
    if not hasattr(config, "workerinput"):
        byte_compile_the_package()


def byte_compile_the_package():
    """Write the package's bytecode once, before any worker or command starts, as a regular
    ``pip install`` does: an editable install leaves none, and where ``PYTHONDONTWRITEBYTECODE``
    is set (as on this project's machines) every ``backprop`` process a test starts would compile
    the package's modules from source again, about 0.13 s each. Nothing a test asserts depends on
    it: a module without bytecode compiles as usual."""
    import compileall
    import pathlib

    import backpropagation

    compileall.compile_dir(pathlib.Path(backpropagation.__file__).parent, quiet=2)


def pytest_collection_modifyitems(config, items):
    """Files that hold a test marked ``slow`` run first, so that the two workers finish together
    rather than one of them starting a long file when the other is nearly done (``--dist
    loadfile`` hands out whole files in this order). Within a file the order is kept."""
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)
