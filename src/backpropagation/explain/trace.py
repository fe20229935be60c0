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
from dataclasses import dataclass

import numpy as np

from ..training.callbacks import History
from ..errors import DivergenceError


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

    def to_text(self, format: str = "text") -> str:
        """Render as plain text (``"text"``) or Markdown (``"markdown"``)."""
        if format not in ("text", "markdown"):
            raise ValueError(f"format: expected 'text' or 'markdown', got {format!r}")
        return _render(self, markdown=format == "markdown")

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
    model.optimizer.step(model.parameters, model.gradients, model.current_learning_rate)
    plain = type(model.optimizer).__name__ == "SGD" and not model.optimizer.momentum   # (keeps no state)
    state = {} if plain else model.optimizer.get_state()
    for layer, step, (w, b) in zip(model.layers, steps, model.parameter_slices()):
        step.W_new, step.b_new = layer.W.copy(), copied(layer.b)
        step.state = {name: (array[w].reshape(layer.W.shape).copy(), None if b is None else array[b].copy())
                      for name, array in state.items()}
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
                 type(model.optimizer).__name__, model.current_learning_rate, steps, apply, rule)


def _derivative(layer, fused: bool) -> np.ndarray | None:
    """f'(z) of the layer's activation at its cached z, element by element; None for softmax
    (its derivative is a matrix per row) and for an output fused with its loss."""
    if fused or type(layer.activation).__name__ == "Softmax":
        return None
    return layer.activation.backward(layer.Z, layer.A, np.ones_like(layer.Z))


def update_rule(optimizer) -> str:
    """The update ``optimizer`` applies, as a formula with its hyper-parameters (g = ∂L/∂W)."""
    name, t = type(optimizer).__name__, optimizer.iterations
    adam = ("m ← β₁ m + (1 - β₁) g;  v ← β₂ v + (1 - β₂) g²;  W ← W - η m̂ / (√v̂ + ε) with "
            "m̂ = m / (1 - β₁ᵗ), v̂ = v / (1 - β₂ᵗ)")
    if name == "SGD" and not optimizer.momentum:
        return "W ← W - η ∂L/∂W"
    if name == "SGD":
        step = "W ← W - η (g + μ v)" if optimizer.nesterov else "W ← W - η v"
        return f"v ← μ v + g;  {step}   (g = ∂L/∂W, μ = {optimizer.momentum:g})"
    if name == "RMSProp":
        return (f"s ← ρ s + (1 - ρ) g²;  W ← W - η g / (√s + ε)   (g = ∂L/∂W, ρ = {optimizer.rho:g}, "
                f"ε = {optimizer.epsilon:g})")
    if name in ("Adam", "AdamW"):
        decay = "W ← (1 - η λ) W, then " if name == "AdamW" else ""
        decay_value = f", λ = {optimizer.weight_decay:g}" if name == "AdamW" else ""
        return (f"{decay}{adam}   (g = ∂L/∂W, β₁ = {optimizer.beta_1:g}, β₂ = {optimizer.beta_2:g}, "
                f"ε = {optimizer.epsilon:g}{decay_value}, t = {t})")
    return f"{name}.step(W, ∂L/∂W, η)"


def _diverged(model, what: str) -> DivergenceError:
    return DivergenceError(f"training diverged: {what}; the step was not applied (the weights are as "
                           f"before). Try a smaller learning rate (now {model.current_learning_rate:g}).", History())


# ---------------------------------------------------------------------- rendering
_SUPERSCRIPTS = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _sup(number: int) -> str:
    return str(number).translate(_SUPERSCRIPTS)


def _number(value) -> str:
    """Four significant digits; small and large numbers in exponent notation, as the explorer shows them."""
    return "0" if value == 0 else f"{value:.4g}"


def _show(array: np.ndarray | None) -> str:
    if array is None:
        return "—"
    return np.array2string(np.asarray(array), separator=", ", max_line_width=100,
                           formatter={"float_kind": _number})


class _Writer:
    """Lines of a rendered trace, as plain text or Markdown."""

    def __init__(self, markdown: bool) -> None:
        self.markdown, self.out = markdown, []

    def heading(self, text: str) -> None:
        self.out.append(f"\n## {text}\n" if self.markdown else f"\n{text}\n{'-' * len(text)}")

    def line(self, name: str, value) -> None:
        text = _show(value)
        if self.markdown:
            self.out.append(f"- `{name}` =\n\n```\n{text}\n```")
        else:
            self.out.append(f"  {name} = " + text.replace("\n", "\n" + " " * (len(name) + 5)))

    def note(self, text: str) -> None:
        self.out.append(("- " if self.markdown else "  ") + text)


