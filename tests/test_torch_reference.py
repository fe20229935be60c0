"""Our hand-written backpropagation and optimizers against PyTorch's autograd and torch.optim."""

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from backpropagation import SGD, Adam, AdamW, NeuralNetwork, RMSProp, activations, losses

torch = pytest.importorskip("torch")
torch.set_default_dtype(torch.float64)
from torch_reference import ACTIVATIONS, torch_gradients, torch_objective, torch_parameters  # noqa: E402


class UnfusedSigmoid(activations.Sigmoid):
    pass


class UnfusedSoftmax(activations.Softmax):
    pass


# (task, output size, output activation, loss) for every loss, fused and unfused
HEADS = {
    "regression-mse": ("regression", None, None, "mse"),
    "regression-mae": ("regression", None, None, "mae"),
    "regression-huber": ("regression", None, None, "huber"),
    "regression-tanh-mse": ("regression", None, "tanh", "mse"),
    "binary-sigmoid-bce": ("binary", 1, None, None),
    "binary-unfused-bce": ("binary", 1, UnfusedSigmoid(), "binary_crossentropy"),
    "binary-sigmoid-mse": ("binary", 1, None, "mse"),
    "binary-softmax-ce": ("binary", 2, None, None),
    "multiclass-ce": ("multiclass", None, None, None),
    "multiclass-unfused-ce": ("multiclass", None, UnfusedSoftmax(), "categorical_crossentropy"),
    "multiclass-mse": ("multiclass", None, None, "mse"),
    "classification-auto": ("classification", None, None, None),
}


@st.composite
def cases(draw):
    head = draw(st.sampled_from(sorted(HEADS)))
    task, n_out, output_activation, loss = HEADS[head]
    hidden_widths = draw(st.lists(st.integers(1, 32), min_size=0, max_size=3))    # depth 1-4
    if n_out is None:
        n_out = draw(st.integers(1, 4)) if task == "regression" else draw(st.integers(3, 5))
    n_in = draw(st.integers(1, 8))
    hidden = [draw(st.sampled_from(sorted(ACTIVATIONS))) for _ in hidden_widths]
    return dict(layer_sizes=[n_in, *hidden_widths, n_out], task=task, hidden_activation=hidden,
                output_activation=output_activation, loss=loss, use_bias=draw(st.booleans()),
                l2=draw(st.sampled_from([0.0, 0.01, 0.3])), random_state=draw(st.integers(0, 2**16)))


def data_for(model, rng, n=9):
    X = rng.normal(size=(n, model.layer_sizes[0]))
    n_out = model.layer_sizes[-1]
    if model.task == "regression":
        return X, rng.normal(size=(n, n_out))
    n_classes = max(n_out, 2)
    return X, model.task_.fit_encode(np.arange(n) % n_classes, np.float64)


@settings(max_examples=300, deadline=None)
@given(case=cases())
@example(case={"layer_sizes": [1, 1, 1, 3], "task": "classification", "hidden_activation": ["relu", "relu"],
               "output_activation": None, "loss": None, "use_bias": True, "l2": 0.0, "random_state": 0})
def test_gradients_equal_torch_autograd(case):
    model = NeuralNetwork(**case)
    X, Y = data_for(model, np.random.default_rng(case["random_state"]))
    loss = model.backprop.loss_and_gradients(X, Y)
    torch_loss, torch_grad = torch_gradients(model, X, Y)
    assert loss == pytest.approx(torch_loss, rel=1e-10, abs=1e-14)
    # (a gradient that is zero in exact arithmetic, e.g. behind dead ReLUs, is a sum of terms of the
    # loss's size that cancel: its rounding is relative to the loss, not to the largest gradient)
    scale = max(np.abs(torch_grad).max(), abs(torch_loss), 1e-300)
    np.testing.assert_allclose(model.gradients, torch_grad, rtol=1e-10, atol=1e-12 * scale)


