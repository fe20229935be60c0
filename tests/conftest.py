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
