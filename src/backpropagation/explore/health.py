"""Layer health: what each layer's units do over the training set, from one traced step on all of it.

Per layer (:func:`layer_health`), from ``NeuralNetwork.trace`` on every training row:

- a histogram of the activations ``a`` and one of the gradients ``δ = ∂L/∂z`` (as ``log₁₀|δ|``,
  since healthy and vanishing gradients differ by orders of magnitude; exact zeros are counted
  apart);
- **dead** units: hidden ReLU-like units (slope 0 below 0) whose slope ``f'(z)`` is 0 on every row
  (a sum never positive): no gradient passes through them, so the weights into them never change
  again;
- **saturated** units: hidden units of a smooth activation whose slope is below
  :data:`SATURATED` of its slope at 0 on at least :data:`MOST` of the rows (a sigmoid or tanh
  pinned near its limits, where the slope may even round to 0): they pass almost no gradient,
  and the layers below learn slowly;
- the **spread** of each layer's activations across the rows (their standard deviation, averaged
  over the units): near 0, every row looks alike to the layers above (the forward signal died);
- the **update-to-weight ratio** ``‖ΔW‖ / ‖W‖`` of the step the optimizer would take on all the
  rows (about 1e-3 is a common healthy size; far below, the layer hardly learns; far above, it
  jumps around).
"""

from __future__ import annotations

import numpy as np

#: Bins of each histogram.
BINS = 20
#: A unit is saturated where its slope is below this share of the activation's slope at 0 ...
SATURATED = 0.05
#: ... on at least this share of the rows.
MOST = 0.95


def slope_at_zero(activation) -> float:
    """The activation's slope at z = 0 (1 for tanh, 1/4 for the sigmoid, 0 for ReLU)."""
    zero = np.zeros((1, 1))
    return float(activation.backward(zero, activation.forward(zero), np.ones((1, 1)))[0, 0])


def histogram(values: np.ndarray, bins: int = BINS) -> dict:
    """``{"edges", "counts"}`` of ``values`` over their range (one bin of width 1 for a constant)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    if high <= low:
        low, high = low - 0.5, high + 0.5
    counts, edges = np.histogram(values, bins=bins, range=(low, high))
    return {"edges": edges.tolist(), "counts": counts.tolist()}


def unit_kinds(model, step) -> tuple[list[int], list[int]]:
    """``(dead, saturated)``: the hidden units (numbered from 1) of a traced layer ``step``."""
    if step.fprime is None or step.number == len(model.layers):
        return [], []
    layer = model.layers[step.number - 1]
    slope, peak = np.abs(step.fprime), slope_at_zero(layer.activation)
    if peak <= 0:                         # ReLU-like: no slope below 0, so a unit can die, not saturate
        dead = np.all(slope == 0, axis=0)
        return [int(j) + 1 for j in np.flatnonzero(dead)], []
    saturated = np.mean(slope < SATURATED * peak, axis=0) >= MOST
    return [], [int(j) + 1 for j in np.flatnonzero(saturated)]


def layer_health(model, X, y) -> list[dict]:
    """Each layer's health over the rows ``X`` (labels ``y``): see the module docstring."""
    trace = model.trace(X, y)
    report = []
    for step in trace.layers:
        dead, saturated = unit_kinds(model, step)
        delta = np.abs(step.delta)
        nonzero = delta[delta > 0]
        weights = float(np.linalg.norm(step.W))
        report.append({
            "layer": step.number, "activation": step.activation, "units": int(step.z.shape[1]),
            "activations": histogram(step.a),
            "gradients": {**histogram(np.log10(nonzero) if nonzero.size else np.zeros(1)),
                          "zeros": int(delta.size - nonzero.size)},
            "dead": dead, "saturated": saturated,
            "update_ratio": float(np.linalg.norm(step.W_new - step.W)) / weights if weights else 0.0,
            "mean_abs_delta": float(delta.mean()), "spread": float(step.a.std(axis=0).mean()),
        })
    return report


def summary(report: list[dict]) -> list[dict]:
    """What the page keeps per epoch of training: counts and the update ratio of each layer."""
    return [{"layer": r["layer"], "dead": len(r["dead"]), "saturated": len(r["saturated"]),
             "update_ratio": r["update_ratio"]} for r in report]
