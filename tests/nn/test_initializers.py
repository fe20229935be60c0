"""initializers.py: each initializer draws from the distribution its docstring names."""

import numpy as np
import pytest

from backpropagation import initializers

FAN_IN, FAN_OUT = 400, 300

# name -> (kind, spread): "normal" with that standard deviation, "uniform" on ±spread
EXPECTED = {
    "he_normal": ("normal", np.sqrt(2 / FAN_IN)),
    "he_uniform": ("uniform", np.sqrt(6 / FAN_IN)),
    "glorot_normal": ("normal", np.sqrt(2 / (FAN_IN + FAN_OUT))),
    "glorot_uniform": ("uniform", np.sqrt(6 / (FAN_IN + FAN_OUT))),
    "lecun_normal": ("normal", np.sqrt(1 / FAN_IN)),
    "fan_in_uniform": ("uniform", 1 / np.sqrt(FAN_IN)),
    "standard_normal": ("normal", 1.0),
    "uniform": ("uniform", 1.0),
}


def test_every_builtin_initializer_is_checked():
    assert sorted(EXPECTED) + ["zeros"] == sorted(initializers.names())


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_initializer_draws_its_distribution(name, dtype):
    W = initializers.get(name)(FAN_IN, FAN_OUT, np.random.default_rng(0), dtype)
    kind, spread = EXPECTED[name]
    assert W.shape == (FAN_IN, FAN_OUT) and W.dtype == dtype
    assert abs(W.mean()) < 0.02 * spread
    if kind == "normal":
        assert W.std() == pytest.approx(spread, rel=0.01)
    else:
        assert np.abs(W).max() <= spread and np.abs(W).max() > 0.99 * spread
        assert W.std() == pytest.approx(spread / np.sqrt(3), rel=0.01)


def test_zeros_and_reproducibility():
    assert not initializers.get("zeros")(3, 2, np.random.default_rng(0), np.float64).any()
    first = initializers.get("he_normal")(5, 4, np.random.default_rng(9), np.float64)
    np.testing.assert_array_equal(first, initializers.get("he_normal")(5, 4, np.random.default_rng(9), np.float64))
