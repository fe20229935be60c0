"""Backpropagation against central differences: every activation, loss, task, bias and L2."""


import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from backpropagation import NeuralNetwork, activations, losses
from backpropagation.activations import Sigmoid, Softmax
from backpropagation.gradcheck import gradient_check, relative_errors

ACTIVATIONS = ["elu", "leaky_relu", "linear", "relu", "sigmoid", "softmax", "softplus", "swish", "tanh"]


def test_every_builtin_activation_is_checked():
    assert ACTIVATIONS == activations.names()


class UnfusedSigmoid(Sigmoid):
    """A Sigmoid the losses do not recognise, to exercise the unfused chain rule."""


class UnfusedSoftmax(Softmax):
    """A Softmax the losses do not recognise, to exercise the unfused chain rule."""


# (task, output size, output activation, loss): fused and unfused paths of every loss
HEADS = [
    ("regression", 2, None, "mse"),
    ("regression", 1, None, "mae"),
    ("regression", 2, None, "huber"),
    ("regression", 1, "tanh", "mse"),
    ("binary", 1, None, None),                        # sigmoid + BCE, fused
    ("binary", 1, UnfusedSigmoid(), "binary_crossentropy"),
    ("binary", 1, None, "mse"),
    ("binary", 2, None, None),                        # softmax + CE over two classes
    ("multiclass", 3, None, None),                    # softmax + CE, fused
    ("multiclass", 3, UnfusedSoftmax(), "categorical_crossentropy"),
    ("multiclass", 3, None, "mse"),
    ("classification", 3, None, None),
]


def targets(task, n_out, n_samples, rng):
    if task == "regression":
        return rng.normal(size=(n_samples, n_out)) if n_out > 1 else rng.normal(size=n_samples)
    n_classes = 2 if n_out == 1 else n_out
    return np.arange(n_samples) % n_classes  # every class present


@pytest.mark.parametrize("task,n_out,output_activation,loss", HEADS)
@pytest.mark.parametrize("hidden", ACTIVATIONS)
@pytest.mark.parametrize("use_bias,l2", [(True, 0.0), (False, 0.0), (True, 0.03)])
def test_backprop_matches_central_differences(task, n_out, output_activation, loss, hidden, use_bias, l2):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(7, 3))
    y = targets(task, n_out, 7, rng)
    model = NeuralNetwork([3, 5, 4, n_out], task=task, hidden_activation=hidden,
                          output_activation=output_activation, loss=loss, use_bias=use_bias,
                          l2=l2, random_state=3)
    assert model.gradient_check(X, y) < 1e-6


@pytest.mark.parametrize("task,n_out,output_activation,loss", HEADS)
def test_backprop_matches_central_differences_on_a_single_row(task, n_out, output_activation, loss):
    # Batch size 1 has its own bias-gradient path (the row itself, not a reduction).
    rng = np.random.default_rng(11)
    X = rng.normal(size=(7, 3))
    y = targets(task, n_out, 7, rng)
    model = NeuralNetwork([3, 5, 4, n_out], task=task, output_activation=output_activation, loss=loss,
                          random_state=3)
    model.fit(X, y, epochs=1, batch_size=1, verbose=0)  # learns the classes; leaves generic weights
    for row in range(3):
        assert model.gradient_check(X[row:row + 1], y[row:row + 1]) < 1e-6


def test_gradient_check_detects_a_wrong_backward_rule():
    class WrongTanh(activations.Tanh):
        def backward(self, Z, A, dA):
            return dA * (1.0 - A)  # should be 1 - A²

    rng = np.random.default_rng(0)
    model = NeuralNetwork([3, 4, 1], hidden_activation=WrongTanh(), random_state=0)
    assert model.gradient_check(rng.normal(size=(5, 3)), rng.normal(size=5)) > 1e-3


def test_relative_errors_are_reported_per_parameter_array():
    rng = np.random.default_rng(0)
    model = NeuralNetwork([3, 4, 2], random_state=0)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    errors = relative_errors(model, X, Y)
    assert list(errors) == ["W1", "b1", "W2", "b2"]
    assert max(errors.values()) == gradient_check(model, X, Y) < 1e-7


def test_gradient_check_of_a_float32_network_runs_in_float64():
    rng = np.random.default_rng(0)
    model = NeuralNetwork([3, 4, 1], hidden_activation="tanh", dtype="float32", random_state=0)
    assert model.gradient_check(rng.normal(size=(5, 3)), rng.normal(size=5)) < 1e-6
    assert model.parameters.dtype == np.float32


# ---- each building block on its own, with inputs drawn by hypothesis -------------------------
finite = st.floats(-6, 6, allow_nan=False, width=64)
matrices = arrays(np.float64, st.tuples(st.integers(1, 4), st.integers(1, 4)), elements=finite)


def numeric_jvp(f, Z, dA, eps=1e-6):
    """∂/∂Z of Σ dA ⊙ f(Z) by central differences."""
    grad = np.empty_like(Z)
    for index in np.ndindex(Z.shape):
        plus, minus = Z.copy(), Z.copy()
        plus[index] += eps
        minus[index] -= eps
        grad[index] = (np.sum(dA * f(plus)) - np.sum(dA * f(minus))) / (2 * eps)
    return grad


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


def test_sigmoid_and_softmax_are_stable_for_huge_inputs():
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        s = activations.get("sigmoid").forward(np.array([[-1000.0, 0.0, 1000.0]]))
        p = activations.get("softmax").forward(np.array([[1000.0, 0.0, -1000.0]]))
    np.testing.assert_allclose(s, [[0.0, 0.5, 1.0]])
    np.testing.assert_allclose(p, [[1.0, 0.0, 0.0]])
