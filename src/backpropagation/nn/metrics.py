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


def class_scores(confusion: np.ndarray) -> dict:
    """What a confusion matrix (rows: actual class, columns: predicted) says beyond accuracy.

    Returns ``balanced_accuracy`` (the mean recall over the classes present, as scikit-learn's
    ``balanced_accuracy_score``), ``majority_baseline`` (the accuracy of always predicting the
    commonest class: a model below it has learned nothing useful) and, per class, ``precision``,
    ``recall``, ``f1`` and ``support`` (lists in the matrix's class order; 0 where undefined).
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    support, predicted, hits = confusion.sum(axis=1), confusion.sum(axis=0), np.diag(confusion)
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(support > 0, hits / support, 0.0)
        precision = np.where(predicted > 0, hits / predicted, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    total = support.sum()
    return {"balanced_accuracy": float(recall[support > 0].mean()) if total else float("nan"),
            "majority_baseline": float(support.max() / total) if total else float("nan"),
            "precision": precision.tolist(), "recall": recall.tolist(), "f1": f1.tolist(),
            "support": support.astype(int).tolist()}


def top_confusions(confusion: np.ndarray, classes, count: int = 5) -> list[tuple]:
    """The ``count`` largest off-diagonal cells: (actual, predicted, rows), largest first."""
    confusion = np.array(confusion)
    np.fill_diagonal(confusion, 0)
    order = np.argsort(confusion, axis=None)[::-1][:count]
    return [(classes[i], classes[j], int(confusion[i, j]))
            for i, j in zip(*np.unravel_index(order, confusion.shape)) if confusion[i, j] > 0]
