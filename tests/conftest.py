"""Fixtures the tests share."""

import pytest


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
