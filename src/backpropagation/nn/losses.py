"""Loss functions: value (forward) and gradient with respect to the network output (backward).

Every loss is the mean over samples of a per-sample loss (``sample_losses``): for the
cross-entropies the sum over classes, for MSE, MAE and Huber the mean over outputs, so that MSE
is ``mean((y - y_hat)**2)`` over every element exactly as seed 002 writes it. ``backward``
therefore already carries the ``1/N`` factor, so layer gradients are plain sums over the batch.
With sample weights the loss is ``Σ w_i ℓ_i / Σ w_i`` and the network scales row ``i`` of the
gradient by ``N w_i / Σ w_i``.

Two pairs are *fused* with the output activation they belong to: sigmoid + binary cross-entropy
and softmax + categorical cross-entropy. Their loss is computed from the logits ``Z`` (exact and
finite even when the probabilities round to 0 or 1) and their output delta collapses to
``δ = (y_hat - y) / N``.
"""

from __future__ import annotations

import numpy as np

from . import activations
from .._registry import Component, Registry


class Loss(Component):
    """Base class: implement ``backward`` and either ``sample_losses`` or ``forward``.

    ``sample_losses`` gives one value per sample; the loss is their mean (or, with sample
    weights, their weighted mean). A loss that defines only ``forward`` (the mean) gets
    ``sample_losses`` by calling ``forward`` on each row alone, which is exact because the loss
    is a mean over samples, but costs a Python call per row when sample weights are given. A
    loss that knows a simpler combined gradient with one output activation sets
    ``fused_activation`` to that activation class and implements ``fused_sample_losses`` and
    ``fused_backward``.
    """

    name = "loss"
    fused_activation: type | None = None
    #: Whether targets must be class probabilities (0/1 or one-hot): such a loss cannot fit
    #: regression targets (cross-entropy of real numbers goes negative).
    needs_probability_targets = False
    needs_one_output_per_class = False

    def sample_losses(self, Y: np.ndarray, A: np.ndarray) -> np.ndarray:
        """Loss of each sample, shape (n_samples,), for targets and outputs of shape (n_samples, n_outputs)."""
        if type(self).forward is Loss.forward:
            raise TypeError(f"{type(self).__name__}: a Loss must define sample_losses or forward")
        return np.array([self.forward(Y[i:i + 1], A[i:i + 1]) for i in range(len(Y))], dtype=A.dtype)

    def forward(self, Y: np.ndarray, A: np.ndarray) -> float:
        """The loss: mean of :meth:`sample_losses`."""
        return float(np.mean(self.sample_losses(Y, A)))

    def backward(self, Y: np.ndarray, A: np.ndarray) -> np.ndarray:
        """``∂L/∂A`` of :meth:`forward`, of the shape of ``A``."""
        raise NotImplementedError

    def fuses_with(self, activation: activations.Activation) -> bool:
        """Whether the fused rules apply to this output activation (exact class match)."""
        return self.fused_activation is not None and type(activation) is self.fused_activation

    def fused_sample_losses(self, Y: np.ndarray, Z: np.ndarray) -> np.ndarray:
        """Loss of each sample computed from the output layer's pre-activations ``Z``."""
        raise NotImplementedError

    def fused_forward(self, Y: np.ndarray, Z: np.ndarray) -> float:
        """The loss from the logits: mean of :meth:`fused_sample_losses`."""
        return float(np.mean(self.fused_sample_losses(Y, Z)))

    def fused_backward(self, Y: np.ndarray, A: np.ndarray) -> np.ndarray:
        """``δ = ∂L/∂Z`` of the output layer, through the fused activation."""
        raise NotImplementedError


registry: Registry[Loss] = Registry("loss", Loss)
register = registry.register


def get(identifier: str | Loss, argument: str = "loss") -> Loss:
    """Return the loss named ``identifier`` (or ``identifier`` itself if an instance).

    Raises
    ------
    TypeError
        If the loss's class defines neither ``sample_losses`` nor ``forward``, or no ``backward``.
    """
    loss = registry.get(identifier, argument)
    cls = type(loss)
    missing = [] if cls.sample_losses is not Loss.sample_losses or cls.forward is not Loss.forward \
        else ["sample_losses (or forward)"]
    missing += ["backward"] if cls.backward is Loss.backward else []
    if missing:
        raise TypeError(f"{argument}: {cls.__name__} must define {' and '.join(missing)}; see "
                        "backpropagation.nn.losses.Loss")
    return loss


def names() -> list[str]:
    """Names of the built-in and registered losses."""
    return registry.names()


def with_label_smoothing(loss: Loss, label_smoothing: float) -> Loss:
    """A copy of the cross-entropy ``loss`` that smooths its targets by ``label_smoothing``;
    ValueError for a loss without targets to smooth."""
    if not isinstance(loss, _SmoothedLabels):
        raise ValueError(f"label_smoothing: applies to the cross-entropy losses of classification, "
                         f"not to {loss.name!r}")
    return type(loss)(label_smoothing)


def _clip_probabilities(A: np.ndarray) -> np.ndarray:
    eps = np.finfo(A.dtype).eps
    return np.clip(A, eps, 1.0 - eps)


