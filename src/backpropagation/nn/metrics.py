"""Metrics on plain arrays: accuracy, log-loss, MSE, MAE and R² (scikit-learn's definitions).

An epoch's metric is summed over parts of its rows (a streamed table's pools, MPI ranks) with a
tally that merges in constant size: :class:`AccuracyTally` counts, :class:`R2Tally` keeps the
targets' :class:`~backpropagation.statistics.Moments` and the residual sum of squares.
"""

from __future__ import annotations

import math

import numpy as np

from ..statistics import Moments


def accuracy(y_true: np.ndarray, y_pred: np.ndarray, sample_weight=None) -> float:
    """Fraction of predictions equal to the true labels (weighted by ``sample_weight``)."""
    tally = AccuracyTally()
    tally.add(y_true, y_pred, sample_weight)
    return tally.value


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
    tally = R2Tally()
    tally.add(y_true, y_pred, sample_weight)
    return tally.value


class AccuracyTally:
    """The (weighted) count of right predictions and of predictions, over any parts of the rows."""

    def __init__(self) -> None:
        self.right = self.weight = 0.0

    def add(self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight=None) -> None:
        """Count these rows (labels or class indices)."""
        hits = np.asarray(y_true) == np.asarray(y_pred)
        w = np.ones(len(hits)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        self.right += float(w @ hits)
        self.weight += float(w.sum())

    def merge(self, other: "AccuracyTally") -> "AccuracyTally":
        both = AccuracyTally()
        both.right, both.weight = self.right + other.right, self.weight + other.weight
        return both

    @property
    def value(self) -> float:
        """Accuracy (NaN for no rows)."""
        return self.right / self.weight if self.weight else math.nan


class R2Tally:
    """R² over any parts of the rows: the targets' moments (their M2 is the total sum of squares)
    and the residual sum of squares, each column alike."""

    def __init__(self) -> None:
        self.moments, self.residual = None, None

    def add(self, y_true: np.ndarray, y_pred: np.ndarray, sample_weight=None) -> None:
        """Count these rows (targets and predictions, shape (n,) or (n, outputs))."""
        y_true = np.asarray(y_true, dtype=np.float64)
        y_pred = np.asarray(y_pred, dtype=np.float64)
        if y_true.ndim == 1:
            y_true, y_pred = y_true[:, None], y_pred.reshape(-1, 1)
        w = np.ones(len(y_true)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
        part, residual = Moments.of(y_true, w), w @ np.square(y_true - y_pred)
        self.moments = part if self.moments is None else self.moments.merge(part)
        self.residual = residual if self.residual is None else self.residual + residual

    def merge(self, other: "R2Tally") -> "R2Tally":
        if self.moments is None or other.moments is None:
            return self if other.moments is None else other
        both = R2Tally()
        both.moments, both.residual = self.moments.merge(other.moments), self.residual + other.residual
        return both

    @property
    def value(self) -> float:
        """R² averaged over the columns (NaN for no rows)."""
        if self.moments is None or not self.moments.count.any():
            return math.nan
        total, residual = self.moments.m2, self.residual
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
