"""Metrics on plain arrays: accuracy, log-loss, MSE, MAE and R² (scikit-learn's definitions)."""

from __future__ import annotations

import numpy as np


def accuracy(y_true: np.ndarray, y_pred: np.ndarray, sample_weight=None) -> float:
    """Fraction of predictions equal to the true labels (weighted by ``sample_weight``)."""
    return float(np.average(np.asarray(y_true) == np.asarray(y_pred), weights=sample_weight))


def log_loss(Y: np.ndarray, P: np.ndarray) -> float:
    """Mean over samples of ``-Σ_k y_k log p_k`` for one-hot ``Y`` and probabilities ``P``."""
    P = np.clip(P, np.finfo(P.dtype).eps, 1.0)
    return float(-np.sum(Y * np.log(P)) / Y.shape[0])


def mean_squared_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean of squared differences over every element."""
    return float(np.mean((np.asarray(y_true) - np.asarray(y_pred)) ** 2))


def mean_absolute_error(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean of absolute differences over every element."""
    return float(np.mean(np.abs(np.asarray(y_true) - np.asarray(y_pred))))


def r2_score(y_true: np.ndarray, y_pred: np.ndarray, sample_weight=None) -> float:
    """Coefficient of determination, averaged uniformly over output columns.

    With ``sample_weight`` the sums of squares and the mean are weighted (scikit-learn's
    definition). A constant target column scores 1.0 if predicted exactly and 0.0 otherwise, as
    in scikit-learn (never -inf or NaN).
    """
    y_true = np.asarray(y_true, dtype=np.float64)
    y_pred = np.asarray(y_pred, dtype=np.float64)
    if y_true.ndim == 1:
        y_true, y_pred = y_true[:, None], y_pred.reshape(-1, 1)
    w = np.ones((len(y_true), 1)) if sample_weight is None else \
        np.asarray(sample_weight, dtype=np.float64).reshape(-1, 1)
    residual = np.sum(w * (y_true - y_pred) ** 2, axis=0)
    total = np.sum(w * (y_true - np.average(y_true, axis=0, weights=w[:, 0])) ** 2, axis=0)
    scores = np.where(total > 0, 1.0 - residual / np.where(total > 0, total, 1.0),
                      np.where(residual == 0, 1.0, 0.0))
    return float(scores.mean())


def confusion_matrix(y_true, y_pred, labels) -> np.ndarray:
    """Counts ``C[i, j]`` of samples of class ``labels[i]`` predicted as ``labels[j]``."""
    labels = list(np.asarray(labels).tolist())
    index = {label: i for i, label in enumerate(labels)}
    matrix = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for row, (truth, guess) in enumerate(zip(np.asarray(y_true).tolist(), np.asarray(y_pred).tolist())):
        if truth not in index or guess not in index:
            raise ValueError(f"confusion_matrix: row {row} holds label "
                             f"{truth if truth not in index else guess!r}, not one of {labels!r}")
        matrix[index[truth], index[guess]] += 1
    return matrix
