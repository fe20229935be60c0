"""gradcheck.py, and backpropagation against central differences: every activation, loss, task,
bias and L2 through whole networks."""


import numpy as np
import pytest

from backpropagation import NeuralNetwork, activations
from backpropagation.nn.activations import Sigmoid, Softmax
from backpropagation.nn.gradcheck import gradient_check, relative_errors

ACTIVATIONS = ["elu", "leaky_relu", "linear", "relu", "sigmoid", "softmax", "softplus", "swish", "tanh"]


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
