"""Backpropagation made visible: one training step recorded layer by layer.

:meth:`NeuralNetwork.trace` runs one forward pass, loss, backward pass and update on a sample or
a small batch and returns a :class:`Trace` holding every intermediate quantity, in the notation
of the seeds (row vectors: a batch is a stack of rows)::

    forward    z^l = a^(l-1) W^l + b^l,      a^l = f(z^l),          a^0 = x
    loss       L(ŷ, y) with ŷ = a^L
    backward   δ^L = ∂L/∂a^L ⊙ f'(z^L)       (fused: δ^L = (ŷ - y) / N)
               δ^l = (δ^(l+1) (W^(l+1))ᵀ) ⊙ f'(z^l)
               ∂L/∂W^l = (a^(l-1))ᵀ δ^l,      ∂L/∂b^l = Σ_rows δ^l
    update     the optimizer's step, e.g. W ← W - η ∂L/∂W for plain SGD

The step is ``model.backprop.loss_and_gradients``, the forward and backward pass ``fit`` runs; the trace
reads what each layer cached on the way (``A_prev``, ``Z``, ``A``, ``dA``, ``delta``, ``dW``,
``db``), and the tests check that the traced gradients and update are those of a real step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import DivergenceError
from ..training.callbacks import History
from .update_terms import describe


@dataclass
class LayerStep:
    """Everything one layer did in the step (arrays have the batch as rows)."""

    number: int
    activation: str
    a_prev: np.ndarray
    W: np.ndarray
    b: np.ndarray | None
    z: np.ndarray
    a: np.ndarray
    dA: np.ndarray | None = None      # ∂L/∂a (None where the loss fused the output activation)
    delta: np.ndarray | None = None   # ∂L/∂z
    dW: np.ndarray | None = None      # includes the L2 term
    db: np.ndarray | None = None
    W_new: np.ndarray | None = None
    b_new: np.ndarray | None = None
    fprime: np.ndarray | None = None  # f'(z), element by element (None: softmax, or fused output)
    #: The optimizer's state after the step, per name (``velocity``; ``m``, ``v``; ...): (W part, b part).
    state: dict | None = None
    #: The same before the step (empty before the optimizer's first step: its arrays start at zero).
    state_before: dict | None = None
    #: Dropout after this layer: the step's mask ``M`` (kept / (1 - rate), 0 dropped) and the rate.
    mask: np.ndarray | None = None
    dropout: float = 0.0


@dataclass
class Trace:
    """One training step. ``str(trace)`` or ``trace.to_text()`` renders it for reading."""

    x: np.ndarray
    y: np.ndarray
    loss: float
    loss_name: str
    fused: bool
    l2: float
    optimizer: str
    learning_rate: float
    layers: list[LayerStep]
    applied: bool
    update_rule: str = ""      # the formula the optimizer applied, with its hyper-parameters
    #: The step's number t (the optimizer's step count after it: 1 for its first step).
    step_number: int = 1
    #: A stateless copy of the optimizer (its kind and hyper-parameters), for the update's terms.
    optimizer_config: object = None
    #: What the network does to ``x`` before the first layer (embeddings, input scale); "" for nothing.
    input_stage: str = ""
    #: The input stage's numbers of this step, as (formula, array) lines: its forward pass, and
    #: its parameters' gradients (periodic embeddings, per column; the input scale).
    input_forward: list = field(default_factory=list)
    input_backward: list = field(default_factory=list)

    @property
    def y_hat(self) -> np.ndarray:
        """The network output ``a^L``."""
        return self.layers[-1].a

    @property
    def dead_units(self) -> dict[int, list[int]]:
        """Hidden units (1-based) that passed no gradient in this step, by layer number.

        A unit is dead here when its ``∂L/∂a`` is nonzero but ``δ = ∂L/∂a ⊙ f'(z)`` is zero for
        every sample: ``f'(z) = 0``, e.g. a ReLU whose ``z <= 0``. The weights into it get no
        gradient, and if that holds for every input the unit never learns again.
        """
        dead = {}
        for step in self.layers[:-1]:
            if step.dA is None or step.delta is None:
                continue
            killed = np.all(step.delta == 0, axis=0) & np.any(step.dA != 0, axis=0)
            if killed.any():
                dead[step.number] = [int(unit) + 1 for unit in np.flatnonzero(killed)]
        return dead

    def to_text(self, format: str = "text", unit=None) -> str:
        """Render as plain text (``"text"``) or Markdown (``"markdown"``); ``unit=(layer, unit)``
        (both from 1) renders that one unit's chain instead: its sums with every term's numbers
        (see :mod:`.trace_text`)."""
        from .trace_text import render, render_unit

        if format not in ("text", "markdown"):
            raise ValueError(f"format: expected 'text' or 'markdown', got {format!r}")
        if unit is not None:
            return render_unit(self, unit, markdown=format == "markdown")
        return render(self, markdown=format == "markdown")

    def __str__(self) -> str:
        return self.to_text()


def trace_step(model, X: np.ndarray, Y: np.ndarray, apply: bool = False) -> Trace:
    """Record one training step of ``model`` on validated ``X`` and encoded ``Y``.

    With ``apply=False`` the parameters, the optimizer state and dropout's random generator are
    restored afterwards: the network trains on as if the step had not been traced.
    """
    saved_params = model.parameters.copy()
    saved_masks = None if model.dropout_rng is None else model.dropout_rng.bit_generator.state
    saved_state = {k: v.copy() for k, v in model.optimizer.get_state().items()}
    saved_iterations = model.optimizer.iterations
    loss = model.backprop.loss_and_gradients(X, Y)          # the very forward and backward pass fit runs
    if not math.isfinite(loss):                     # as in fit: a non-finite loss is never applied
        raise _diverged(model, f"the loss of this step became {loss}")

    def copied(array):
        return None if array is None else array.copy()

    steps = [LayerStep(number, type(layer.activation).__name__.lower(), layer.A_prev.copy(),
                       layer.W.copy(), copied(layer.b), layer.Z.copy(), layer.A.copy(),
                       copied(layer.dA), layer.delta.copy(), layer.dW.copy(), copied(layer.db),
                       fprime=_derivative(layer, fused=model.backprop.fused and number == len(model.layers)))
             for number, layer in enumerate(model.layers, 1)]
    for step, dropout in zip(steps, model.dropouts):
        if dropout is not None:
            step.mask, step.dropout = dropout.mask.copy(), dropout.rate
    input_forward, input_backward = input_stage_lines(model)
    model.optimizer.step(model.parameters, model.gradients, model.current_learning_rate)
    plain = type(model.optimizer).__name__ == "SGD" and not model.optimizer.momentum   # (keeps no state)
    state = {} if plain else model.optimizer.get_state()

    def parts(arrays, layer, w, b):
        return {name: (array[w].reshape(layer.W.shape).copy(), None if b is None else array[b].copy())
                for name, array in arrays.items()}
    for layer, step, (w, b) in zip(model.layers, steps, model.parameter_slices()):
        step.W_new, step.b_new = layer.W.copy(), copied(layer.b)
        step.state, step.state_before = parts(state, layer, w, b), parts(saved_state, layer, w, b)
    rule = update_rule(model.optimizer)
    finite = np.isfinite(model.parameters).all()
    if not apply or not finite:
        model.parameters[...] = saved_params
        model.optimizer.set_state(saved_state, saved_iterations, model.parameters)
        if saved_masks is not None:
            model.dropout_rng.bit_generator.state = saved_masks
    if not finite:
        raise _diverged(model, "the update made the weights overflow")
    return Trace(X.copy(), Y.copy(), loss, model.loss.name, model.backprop.fused, model.l2,
                 describe(model.optimizer), model.current_learning_rate, steps, apply, rule,
                 saved_iterations + 1, _stateless(model.optimizer),
                 "" if model.embedded_input is None else model.embedded_input.describe(), input_forward,
                 input_backward)


def input_stage_lines(model) -> tuple[list, list]:
    """What the input stage cached in the step just run, and the gradients it wrote, as
    ``(formula, array)`` lines: each periodic column's ``u``, ``cos(u)``, ``e`` and the
    gradients of ``V, c, w, b``; the input scale ``s`` and ``∂L/∂s``."""
    forward, backward = [], []
    periodic = getattr(model, "periodic", None)
    if periodic is not None:
        for j, column in enumerate(periodic.columns):
            e = periodic.h[j] @ periodic.V[j] + periodic.c[j]
            forward += [(f"u (column {column}) = 2π x w + b", periodic.u[j].copy()),
                        (f"h (column {column}) = cos(u)", periodic.h[j].copy()),
                        (f"e (column {column}) = h V + c", e)]
            backward += [(f"∂L/∂V (column {column}) = hᵀ ∂L/∂e", periodic.dV[j].copy()),
                         (f"∂L/∂c (column {column}) = Σ ∂L/∂e", periodic.dc[j].copy()),
                         (f"∂L/∂w (column {column}) = 2π Σ x ∂L/∂u,  ∂L/∂u = -sin(u) ⊙ ∂L/∂e Vᵀ",
                          periodic.dw[j].copy()),
                         (f"∂L/∂b (column {column}) = Σ ∂L/∂u", periodic.db[j].copy())]
    scale = None if model.embedded_input is None else model.embedded_input.scale
    if scale is not None:
        forward.append(("s (the input scale)", scale.s.copy()))
        backward.append(("∂L/∂s = Σ a ⊙ ∂L/∂(a s)", scale.ds.copy()))
    return forward, backward


def _stateless(optimizer):
    """A copy of ``optimizer``'s kind and hyper-parameters without its arrays (None if it cannot be made)."""
    try:
        return type(optimizer)(**optimizer.get_config())
    except Exception:                      # (a custom optimizer whose config is not its arguments)
        return None


