"""A :class:`~.trace.Trace` as text a learner can check line by line.

:func:`render` writes the whole step: the forward pass, the loss, the backward pass layer by
layer, and the update of every parameter array term by term (:mod:`.update_terms`: the state
before, each product and sum of the optimizer's rule, the new values). :func:`render_unit` writes
one unit's chain: its weighted sum with every product, its activation, the sum that brings the
gradient back to it, its δ, its weights' gradients and their update.

Layers and units are numbered from 1, as in the derivations: ``z¹₂`` is unit 2 of layer 1.
"""

from __future__ import annotations

import numpy as np

from .update_terms import terms

#: Rows of a batch whose lines a unit's chain writes out; products written out per sum.
MAX_ROWS = 4
MAX_TERMS = 8
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def _sub(number: int) -> str:
    return str(number).translate(_SUBSCRIPTS)


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


def render(trace, markdown: bool) -> str:
    """The whole step (see the module docstring)."""
    writer = _Writer(markdown)
    n = len(trace.x)
    title = (f"One training step on {n} sample{'s' if n > 1 else ''}: loss {trace.loss_name}, "
             f"learning rate η = {trace.learning_rate:g}" + (f", L2 λ = {trace.l2:g}" if trace.l2 else "")
             + f", step t = {trace.step_number}")
    writer.out.append(f"# {title}" if markdown else title)
    writer.out.append(f"Optimizer: {trace.optimizer}")
    for section in (_forward_section, _loss_section, _backward_section, _update_section):
        section(writer, trace)
    return "\n".join(writer.out) + "\n"


def _forward_section(writer: _Writer, trace) -> None:
    writer.heading("1. Forward pass: z = a_prev W + b, a = f(z)")
    if not trace.input_stage:
        writer.line("a⁰ = x", trace.x)
    else:                                            # (embeddings and the input scale before layer 1)
        writer.line("x", trace.x)
        writer.out.append(f"  a⁰ = {trace.input_stage}:")
        for formula, array in trace.input_forward:
            writer.line(formula, array)
        writer.line("a⁰", trace.layers[0].a_prev)
    for below, step in zip([None, *trace.layers], trace.layers):
        k = _sup(step.number)
        a_prev = _dropped_input(below)
        writer.line(f"z{k} = {a_prev} W{k}" + (f" + b{k}" if step.b is not None else ""), step.z)
        writer.line(f"a{k} = {step.activation}(z{k})", step.a)
        if step.mask is not None:
            writer.line(f"M{k} (dropout {step.dropout:g}: kept units × 1/{1 - step.dropout:g}, dropped 0)", step.mask)
            writer.line(f"a{k} ⊙ M{k}, what layer {step.number + 1} sees", step.a * step.mask)


def _loss_section(writer: _Writer, trace) -> None:
    writer.heading("2. Loss")
    writer.line(f"ŷ = a{_sup(len(trace.layers))}", trace.y_hat)
    writer.line("y", trace.y)
    writer.note(f"L = {trace.loss:.6g}" + (" (includes the L2 penalty λ/2 ΣW²)" if trace.l2 else ""))


def _backward_section(writer: _Writer, trace) -> None:
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
    if trace.input_backward:
        writer.out.append("  on into the input stage, from ∂L/∂a⁰ = δ¹ (W¹)ᵀ:")
    for formula, array in trace.input_backward:
        writer.line(formula, array)
    for number, units in trace.dead_units.items():
        everything = len(units) == trace.layers[number - 1].z.shape[1]
        writer.note(f"note: {'every' if everything else 'some'} unit of layer {number} "
                    f"({', '.join(map(str, units))}) passed no gradient: f'(z) = 0 there "
                    "(a ReLU with z <= 0 is 'dead' for this input)"
                    + ("; the layers below it learn nothing from this step" if everything else ""))


def _dropped_input(below) -> str:
    """How the input of the layer above ``below`` is written: ``a⁰``, ``a^l`` or ``(a^l ⊙ M^l)``."""
    if below is None:
        return "a⁰"
    k = _sup(below.number)
    return f"a{k}" if below.mask is None else f"(a{k} ⊙ M{k})"


