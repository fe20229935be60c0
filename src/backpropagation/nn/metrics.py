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


def roc_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """The area under the ROC curve: the chance that a random positive row scores above a random
    negative one (ties count one half), as scikit-learn's ``roc_auc_score`` for two classes.
    ``positive``: booleans; NaN when one of the two kinds is absent."""
    positive = np.asarray(positive, dtype=bool)
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return math.nan
    ranks = _average_ranks(np.asarray(score, dtype=np.float64))
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def average_precision(positive: np.ndarray, score: np.ndarray) -> float:
    """Average precision: the precision at each threshold weighted by the recall it adds, as
    scikit-learn's ``average_precision_score``; NaN without positive rows."""
    positive = np.asarray(positive, dtype=bool)
    if not positive.any():
        return math.nan
    order = np.argsort(-np.asarray(score, dtype=np.float64), kind="mergesort")
    score, positive = np.asarray(score, dtype=np.float64)[order], positive[order]
    last = np.r_[np.flatnonzero(np.diff(score)), len(score) - 1]     # the end of each run of equal scores
    hits = np.cumsum(positive)[last]
    precision, recall = hits / (last + 1), hits / positive.sum()
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def _average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties sharing their average rank."""
    order = np.argsort(values, kind="mergesort")
    ranks = np.empty(len(values))
    ranks[order] = np.arange(1, len(values) + 1)
    sorted_values = values[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_values)) + 1]
    ends = np.r_[starts[1:], len(values)]
    for start, end in zip(starts, ends):
        if end - start > 1:
            ranks[order[start:end]] = (start + 1 + end) / 2
    return ranks


def ranking_scores(labels: np.ndarray, proba: np.ndarray, classes: np.ndarray) -> dict:
    """``roc_auc`` and ``average_precision`` of class probabilities ``proba`` (columns in the
    order of ``classes``): for two classes, of the second class's probability; for more, the mean
    over the classes of each one against the rest (macro, as scikit-learn's ``ovr``)."""
    labels = np.asarray(labels)
    columns = [1] if len(classes) == 2 else range(len(classes))
    auc = [roc_auc(labels == classes[k], proba[:, k]) for k in columns]
    ap = [average_precision(labels == classes[k], proba[:, k]) for k in columns]
    return {"roc_auc": _mean_present(auc), "average_precision": _mean_present(ap)}


def _mean_present(values: list) -> float:
    present = [v for v in values if not math.isnan(v)]
    return float(np.mean(present)) if present else math.nan
