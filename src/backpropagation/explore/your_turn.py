"""Your turn: the page hides one number of the last step, the learner computes it, and the library judges.

:func:`pick` chooses a quantity of a traced step (a hidden unit's δ or ∂L/∂a, a cell of ∂L/∂W,
an updated weight, or the optimizer's new state for that weight) and says how it is made from
numbers the page shows. :func:`judge` compares the learner's number with the library's and,
when it is wrong, tries the usual slips one by one (a instead of f'(z), no sum over the rows, a
flipped sign, the learning rate left out, ...) and names the one that reproduces the learner's
number. Units are numbered from 1 in what the learner reads; ``row``/``col`` stay 0-based, as
the page's ``data-row``/``data-col`` attributes.
"""

from __future__ import annotations

import numpy as np

#: How close a typed number must be: the page shows four decimals, so a hand computation from
#: shown numbers is off by rounding.
RELATIVE, ABSOLUTE = 0.01, 1e-6


def pick(trace, rng: np.random.Generator, kinds=None) -> dict:
    """A quantity of ``trace`` to hide: ``{"quantity", "layer", "row", "col", "prompt"}``."""
    layers = trace.layers
    options = []
    for step in layers[:-1]:                 # hidden layers: their δ and ∂L/∂a
        if step.fprime is not None and step.dA is not None:
            options += [("delta", step.number), ("dA", step.number)]
    options += [("dW", step.number) for step in layers] + [("W_new", step.number) for step in layers]
    options += [(name, step.number) for step in layers for name in (step.state or {})]
    if kinds:
        options = [option for option in options if option[0] in kinds] or options
    quantity, layer = options[rng.integers(len(options))]
    step = layers[layer - 1]
    if quantity in ("delta", "dA"):
        row, col = 0, int(rng.integers(step.z.shape[1]))
    else:
        row, col = int(rng.integers(step.W.shape[0])), int(rng.integers(step.W.shape[1]))
    return {"quantity": quantity, "layer": layer, "row": row, "col": col,
            "prompt": prompt(trace, quantity, layer, row, col)}


def prompt(trace, quantity: str, layer: int, row: int, col: int) -> str:
    """What to compute, in words and the trace's notation (units from 1)."""
    k, i, j = _sup(layer), row + 1, col + 1
    rows = len(trace.x)
    if quantity == "delta":
        return f"δ{k}[{j}] of row 1: ∂L/∂a{k}[{j}] times f'(z{k}[{j}])"
    if quantity == "dA":
        above = _sup(layer + 1)
        return f"∂L/∂a{k}[{j}] of row 1: the sum over the units m of layer {layer + 1} of δ{above}[m] · W{above}[{j},m]"
    if quantity == "dW":
        over = f", summed over the {rows} rows" if rows > 1 else ""
        return f"∂L/∂W{k}[{i},{j}]: a{_sup(layer - 1)}[{i}] · δ{k}[{j}]{over}" + (" (plus λ W)" if trace.l2 else "")
    if quantity == "W_new":
        return f"W{k}[{i},{j}] after the update ({trace.optimizer}, η = {trace.learning_rate:g})"
    return f"{quantity} of W{k}[{i},{j}] after the update ({trace.optimizer})"


def expected(trace, quantity: str, layer: int, row: int, col: int) -> float:
    """The library's number for the hidden quantity."""
    step = trace.layers[layer - 1]
    if quantity in ("delta", "dA"):
        return float(getattr(step, quantity)[0, col])
    if quantity in ("dW", "W_new"):
        return float(getattr(step, quantity)[row, col])
    return float(step.state[quantity][0][row, col])


def judge(trace, quantity: str, layer: int, row: int, col: int, value) -> dict:
    """``{"right": bool, "message"}`` for the learner's ``value``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise ValueError(f"value: expected a number, got {value!r}")
    truth = expected(trace, quantity, layer, row, col)
    if close(value, truth):
        return {"right": True, "message": f"Right: the library computed {truth:.6g}."}
    for slip, wrong in slips(trace, quantity, layer, row, col):
        if close(value, wrong) and not close(wrong, truth):
            return {"right": False, "message": f"Not quite: {slip}. Try again."}
    return {"right": False, "message": "Not quite, and not a slip we recognise: recompute it term by term from the "
                                       "numbers shown, then try again."}


def close(value: float, target: float) -> bool:
    return abs(value - target) <= max(RELATIVE * abs(target), ABSOLUTE)


def slips(trace, quantity: str, layer: int, row: int, col: int):
    """``(what went wrong, the number it gives)`` for the usual mistakes on this quantity."""
    step, truth = trace.layers[layer - 1], expected(trace, quantity, layer, row, col)
    yield "the sign is flipped", -truth
    if quantity == "delta":
        dA, z, a, slope = step.dA[0, col], step.z[0, col], step.a[0, col], step.fprime[0, col]
        yield "you used ∂L/∂a alone: δ also multiplies by the slope f'(z)", dA
        yield "you multiplied by a instead of by the slope f'(z)", dA * a
        yield "you multiplied by z instead of by the slope f'(z)", dA * z
        yield "you used the slope f'(z) alone: multiply it by ∂L/∂a", slope
    elif quantity == "dA":
        above = trace.layers[layer]
        terms = above.delta[0] * above.W[col]
        for m, term in enumerate(terms):
            yield f"you took one term of the sum (unit {m + 1}): ∂L/∂a adds a term for every unit it feeds", term
        yield "you added the δ's without their weights W", above.delta[0].sum()
        if above.W.shape[0] == above.W.shape[1]:
            yield "you used the row of W instead of its column: it is W[j,m], j the unit below", \
                float(above.delta[0] @ above.W[:, col])
        if step.mask is not None:
            yield "you left out the dropout mask", float(terms.sum())
    elif quantity == "dW":
        a_prev, delta = step.a_prev[:, row], step.delta[:, col]
        yield "you used the first row only: ∂L/∂W sums a·δ over every row of the batch", a_prev[0] * delta[0]
        fits = col < step.a_prev.shape[1] and row < step.delta.shape[1]
        yield "you swapped the units: it is a of the unit below times δ of the unit above", \
            float(step.a_prev[:, col] @ step.delta[:, row]) if fits else np.nan
        if trace.l2:
            yield "you left out the L2 term λ W", float(a_prev @ delta)
    elif quantity == "W_new":
        W, g, eta = step.W[row, col], step.dW[row, col], trace.learning_rate
        yield "you added the step: gradient descent subtracts it", W + (W - truth)
        yield "you left out the learning rate η", W - (W - truth) / eta
        yield "you stepped along g: this optimizer steps along its own state (velocity, or m̂ / (√v̂ + ε))", W - eta * g
        yield "you gave the step, not the new weight: W − step", W - truth
    else:
        g = step.dW[row, col]
        before = (step.state_before or {}).get(quantity)
        old = 0.0 if before is None else before[0][row, col]
        yield "you gave the gradient alone: the new state also keeps a share of the old one", g
        yield "you gave the old state: the new one adds this step's gradient", old
        yield "you used g where the rule has g²", truth + (g - g * g) * (1 - _decay(trace, quantity))


def _decay(trace, quantity: str) -> float:
    """The decay factor of the state ``quantity`` in the trace's optimizer (β₁, β₂ or μ)."""
    optimizer = trace.optimizer_config
    return {"velocity": getattr(optimizer, "momentum", 0.0), "m": getattr(optimizer, "beta_1", 0.0),
            "v": getattr(optimizer, "beta_2", 0.0)}.get(quantity, 0.0)


def _sup(number: int) -> str:
    return str(number).translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹"))
