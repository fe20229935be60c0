"""Tasks own the network's output: target encoding, output activation, loss, metric, decoding.

=============================  ===========  ==========  ========================  ========
task                           output size  activation  loss                      metric
=============================  ===========  ==========  ========================  ========
regression                     k targets    linear      mse                       r2
binary (one sigmoid unit)      1            sigmoid     binary_crossentropy       accuracy
binary / multiclass (softmax)  n_classes    softmax     categorical_crossentropy  accuracy
=============================  ===========  ==========  ========================  ========

``"classification"`` picks the sigmoid head for an output size of 1 and the softmax head
otherwise. Classification accepts labels of any one type; ``classes_`` holds them sorted.
"""

from __future__ import annotations

import numpy as np

from . import metrics
from .data import as_array, first_overflowing_cell, show


class Task:
    """Base class of the output heads.

    Attributes
    ----------
    name : str
        "regression", "binary" or "multiclass".
    output_activation, loss, metric : str
        The defaults this head brings.
    """

    name = "task"
    output_activation = "linear"
    loss = "mse"
    metric = "r2"
    is_classifier = False

    def __init__(self, n_outputs: int) -> None:
        self.n_outputs = n_outputs

    @property
    def fitted(self) -> bool:
        """Whether targets have been seen (labels known, target rank known)."""
        raise NotImplementedError

    def fit_encode(self, y, dtype) -> np.ndarray:
        """Learn the targets' form (classes, rank) from ``y`` and return them encoded."""
        raise NotImplementedError

    def encode(self, y, dtype, name: str = "y") -> np.ndarray:
        """Encode ``y`` as the 2-D float array the loss compares with the output."""
        raise NotImplementedError

    def decode(self, A: np.ndarray) -> np.ndarray:
        """Turn network outputs into predictions in the user's terms."""
        raise NotImplementedError

    def score(self, Y: np.ndarray, A: np.ndarray) -> float:
        """The task's metric from encoded targets ``Y`` and outputs ``A``."""
        raise NotImplementedError

    def get_state(self) -> dict:
        """JSON-ready description of what fitting learned (saved in the model file)."""
        raise NotImplementedError

    def set_state(self, state: dict) -> None:
        """Restore what :meth:`get_state` described."""
        raise NotImplementedError


class Regression(Task):
    """Real-valued targets of shape (n,) or (n, k); ``predict`` returns the rank ``fit`` saw."""

    name = "regression"

    def __init__(self, n_outputs: int) -> None:
        super().__init__(n_outputs)
        self.target_ndim: int | None = None

    @property
    def fitted(self):
        return self.target_ndim is not None

    def fit_encode(self, y, dtype):
        Y = self.encode(y, dtype)
        self.target_ndim = 1 if as_array(y, "y").ndim == 1 else 2
        return Y

    def encode(self, y, dtype, name="y"):
        y = as_array(y, name)
        if y.ndim == 1:
            y = y[:, None]
        if y.ndim != 2 or y.shape[1] != self.n_outputs:
            raise ValueError(f"{name}: expected regression targets of shape (n_samples,"
                             f"{' ' + str(self.n_outputs) if self.n_outputs > 1 else ''}) to match "
                             f"the output layer's {self.n_outputs} unit(s), got shape {y.shape}")
        if y.dtype.kind not in "biuf":
            try:
                y = y.astype(np.float64)
            except (TypeError, ValueError):
                raise TypeError(f"{name}: regression targets must be numbers, got dtype {y.dtype}; "
                                "for labels use task='classification'") from None
            except OverflowError:
                raise ValueError(f"{name}: {first_overflowing_cell(y)} is too large for a "
                                 "floating-point number (at most about 1.8e308)") from None
        Y = np.ascontiguousarray(y, dtype=dtype)
        if not np.isfinite(Y).all():
            row = int(np.nonzero(~np.isfinite(Y))[0][0])
            raise ValueError(f"{name}: contains non-finite target values (first at row {row}); "
                             "drop or impute them first")
        return Y

    def decode(self, A):
        return A[:, 0] if self.target_ndim == 1 or (self.target_ndim is None and A.shape[1] == 1) else A

    def score(self, Y, A):
        return metrics.r2_score(Y, A)

    def get_state(self):
        return {"target_ndim": self.target_ndim}

    def set_state(self, state):
        ndim = state["target_ndim"]
        if ndim not in (1, 2) or isinstance(ndim, bool):
            raise ValueError(f"target_ndim: expected 1 or 2, got {ndim!r}")
        self.target_ndim = ndim