def _derivative(layer, fused: bool) -> np.ndarray | None:
    """f'(z) of the layer's activation at its cached z, element by element; None for softmax
    (its derivative is a matrix per row) and for an output fused with its loss."""
    if fused or type(layer.activation).__name__ == "Softmax":
        return None
    return layer.activation.backward(layer.Z, layer.A, np.ones_like(layer.Z))


def update_rule(optimizer) -> str:
    """The update ``optimizer`` applies, one line per assignment (g = ∂L/∂W); its hyper-parameters
    are in :func:`~.update_terms.describe`."""
    name = type(optimizer).__name__
    if name == "SGD" and not optimizer.momentum:
        return "W ← W − η g"
    if name == "SGD":
        return "v ← μ v + g\n" + ("W ← W − η (g + μ v)" if optimizer.nesterov else "W ← W − η v")
    if name == "RMSProp":
        return "s ← ρ s + (1 − ρ) g²\nW ← W − η g / (√s + ε)"
    if name in ("Adam", "AdamW"):
        decay = "W ← (1 − η λ) W\n" if name == "AdamW" else ""
        return (f"{decay}m ← β₁ m + (1 − β₁) g\nv ← β₂ v + (1 − β₂) g²\n"
                "m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)\nW ← W − η m̂ / (√v̂ + ε)")
    return f"{name}.step(W, g, η)"


def _diverged(model, what: str) -> DivergenceError:
    return DivergenceError(f"training diverged: {what}; the step was not applied (the weights are as "
                           f"before). Try a smaller learning rate (now {model.current_learning_rate:g}).", History())