@register("mse")
class MeanSquaredError(Loss):
    """``mean((y_hat - y)**2)`` over every element; gradient ``2 (y_hat - y) / y.size``."""

    def sample_losses(self, Y, A):
        return np.mean((A - Y) ** 2, axis=1)

    def backward(self, Y, A):
        return (A - Y) * (2.0 / Y.size)


@register("mae")
class MeanAbsoluteError(Loss):
    """``mean(|y_hat - y|)``; its gradient at 0 is taken as 0."""

    def sample_losses(self, Y, A):
        return np.mean(np.abs(A - Y), axis=1)

    def backward(self, Y, A):
        return np.sign(A - Y) * (1.0 / Y.size)


@register("huber")
class Huber(Loss):
    """Quadratic within ``delta`` of the target, linear beyond: robust to outliers."""

    def __init__(self, delta: float = 1.0) -> None:
        if not np.isfinite(delta) or delta <= 0:
            raise ValueError(f"delta: expected a finite number > 0, got {delta!r}")
        self.delta = float(delta)

    def sample_losses(self, Y, A):
        R = np.abs(A - Y)
        quadratic = np.minimum(R, self.delta)
        # 0.5 q² + delta (|r| - q) equals 0.5 r² inside delta and delta (|r| - delta/2) outside.
        return np.mean(0.5 * quadratic**2 + self.delta * (R - quadratic), axis=1)

    def backward(self, Y, A):
        return np.clip(A - Y, -self.delta, self.delta) * (1.0 / Y.size)

    def get_config(self):
        return {"delta": self.delta}


class _SmoothedLabels:
    """Label smoothing (Szegedy et al., 2016): the targets ``y`` are replaced by
    ``(1 - ε) y + ε / K`` (``K`` classes; 2 for a sigmoid output), so that the loss stops rewarding
    ever larger logits once the right class has probability ``1 - ε + ε / K`` — less
    over-confidence, and a tie-break between well-separated classes that generalises better."""

    def __init__(self, label_smoothing: float = 0.0) -> None:
        if isinstance(label_smoothing, bool) or not isinstance(label_smoothing, (int, float)) \
                or not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing: expected a number in [0, 1), got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)

    def smoothed(self, Y: np.ndarray, n_classes: int) -> np.ndarray:
        """``(1 - ε) Y + ε / K``; ``Y`` itself without smoothing."""
        if not self.label_smoothing:
            return Y
        return Y * (1.0 - self.label_smoothing) + self.label_smoothing / n_classes

    def get_config(self):
        return {"label_smoothing": self.label_smoothing}


@register("binary_crossentropy")
class BinaryCrossEntropy(_SmoothedLabels, Loss):
    """``-mean(y log p + (1 - y) log(1 - p))`` over every element (targets in [0, 1]); with
    ``label_smoothing`` ε the targets are ``(1 - ε) y + ε/2``."""

    fused_activation = activations.Sigmoid
    needs_probability_targets = True

    def smoothed_targets(self, Y):
        """The targets trained toward: ``(1 - ε) Y + ε/2`` (``Y`` itself without smoothing)."""
        return self.smoothed(Y, 2)

    def sample_losses(self, Y, A):
        P, Y = _clip_probabilities(A), self.smoothed_targets(Y)
        return -np.mean(Y * np.log(P) + (1.0 - Y) * np.log1p(-P), axis=1)

    def backward(self, Y, A):
        P = _clip_probabilities(A)
        return (P - self.smoothed_targets(Y)) / (P * (1.0 - P) * Y.size)

    def fused_sample_losses(self, Y, Z):
        # log(1 + exp(-|z|)) + max(z, 0) - z y  ==  -y log σ(z) - (1 - y) log(1 - σ(z))
        return np.mean(np.maximum(Z, 0.0) - Z * self.smoothed_targets(Y) + np.log1p(np.exp(-np.abs(Z))), axis=1)

    def fused_backward(self, Y, A):
        return (A - self.smoothed_targets(Y)) * (1.0 / Y.size)


@register("categorical_crossentropy")
class CategoricalCrossEntropy(_SmoothedLabels, Loss):
    """``-mean over samples of Σ_k y_k log p_k`` (rows of ``Y`` are one-hot or distributions);
    with ``label_smoothing`` ε the targets are ``(1 - ε) y + ε/K`` over ``K`` classes."""

    fused_activation = activations.Softmax
    needs_probability_targets = True
    #: Σ_k over one column would see only the positive class: it needs a softmax output.
    needs_one_output_per_class = True

    def smoothed_targets(self, Y):
        """The targets trained toward: ``(1 - ε) Y + ε/K`` over the ``K`` columns of ``Y``."""
        return self.smoothed(Y, Y.shape[1])

    def sample_losses(self, Y, A):
        return -np.sum(self.smoothed_targets(Y) * np.log(_clip_probabilities(A)), axis=1)

    def backward(self, Y, A):
        return -self.smoothed_targets(Y) / (_clip_probabilities(A) * Y.shape[0])

    def fused_sample_losses(self, Y, Z):
        shifted = Z - Z.max(axis=1, keepdims=True)
        log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        return -np.sum(self.smoothed_targets(Y) * log_softmax, axis=1)

    def fused_backward(self, Y, A):
        return (A - self.smoothed_targets(Y)) * (1.0 / Y.shape[0])
