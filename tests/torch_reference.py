"""The same network in PyTorch, built from one of ours: the reference our tests compare against."""

import numpy as np
import torch
import torch.nn.functional as F

ACTIVATIONS = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": torch.relu,
    "leaky_relu": lambda z, alpha=0.01: F.leaky_relu(z, alpha),
    "elu": lambda z, alpha=1.0: F.elu(z, alpha),
    "softplus": F.softplus,
    "swish": F.silu,
    "linear": lambda z: z,
    "softmax": lambda z: torch.softmax(z, dim=1),
}


def torch_activation(activation):
    """The torch function for one of our activations (subclasses inherit their parent's name)."""
    if activation.name in ("leaky_relu", "elu"):
        return lambda z: ACTIVATIONS[activation.name](z, activation.alpha)
    return ACTIVATIONS[activation.name]


def torch_loss(model, Y, Z, A):
    """The loss value as PyTorch computes it (from logits where ours is fused)."""
    name = model.loss.name
    if name == "mse":
        return torch.mean((A - Y) ** 2)
    if name == "mae":
        return torch.mean(torch.abs(A - Y))
    if name == "huber":
        return F.huber_loss(A, Y, delta=model.loss.delta)
    if name == "binary_crossentropy":
        return F.binary_cross_entropy_with_logits(Z, Y) if model.backprop.fused else F.binary_cross_entropy(A, Y)
    if name == "categorical_crossentropy":
        log_p = torch.log_softmax(Z, dim=1) if model.backprop.fused else torch.log(A)
        return -(Y * log_p).sum(dim=1).mean()
    raise ValueError(name)


def torch_parameters(model):
    """Leaf tensors [(W, b or None), ...] holding a copy of the model's weights."""
    return [(torch.tensor(W, requires_grad=True), None if b is None else torch.tensor(b, requires_grad=True))
            for W, b in model.get_weights()]


def torch_objective(model, params, X, Y):
    """Forward pass and loss (plus our L2 penalty) in PyTorch."""
    A = torch.as_tensor(X)
    for layer, (W, b) in zip(model.layers, params):
        Z = A @ W + (b if b is not None else 0.0)
        A = torch_activation(layer.activation)(Z)
    value = torch_loss(model, torch.as_tensor(Y), Z, A)
    if model.l2:
        value = value + 0.5 * model.l2 * sum((W**2).sum() for W, _ in params)
    return value


def torch_gradients(model, X, Y):
    """Loss and flat gradient laid out like ``model.gradients`` (all weights, then all biases)."""
    params = torch_parameters(model)
    value = torch_objective(model, params, X, Y)
    value.backward()
    weights = [W.grad.numpy().ravel() for W, _ in params]
    biases = [b.grad.numpy() for _, b in params if b is not None]
    return float(value.detach()), np.concatenate(weights + biases)
