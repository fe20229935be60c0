"""The exercises' checks: the answers pass, the notebooks as shipped say what to fill in, and a
wrong quantity is named with the likely mistake."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from backpropagation.explain.exercises import check_backward, check_optimizer

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("answers", ROOT / "examples" / "exercise_answers.py")
answers = importlib.util.module_from_spec(spec)
spec.loader.exec_module(answers)


def test_the_answers_pass_every_check():
    for verdict in (check_backward(answers.backward), check_optimizer(answers.momentum_step, "momentum"),
                    check_optimizer(answers.adam_step, "adam")):
        assert verdict.passed and verdict.quantity is None and "equal the library" in str(verdict)


def with_mistake(**changes):
    """The answer's backward pass with some quantities replaced (functions of the right values)."""
    def backward(**cache):
        right = answers.backward(**cache)
        return {**right, **{name: change(right, cache) for name, change in changes.items()}}
    return backward


@pytest.mark.parametrize("changes,quantity,hint", [
    ({"delta2": lambda r, c: r["delta2"] * len(c["X"])}, "delta2", "4 times the right one"),         # no 1/N
    ({"delta2": lambda r, c: r["delta2"] / 2}, "delta2", "0.5 times the right one"),                  # no 2
    ({"dW1": lambda r, c: r["dW1"].T}, "dW1", "a transpose?"),
    ({"db2": lambda r, c: r["delta2"]}, "db2", "not summed over the rows?"),
    ({"dA1": lambda r, c: -r["dA1"]}, "dA1", "its sign is flipped"),
    ({"delta1": lambda r, c: r["dA1"] * (1 - np.tanh(c["Z1"]))}, "delta1", "is wrong"),                # tanh' wrong
    ({"dW2": lambda r, c: None}, "dW2", "Not yet: fill in dW2"),
])
def test_the_first_wrong_quantity_is_named_with_its_likely_mistake(changes, quantity, hint):
    verdict = check_backward(with_mistake(**changes))
    assert not verdict.passed and verdict.quantity == quantity and hint in str(verdict)


def test_the_notebooks_as_shipped_fail_and_say_what_to_fill_in():
    import os
    import subprocess
    import sys

    for name, expected in (("exercise_backward", ["Not yet: fill in delta2"]),
                           ("exercise_optimizer",
                            ["Not yet: fill in v, the velocity", "Not yet: fill in m, the first"])):
        done = subprocess.run([sys.executable, str(ROOT / "examples" / f"{name}.py")], capture_output=True, text=True,
                              timeout=120, env={**os.environ, "MPLBACKEND": "Agg"})
        assert done.returncode == 0, done.stderr[-2000:]
        assert [line[:len(text)] for line, text in zip(done.stdout.splitlines(), expected)] == expected


def test_an_optimizer_step_without_bias_correction_is_named_at_its_first_step():
    def no_correction(W, g, m, v, t, lr, beta_1, beta_2, epsilon):
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        return m, v, W - lr * m / (np.sqrt(v) + epsilon)

    verdict = check_optimizer(no_correction, "adam")
    assert verdict.quantity == "W" and "at step t = 1" in str(verdict)
    assert check_optimizer(lambda W, g, v, lr, mu: (mu * v + g, W + lr * (mu * v + g)), "momentum").quantity == "W"
    assert "raised ZeroDivisionError" in str(check_optimizer(lambda *a: 1 / 0, "adam"))
    with pytest.raises(ValueError, match="optimizer: expected one of"):
        check_optimizer(answers.adam_step, "lion")
