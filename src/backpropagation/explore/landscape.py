"""The loss over two chosen weights (every other weight held), and the paths three optimizers take on it.

:func:`landscape` evaluates the training loss on a grid around the two weights' current values,
then lets plain SGD, momentum and Adam each take :data:`STEPS` full-batch steps from the same
start, moving only those two weights (the rest held where they are, so the path stays on the
drawn surface). Each step is recorded with the gradient and the optimizer's state before and
after it, so that a learner can check every update by hand. The network itself is not changed.
"""

from __future__ import annotations

import copy

import numpy as np

from ..nn import optimizers

#: Grid cells along each axis of the surface.
SIZE = 31
#: Steps each optimizer takes.
STEPS = 40
#: The optimizers compared, with their keyword arguments.
RACERS = {"sgd": {}, "momentum": {}, "adam": {}}


def flat_index(model, layer: int, row: int, col: int) -> int:
    """The position of weight ``W^layer[row, col]`` (all from 0 but the layer, from 1) in the
    flat parameter vector; ValueError naming what is out of range."""
    if not 1 <= layer <= len(model.layers):
        raise ValueError(f"weights: layer {layer} does not exist; the layers are 1 to {len(model.layers)}")
    W = model.layers[layer - 1].W
    if not (0 <= row < W.shape[0] and 0 <= col < W.shape[1]):
        raise ValueError(f"weights: W{layer} has {W.shape[0]} rows and {W.shape[1]} columns; got [{row}, {col}]")
    return model.parameter_slices()[layer - 1][0].start + row * W.shape[1] + col


def landscape(model, X, Y, weights, learning_rate: float) -> dict:
    """The surface and the paths (see the module docstring). ``weights``: two ``(layer, row, col)``;
    ``Y``: encoded targets."""
    if len(weights) != 2:
        raise ValueError(f"weights: expected two weights, got {len(weights)}")
    twin = copy.deepcopy(model)
    index = [flat_index(twin, *w) for w in weights]
    if index[0] == index[1]:
        raise ValueError("weights: choose two different weights")
    start = twin.parameters[index].copy()
    paths = {name: _path(twin, X, Y, index, start, name, learning_rate) for name in RACERS}
    # The surface covers the start ± a margin and every point the paths reach.
    reached = np.array([start] + [s["w_new"] for steps in paths.values() for s in steps])
    span = np.maximum(1.0, 2.0 * np.abs(start))
    low = np.minimum(start - span, reached.min(axis=0) - 0.1 * span)
    high = np.maximum(start + span, reached.max(axis=0) + 0.1 * span)
    axes = [np.linspace(a, b, SIZE) for a, b in zip(low, high)]
    losses = np.empty((SIZE, SIZE))
    for r, b in enumerate(axes[1]):                 # row r: the second weight; column c: the first
        for c, a in enumerate(axes[0]):
            twin.parameters[index] = (a, b)
            losses[r, c] = twin.backprop.objective(X, Y)
    return {"weights": [list(w) for w in weights], "start": start.tolist(),
            "axes": [axis.tolist() for axis in axes], "loss": losses.tolist(), "paths": paths,
            "learning_rate": learning_rate}


def _path(twin, X, Y, index, start, name: str, learning_rate: float) -> list[dict]:
    """``name``'s steps from ``start``, moving the two weights only."""
    optimizer = optimizers.get(name, **RACERS[name])
    point, steps = start.copy(), []
    for _ in range(STEPS):
        twin.parameters[index] = point
        loss = twin.backprop.loss_and_gradients(X, Y)
        if not np.isfinite(loss):
            break
        gradient = twin.gradients[index].copy()
        before = {key: value.copy() for key, value in optimizer.get_state().items()}
        old = point.copy()
        optimizer.step(point, gradient, learning_rate)
        steps.append({"w": old.tolist(), "loss": float(loss), "g": gradient.tolist(), "t": optimizer.iterations,
                      "before": {key: value.tolist() for key, value in before.items()},
                      "after": {key: value.tolist() for key, value in optimizer.get_state().items()},
                      "w_new": point.tolist()})
        if not np.isfinite(point).all():
            break
    return steps