class _Classifier(Task):
    """Shared label handling of the sigmoid and softmax heads."""

    metric = "accuracy"
    is_classifier = True

    def __init__(self, n_outputs: int) -> None:
        super().__init__(n_outputs)
        self.classes_: np.ndarray | None = None

    @property
    def fitted(self):
        return self.classes_ is not None

    def _labels(self, y, name: str) -> np.ndarray:
        """``y`` as a 1-D label array (a one-hot matrix becomes class indices)."""
        y = as_array(y, name)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim == 2 and y.shape[1] == self.n_outputs and self.n_outputs > 1:
            if not (np.isin(y, (0, 1)).all() and (y.sum(axis=1) == 1).all()):
                raise ValueError(f"{name}: a 2-D target for classification must be one-hot "
                                 "(0/1, one 1 per row)")
            return y.argmax(axis=1)
        if y.ndim != 1:
            raise ValueError(f"{name}: expected a 1-D array of labels (or one-hot with "
                             f"{self.n_outputs} columns), got shape {y.shape}")
        if y.size == 0:
            raise ValueError(f"{name}: expected at least one label, got none")
        if y.dtype.kind == "f" and np.isnan(y).any():
            raise ValueError(f"{name}: contains NaN labels (first at row {int(np.flatnonzero(np.isnan(y))[0])})")
        if y.dtype.kind == "O":
            if any(v is None for v in y):
                raise ValueError(f"{name}: contains missing labels (None)")
            kinds = {type(v) for v in y}
            if len(kinds) > 1 and not all(issubclass(k, (int, float, np.number)) for k in kinds):
                raise TypeError(f"{name}: labels must all be of one type, got "
                                f"{', '.join(sorted(k.__name__ for k in kinds))}")
        return y

    def fit_encode(self, y, dtype):
        labels = self._labels(y, "y")
        classes = np.unique(labels)
        if len(classes) < 2:
            raise ValueError(f"y: found a single class ({show(classes[0])}); classification needs "
                             "at least two")
        self._check_class_count(len(classes))
        self.classes_ = classes
        return self._one_hot(np.searchsorted(classes, labels), dtype)

    def encode(self, y, dtype, name="y"):
        labels = self._labels(y, name)
        index = np.searchsorted(self.classes_, labels)
        index = np.minimum(index, len(self.classes_) - 1)
        unseen = self.classes_[index] != labels
        if unseen.any():
            raise ValueError(f"{name}: label {show(labels[unseen][0])} was not seen during fit; "
                             f"known classes: {', '.join(map(show, self.classes_))}")
        return self._one_hot(index, dtype)

    def decode(self, A):
        return self.classes_[self._class_index(A)]

    def score(self, Y, A):
        return float(np.mean(self._class_index(A) == self._class_index(Y)))

    def get_state(self):
        return {"classes": self.classes_.tolist(), "classes_dtype": self.classes_.dtype.str}

    def set_state(self, state):
        # The state may come from a file: check it as strictly as fit checks labels.
        classes, dtype = state["classes"], np.dtype(state["classes_dtype"])
        if not isinstance(classes, list) or dtype.kind not in "biufUS":
            raise ValueError(f"classes: expected a list of labels of a plain dtype, got {classes!r} "
                             f"with dtype {dtype}")
        classes = np.asarray(classes, dtype=dtype)
        if classes.ndim != 1 or len(np.unique(classes)) != len(classes) or \
                not np.array_equal(np.sort(classes), classes):
            raise ValueError(f"classes: expected distinct labels in sorted order, got {classes.tolist()!r}")
        self._check_class_count(len(classes))
        self.classes_ = classes

    def _check_class_count(self, n_classes: int) -> None:
        raise NotImplementedError

    def _one_hot(self, index: np.ndarray, dtype) -> np.ndarray:
        raise NotImplementedError

    def _class_index(self, A: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def probabilities(self, A: np.ndarray) -> np.ndarray:
        """Class probabilities of shape (n_samples, n_classes), ordered like ``classes_``."""
        raise NotImplementedError


class SigmoidClassifier(_Classifier):
    """Two classes, one sigmoid output: the probability of ``classes_[1]``."""

    name = "binary"
    output_activation = "sigmoid"
    loss = "binary_crossentropy"

    def _check_class_count(self, n_classes):
        if n_classes != 2:
            raise ValueError(f"y: found {n_classes} classes, but an output layer of size 1 "
                             f"(sigmoid) fits two classes only; use an output size of {n_classes} "
                             "(softmax)")

    def _one_hot(self, index, dtype):
        return index.astype(dtype).reshape(-1, 1)

    def _class_index(self, A):
        return (A[:, 0] > 0.5).astype(np.intp)

    def probabilities(self, A):
        return np.column_stack([1.0 - A[:, 0], A[:, 0]])


class SoftmaxClassifier(_Classifier):
    """One softmax output per class."""

    output_activation = "softmax"
    loss = "categorical_crossentropy"

    @property
    def name(self):
        return "binary" if self.n_outputs == 2 else "multiclass"

    def _check_class_count(self, n_classes):
        if n_classes != self.n_outputs:
            sizes = f"{n_classes} (softmax)" + (" or 1 (sigmoid)" if n_classes == 2 else "")
            raise ValueError(f"y: found {n_classes} classes, but the output layer has "
                             f"{self.n_outputs} units; use an output size of {sizes}")

    def _one_hot(self, index, dtype):
        Y = np.zeros((len(index), self.n_outputs), dtype=dtype)
        Y[np.arange(len(index)), index] = 1.0
        return Y

    def _class_index(self, A):
        return A.argmax(axis=1)

    def probabilities(self, A):
        return A


TASK_NAMES = ("regression", "binary", "multiclass", "classification")


def get(task: str, n_outputs: int) -> Task:
    """Build the head for ``task`` with an output layer of ``n_outputs`` units.

    Raises
    ------
    ValueError
        For an unknown task, or an output size the task cannot use (the message says which fit).
    """
    if not isinstance(task, str) or task not in TASK_NAMES:
        raise ValueError(f"task: expected one of {', '.join(map(repr, TASK_NAMES))}, got {task!r}")
    if task == "regression":
        return Regression(n_outputs)
    if task == "binary" and n_outputs not in (1, 2):
        raise ValueError(f"task='binary' needs an output layer of size 1 (sigmoid) or 2 (softmax), "
                         f"got {n_outputs}")
    if task == "multiclass" and n_outputs < 2:
        raise ValueError("task='multiclass' needs one output unit per class (at least 2), got 1; "
                         "for a single sigmoid output use task='binary'")
    return SigmoidClassifier(n_outputs) if n_outputs == 1 else SoftmaxClassifier(n_outputs)
