"""losses.py: each loss gradient is the derivative of its loss, fused ones with respect to the logits."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from backpropagation import losses
from backpropagation.nn.activations import Sigmoid, Softmax
from numeric import finite, numeric_jvp


@pytest.mark.parametrize("name", ["mse", "mae", "huber", "binary_crossentropy", "categorical_crossentropy"])
@settings(max_examples=25, deadline=None)
@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 3)), seed=st.integers(0, 2**16))
def test_loss_backward_is_the_derivative_of_forward(name, shape, seed):
    rng = np.random.default_rng(seed)
    loss = losses.get(name)
    if "crossentropy" in name:
        A = rng.uniform(0.05, 0.95, size=shape)
        Y = rng.uniform(0, 1, size=shape)
    else:
        A, Y = rng.normal(size=shape), rng.normal(size=shape)
        A = np.where(np.abs(A - Y) < 1e-3, Y + 0.1, A)  # clear of |r| = 0 kinks
        if name == "huber":
            A = np.where(np.abs(np.abs(A - Y) - 1.0) < 1e-3, Y + 0.5, A)
    numeric = numeric_jvp(lambda P: loss.forward(Y, P), A, np.ones(()))
    np.testing.assert_allclose(loss.backward(Y, A), numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("name,activation", [("binary_crossentropy", Sigmoid()),
                                              ("categorical_crossentropy", Softmax())])
@settings(max_examples=25, deadline=None)
@given(Z=arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(2, 4)), elements=finite),
       seed=st.integers(0, 2**16))
def test_fused_loss_gradient_is_the_derivative_with_respect_to_logits(name, activation, Z, seed):
    rng = np.random.default_rng(seed)
    loss = losses.get(name)
    Y = rng.uniform(0, 1, size=Z.shape)
    if name == "categorical_crossentropy":
        Y /= Y.sum(axis=1, keepdims=True)
    numeric = numeric_jvp(lambda L: loss.fused_forward(Y, L), Z, np.ones(()))
    np.testing.assert_allclose(loss.fused_backward(Y, activation.forward(Z)), numeric, rtol=1e-5, atol=1e-8)
    # and the fused value is the plain loss of the activated output
    assert loss.fused_forward(Y, Z) == pytest.approx(loss.forward(Y, activation.forward(Z)), rel=1e-9)


def test_fused_losses_stay_finite_for_saturated_logits():
    Z = np.array([[800.0, -800.0]])
    assert np.isfinite(losses.get("categorical_crossentropy").fused_forward(np.array([[0.0, 1.0]]), Z))
    assert np.isfinite(losses.get("binary_crossentropy").fused_forward(np.array([[0.0]]), Z[:, :1]))
    assert losses.get("binary_crossentropy").fused_forward(np.array([[0.0]]), Z[:, :1]) == pytest.approx(800.0)
