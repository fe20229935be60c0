"""Checks for the exercises: the learner writes a backward pass or an optimizer's step, and the
check compares every quantity with the library's, in the order they are computed, and names the
first one that is missing or wrong (which layer, which term), with a hint where the mistake is a
common one (a sign, a transpose, a factor such as the 2 or the 1/N)::

    from backpropagation.explain.exercises import check_backward
    print(check_backward(backward))      # a Verdict: .passed, .quantity, str() says what to do

The network of :func:`check_backward` is fixed (2 inputs, 3 tanh units, 1 linear output, the
mean squared error, a batch of 4 rows), so that every learner meets the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: What the learner's ``backward`` returns, in the order the backward pass computes it.
BACKWARD = {
    "delta2": "δ², the output layer's ∂L/∂Z² (N × 1)",
    "dW2": "∂L/∂W², layer 2's weight gradient (3 × 1)",
    "db2": "∂L/∂b², layer 2's bias gradient (1,)",
    "dA1": "∂L/∂A¹, the gradient reaching layer 1's activations (N × 3)",
    "delta1": "δ¹, layer 1's ∂L/∂Z¹ (N × 3)",
    "dW1": "∂L/∂W¹, layer 1's weight gradient (2 × 3)",
    "db1": "∂L/∂b¹, layer 1's bias gradient (3,)",
}
#: The optimizers :func:`check_optimizer` knows, and the arrays their steps return (with what each is).
OPTIMIZERS = {"momentum": {"v": "the velocity, v ← μ v + g", "W": "the weights, W ← W − η v"},
              "adam": {"m": "the first moment, m ← β₁ m + (1 − β₁) g",
                       "v": "the second moment, v ← β₂ v + (1 − β₂) g²",
                       "W": "the weights, W ← W − η m̂ / (√v̂ + ε)"}}


@dataclass
class Verdict:
    """The result of a check: ``passed``, the first ``quantity`` missing or wrong (None when
    passed), and ``message``, what to do next (``str(verdict)``)."""

    passed: bool
    quantity: str | None
    message: str

    def __str__(self) -> str:
        return self.message

    def __bool__(self) -> bool:
        return self.passed


def exercise_network():
    """The exercise's network (fixed weights) and batch: ``(model, X, y)``."""
    from ..network import NeuralNetwork

    model = NeuralNetwork([2, 3, 1], hidden_activation="tanh", loss="mse", optimizer="sgd", learning_rate=0.1,
                          standardize_target=False)
    model.set_weights([(np.array([[0.5, -0.4, 0.3], [0.2, 0.6, -0.7]]), np.array([0.1, 0.0, -0.2])),
                       (np.array([[0.8], [-0.5], [0.4]]), np.array([0.05]))])
    X = np.array([[1.0, 2.0], [-0.5, 0.3], [0.7, -1.2], [0.0, 0.9]])
    y = np.array([1.0, -0.5, 0.3, 0.8])
    return model, X, y


def forward_cache():
    """What the forward pass leaves for the backward pass, as the exercise's ``backward`` gets it:
    ``dict(X, Y, W1, b1, Z1, A1, W2, b2, Y_hat)`` (arrays; ``Y`` is ``y`` as a column)."""
    model, X, y = exercise_network()
    (W1, b1), (W2, b2) = model.get_weights()
    Z1 = X @ W1 + b1
    A1 = np.tanh(Z1)
    return dict(X=X, Y=y[:, None], W1=W1, b1=b1, Z1=Z1, A1=A1, W2=W2, b2=b2, Y_hat=A1 @ W2 + b2)


def expected_backward() -> dict:
    """The library's own backward pass on the exercise's network and batch, by the names of :data:`BACKWARD`."""
    model, X, y = exercise_network()
    trace = model.trace(X, y)
    hidden, out = trace.layers
    return {"delta2": out.delta, "dW2": out.dW, "db2": out.db, "dA1": hidden.dA, "delta1": hidden.delta,
            "dW1": hidden.dW, "db1": hidden.db}


def check_backward(backward) -> Verdict:
    """Run the learner's ``backward(**forward_cache())`` (returning a dict of the names of
    :data:`BACKWARD`) and compare each quantity, in order, with the library's backward pass."""
    try:
        got = backward(**forward_cache())
    except Exception as error:         # (the learner's code: any mistake is theirs to see, named)
        return Verdict(False, None, f"Not yet: backward(...) raised {type(error).__name__}: {error}")
    if not isinstance(got, dict):
        return Verdict(False, None, f"Not yet: backward(...) must return a dict with the keys {list(BACKWARD)}, "
                                    f"got {type(got).__name__}")
    expected = expected_backward()
    for name, meaning in BACKWARD.items():
        verdict = _compare(name, meaning, got.get(name), expected[name])
        if verdict is not None:
            return verdict
    return Verdict(True, None, f"All {len(BACKWARD)} quantities equal the library's backward pass: "
                               "you have written backpropagation.")


