"""Check backpropagation against central differences on the flat parameter vector.

For each parameter θ_i the numerical derivative is ``(L(θ + ε e_i) - L(θ - ε e_i)) / 2ε``,
with ``L`` the full objective (loss plus L2 penalty) on the given batch. The two gradients are
compared per parameter array (each layer's ``W`` and ``b``) by the relative error
``‖g_backprop - g_numeric‖ / (‖g_backprop‖ + ‖g_numeric‖)``, which stays meaningful when some
entries are zero (dead ReLUs) or tiny; the check reports the largest of these errors.
In float64 a correct gradient gives errors around 1e-9 or below; a wrong one, above 1e-3.

A network with dropout is checked with the masks of the step that computed the analytic
gradient: every numerical evaluation reuses them (the training forward pass with fixed masks).
"""

from __future__ import annotations

import numpy as np


def numerical_gradient(model, X: np.ndarray, Y: np.ndarray, epsilon: float = 1e-6) -> np.ndarray:
    """Central-difference gradient of the objective with respect to ``model.parameters`` (with
    dropout: of the training objective under each Dropout's ``fixed_mask``)."""
    params = model.parameters
    numeric = np.empty_like(params)
    dropout = any(d is not None for d in model.dropouts)
    step = model.backprop
    objective = (lambda: step.loss_and_gradients(X, Y)) if dropout else (lambda: step.objective(X, Y))
    for i in range(params.size):
        original = params[i]
        params[i] = original + epsilon
        plus = objective()
        params[i] = original - epsilon
        minus = objective()
        params[i] = original
        numeric[i] = (plus - minus) / (2.0 * epsilon)
    return numeric


def relative_errors(model, X: np.ndarray, Y: np.ndarray, epsilon: float = 1e-6) -> dict[str, float]:
    """Relative error between backprop and central differences for every parameter array.

    Parameters
    ----------
    model : NeuralNetwork
        Preferably float64: in float32 rounding dominates central differences.
    X : ndarray of shape (n_samples, n_features)
    Y : ndarray of shape (n_samples, n_outputs)
        Targets already encoded as the loss sees them.
    epsilon : float
        Step of the central differences.

    Returns
    -------
    dict
        ``{"W1": err, "b1": err, "W2": ...}`` numbered from the first layer (``E1``, ...: embedding
        tables; ``periodic.w``, ...: the periodic embeddings; ``scale``: the input scale).
    """
    model.backprop.loss_and_gradients(X, Y)
    analytic = model.gradients.copy()
    dropouts = [d for d in model.dropouts if d is not None]
    fixed = [d.fixed_mask for d in dropouts]
    for d in dropouts:                       # the masks of the analytic step, for every evaluation
        d.fixed_mask = d.mask
    try:
        numeric = numerical_gradient(model, X, Y, epsilon)
    finally:
        for d, mask in zip(dropouts, fixed):
            d.fixed_mask = mask
    views = {f"E{number}": embedding.dE for number, embedding in enumerate(model.embeddings, 1)}
    if getattr(model, "periodic", None) is not None:
        views.update({f"periodic.{name}": getattr(model.periodic, "d" + name) for name in ("w", "b", "V", "c")})
    if model.embedded_input is not None and model.embedded_input.scale is not None:
        views["scale"] = model.embedded_input.scale.ds
    for number, layer in enumerate(model.layers, 1):
        views.update({f"{name}{number}": view for name, view in (("W", layer.dW), ("b", layer.db)) if view is not None})
    errors = {}
    for name, view in views.items():
        where = _span(model.gradients, view)
        a, n = analytic[where], numeric[where]
        scale = np.linalg.norm(a) + np.linalg.norm(n)
        errors[name] = float(np.linalg.norm(a - n) / scale) if scale > 0 else 0.0
    return errors


def gradient_check(model, X: np.ndarray, Y: np.ndarray, epsilon: float = 1e-6) -> float:
    """The largest of :func:`relative_errors`."""
    return max(relative_errors(model, X, Y, epsilon).values())


def _span(flat: np.ndarray, view: np.ndarray) -> slice:
    """The slice of ``flat`` that the contiguous view ``view`` covers."""
    start = (view.__array_interface__["data"][0] - flat.__array_interface__["data"][0]) // flat.itemsize
    return slice(start, start + view.size)