def _update_section(writer: _Writer, trace) -> None:
    writer.heading("4. Update" + ("" if trace.applied else " (not applied to the model)"))
    writer.note(f"{trace.optimizer}, η = {trace.learning_rate:g}, step t = {trace.step_number}")
    writer.note("rule, for every weight and bias array W (g = ∂L/∂W):")
    for line in trace.update_rule.splitlines():
        writer.note(f"    {line}")
    writer.note("g is each array's gradient from step 3; each term below is computed from the lines above it")
    for step in trace.layers:
        k = _sup(step.number)
        _parameter_update(writer, trace, f"W{k}", step.W, step.dW, step.W_new, step.state_before, step.state, 0)
        if step.b is not None:
            _parameter_update(writer, trace, f"b{k}", step.b, step.db, step.b_new, step.state_before, step.state, 1)


def _parameter_update(writer, trace, name, before, gradient, after, state_before, state_after, part,
                      column=None) -> None:
    """One parameter array's update (``part`` 0: weights, 1: biases; ``column``: one unit's only)."""
    pick = (lambda array: array) if column is None else (lambda array: array[..., column])
    old = {key: pick(value[part]) for key, value in (state_before or {}).items() if value[part] is not None}
    lines = None if trace.optimizer_config is None else \
        terms(trace.optimizer_config, trace.step_number, trace.learning_rate, name, pick(before), pick(gradient), old)
    writer.out.append("")
    writer.line(f"{name} before", pick(before))
    writer.line(f"g = ∂L/∂{name}", pick(gradient))
    if lines is None:                    # (a custom optimizer: its state after the step)
        writer.line(f"{name} after", pick(after))
        for key, value in (state_after or {}).items():
            writer.line(f"{key} of {name} after", None if value[part] is None else pick(value[part]))
        return
    for formula, value in lines:
        writer.line(formula, value)


def render_unit(trace, unit, markdown: bool) -> str:
    """One unit's chain: ``unit = (layer, unit)``, both numbered from 1."""
    layer, j = _check_unit(trace, unit)
    step = trace.layers[layer - 1]
    writer = _Writer(markdown)
    k, sub = _sup(layer), _sub(j)
    title = f"Unit {j} of layer {layer} ({step.activation}) in one training step on {len(trace.x)} sample(s)"
    writer.out.append(f"# {title}" if markdown else title)
    rows = range(min(len(trace.x), MAX_ROWS))
    writer.heading("Forward: its weighted sum and its activation")
    below = "a⁰" if layer == 1 else f"a{_sup(layer - 1)}"
    for r in rows:
        products = [f"{_factor(step.a_prev[r, i])} × {_factor(step.W[i, j - 1])}" for i in range(step.W.shape[0])]
        bias = "" if step.b is None else f" + {_factor(step.b[j - 1])}"
        writer.note(f"row {r + 1}: z{k}{sub} = Σᵢ {below}ᵢ W{k}ᵢ{sub}" + ("" if step.b is None else f" + b{k}{sub}")
                    + f" = {_sum(products)}{bias} = {_number(step.z[r, j - 1])}")
        argument = f"(z{k}){sub}" if step.activation == "softmax" else f"(z{k}{sub})"   # (softmax reads every z)
        writer.note(f"row {r + 1}: a{k}{sub} = {step.activation}{argument} = {_number(step.a[r, j - 1])}")
    _unit_backward(writer, trace, layer, j, rows)
    writer.heading("Its weights' gradients: a sum over the rows")
    for i in range(step.W.shape[0]):
        products = [f"{_factor(step.a_prev[r, i])} × {_factor(step.delta[r, j - 1])}" for r in range(len(trace.x))]
        l2 = f" + λ W{k}{_sub(i + 1)}{sub}" if trace.l2 else ""
        writer.note(f"∂L/∂W{k}{_sub(i + 1)}{sub} = Σ_rows {below}{_sub(i + 1)} δ{k}{sub}{l2} = "
                    f"{_sum(products)}{' + …' if trace.l2 else ''} = {_number(step.dW[i, j - 1])}")
    if step.db is not None:
        writer.note(f"∂L/∂b{k}{sub} = Σ_rows δ{k}{sub} = {_number(step.db[j - 1])}")
    writer.heading("Its update" + ("" if trace.applied else " (not applied to the model)"))
    _parameter_update(writer, trace, f"W{k}ᵢ{sub}", step.W, step.dW, step.W_new, step.state_before, step.state, 0,
                      j - 1)
    if step.b is not None:
        _parameter_update(writer, trace, f"b{k}{sub}", step.b, step.db, step.b_new, step.state_before, step.state, 1,
                          j - 1)
    if len(trace.x) > MAX_ROWS:
        writer.note(f"(rows {MAX_ROWS + 1} to {len(trace.x)} are summed alike; their forward and backward lines are "
                    "left out)")
    return "\n".join(writer.out) + "\n"


