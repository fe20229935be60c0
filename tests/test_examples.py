"""Every example runs to completion (with few epochs)."""

import os
import pathlib
import subprocess
import sys

import pytest

EXAMPLES = sorted((pathlib.Path(__file__).parent.parent / "examples").glob("*.py"))

# what each example must print (besides running without error)
EXPECTED = {
    "seed_001_single_neuron.py": "Predicted output: [[0.99993703]]",
    "seed_002_manual_vs_library.py": "largest relative difference over 1,000 epochs: ",
    "train_digits.py": "test accuracy",
    "regression_placement.py": "test MSE",
    "classification_iris.py": "test accuracy",
    "compare_frameworks.py": "largest relative difference ours vs pytorch: ",
}


def test_every_example_has_an_expectation():
    assert sorted(EXPECTED) == [p.name for p in EXAMPLES]


@pytest.mark.parametrize("script", EXAMPLES, ids=lambda p: p.name)
def test_example_runs(script, tmp_path):
    pytest.importorskip("sklearn")
    env = {**os.environ, "BACKPROP_EXAMPLE_EPOCHS": "3", "MPLBACKEND": "Agg"}
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert EXPECTED[script.name] in result.stdout
    if script.name == "seed_002_manual_vs_library.py":
        gap = float(result.stdout.rsplit(": ", 1)[1])
        assert gap < 1e-12
    if script.name == "compare_frameworks.py":
        line = next(x for x in result.stdout.splitlines() if "ours vs pytorch" in x)
        assert float(line.split(": ")[1].split(" ")[0]) < 1e-12    # manual backprop == autograd
        assert "ours vs keras" in result.stdout
