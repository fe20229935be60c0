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


@pytest.mark.parametrize("smoothing", [0.1, 0.3])
def test_label_smoothing_equals_pytorch_cross_entropy(smoothing):
    torch = pytest.importorskip("torch")
    from backpropagation.nn.activations import Softmax

    rng = np.random.default_rng(0)
    Z, labels = rng.normal(size=(6, 4)) * 3, rng.integers(0, 4, 6)
    Y = np.eye(4)[labels]
    loss = losses.with_label_smoothing(losses.get("categorical_crossentropy"), smoothing)
    logits = torch.tensor(Z, requires_grad=True)
    reference = torch.nn.CrossEntropyLoss(label_smoothing=smoothing)(logits, torch.tensor(labels))
    reference.backward()
    assert loss.fused_forward(Y, Z) == pytest.approx(reference.item(), rel=1e-13)
    np.testing.assert_allclose(loss.fused_backward(Y, Softmax().forward(Z)), logits.grad.numpy(), rtol=1e-12)
    assert loss.forward(Y, Softmax().forward(Z)) == pytest.approx(reference.item(), rel=1e-9)


def test_binary_label_smoothing_moves_targets_halfway_by_epsilon_and_checks():
    from backpropagation.nn.activations import Sigmoid

    loss = losses.with_label_smoothing(losses.get("binary_crossentropy"), 0.2)
    Y, Z = np.array([[1.0], [0.0]]), np.array([[0.5], [-2.0]])
    targets = np.array([[0.9], [0.1]])                           # (1 - 0.2) y + 0.2 / 2
    plain = losses.get("binary_crossentropy")
    assert loss.fused_forward(Y, Z) == pytest.approx(plain.fused_forward(targets, Z), rel=1e-15)
    np.testing.assert_allclose(loss.fused_backward(Y, Sigmoid().forward(Z)), (Sigmoid().forward(Z) - targets) / 2)
    with pytest.raises(ValueError, match="label_smoothing: applies to the cross-entropy losses"):
        losses.with_label_smoothing(losses.get("mse"), 0.1)
    with pytest.raises(ValueError, match=r"label_smoothing: expected a number in \[0, 1\), got 1.0"):
        losses.with_label_smoothing(plain, 1.0)
