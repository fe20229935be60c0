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
from ..data import as_array, check_magnitude, first_overflowing_cell, show
from ..statistics import Moments
from .labels import STORABLE_KINDS, storable_labels


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

    def fit_encode(self, y, dtype, merge=None, sample_weight=None) -> np.ndarray:
        """Learn the targets' form (classes, rank, scale) from ``y`` and return them encoded.

        ``merge`` merges statistics over all MPI ranks' rows; ``sample_weight`` weights them.
        """
        raise NotImplementedError

    def encode(self, y, dtype, name: str = "y") -> np.ndarray:
        """Encode ``y`` as the 2-D float array the loss compares with the output."""
        raise NotImplementedError

    def decode(self, A: np.ndarray) -> np.ndarray:
        """Turn network outputs into predictions in the user's terms."""
        raise NotImplementedError

    def score(self, Y: np.ndarray, A: np.ndarray, sample_weight=None) -> float:
        """The task's metric from encoded targets ``Y`` and outputs ``A`` (optionally weighted)."""
        tally = self.metric_tally()
        self.add_to(tally, Y, A, sample_weight)
        return tally.value

    def metric_tally(self):
        """An empty tally of the task's metric, to :meth:`add_to` part by part and merge."""
        raise NotImplementedError

    def add_to(self, tally, Y: np.ndarray, A: np.ndarray, sample_weight=None) -> None:
        """Count encoded targets ``Y`` against outputs ``A`` into ``tally``."""
        tally.add(Y, A, sample_weight)

    def check_loss(self, loss) -> None:
        """Raise ValueError if ``loss`` cannot train this head (the message names those that can)."""

    def unfitted_copy(self) -> "Task":
        """A head of the same kind and size that has seen no targets (and standardises none)."""
        return type(self)(self.n_outputs)

    def encode_for_trace(self, y, dtype) -> np.ndarray:
        """Targets of a traced step: encoded as ``fit`` would, or, before ``fit`` has seen labels,
        class indices ``0 .. n_classes - 1``."""
        return self.encode(y, dtype)

    def get_state(self) -> dict:
        """JSON-ready description of what fitting learned (saved in the model file)."""
        raise NotImplementedError

    def set_state(self, state: dict) -> None:
        """Restore what :meth:`get_state` described."""
        raise NotImplementedError


