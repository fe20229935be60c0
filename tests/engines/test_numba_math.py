"""The compiled loops' own exp and sigmoid: within an ulp of NumPy's, NaN and infinities kept,
arguments beyond the branch-free range served by libm."""

import numpy as np
import pytest

pytest.importorskip("numba")

from numba import njit  # noqa: E402

from backpropagation.nn.activations import Sigmoid, Swish  # noqa: E402
from backpropagation.engines import numba_math  # noqa: E402

EDGES = [0.0, -0.0, -1e-300, 1e-300, -708.0, -708.1, -745.2, -800.0, 708.0, 800.0, np.inf, -np.inf, np.nan]


@njit(cache=False)
def _exps(x, out):
    for i in range(x.size):
        out[i] = numba_math.exp_nonpositive(x[i])


def test_exp_of_nonpositive_numbers_is_within_an_ulp_of_numpy_s():
    x = np.concatenate([-np.random.default_rng(0).uniform(0, 708, 200_000), -np.linspace(0, 708, 10_001),
                        -np.logspace(-300, 2.8, 1_000)])
    out = np.empty_like(x)
    _exps(x, out)
    assert np.max(np.abs(out - np.exp(x)) / np.exp(x)) <= np.finfo(np.float64).eps


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("activation,times_z", [(Sigmoid(), False), (Swish(), True)])
def test_a_block_s_sigmoid_and_swish_equal_the_reference_activations(activation, times_z, dtype):
    z = np.concatenate([np.random.default_rng(1).normal(0, 8, 20_000), np.linspace(-900, 900, 3_001), EDGES])
    z = z.astype(dtype)
    out = np.empty_like(z)
    with np.errstate(invalid="ignore", over="ignore"):
        expected = activation.forward(z)
    numba_math.sigmoid_block(z, out, times_z)
    np.testing.assert_array_equal(np.isnan(out), np.isnan(expected))
    finite = ~np.isnan(expected)
    # float64: an ulp or two; float32: the reference rounds each of its steps to float32, the
    # block computes in float64 and rounds once, so they part by a few float32 ulps
    tolerance = dict(rtol=2 * np.finfo(dtype).eps, atol=1e-300) if dtype == "float64" else dict(rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(out[finite], expected[finite], **tolerance)