@pytest.mark.parametrize("hidden,loss", [
    (activations.LeakyReLU(0.2), "mse"),
    (activations.ELU(0.5), "mse"),
    ("tanh", losses.Huber(delta=0.3)),
    (activations.LeakyReLU(0.3), losses.Huber(delta=2.5)),
])
def test_non_default_alpha_and_delta_equal_torch(hidden, loss):
    model = NeuralNetwork([4, 6, 5, 2], hidden_activation=hidden, loss=loss, random_state=3)
    X, Y = data_for(model, np.random.default_rng(3))
    value = model.backprop.loss_and_gradients(X, 3 * Y)               # large residuals: Huber's linear part too
    torch_value, torch_grad = torch_gradients(model, X, 3 * Y)
    assert value == pytest.approx(torch_value, rel=1e-12)
    np.testing.assert_allclose(model.gradients, torch_grad, rtol=1e-10, atol=1e-14)


OPTIMIZERS = {
    "sgd": (lambda: SGD(), lambda p, lr: torch.optim.SGD(p, lr=lr)),
    "momentum": (lambda: SGD(momentum=0.9), lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9)),
    "nesterov": (lambda: SGD(momentum=0.9, nesterov=True),
                 lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.9, nesterov=True)),
    "rmsprop": (lambda: RMSProp(rho=0.9, epsilon=1e-8),
                lambda p, lr: torch.optim.RMSprop(p, lr=lr, alpha=0.9, eps=1e-8)),
    "adam": (lambda: Adam(beta_1=0.8, beta_2=0.99, epsilon=1e-8),
             lambda p, lr: torch.optim.Adam(p, lr=lr, betas=(0.8, 0.99), eps=1e-8)),
    "adamw": (lambda: AdamW(weight_decay=0.05),
              lambda p, lr: torch.optim.AdamW(p, lr=lr, weight_decay=0.05)),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_steps_equal_torch_optim(name):
    ours_factory, torch_factory = OPTIMIZERS[name]
    rng = np.random.default_rng(0)
    params = rng.normal(size=50)
    reference = torch.tensor(params.copy(), requires_grad=True)
    ours, theirs = ours_factory(), torch_factory([reference], 0.01)
    for _ in range(5):                       # several steps, so that state (moments, velocity) matters
        grad = rng.normal(size=50)
        ours.step(params, grad, 0.01)
        reference.grad = torch.tensor(grad)
        theirs.step()
    np.testing.assert_allclose(params, reference.detach().numpy(), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("optimizer", ["sgd", "nesterov", "adam", "rmsprop"])
def test_training_loss_curve_equals_pytorch(optimizer):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 4))
    labels = (X[:, 0] + X[:, 1] ** 2 > 1).astype(int) + (X[:, 2] > 0.5)
    model = NeuralNetwork([4, 16, 8, 3], task="multiclass", hidden_activation=["tanh", "relu"],
                          optimizer=optimizer, learning_rate=0.01, l2=0.001, random_state=0)
    params = torch_parameters(model)
    flat = [t for pair in params for t in pair if t is not None]
    torch_optimizer = {"sgd": lambda: torch.optim.SGD(flat, lr=0.01),
                       "nesterov": lambda: torch.optim.SGD(flat, lr=0.01, momentum=0.9, nesterov=True),
                       "adam": lambda: torch.optim.Adam(flat, lr=0.01),
                       "rmsprop": lambda: torch.optim.RMSprop(flat, lr=0.01, alpha=0.9)}[optimizer]()
    Y = model.task_.fit_encode(labels, np.float64)
    expected = []
    for _ in range(15):
        total = 0.0
        for start in range(0, 60, 16):                     # batches of 16, 16, 16, 12, in order
            rows = slice(start, start + 16)
            torch_optimizer.zero_grad()
            value = torch_objective(model, params, X[rows], Y[rows])
            value.backward()
            torch_optimizer.step()
            total += float(value.detach()) * len(X[rows])
        expected.append(total / 60)
    history = model.fit(X, labels, epochs=15, batch_size=16, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"], expected, rtol=1e-9)
    for (W, b), (tW, tb) in zip(model.get_weights(), params):
        np.testing.assert_allclose(W, tW.detach().numpy(), rtol=1e-8, atol=1e-12)
        np.testing.assert_allclose(b, tb.detach().numpy(), rtol=1e-8, atol=1e-12)


def test_every_builtin_activation_has_a_torch_reference():
    assert sorted(ACTIVATIONS) == activations.names()
