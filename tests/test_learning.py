"""The network learns: XOR, scikit-learn's digits, and regression on par with MLPRegressor."""

import warnings

import pytest

from backpropagation import NeuralNetwork

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_digits, make_friedman1  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPRegressor  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


@pytest.mark.parametrize("optimizer,learning_rate", [("adam", 0.05), ("momentum", 0.5), ("sgd", 1.0)])
def test_xor_is_solved(optimizer, learning_rate):
    X = [[0, 0], [0, 1], [1, 0], [1, 1]]
    y = [0, 1, 1, 0]
    model = NeuralNetwork([2, 8, 1], task="binary", hidden_activation="tanh", optimizer=optimizer,
                          learning_rate=learning_rate, random_state=1)
    model.fit(X, y, epochs=2000, batch_size=None, verbose=0)
    assert model.predict(X).tolist() == y
    assert model.evaluate(X, y)["loss"] < 0.05


def test_digits_reach_97_percent_on_a_stratified_hold_out():
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, test_size=0.25, stratify=y,
                                                        random_state=0)
    model = NeuralNetwork([64, 128, 64, 10], task="classification", optimizer="adam",
                          learning_rate=1e-3, random_state=0)
    history = model.fit(X_train, y_train, epochs=40, batch_size=32, verbose=0)
    assert model.score(X_test, y_test) >= 0.97
    assert history.history["accuracy"][-1] > 0.99


def test_regression_r2_is_within_002_of_scikit_learns_mlp():
    X, y = make_friedman1(n_samples=1000, noise=0.5, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    mean, std = y_train.mean(), y_train.std()
    y_train, y_test = (y_train - mean) / std, (y_test - mean) / std
    # comparable settings: same architecture, optimizer, batch, epochs, no penalty, and
    # scikit-learn's own initialisation scheme (Glorot uniform for ReLU layers)
    ours = NeuralNetwork([10, 64, 32, 1], optimizer="adam", learning_rate=1e-3,
                         initializer="glorot_uniform", random_state=0)
    ours.fit(X_train, y_train, epochs=100, batch_size=32, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = MLPRegressor(hidden_layer_sizes=(64, 32), solver="adam", learning_rate_init=1e-3,
                                 batch_size=32, max_iter=100, alpha=0.0, tol=0.0,
                                 n_iter_no_change=10**6, random_state=0).fit(X_train, y_train)
    our_r2, their_r2 = ours.score(X_test, y_test), reference.score(X_test, y_test)
    assert their_r2 > 0.9
    assert our_r2 >= their_r2 - 0.02, (our_r2, their_r2)