def check_optimizer(step, optimizer: str = "adam", steps: int = 3) -> Verdict:
    """Run the learner's ``step`` for ``steps`` steps on a small parameter array and compare each
    array it returns with what the library's optimizer holds after the same steps.

    ``momentum``: ``step(W, g, v, lr, momentum) -> (v, W)``; ``adam``:
    ``step(W, g, m, v, t, lr, beta_1, beta_2, epsilon) -> (m, v, W)`` (``t`` counts from 1)."""
    from ..nn import optimizers

    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer: expected one of {sorted(OPTIMIZERS)}, got {optimizer!r}")
    reference = optimizers.get(optimizer)
    rng = np.random.default_rng(7)
    W = rng.normal(size=5)
    names = list(OPTIMIZERS[optimizer])
    mine, library, state = W.copy(), W.copy(), {name: np.zeros(5) for name in names[:-1]}
    for t in range(1, steps + 1):
        g = rng.normal(size=5)
        reference.step(library, g, 0.1)
        try:
            if optimizer == "momentum":
                returned = step(mine.copy(), g.copy(), state["v"].copy(), 0.1, reference.momentum)
            else:
                returned = step(mine.copy(), g.copy(), state["m"].copy(), state["v"].copy(), t, 0.1,
                                reference.beta_1, reference.beta_2, reference.epsilon)
        except Exception as error:     # (the learner's code)
            return Verdict(False, None, f"Not yet: step(...) raised {type(error).__name__}: {error}")
        if not isinstance(returned, tuple) or len(returned) != len(names):
            return Verdict(False, None, f"Not yet: step(...) must return the tuple ({', '.join(names)})")
        truth = {**reference.get_state(), "W": library}
        truth = {"v": truth["velocity"], "W": library} if optimizer == "momentum" else truth
        for name, value in zip(names, returned):
            verdict = _compare(name, f"{OPTIMIZERS[optimizer][name]}, at step t = {t}", value, truth[name])
            if verdict is not None:
                return verdict
        state, mine = dict(zip(names[:-1], returned[:-1])), np.asarray(returned[-1], dtype=float)
    return Verdict(True, None, f"All {steps} steps equal the library's {optimizer}: you have written its update.")


def _compare(name: str, meaning: str, got, expected) -> Verdict | None:
    """None when ``got`` equals ``expected``; else a Verdict naming the quantity and the likely mistake."""
    if got is None:
        return Verdict(False, name, f"Not yet: fill in {name}, {meaning}.")
    try:
        got = np.asarray(got, dtype=float)
    except (TypeError, ValueError):
        return Verdict(False, name, f"{name} ({meaning}) is not an array of numbers: got {type(got).__name__}.")
    expected = np.asarray(expected, dtype=float)
    if got.shape != expected.shape:
        hint = " (a transpose?)" if got.shape == expected.shape[::-1] else \
            " (summed over the wrong axis, or not summed over the rows?)" if got.size != expected.size else ""
        return Verdict(False, name, f"{name} ({meaning}) has shape {got.shape}, expected {expected.shape}{hint}.")
    if np.allclose(got, expected, rtol=1e-9, atol=1e-12):
        return None
    return Verdict(False, name, f"{name} ({meaning}) is wrong{_hint(got, expected)}: expected\n{np.round(expected, 6)}"
                                f"\ngot\n{np.round(got, 6)}")


def _hint(got: np.ndarray, expected: np.ndarray) -> str:
    """A likely cause: a flipped sign or a constant factor (2, 1/N, ...)."""
    if np.allclose(got, -expected, rtol=1e-9, atol=1e-12):
        return " (its sign is flipped)"
    nonzero = np.abs(expected) > 1e-12
    if nonzero.any() and np.allclose(got[~nonzero], 0, atol=1e-12):
        ratios = got[nonzero] / expected[nonzero]
        if np.allclose(ratios, ratios[0], rtol=1e-9) and abs(ratios[0]) > 1e-12:
            return f" (every entry is {ratios[0]:.4g} times the right one: a missing or extra factor?)"
    return ""
