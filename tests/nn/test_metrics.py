"""metrics.py against scikit-learn's definitions, with and without sample weights."""

import numpy as np
import pytest

sk = pytest.importorskip("sklearn.metrics")

from backpropagation import metrics  # noqa: E402

RNG = np.random.default_rng(0)
Y = RNG.normal(size=(50, 2))
PRED = Y + RNG.normal(scale=0.5, size=(50, 2))
WEIGHTS = RNG.uniform(0.1, 3.0, size=50)


def test_regression_metrics_equal_scikit_learn():
    assert metrics.mean_squared_error(Y, PRED) == pytest.approx(sk.mean_squared_error(Y, PRED))
    assert metrics.mean_absolute_error(Y, PRED) == pytest.approx(sk.mean_absolute_error(Y, PRED))
    assert metrics.r2_score(Y, PRED) == pytest.approx(sk.r2_score(Y, PRED))
    assert metrics.r2_score(Y, PRED, WEIGHTS) == pytest.approx(sk.r2_score(Y, PRED, sample_weight=WEIGHTS))
    assert metrics.r2_score(Y[:, 0], PRED[:, 0]) == pytest.approx(sk.r2_score(Y[:, 0], PRED[:, 0]))


def test_constant_targets_score_like_scikit_learn():
    constant = np.full(5, 3.0)
    assert metrics.r2_score(constant, constant) == 1.0
    assert metrics.r2_score(constant, constant + 1) == 0.0


def test_classification_metrics_equal_scikit_learn():
    labels = RNG.integers(0, 3, size=50)
    guesses = np.where(RNG.random(50) < 0.7, labels, RNG.integers(0, 3, size=50))
    assert metrics.accuracy(labels, guesses) == pytest.approx(sk.accuracy_score(labels, guesses))
    assert metrics.accuracy(labels, guesses, WEIGHTS) == pytest.approx(
        sk.accuracy_score(labels, guesses, sample_weight=WEIGHTS))
    np.testing.assert_array_equal(metrics.confusion_matrix(labels, guesses, [0, 1, 2]),
                                  sk.confusion_matrix(labels, guesses, labels=[0, 1, 2]))
    proba = RNG.dirichlet(np.ones(3), size=50)
    assert metrics.log_loss(np.eye(3)[labels], proba) == pytest.approx(sk.log_loss(labels, proba))
    with pytest.raises(ValueError, match="row 0 holds label 7"):
        metrics.confusion_matrix([7], [0], [0, 1])
