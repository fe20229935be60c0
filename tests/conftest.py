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
