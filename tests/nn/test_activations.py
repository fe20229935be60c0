"""activations.py: each backward rule is the derivative of its forward rule, and both are stable."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from backpropagation import activations
from numeric import matrices, numeric_jvp

ACTIVATIONS = ["elu", "leaky_relu", "linear", "relu", "sigmoid", "softmax", "softplus", "swish", "tanh"]


def test_every_builtin_activation_is_checked():
    assert ACTIVATIONS == activations.names()


@pytest.mark.parametrize("name", ACTIVATIONS)
@settings(max_examples=25, deadline=None)
@given(Z=matrices, seed=st.integers(0, 2**16))
def test_activation_backward_is_the_derivative_of_forward(name, Z, seed):
    activation = activations.get(name)
    # keep clear of kinks (ReLU family at 0), where no derivative exists
    Z = np.where(np.abs(Z) < 1e-3, 0.5, Z)
    dA = np.random.default_rng(seed).normal(size=Z.shape)
    A = activation.forward(Z)
    np.testing.assert_allclose(activation.backward(Z, A, dA), numeric_jvp(activation.forward, Z, dA),
                               rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_derivative_is_one_above_zero_and_zero_elsewhere(dtype):
    relu = activations.get("relu")
    Z = np.array([[-3.0, -1e-30, -0.0, 0.0, 1e-30, 2.0]], dtype=dtype)
    dA = np.full_like(Z, 5.0)
    delta = relu.backward(Z, relu.forward(Z), dA)
    assert delta.dtype == dtype
    assert delta.tolist() == [[0.0, 0.0, 0.0, 0.0, 5.0, 5.0]]  # the derivative at 0 is taken as 0


def test_sigmoid_and_softmax_are_stable_for_huge_inputs():
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        s = activations.get("sigmoid").forward(np.array([[-1000.0, 0.0, 1000.0]]))
        p = activations.get("softmax").forward(np.array([[1000.0, 0.0, -1000.0]]))
    np.testing.assert_allclose(s, [[0.0, 0.5, 1.0]])
    np.testing.assert_allclose(p, [[1.0, 0.0, 0.0]])
