"""Every example runs to completion (with few epochs)."""

import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).parent.parent / "examples").glob("*.py"))
#: Scripts paired with a notebook: tests/test_notebooks.py runs them (as notebooks) and checks
#: the same expected output, so they are not run twice.
WITH_NOTEBOOKS = {"one_neuron.py", "backprop_derived.py", "two_layers_by_hand.py", "exercise_backward.py",
                  "exercise_optimizer.py", "classification_iris.py", "regression_placement.py",
                  "compare_frameworks.py", "vanishing_gradients.py"}

# what each example must print (besides running without error)
EXPECTED = {
    "one_neuron.py": "Predicted output: [[0.99993703]]",
    "two_layers_by_hand.py": "largest relative difference over 1,000 epochs: ",
    "train_digits.py": "test accuracy",
    "regression_placement.py": "test MSE",
    "classification_iris.py": "test accuracy",
    "compare_frameworks.py": "largest relative difference ours vs pytorch: ",
    "vanishing_gradients.py": "every statement above holds for these runs",
    "explain_penguins.py": "permutation importance (accuracy",
    "backprop_derived.py": "the largest difference between the hand-written and the library's weights",
    "exercise_backward.py": "Not yet: fill in delta2",
    "exercise_optimizer.py": "Not yet: fill in v, the velocity",
    "exercise_answers.py": "All 7 quantities equal the library's backward pass",
}


def test_every_example_has_an_expectation():
    assert sorted(EXPECTED) == [p.name for p in EXAMPLES]


def check_output(name: str, stdout: str) -> None:
    """What the example ``name`` must print."""
    assert EXPECTED[name] in stdout
    if name == "two_layers_by_hand.py":
        line = next(x for x in stdout.splitlines() if x.startswith(EXPECTED[name]))
        assert float(line.rsplit(": ", 1)[1]) < 1e-12
        gradients = [x for x in stdout.splitlines() if "largest difference" in x]
        assert len(gradients) == 11 and all(float(x.split()[-1]) < 1e-15 for x in gradients)
    if name == "explain_penguins.py":        # the bill length separates Chinstraps from Adelies
        lines = stdout.splitlines()
        header = lines.index(next(x for x in lines if x.startswith("permutation")))
        assert lines[header + 2].startswith("bill_length_mm")
    if name == "compare_frameworks.py":
        line = next(x for x in stdout.splitlines() if "ours vs pytorch" in x)
        assert float(line.split(": ")[1].split(" ")[0]) < 1e-12    # manual backprop == autograd
        assert "ours vs keras" in stdout


@pytest.mark.parametrize("script", [p for p in EXAMPLES if p.name not in WITH_NOTEBOOKS], ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    pytest.importorskip("sklearn")
    env = {**os.environ, "BACKPROP_EXAMPLE_EPOCHS": "3", "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    check_output(script.name, result.stdout)
