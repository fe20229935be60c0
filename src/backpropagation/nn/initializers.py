"""Weight initialisers: ``initializer(fan_in, fan_out, rng, dtype) -> W`` of shape (fan_in, fan_out).

Biases always start at zero. ``"auto"`` (resolved by the network) picks ``glorot_uniform`` for
classification and ``fan_in_uniform`` for regression (see ``bench/quality.py``).
"""

from __future__ import annotations

import numpy as np

from .._registry import Component, Registry


class Initializer(Component):
    """Base class: implement ``__call__``."""

    name = "initializer"

    def __call__(self, fan_in: int, fan_out: int, rng: np.random.Generator, dtype) -> np.ndarray:
        raise NotImplementedError


registry: Registry[Initializer] = Registry("initializer", Initializer)
#: ``register(name)`` decorates a class; ``get(name_or_instance)`` returns an instance;
#: ``names()`` lists the registered names.
register, get, names = registry.register, registry.get, registry.names


class _Normal(Initializer):
    def std(self, fan_in: int, fan_out: int) -> float:
        raise NotImplementedError

    def __call__(self, fan_in, fan_out, rng, dtype):
        return (rng.standard_normal((fan_in, fan_out)) * self.std(fan_in, fan_out)).astype(dtype)


class _Uniform(Initializer):
    def limit(self, fan_in: int, fan_out: int) -> float:
        raise NotImplementedError

    def __call__(self, fan_in, fan_out, rng, dtype):
        limit = self.limit(fan_in, fan_out)
        return rng.uniform(-limit, limit, (fan_in, fan_out)).astype(dtype)


@register("he_normal")
class HeNormal(_Normal):
    """Normal with std ``sqrt(2 / fan_in)``: keeps ReLU activations' variance across layers."""

    def std(self, fan_in, fan_out):
        return np.sqrt(2.0 / fan_in)


@register("he_uniform")
class HeUniform(_Uniform):
    """Uniform on ``±sqrt(6 / fan_in)``."""

    def limit(self, fan_in, fan_out):
        return np.sqrt(6.0 / fan_in)


@register("glorot_normal")
class GlorotNormal(_Normal):
    """Normal with std ``sqrt(2 / (fan_in + fan_out))`` (Xavier)."""

    def std(self, fan_in, fan_out):
        return np.sqrt(2.0 / (fan_in + fan_out))


@register("glorot_uniform")
class GlorotUniform(_Uniform):
    """Uniform on ``±sqrt(6 / (fan_in + fan_out))`` (Xavier), Keras' default."""

    def limit(self, fan_in, fan_out):
        return np.sqrt(6.0 / (fan_in + fan_out))


@register("fan_in_uniform")
class FanInUniform(_Uniform):
    """Uniform on ``±1 / sqrt(fan_in)``: ``torch.nn.Linear``'s default weights (its
    ``kaiming_uniform_`` with ``a = sqrt(5)``), a standard deviation ``1 / sqrt(3 fan_in)``."""

    def limit(self, fan_in, fan_out):
        return 1.0 / np.sqrt(fan_in)


@register("lecun_normal")
class LecunNormal(_Normal):
    """Normal with std ``sqrt(1 / fan_in)``."""

    def std(self, fan_in, fan_out):
        return np.sqrt(1.0 / fan_in)


@register("standard_normal")
class StandardNormal(_Normal):
    """Standard normal, as seed 002 draws its weights (``np.random.randn``)."""

    def std(self, fan_in, fan_out):
        return 1.0


@register("uniform")
class Uniform(_Uniform):
    """Uniform on ``[-1, 1)``, as seed 001 draws its weights (``2 * random - 1``)."""

    def limit(self, fan_in, fan_out):
        return 1.0


@register("zeros")
class Zeros(Initializer):
    """All zeros (every unit of a layer then learns the same thing: for tests and baselines)."""

    def __call__(self, fan_in, fan_out, rng, dtype):
        return np.zeros((fan_in, fan_out), dtype=dtype)
