"""Input gradients: how each prediction moves with each input, by one more step of the backward pass.

Backpropagation stops at the first layer's ``δ`` because the data is not learned. One more step
down the chain gives how the prediction moves with each input::

    ∂ŷ/∂Z_L = f_L'(Z_L)                      (start: the output activation's derivative)
    ∂ŷ/∂A_l-1 = (∂ŷ/∂A_l ⊙ f_l'(Z_l)) W_lᵀ   (every layer, last to first: the usual δ Wᵀ)
    ∂ŷ/∂x = ∂ŷ/∂A_0

It is the backward pass of training with the loss's gradient replaced by "1 for output k", and
the same activation rules (:meth:`Activation.backward <backpropagation.nn.activations.Activation.backward>`)
and ``δ Wᵀ`` products.
"""

from __future__ import annotations

import numpy as np

from ..data import check_features, check_int
from ..errors import NotFittedError


#: Rows whose activations the input gradients hold at once.
ROWS_PER_PASS = 8192


def input_gradients(model, X, output: int | None = None) -> np.ndarray:
    """∂ŷ/∂x for every row of ``X``: how each prediction moves with each input.

    ``ŷ`` is what the network outputs in the user's terms: the value in the targets' units
    (regression), the probability of ``classes_[1]`` (one sigmoid output) or of each class
    (softmax). Returns shape (n_samples, n_features) for one output (or ``output=k``), else
    (n_samples, n_outputs, n_features). A column of category codes (an embedding) has no
    derivative: its entries are 0 (:func:`gradient_importance` scores it through its embedding); a
    column with a periodic embedding has the chain rule's through ``[x, cos(2π x w + b) V + c]``.
    """
    require_fitted(model, "input_gradients")
    X = check_features(X, model.dtype, "X", model.layer_sizes[0], feature_names=model.feature_names_in_)
    n_outputs = model.layer_sizes[-1]
    if output is not None:
        output = check_int("output", output, 0)
        if output >= n_outputs:
            raise ValueError(f"output: the network has {n_outputs} output(s), got {output}")
    outputs = range(n_outputs) if output is None else [output]
    _, gradients = embedded_gradients(model, X, outputs)
    if model.embedded_input is None:
        result = gradients
    else:                                               # (on through the embeddings and the input scale)
        result = np.stack([model.embedded_input.column_gradients(X, gradients[:, j]) for j in range(len(outputs))],
                          axis=1)
    return result[:, 0] if len(outputs) == 1 else result


def embedded_gradients(model, X: np.ndarray, outputs) -> tuple[np.ndarray, np.ndarray]:
    """The network's first-layer input ``a⁰`` (X with code columns embedded) and ∂ŷ_k/∂a⁰ for
    each output ``k`` of ``outputs``: shapes (rows, width) and (rows, len(outputs), width)."""
    width = model.layers[0].fan_in
    inputs = np.empty((len(X), width), dtype=model.dtype)
    gradients = np.empty((len(X), len(outputs), width), dtype=model.dtype)
    for start in range(0, len(X), ROWS_PER_PASS):
        rows = slice(start, start + ROWS_PER_PASS)
        Zs, As = forward_pass(model, X[rows])
        inputs[rows] = As[0]
        for j, k in enumerate(outputs):
            seed = np.zeros_like(As[-1])
            seed[:, k] = output_scale(model)[k]        # ∂ŷ_k/∂A_L: 1 (or the target's scale) for output k
            gradients[rows, j] = backward_to_input(model, Zs, As, seed)
    return inputs, gradients


def column_places(model) -> list[slice]:
    """Where each input column sits in the first layer's input (an embedded column: ``dim`` places)."""
    if model.embedded_input is None:
        return [slice(j, j + 1) for j in range(model.layer_sizes[0])]
    return [place for _, _, place in model.embedded_input.pieces]


def forward_pass(model, X: np.ndarray) -> tuple[list, list]:
    """Every layer's ``Z`` and ``A`` (``As[0]`` is ``X``, its code columns embedded) without
    touching what training caches."""
    Zs, As = [], [X if model.embedded_input is None else model.embedded_input.forward(X, training=False)]
    for layer in model.layers:
        Zs.append(layer.affine(As[-1]))
        As.append(layer.activation.forward(Zs[-1]))
    return Zs, As


def backward_to_input(model, Zs: list, As: list, dA: np.ndarray) -> np.ndarray:
    """The chain rule from ``dA = ∂ŷ/∂A_L`` down to ``∂ŷ/∂x``: ``δ = f'(Z) ⊙ dA``, then ``δ Wᵀ``."""
    for layer, Z, A in zip(reversed(model.layers), reversed(Zs), reversed(As[1:])):
        delta = layer.activation.backward(Z, A, dA)     # δ = ∂ŷ/∂Z
        dA = delta @ layer.W.T                          # ∂ŷ/∂A_prev = δ Wᵀ, down to the inputs
    return dA


def output_scale(model) -> np.ndarray:
    """How one unit of each network output reads in the user's units (the regression targets'
    standard deviations when the network learned standardised targets; else 1)."""
    scale = getattr(model.task_, "target_scale_", None)
    return np.ones(model.layer_sizes[-1]) if scale is None else np.asarray(scale, dtype=np.float64)


def require_fitted(model, what: str) -> None:
    """NotFittedError unless ``fit`` has taught the network its targets (an unfitted network's
    outputs mean nothing yet: no classes, no target units)."""
    if not model.task_.fitted:
        raise NotFittedError(f"{what}: this network has not been fitted yet; call fit first")