def _unit_backward(writer, trace, layer, j, rows) -> None:
    step, k, sub = trace.layers[layer - 1], _sup(layer), _sub(j)
    writer.heading("Backward: the gradient that reaches it, and its δ")
    last = layer == len(trace.layers)
    for r in rows:
        if last and trace.fused:
            writer.note(f"row {r + 1}: δ{k}{sub} = (ŷ{sub} − y{sub}) / N = ({_number(step.a[r, j - 1])} − "
                        f"{_factor(trace.y[r, j - 1])}) / {len(trace.x)} = {_number(step.delta[r, j - 1])}   "
                        f"[{step.activation} fused with {trace.loss_name}]")
            continue
        if last:
            writer.note(f"row {r + 1}: ∂L/∂a{k}{sub} = ∂L/∂ŷ{sub} (the loss's derivative) = "
                        f"{_number(step.dA[r, j - 1])}")
        else:
            above = trace.layers[layer]
            products = [f"{_factor(above.delta[r, m])} × {_factor(above.W[j - 1, m])}" for m in range(above.W.shape[1])]
            mask = "" if step.mask is None else f" × M{k}{sub} ({_number(step.mask[r, j - 1])}, dropout)"
            writer.note(f"row {r + 1}: ∂L/∂a{k}{sub} = Σₘ δ{_sup(layer + 1)}ₘ W{_sup(layer + 1)}{sub}ₘ{mask} = "
                        f"{_sum(products)} = {_number(step.dA[r, j - 1])}")
        if step.fprime is None:
            writer.note(f"row {r + 1}: δ{k}{sub} = Σₘ ∂L/∂a{k}ₘ ∂a{k}ₘ/∂z{k}{sub} (softmax mixes its units) = "
                        f"{_number(step.delta[r, j - 1])}")
            continue
        writer.note(f"row {r + 1}: f'(z{k}{sub}) = {step.activation}'({_number(step.z[r, j - 1])}) = "
                    f"{_number(step.fprime[r, j - 1])}")
        writer.note(f"row {r + 1}: δ{k}{sub} = ∂L/∂a{k}{sub} × f'(z{k}{sub}) = {_factor(step.dA[r, j - 1])} × "
                    f"{_factor(step.fprime[r, j - 1])} = {_number(step.delta[r, j - 1])}")


def _check_unit(trace, unit) -> tuple[int, int]:
    """``(layer, unit)`` checked against the traced network (both from 1)."""
    try:
        layer, j = (int(part) for part in unit)
    except (TypeError, ValueError):
        raise ValueError(f"unit: expected (layer, unit), both numbered from 1, got {unit!r}") from None
    if not 1 <= layer <= len(trace.layers):
        raise ValueError(f"unit: layer {layer} does not exist; the network's layers are 1 to {len(trace.layers)}")
    width = trace.layers[layer - 1].z.shape[1]
    if not 1 <= j <= width:
        raise ValueError(f"unit: layer {layer} has units 1 to {width}, got {j}")
    return layer, j


def _factor(value) -> str:
    """A number as a factor of a product: negative ones in parentheses."""
    text = _number(value)
    return f"({text})" if text.startswith("-") else text


def _sum(products: list) -> str:
    """``a × b + c × d + …`` (at most :data:`MAX_TERMS` products written out)."""
    shown = " + ".join(products[:MAX_TERMS])
    return shown + (f" + … ({len(products) - MAX_TERMS} more)" if len(products) > MAX_TERMS else "")
