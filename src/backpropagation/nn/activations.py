"""Activation functions: each class holds its forward rule and, right below it, its backward rule.

Forward maps pre-activations ``Z`` to activations ``A = f(Z)``. Backward applies the chain rule
through ``f``: given ``dA = ∂L/∂A`` it returns ``δ = ∂L/∂Z``. For element-wise functions that is
``dA * f'(Z)``; softmax couples the columns of a row and uses its Jacobian-vector product.
All arrays have shape ``(n_samples, n_units)``; every rule keeps the input dtype.
"""

from __future__ import annotations

import numpy as np

from .._registry import Component, Registry


class Activation(Component):
    """Base class. Subclass it, implement ``forward`` and ``backward``, and pass an instance.

    ``backward`` receives both ``Z`` and ``A`` (cached by the layer in the forward pass) so that
    each rule can use whichever gives the cheaper derivative, e.g. ``σ'(z) = a (1 - a)``.
    """

    name = "activation"

    def forward(self, Z: np.ndarray) -> np.ndarray:
        """Return ``A = f(Z)``."""
        raise NotImplementedError

    def backward(self, Z: np.ndarray, A: np.ndarray, dA: np.ndarray) -> np.ndarray:
        """Return ``δ = ∂L/∂Z`` given ``dA = ∂L/∂A``."""
        raise NotImplementedError


registry: Registry[Activation] = Registry("activation", Activation)
#: ``register(name)`` decorates a class; ``get(name_or_instance)`` returns an instance;
#: ``names()`` lists the registered names.
register, get, names = registry.register, registry.get, registry.names


def per_hidden_layer(spec, n_hidden: int) -> list[Activation]:
    """One activation per hidden layer from ``hidden_activation``: a name or instance for every
    layer, or a list with one per layer (ValueError naming the argument otherwise)."""
    if isinstance(spec, (list, tuple)):
        if len(spec) != n_hidden:
            raise ValueError(f"hidden_activation: expected one activation per hidden layer "
                             f"({n_hidden}), got a list of {len(spec)}")
        return [get(a, "hidden_activation") for a in spec]
    return [get(spec, "hidden_activation")] * n_hidden


@register("sigmoid")
class Sigmoid(Activation):
    """Logistic sigmoid ``1 / (1 + exp(-z))``, computed without overflow for any ``z``."""

    def forward(self, Z):
        # exp(-|z|) never overflows; the two branches are the same function rearranged.
        E = np.exp(-np.abs(Z))
        return np.where(Z >= 0, 1.0 / (1.0 + E), E / (1.0 + E)).astype(Z.dtype, copy=False)

    def backward(self, Z, A, dA):
        return dA * A * (1.0 - A)


@register("tanh")
class Tanh(Activation):
    """Hyperbolic tangent."""

    def forward(self, Z):
        return np.tanh(Z)

    def backward(self, Z, A, dA):
        return dA * (1.0 - A * A)


@register("relu")
class ReLU(Activation):
    """Rectified linear unit ``max(0, z)``; its derivative at 0 is taken as 0."""

    def forward(self, Z):
        return np.maximum(Z, 0.0)

    def backward(self, Z, A, dA):
        return dA * (Z > 0)  # f'(z) is 1 where z > 0, else 0: the mask of the units that fired


@register("leaky_relu")
class LeakyReLU(Activation):
    """``z`` for ``z > 0``, ``alpha * z`` otherwise."""

    def __init__(self, alpha: float = 0.01) -> None:
        if not np.isfinite(alpha) or alpha < 0:
            raise ValueError(f"alpha: expected a finite number >= 0, got {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, Z):
        return np.where(Z > 0, Z, self.alpha * Z)

    def backward(self, Z, A, dA):
        return np.where(Z > 0, dA, self.alpha * dA)

    def get_config(self):
        return {"alpha": self.alpha}


@register("elu")
class ELU(Activation):
    """Exponential linear unit: ``z`` for ``z > 0``, ``alpha (exp(z) - 1)`` otherwise."""

    def __init__(self, alpha: float = 1.0) -> None:
        if not np.isfinite(alpha) or alpha <= 0:
            raise ValueError(f"alpha: expected a finite number > 0, got {alpha!r}")
        self.alpha = float(alpha)

    def forward(self, Z):
        # expm1 on min(z, 0) avoids overflow warnings from the branch np.where discards.
        return np.where(Z > 0, Z, self.alpha * np.expm1(np.minimum(Z, 0.0)))

    def backward(self, Z, A, dA):
        # For z <= 0, f'(z) = alpha exp(z) = a + alpha.
        return np.where(Z > 0, dA, dA * (A + self.alpha))

    def get_config(self):
        return {"alpha": self.alpha}


@register("softplus")
class Softplus(Activation):
    """``log(1 + exp(z))``, a smooth ReLU; its derivative is the sigmoid."""

    def forward(self, Z):
        return np.logaddexp(Z, 0.0)

    def backward(self, Z, A, dA):
        return dA * Sigmoid().forward(Z)


@register("swish")
class Swish(Activation):
    """``z σ(z)`` (also called SiLU)."""

    def forward(self, Z):
        return Z * Sigmoid().forward(Z)

    def backward(self, Z, A, dA):
        S = Sigmoid().forward(Z)
        # d/dz [z σ(z)] = σ(z) + z σ(z)(1 - σ(z)) = σ(z) + a (1 - σ(z))
        return dA * (S + A * (1.0 - S))


@register("linear")
class Linear(Activation):
    """Identity ``f(z) = z``: the output of a regression network."""

    def forward(self, Z):
        return Z

    def backward(self, Z, A, dA):
        return dA


@register("softmax")
class Softmax(Activation):
    """Row-wise softmax ``exp(z_k) / Σ_j exp(z_j)``, shifted by the row maximum for stability."""

    def forward(self, Z):
        E = np.exp(Z - Z.max(axis=1, keepdims=True))
        E /= E.sum(axis=1, keepdims=True)
        return E

    def backward(self, Z, A, dA):
        # Jacobian-vector product: δ_k = a_k (dA_k - Σ_j dA_j a_j).
        return A * (dA - np.sum(dA * A, axis=1, keepdims=True))

