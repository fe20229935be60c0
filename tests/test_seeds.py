"""The seeds' own worked examples, reproduced exactly through the public API."""

import numpy as np
import pytest

from backpropagation import NeuralNetwork


def seed_001_weights():
    np.random.seed(0)
    return 2 * np.random.random((3, 1)) - 1


def test_seed_001_single_sigmoid_unit_predicts_the_seeds_output():
    # Seed 001: weights += 1 * X.T @ ((y - a) * a (1 - a)).  Our MSE gradient is 2 (a - y) / N
    # with N = 4, so learning_rate = N / 2 = 2 gives exactly the same update.
    X = np.array([[0, 0, 1], [1, 1, 1], [1, 0, 1], [0, 1, 1]])
    y = np.array([[0, 1, 1, 0]]).T
    model = NeuralNetwork([3, 1], task="regression", output_activation="sigmoid", loss="mse",
                          use_bias=False, optimizer="sgd", learning_rate=2.0, standardize_target=False)
    model.set_weights([(seed_001_weights(), None)])
    model.fit(X, y, epochs=10000, batch_size=None, shuffle=False, verbose=0)
    prediction = model.predict(np.array([[1, 0, 0]]))
    assert prediction.shape == (1, 1)
    assert f"{prediction[0, 0]:.8f}" == "0.99993703"


def seed_002_manual_losses(W1, b1, W2, b2, W3, b3, X, y, lr=0.01, epochs=1000):
    """Seed 002's training loop, verbatim apart from collecting every epoch's loss."""
    def relu(x):
        return np.maximum(0, x)

    def relu_derivative(x):
        return (x > 0).astype(float)

    def mse(y_true, y_pred):
        return np.mean((y_true - y_pred) ** 2)

    def mse_derivative(y_true, y_pred):
        return 2 * (y_pred - y_true) / y_true.size

    losses = []
    for _ in range(epochs):
        z1 = X @ W1 + b1
        a1 = relu(z1)
        z2 = a1 @ W2 + b2
        a2 = relu(z2)
        z3 = a2 @ W3 + b3
        y_pred = z3
        losses.append(mse(y, y_pred))
        dL_dy = mse_derivative(y, y_pred)
        dL_dW3 = a2.T @ dL_dy
        dL_db3 = np.sum(dL_dy, axis=0, keepdims=True)
        dL_da2 = dL_dy @ W3.T
        dL_dz2 = dL_da2 * relu_derivative(z2)
        dL_dW2 = a1.T @ dL_dz2
        dL_db2 = np.sum(dL_dz2, axis=0, keepdims=True)
        dL_da1 = dL_dz2 @ W2.T
        dL_dz1 = dL_da1 * relu_derivative(z1)
        dL_dW1 = X.T @ dL_dz1
        dL_db1 = np.sum(dL_dz1, axis=0, keepdims=True)
        W3 -= lr * dL_dW3
        b3 -= lr * dL_db3
        W2 -= lr * dL_dW2
        b2 -= lr * dL_db2
        W1 -= lr * dL_dW1
        b1 -= lr * dL_db1
    return np.array(losses)


def test_seed_002_relu_network_matches_the_manual_code_for_1000_epochs():
    np.random.seed(0)
    W1, b1 = np.random.randn(3, 2), np.zeros((1, 2))
    W2, b2 = np.random.randn(2, 2), np.zeros((1, 2))
    W3, b3 = np.random.randn(2, 1), np.zeros((1, 1))
    X = np.random.rand(10, 3)
    y = np.random.rand(10, 1)
    initial = [(W1.copy(), b1[0].copy()), (W2.copy(), b2[0].copy()), (W3.copy(), b3[0].copy())]
    expected = seed_002_manual_losses(W1, b1, W2, b2, W3, b3, X, y)

    model = NeuralNetwork([3, 2, 2, 1], task="regression", hidden_activation="relu",
                          loss="mse", optimizer="sgd", learning_rate=0.01, standardize_target=False)
    model.set_weights(initial)
    history = model.fit(X, y, epochs=1000, batch_size=None, shuffle=False, verbose=0)
    ours = np.array(history.history["loss"])
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=0)
    # (The seed's printed losses cannot be reproduced: its notebook cells ran out of order, so the
    # random state its data were drawn from is unknown. Its code, run as written, is the reference.)
    np.testing.assert_allclose(model.get_weights()[2][0], W3, rtol=1e-10)


def test_hand_worked_sgd_step():
    # x = [1, 2], y = 1, a 2-2-1 network, ReLU hidden, linear output, MSE, lr = 0.1.
    # z1 = x W1 + b1 = [0.1 + 0.6, 0.2 - 0.8 + 0.1] = [0.7, -0.5];  a1 = [0.7, 0]
    # z2 = 0.7 * 0.5 + 0 * (-0.6) + 0.2 = 0.55;  L = (0.55 - 1)^2 = 0.2025
    # δ2 = 2 (0.55 - 1) = -0.9;  dW2 = a1ᵀ δ2 = [[-0.63], [0]];  db2 = -0.9
    # dA1 = δ2 W2ᵀ = [-0.45, 0.54];  δ1 = dA1 ⊙ [z1 > 0] = [-0.45, 0]
    # dW1 = xᵀ δ1 = [[-0.45, 0], [-0.9, 0]];  db1 = [-0.45, 0]
    model = NeuralNetwork([2, 2, 1], hidden_activation="relu", optimizer="sgd", learning_rate=0.1,
                          standardize_target=False)
    model.set_weights([
        (np.array([[0.1, 0.2], [0.3, -0.4]]), np.array([0.0, 0.1])),
        (np.array([[0.5], [-0.6]]), np.array([0.2])),
    ])
    history = model.fit([[1.0, 2.0]], [1.0], epochs=1, batch_size=1, verbose=0)
    assert history.history["loss"] == [pytest.approx(0.2025, abs=1e-15)]
    (W1, b1), (W2, b2) = model.get_weights()
    np.testing.assert_allclose(W1, [[0.145, 0.2], [0.39, -0.4]], atol=1e-15)
    np.testing.assert_allclose(b1, [0.045, 0.1], atol=1e-15)
    np.testing.assert_allclose(W2, [[0.563], [-0.6]], atol=1e-15)
    np.testing.assert_allclose(b2, [0.29], atol=1e-15)