def _render(trace: Trace, markdown: bool) -> str:
    writer = _Writer(markdown)
    n = len(trace.x)
    title = (f"One training step on {n} sample{'s' if n > 1 else ''}: loss {trace.loss_name}, "
             f"optimizer {trace.optimizer}, learning rate η = {trace.learning_rate:g}"
             + (f", L2 λ = {trace.l2:g}" if trace.l2 else ""))
    writer.out.append(f"# {title}" if markdown else title)
    for section in (_forward_section, _loss_section, _backward_section, _update_section):
        section(writer, trace)
    return "\n".join(writer.out) + "\n"


def _forward_section(writer: _Writer, trace: Trace) -> None:
    writer.heading("1. Forward pass: z = a_prev W + b, a = f(z)")
    if trace.layers[0].a_prev.shape[1] == trace.x.shape[1]:
        writer.line("a⁰ = x", trace.x)
    else:                                            # (code columns looked up in their embeddings)
        writer.line("x", trace.x)
        writer.line("a⁰ = x with each code column replaced by its row E[code] (embeddings)", trace.layers[0].a_prev)
    for below, step in zip([None, *trace.layers], trace.layers):
        k = _sup(step.number)
        a_prev = _dropped_input(below)
        writer.line(f"z{k} = {a_prev} W{k}" + (f" + b{k}" if step.b is not None else ""), step.z)
        writer.line(f"a{k} = {step.activation}(z{k})", step.a)
        if step.mask is not None:
            writer.line(f"M{k} (dropout {step.dropout:g}: kept units × 1/{1 - step.dropout:g}, dropped 0)", step.mask)
            writer.line(f"a{k} ⊙ M{k}, what layer {step.number + 1} sees", step.a * step.mask)


def _loss_section(writer: _Writer, trace: Trace) -> None:
    writer.heading("2. Loss")
    writer.line(f"ŷ = a{_sup(len(trace.layers))}", trace.y_hat)
    writer.line("y", trace.y)
    writer.note(f"L = {trace.loss:.6g}" + (" (includes the L2 penalty λ/2 ΣW²)" if trace.l2 else ""))


def _backward_section(writer: _Writer, trace: Trace) -> None:
    writer.heading("3. Backward pass (chain rule, last layer first)")
    for step in reversed(trace.layers):
        k = _sup(step.number)
        below = _dropped_input(trace.layers[step.number - 2] if step.number > 1 else None)
        if step.number == len(trace.layers) and trace.fused:
            writer.line(f"δ{k} = (ŷ - y) / N   [{step.activation} fused with {trace.loss_name}]", step.delta)
        else:
            above = _sup(step.number + 1)
            chained = f"δ{above} (W{above})ᵀ" if step.mask is None else f"(δ{above} (W{above})ᵀ) ⊙ M{k}"
            writer.line(f"∂L/∂a{k}" if step.number == len(trace.layers) else f"∂L/∂a{k} = {chained}", step.dA)
            if step.fprime is not None:
                writer.line(f"f'(z{k}) = {step.activation}'(z{k})", step.fprime)
            writer.line(f"δ{k} = ∂L/∂a{k} ⊙ f'(z{k})", step.delta)
        transposed = below if below.startswith("(") else f"({below})"
        writer.line(f"∂L/∂W{k} = {transposed}ᵀ δ{k}" + (" + λW" if trace.l2 else ""), step.dW)
        if step.db is not None:
            writer.line(f"∂L/∂b{k} = Σ δ{k}", step.db)
    for number, units in trace.dead_units.items():
        everything = len(units) == trace.layers[number - 1].z.shape[1]
        writer.note(f"note: {'every' if everything else 'some'} unit of layer {number} "
                    f"({', '.join(map(str, units))}) passed no gradient: f'(z) = 0 there "
                    "(a ReLU with z <= 0 is 'dead' for this input)"
                    + ("; the layers below it learn nothing from this step" if everything else ""))


def _dropped_input(below: LayerStep | None) -> str:
    """How the input of the layer above ``below`` is written: ``a⁰``, ``a^l`` or ``(a^l ⊙ M^l)``."""
    if below is None:
        return "a⁰"
    k = _sup(below.number)
    return f"a{k}" if below.mask is None else f"(a{k} ⊙ M{k})"


def _update_section(writer: _Writer, trace: Trace) -> None:
    writer.heading("4. Update" + ("" if trace.applied else " (not applied to the model)"))
    writer.note(f"{trace.optimizer}: {trace.update_rule}, η = {trace.learning_rate:g}")
    for step in trace.layers:
        k = _sup(step.number)
        writer.line(f"W{k} before", step.W)
        writer.line(f"W{k} after", step.W_new)
        for name, (W_state, _) in (step.state or {}).items():
            writer.line(f"{name} of W{k} after", W_state)
        if step.b is not None:
            writer.line(f"b{k} before", step.b)
            writer.line(f"b{k} after", step.b_new)
            for name, (_, b_state) in (step.state or {}).items():
                writer.line(f"{name} of b{k} after", b_state)
