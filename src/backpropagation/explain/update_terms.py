"""An optimizer's step written out term by term, so that a learner can check it by hand.

:func:`describe` names an optimizer as it was configured (``SGD with momentum (μ = 0.9)``), and
:func:`terms` computes, for one parameter array, every intermediate quantity of the textbook
formula from the state before the step, in order, ending with the new parameter values::

    Adam:  m ← β₁ m + (1 − β₁) g,   v ← β₂ v + (1 − β₂) g²,
           m̂ = m / (1 − β₁ᵗ),      v̂ = v / (1 − β₂ᵗ),      W ← W − η m̂ / (√v̂ + ε)

The optimizers themselves (:mod:`backpropagation.nn.optimizers`) compute the same rules in
another, faster order; the trace's tests hold the last term equal to the step the optimizer took.
"""

from __future__ import annotations

import numpy as np

#: The state arrays each built-in optimizer keeps, by class name (zeros before its first step).
STATE = {"SGD": ("velocity",), "RMSProp": ("mean_square",), "Adam": ("m", "v"), "AdamW": ("m", "v")}


def describe(optimizer) -> str:
    """The optimizer as configured, with its hyper-parameters, e.g. ``SGD with Nesterov momentum (μ = 0.9)``."""
    name = type(optimizer).__name__
    if name == "SGD":
        if not optimizer.momentum:
            return "SGD"
        kind = "Nesterov momentum" if optimizer.nesterov else "momentum"
        return f"SGD with {kind} (μ = {optimizer.momentum:g})"
    if name == "RMSProp":
        return f"RMSProp (ρ = {optimizer.rho:g}, ε = {optimizer.epsilon:g})"
    if name in ("Adam", "AdamW"):
        decay = f", λ = {optimizer.weight_decay:g}" if name == "AdamW" else ""
        return f"{name} (β₁ = {optimizer.beta_1:g}, β₂ = {optimizer.beta_2:g}, ε = {optimizer.epsilon:g}{decay})"
    return name


def terms(optimizer, t: int, lr: float, name: str, p: np.ndarray, g: np.ndarray, before: dict) -> list | None:
    """``[(formula, value), ...]``: the step of ``optimizer`` on parameter ``name`` (values ``p``
    before the step, gradient ``g``, the optimizer's arrays ``before`` it, missing ones zero) at
    step number ``t`` with learning rate ``lr``, term by term; the last is the new value of ``p``.
    None for an optimizer that is not a built-in one. (:func:`keyed_terms` adds a short key to each.)"""
    keyed = keyed_terms(optimizer, t, lr, name, p, g, before)
    return None if keyed is None else [(formula, value) for _, formula, value in keyed]


def keyed_terms(optimizer, t: int, lr: float, name: str, p: np.ndarray, g: np.ndarray, before: dict) -> list | None:
    """:func:`terms` as ``(key, formula, value)``: the key names the term for programs (``v_before``,
    ``mu_v``, ``v``, ``m_hat``, ``step``, ``new``, ...), the same whatever ``name`` is."""
    kind = type(optimizer).__name__
    if kind not in STATE:
        return None
    state = {key: before.get(key, np.zeros_like(p)) for key in STATE[kind]}
    if kind == "SGD":
        return _sgd(optimizer, lr, name, p, g, state.get("velocity"))
    if kind == "RMSProp":
        return _rmsprop(optimizer, lr, name, p, g, state["mean_square"])
    return _adam(optimizer, t, lr, name, p, g, state["m"], state["v"])


def _sgd(optimizer, lr, name, p, g, v):
    if not optimizer.momentum:
        return [("step", "η g", lr * g), ("new", f"{name} ← {name} − η g", p - lr * g)]
    mu = optimizer.momentum
    v_new = mu * v + g
    lines = [("v_before", "v before", v), ("mu_v", "μ v", mu * v), ("v", "v ← μ v + g", v_new)]
    if optimizer.nesterov:
        direction = g + mu * v_new
        return lines + [("lookahead", "g + μ v", direction), ("step", "η (g + μ v)", lr * direction),
                        ("new", f"{name} ← {name} − η (g + μ v)", p - lr * direction)]
    return lines + [("step", "η v", lr * v_new), ("new", f"{name} ← {name} − η v", p - lr * v_new)]


def _rmsprop(optimizer, lr, name, p, g, s):
    rho, eps = optimizer.rho, optimizer.epsilon
    s_new = rho * s + (1 - rho) * g**2
    denominator = np.sqrt(s_new) + eps
    return [("s_before", "s before", s), ("rho_s", "ρ s", rho * s), ("g2_share", "(1 − ρ) g²", (1 - rho) * g**2),
            ("s", "s ← ρ s + (1 − ρ) g²", s_new), ("denominator", "√s + ε", denominator),
            ("step", "η g / (√s + ε)", lr * g / denominator),
            ("new", f"{name} ← {name} − η g / (√s + ε)", p - lr * g / denominator)]


def _adam(optimizer, t, lr, name, p, g, m, v):
    b1, b2, eps = optimizer.beta_1, optimizer.beta_2, optimizer.epsilon
    lines = []
    if type(optimizer).__name__ == "AdamW":
        p = (1 - lr * optimizer.weight_decay) * p
        lines.append(("decayed", f"{name} ← (1 − η λ) {name}   (decay first)", p))
    m_new, v_new = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g**2
    m_hat, v_hat = m_new / (1 - b1**t), v_new / (1 - b2**t)
    step = lr * m_hat / (np.sqrt(v_hat) + eps)
    return lines + [
        ("m_before", "m before", m), ("beta1_m", "β₁ m", b1 * m), ("g_share", "(1 − β₁) g", (1 - b1) * g),
        ("m", "m ← β₁ m + (1 − β₁) g", m_new),
        ("v_before", "v before", v), ("beta2_v", "β₂ v", b2 * v), ("g2_share", "(1 − β₂) g²", (1 - b2) * g**2),
        ("v", "v ← β₂ v + (1 − β₂) g²", v_new),
        ("m_hat", f"m̂ = m / (1 − β₁ᵗ)   (t = {t}: 1 − β₁ᵗ = {1 - b1**t:.4g})", m_hat),
        ("v_hat", f"v̂ = v / (1 − β₂ᵗ)   (1 − β₂ᵗ = {1 - b2**t:.4g})", v_hat),
        ("denominator", "√v̂ + ε", np.sqrt(v_hat) + eps), ("step", "η m̂ / (√v̂ + ε)", step),
        ("new", f"{name} ← {name} − η m̂ / (√v̂ + ε)", p - step)]