class Regression(Task):
    """Real-valued targets of shape (n,) or (n, k); ``predict`` returns the rank ``fit`` saw.

    With ``standardize=True`` the first ``fit`` learns each target column's mean and standard
    deviation, the network learns ``(y - mean) / std`` and :meth:`decode` undoes it, so that
    targets in the thousands train like targets near one (a constant column keeps scale 1).
    With ``clip=True`` the first ``fit`` also learns each column's smallest and largest target and
    :meth:`decode` keeps predictions within them, as a tree ensemble's are: a network extrapolates
    linearly beyond its training inputs (one 5,600 sq ft house priced at $1.2M).
    """

    name = "regression"

    def __init__(self, n_outputs: int, standardize: bool = False, clip: bool = False) -> None:
        super().__init__(n_outputs)
        self.standardize, self.clip = standardize, clip
        self.target_ndim: int | None = None
        self.target_mean_: np.ndarray | None = None
        self.target_scale_: np.ndarray | None = None
        #: With ``clip``: the first fit's smallest and largest target per column (shape (2, k)),
        #: which :meth:`decode` keeps predictions within.
        self.target_range_: np.ndarray | None = None

    @property
    def fitted(self):
        return self.target_ndim is not None

    def fit_encode(self, y, dtype, merge=None, sample_weight=None):
        """Learn the targets' rank (and, standardising, their statistics) and encode them.

        The mean and standard deviation are weighted by ``sample_weight`` (a row of weight 2
        counts as two rows, as it does in the loss). ``merge`` merges these rows'
        :class:`~backpropagation.statistics.Moments` with every other process's (under MPI);
        None means these rows are all there is.
        """
        Y = self._targets(y, "y")
        self.target_ndim = 1 if as_array(y, "y").ndim == 1 else 2
        if self.standardize or self.clip:
            moments = Moments.of(Y, sample_weight)
            moments = merge(moments) if merge else moments
            if self.standardize:
                self.set_target_statistics(moments.mean, moments.std)
            if self.clip:
                self.set_target_range(moments.low, moments.high)
        return self._scaled(Y, dtype)

    def set_target_range(self, low, high) -> None:
        """Keep predictions within ``[low, high]`` per target column (the training targets' range)."""
        self.target_range_ = np.array([np.atleast_1d(low), np.atleast_1d(high)], dtype=np.float64)

    def set_target_statistics(self, mean, std) -> None:
        """Standardise with these per-column means and spreads (a constant column keeps scale 1)."""
        std = np.atleast_1d(np.asarray(std, dtype=np.float64))
        self.target_mean_ = np.atleast_1d(np.array(mean, dtype=np.float64))
        self.target_scale_ = np.where(std > 0, std, 1.0)

    def encode(self, y, dtype, name="y"):
        return self._scaled(self._targets(y, name), dtype)

    def _scaled(self, Y: np.ndarray, dtype) -> np.ndarray:
        if self.target_mean_ is not None:
            Y = (Y - self.target_mean_) / self.target_scale_
        return np.ascontiguousarray(Y, dtype=dtype)

    def to_user_units(self, A: np.ndarray) -> np.ndarray:
        """Network outputs (or encoded targets) in the targets' own units."""
        if self.target_mean_ is None:
            return A
        return A * self.target_scale_.astype(A.dtype) + self.target_mean_.astype(A.dtype)

    def _targets(self, y, name) -> np.ndarray:
        """``y`` checked as a finite 2-D float64 array of ``n_outputs`` columns."""
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
        with np.errstate(over="ignore"):
            Y = np.asarray(y, dtype=np.float64)
        if not np.isfinite(Y).all():
            row = int(np.nonzero(~np.isfinite(Y))[0][0])
            raise ValueError(f"{name}: contains non-finite target values (first at row {row}); "
                             "drop or impute them first")
        check_magnitude(Y, name)
        return Y

    def check_loss(self, loss):
        if getattr(loss, "needs_probability_targets", False):
            raise ValueError(f"loss: {type(loss).__name__} compares class probabilities and cannot fit "
                             "regression targets; use 'mse', 'mae' or 'huber' (or a classification task)")

    def decode(self, A):
        A = self.to_user_units(A)
        if self.target_range_ is not None:          # (trees cannot predict beyond what they saw; nor do we)
            A = np.clip(A, self.target_range_[0].astype(A.dtype), self.target_range_[1].astype(A.dtype))
        return A[:, 0] if self.target_ndim == 1 or (self.target_ndim is None and A.shape[1] == 1) else A

    def metric_tally(self):
        return metrics.R2Tally()      # (R² is the same in standardised and in user units)

    def get_state(self):
        state = {"target_ndim": self.target_ndim}
        if self.target_mean_ is not None:
            state.update(target_mean=self.target_mean_.tolist(), target_scale=self.target_scale_.tolist())
        if self.target_range_ is not None:
            state.update(target_range=self.target_range_.tolist())
        return state

    def set_state(self, state):
        ndim = state["target_ndim"]
        if ndim not in (1, 2) or isinstance(ndim, bool):
            raise ValueError(f"target_ndim: expected 1 or 2, got {ndim!r}")
        mean, scale = state.get("target_mean"), state.get("target_scale")
        if (mean is None) != (scale is None):
            raise ValueError("target_mean and target_scale: expected both or neither")
        if mean is not None:
            mean, scale = np.asarray(mean, dtype=np.float64), np.asarray(scale, dtype=np.float64)
            if mean.shape != (self.n_outputs,) or scale.shape != (self.n_outputs,) or \
                    not np.isfinite(mean).all() or not (np.isfinite(scale) & (scale > 0)).all():
                raise ValueError(f"target_mean and target_scale: expected {self.n_outputs} finite "
                                 f"value(s) each, scales > 0; got {mean.tolist()} and {scale.tolist()}")
        self.target_ndim, self.target_mean_, self.target_scale_ = ndim, mean, scale
        self.target_range_ = None
        if state.get("target_range") is not None:
            bounds = np.asarray(state["target_range"], dtype=np.float64)
            if bounds.shape != (2, self.n_outputs) or not (bounds[0] <= bounds[1]).all():
                raise ValueError(f"target_range: expected [lows, highs] of {self.n_outputs} value(s) each, lows "
                                 f"at most highs; got {state['target_range']!r}"[:300])
            self.target_range_ = bounds


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

    def labels(self, y, name: str) -> np.ndarray:
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
        return storable_labels(y, name)

    def set_classes(self, classes) -> None:
        """Fix the labels to expect before any data is seen (``partial_fit(classes=...)``)."""
        classes = np.unique(self.labels(classes, "classes"))
        if len(classes) < 2:
            raise ValueError(f"classes: expected at least two classes, got {len(classes)}")
        self._check_class_count(len(classes))
        self.classes_ = classes

    def fit_encode(self, y, dtype, merge=None, sample_weight=None):
        labels = self.labels(y, "y")
        if labels.size == 0:
            raise ValueError("y: expected at least one label, got none")
        classes = np.unique(labels)
        if len(classes) < 2:
            raise ValueError(f"y: found a single class ({show(classes[0])}); classification needs "
                             "at least two")
        self._check_class_count(len(classes))
        self.classes_ = classes
        return self._one_hot(np.searchsorted(classes, labels), dtype)

    def encode(self, y, dtype, name="y"):
        labels = self.labels(y, name)
        if (labels.dtype.kind in "US") != (self.classes_.dtype.kind in "US"):
            unseen = np.ones(len(labels), dtype=bool)  # text against numbers: no label is known
            index = np.zeros(len(labels), dtype=np.intp)
        else:
            index = np.minimum(np.searchsorted(self.classes_, labels), len(self.classes_) - 1)
            unseen = self.classes_[index] != labels
        if unseen.any():
            raise ValueError(f"{name}: label {show(labels[unseen][0])} was not seen during fit; "
                             f"known classes: {', '.join(map(show, self.classes_))}")
        return self._one_hot(index, dtype)

    def encode_for_trace(self, y, dtype):
        if self.fitted:
            return self.encode(y, dtype)
        y = np.asarray(y)
        n_classes = max(self.n_outputs, 2)
        if y.dtype.kind not in "iub" or y.ndim != 1 or y.min() < 0 or y.max() >= n_classes:
            raise ValueError(f"y: this classifier has not been fitted, so y must hold class indices "
                             f"0..{n_classes - 1}; got {y.tolist()!r}")
        return self._one_hot(y.astype(np.intp), dtype)

    def decode(self, A):
        return self.classes_[self._class_index(A)]

    def metric_tally(self):
        return metrics.AccuracyTally()

    def add_to(self, tally, Y, A, sample_weight=None):
        tally.add(self._class_index(Y), self._class_index(A), sample_weight)

    def get_state(self):
        classes = self.classes_.tolist()
        if self.classes_.dtype.kind == "S":  # JSON holds text: bytes travel as Latin-1, byte for byte
            classes = [label.decode("latin-1") for label in classes]
        return {"classes": classes, "classes_dtype": self.classes_.dtype.str}

    def set_state(self, state):
        # The state may come from a file: check it as strictly as fit checks labels.
        listed, dtype = state["classes"], np.dtype(state["classes_dtype"])
        if not isinstance(listed, list) or dtype.kind not in STORABLE_KINDS:
            raise ValueError(f"classes: expected a list of labels of a plain dtype, got {listed!r} "
                             f"with dtype {dtype}")
        if dtype.kind == "S":
            if not all(isinstance(label, str) for label in listed):
                raise ValueError("classes: byte-string labels must be stored as text")
            listed = [label.encode("latin-1") for label in listed]
        try:
            classes = np.asarray(listed, dtype=dtype)
        except (OverflowError, TypeError, ValueError):
            classes = None
        if classes is None or classes.ndim != 1 or classes.tolist() != listed or \
                [type(label) for label in classes.tolist()] != [type(label) for label in listed]:
            raise ValueError(f"classes: dtype {dtype} does not hold the labels {listed!r} exactly")
        if len(np.unique(classes)) != len(classes) or not np.array_equal(np.sort(classes), classes):
            raise ValueError(f"classes: expected distinct labels in sorted order, got {listed!r}")
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

    def check_loss(self, loss):
        if getattr(loss, "needs_one_output_per_class", False):
            raise ValueError(f"loss: {type(loss).__name__} needs one output unit per class (softmax); "
                             "with one sigmoid output use 'binary_crossentropy', or use 2 output units")

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


def get(task: str, n_outputs: int, standardize_target: bool = False, clip_predictions: bool = False) -> Task:
    """Build the head for ``task`` with an output layer of ``n_outputs`` units.

    ``standardize_target`` and ``clip_predictions`` apply to regression only (see :class:`Regression`).

    Raises
    ------
    ValueError
        For an unknown task, or an output size the task cannot use (the message says which fit).
    """
    if not isinstance(task, str) or task not in TASK_NAMES:
        raise ValueError(f"task: expected one of {', '.join(map(repr, TASK_NAMES))}, got {task!r}")
    if task == "regression":
        return Regression(n_outputs, standardize_target, clip_predictions)
    if task == "binary" and n_outputs not in (1, 2):
        raise ValueError(f"task='binary' needs an output layer of size 1 (sigmoid) or 2 (softmax), "
                         f"got {n_outputs}")
    if task == "multiclass" and n_outputs < 2:
        raise ValueError("task='multiclass' needs one output unit per class (at least 2), got 1; "
                         "for a single sigmoid output use task='binary'")
    return SigmoidClassifier(n_outputs) if n_outputs == 1 else SoftmaxClassifier(n_outputs)
