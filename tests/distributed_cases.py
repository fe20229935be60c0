"""Training set-ups shared by tests/test_distributed.py and the MPI worker it launches."""

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from backpropagation import EarlyStopping, NeuralNetwork, ReduceLROnPlateau


@dataclass
class Case:
    data: Callable
    model: Callable
    fit: dict = field(default_factory=dict)
    callbacks: Callable = list

    def fit_kwargs(self) -> dict:
        return dict(self.fit, verbose=0, callbacks=self.callbacks())


def regression_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(103, 4))
    return X, X @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.1 * rng.normal(size=103), None, None, None


def classification_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(150, 3))
    labels = np.array(["ant", "bee", "cat"])[np.argmax(X @ rng.normal(size=(3, 3)), axis=1)]
    weights = rng.uniform(0.5, 2.0, size=150)
    X_val = rng.normal(size=(31, 3))
    y_val = np.array(["ant", "bee", "cat"])[np.argmax(X_val @ rng.normal(size=(3, 3)), axis=1)]
    return X, labels, weights, X_val, y_val


def nan_on_the_last_rank():
    X, y, *_ = regression_data()
    X = X.copy()
    X[-1, 0] = np.nan
    return X, y, None, None, None


CASES = {
    "regression": Case(regression_data,
                       lambda: NeuralNetwork([4, 8, 1], optimizer="adam", learning_rate=0.01, l2=0.01,
                                             random_state=1),
                       dict(epochs=8, batch_size=16)),
    "classification": Case(classification_data,
                           lambda: NeuralNetwork([3, 6, 5, 3], task="classification", optimizer="momentum",
                                                 learning_rate=0.05, random_state=2),
                           dict(epochs=30, batch_size=20),
                           lambda: [EarlyStopping(patience=3), ReduceLROnPlateau(patience=2)]),
    "bad rank": Case(nan_on_the_last_rank, lambda: NeuralNetwork([4, 3, 1], random_state=0), dict(epochs=1)),
}
