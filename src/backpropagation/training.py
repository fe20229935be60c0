"""The training loop: epochs of mini-batches, each a forward pass, a backward pass and an update.

:func:`train` is what ``NeuralNetwork.fit`` runs once its data are checked and encoded::

    for each epoch:
        for each mini-batch:
            loss, gradients = forward and backward pass on the batch   (the model)
            reducer.combine(gradients, loss)                           (local: nothing to do)
            add the L2 penalty's gradient; optimizer step
        epoch loss and metric, validation loss and metric → callbacks

A *reducer* is the seam between one process and many: :class:`LocalReducer` combines nothing,
and :class:`~backpropagation.distributed.MPIReducer` sums each batch's gradient over MPI ranks.
The loop never asks which one it has. Callbacks, Ctrl-C and the divergence check live here,
whatever computes the batches.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass

import numpy as np

from . import callbacks as cb
from . import engines
from .engines import measure
from .data import (MiniBatches, as_array, check_features, check_magnitude, check_float, check_int, check_same_length,
                   check_sample_weight, column_names, validation_split)
from .interrupt import InterruptGuard


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss. ``history`` holds the epochs completed before it."""

    #: Under MPI every rank reaches it alike: the losses it sees were combined over the ranks.
    on_every_rank = True

    def __init__(self, message: str, history: cb.History) -> None:
        super().__init__(message)
        self.history = history


class LocalReducer:
    """One process holds every row: every combination is the identity.

    The interface (shared with :class:`~backpropagation.distributed.MPIReducer`): run checks
    ``collectively``, merge labels and sums over processes, ``start`` training, cut the rows
    into ``batches``, ``combine`` a batch's gradient and loss, average a ``mean`` and ``score``
    a metric over every process's rows.
    """

    rank = 0
    reduce_seconds = 0.0
    #: Whether every row is in this process (engines that cannot all-reduce need it).
    local = True
    #: Fewest validation rows a process may hold (under MPI a rank may hold none).
    min_validation_rows = 1

    def __init__(self) -> None:
        self.n_rows = 0

    def collectively(self, step):
        """Run a check; under MPI, one rank's refusal stops every rank."""
        return step()

    def failing_together(self):
        """A context for collective work: under MPI an error on one rank alone stops every rank
        (rather than leaving the others waiting for it); here nothing to do."""
        return contextlib.nullcontext()

    def union_of_labels(self, labels: np.ndarray) -> np.ndarray:
        """The labels present in any process's rows."""
        return labels

    def total(self, part: np.ndarray) -> np.ndarray:
        """The sum of an array over every process."""
        return part

    def start(self, model, n_local: int, has_validation: bool) -> None:
        """Agree on the starting point (under MPI, rank 0's weights and random state)."""
        self.n_rows = n_local

    def batches(self, X, Y, weights, batch_size: int) -> MiniBatches:
        """Mini-batches over every process's rows (this process's part of each)."""
        return MiniBatches(X, Y, weights, batch_size)

    def combine(self, grads: np.ndarray, loss: float, weight: float, interrupt) -> tuple[float, float]:
        """The batch's loss and weight over every process; ``grads`` becomes their gradient."""
        return loss, weight

    def interrupted(self, interrupt) -> bool:
        """Whether training stops after this batch for a Ctrl-C (under MPI: on any rank)."""
        return interrupt.requested

    def mean(self, value: float, count: int) -> float:
        """The mean over every process's rows of a per-process mean ``value`` of ``count`` rows."""
        return value

    def score(self, head, Y: np.ndarray, A: np.ndarray, sample_weight=None) -> float:
        """The task's metric over every process's rows (NaN for no rows)."""
        return head.score(Y, A, sample_weight) if len(Y) else math.nan


def fit_options(verbose, epochs, batch_size, shuffle) -> tuple[int, int, int | None, bool]:
    """``fit``'s scalar options, checked."""
    if verbose not in (0, 1, 2) or isinstance(verbose, bool):
        raise ValueError(f"verbose: expected 0, 1 or 2, got {verbose!r}")
    if not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"shuffle: expected True or False, got {shuffle!r}")
    return verbose, check_int("epochs", epochs, 1), check_int("batch_size", batch_size, 1, allow_none=True), \
        bool(shuffle)


def training_sets(model, reducer, X, y, sample_weight, validation_split, validation_data, class_weight=None):
    """``fit``'s data checked and encoded for ``model``, split into training and validation sets.

    Every check runs ``collectively``: under MPI one rank's refusal stops every rank. Labels
    and target statistics are those of every rank's rows.
    """
    X, y, weights = reducer.collectively(lambda: checked_training_data(model, X, y, sample_weight))
    if model.head.is_classifier and not model.head.fitted:
        # Every rank must number the classes alike, whichever labels its shard holds.
        labels = reducer.collectively(lambda: model.head.labels(y, "y"))
        model.head.fit_encode(reducer.union_of_labels(labels), model.dtype)
    if model.head.fitted:
        Y = reducer.collectively(lambda: model.head.encode(y, model.dtype))
    else:
        Y = reducer.collectively(lambda: model.head.fit_encode(y, model.dtype, reducer.total, weights))
    if class_weight is not None:
        weights = reducer.collectively(lambda: class_weighted(model, Y, weights, class_weight, reducer))
    return reducer.collectively(lambda: validation_sets(
        model, X, Y, validation_split, validation_data, weights, reducer.min_validation_rows))


def fit_streamed(model, table, y, epochs, batch_size, verbose, validation_split, validation_data, early_stopping,
                 lr_schedule, callbacks, sample_weight, comm, class_weight):
    """``fit`` on a streamed table (:func:`backpropagation.read_table`): what does not apply to a
    table read in blocks is refused by name."""
    from .streamed_table import fit_table

    given = {"y": y, "validation_data": validation_data, "lr_schedule": lr_schedule,
             "sample_weight": sample_weight, "comm": comm}
    callbacks = list(callbacks or [])
    for callback in callbacks:
        if isinstance(callback, (cb.LearningRateScheduler, cb.ReduceLROnPlateau, cb.ProgressBar)):
            raise ValueError(f"callbacks: {type(callback).__name__} is not available when X is a streamed table yet "
                             "(each epoch's pools train as separate steps); verbose shows progress")
    for name, value in given.items():
        if value is not None:
            raise ValueError(f"{name}: not available when X is a streamed table (the table holds the targets; "
                             "validation rows come from validation_split)" if name in ("y", "validation_data") else
                             f"{name}: not available when X is a streamed table yet; train in memory for it")
    return fit_table(model, table, epochs=epochs, batch_size=batch_size or 32, verbose=verbose,
                     validation_split=validation_split, early_stopping=early_stopping, class_weight=class_weight,
                     callbacks=callbacks)


def class_weighted(model, Y, weights, class_weight, reducer) -> np.ndarray:
    """The rows' weights (``weights``, or 1) times their class's weight from ``class_weight``:
    ``"balanced"`` (``n_rows / (n_classes · rows of the class)``, counted over every rank) or a
    ``{label: weight}`` dict (classes it leaves out weigh 1)."""
    if not model.head.is_classifier:
        raise ValueError("class_weight: only for classification; this network does regression")
    index = Y.argmax(axis=1) if Y.shape[1] > 1 else Y[:, 0].astype(np.int64)
    classes = model.classes_
    if isinstance(class_weight, str) and class_weight == "balanced":
        counts = reducer.total(np.bincount(index, minlength=len(classes)).astype(np.float64))
        per_class = counts.sum() / (len(classes) * np.maximum(counts, 1))
    elif isinstance(class_weight, dict):
        unknown = [label for label in class_weight if label not in set(classes.tolist())]
        if unknown:
            raise ValueError(f"class_weight: {unknown[0]!r} is not a class of y; the classes are "
                             f"{', '.join(map(repr, classes.tolist()))}")
        per_class = np.array([check_float(f"class_weight[{label!r}]", class_weight.get(label, 1.0), 0.0)
                              for label in classes.tolist()])
    else:
        raise ValueError(f"class_weight: expected 'balanced' or a dict {{label: weight}}, got {class_weight!r}")
    row = per_class[index].astype(model.dtype)
    return row if weights is None else weights * row


def checked_training_data(model, X, y, sample_weight):
    """``fit``'s data, validated: features as the network's dtype, labels/targets, weights."""
    names = column_names(X)
    X = check_features(X, model.dtype, "X", model.layer_sizes[0], feature_names=model.feature_names_in_)
    check_magnitude(X, "X", names)
    if names is not None:                 # recorded as scikit-learn does; later frames must match
        model.feature_names_in_ = np.array(names, dtype=object)
    y = as_array(y, "y")
    check_same_length(X, y)
    return X, y, check_sample_weight(sample_weight, len(X), model.dtype)


def validation_sets(model, X, Y, fraction, validation_data, weights, min_samples=1):
    """Return (X_train, Y_train, X_val, Y_val, train_weights) from the validation arguments.

    ``min_samples=0`` lets an MPI rank hold no validation rows (others hold them)."""
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise TypeError("validation_data: expected a tuple (X_val, y_val)")
        X_val = check_features(validation_data[0], model.dtype, "validation_data[0]",
                               model.layer_sizes[0], min_samples, model.feature_names_in_)
        y_val = as_array(validation_data[1], "validation_data[1]")
        check_same_length(X_val, y_val, "validation_data[0]", "validation_data[1]")
        return X, Y, X_val, model.head.encode(y_val, model.dtype, "validation_data[1]"), weights
    if check_float("validation_split", fraction, 0.0) == 0:
        return X, Y, None, None, weights
    labels = Y.argmax(axis=1) if model.head.is_classifier and Y.shape[1] > 1 else \
        (Y[:, 0] if model.head.is_classifier else None)
    train, val = validation_split(len(X), fraction, model.rng, labels)
    return X[train], Y[train], X[val], Y[val], None if weights is None else weights[train]


def train(model, X, Y, X_val, Y_val, weights, reducer, *, epochs: int, batch_size: int | None,
          shuffle: bool, callbacks: list, interrupt: InterruptGuard) -> cb.History:
    """Train ``model`` on checked, encoded data; return the history (see ``NeuralNetwork.fit``).

    ``interrupt`` is the guard ``fit`` entered before its first check: a Ctrl-C at any moment
    of ``fit`` (checks, engine start, kernel loading, an epoch, validation) stops training at
    the next batch or epoch boundary, and one before the first epoch trains nothing.

    Raises
    ------
    DivergenceError
        After the callbacks' ``on_train_end``, if a loss or the weights became non-finite.
    """
    n_rows = reducer.n_rows
    batch_size = n_rows if batch_size is None else min(batch_size, n_rows)
    history = cb.History()
    callbacks = [history] + callbacks
    model.stop_training, model.stop_reason = False, None
    model.current_learning_rate = model.learning_rate
    model.history_ = history
    for c in callbacks:
        c.set_model(model)
        c.on_train_begin({"epochs": epochs, "samples": n_rows, "batch_size": batch_size,
                          "validation": X_val is not None, "rank": reducer.rank})
    blas_threads = engines.decide(model, X, Y, n_rows, batch_size, epochs, distributed=not reducer.local)
    divergence = None
    # Overflow is not warned about: the loop finds non-finite losses and weights itself and
    # raises DivergenceError, which says what to do.
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            if reducer.interrupted(interrupt):  # (no need to wait for the numba kernels to load)
                stop(model, "interrupted (Ctrl-C) before the first epoch; 0 complete epoch(s) recorded")
            else:
                engine = engines.create(model.engine_, model, reducer, batch_callbacks(callbacks), batch_size)
                history.kernel_seconds = getattr(engine, "load_seconds", 0.0)
                loop = TrainingLoop(model, reducer, engine, Y, (X_val, Y_val), callbacks)
                with measure.holding_blas(blas_threads):      # (what measured faster, for this fit)
                    divergence = loop.run(epochs, reducer.batches(X, Y, weights, batch_size), shuffle, interrupt)
        finally:
            for c in callbacks:
                c.on_train_end({"allreduce_seconds": reducer.reduce_seconds})
    if divergence:
        raise divergence
    return history


def batch_callbacks(callbacks: list) -> list:
    """The callbacks that act after each batch (``on_batch_end`` overridden)."""
    return [c for c in callbacks if type(c).on_batch_end is not cb.Callback.on_batch_end]


def stop(model, reason: str) -> None:
    """Stop training after the current epoch, saying why (``history.stop_reason``)."""
    model.stop_training, model.stop_reason = True, reason


@dataclass
class EpochOutcome:
    """How one epoch ended: completed with its ``logs``, interrupted by Ctrl-C, or diverged."""

    logs: dict | None = None
    interrupted: bool = False
    divergence: DivergenceError | None = None


class TrainingLoop:
    """The epochs of one :func:`train` call: each hands the engine its batches, then computes
    the epoch's loss, metric and validation scores for the callbacks.

    Parameters
    ----------
    model : NeuralNetwork
    reducer : LocalReducer or MPIReducer
    engine : NumpyEngine or NumbaEngine
        What runs the batches (``engine.chunks``).
    Y : ndarray
        The encoded training targets (their order: the batches' rows).
    validation : tuple
        ``(X_val, Y_val)``, both None without validation data.
    callbacks : list of Callback
    """

    def __init__(self, model, reducer, engine, Y, validation, callbacks) -> None:
        self.model, self.reducer, self.engine, self.Y = model, reducer, engine, Y
        self.X_val, self.Y_val = validation
        self.callbacks, self.batch_callbacks = callbacks, batch_callbacks(callbacks)
        self.outputs = np.empty_like(Y)  # each batch's output, for the epoch's metric
        self.val_outputs = None if self.Y_val is None else np.empty_like(self.Y_val)

    def run(self, epochs, batches, shuffle, interrupt) -> DivergenceError | None:
        """Every epoch in turn until the last, a stop or a Ctrl-C; the divergence to raise, if any."""
        model = self.model
        for epoch in range(epochs):
            if self.reducer.interrupted(interrupt):   # Ctrl-C between two epochs (or while kernels loaded)
                when = f"after epoch {epoch}" if epoch else "before the first epoch"
                stop(model, f"interrupted (Ctrl-C) {when}; {epoch} complete epoch(s) recorded")
                return None
            for c in self.callbacks:
                c.on_epoch_begin(epoch, {})
            order = model.rng.permutation(batches.n_rows) if shuffle and batches.batch_size < batches.n_rows \
                else None
            outcome = self.epoch(epoch, batches, order, interrupt)
            if outcome.logs is None:
                return outcome.divergence
            for c in self.callbacks:
                c.on_epoch_end(epoch, outcome.logs)
            if model.stop_training:
                break
        return None

    def epoch(self, epoch, batches, order, interrupt) -> EpochOutcome:
        """One pass over the batches in ``order`` (None: as they are)."""
        model, reducer = self.model, self.reducer
        lr = model.current_learning_rate
        last_good = model.parameters.copy()
        total = seen = 0.0
        trained = np.zeros(len(self.Y), dtype=bool)  # rows whose output the epoch's metric uses
        batch = 0
        for first, results in self.engine.chunks(batches, order, lr, self.outputs, trained, interrupt):
            for batch, (batch_loss, batch_weight, size) in enumerate(results, first):
                if batch_weight == 0:
                    continue  # all weights zero: nothing to learn from this batch
                if not math.isfinite(batch_loss):
                    return EpochOutcome(divergence=diverged(model, epoch, batch, batch_loss, last_good))
                total += batch_loss * batch_weight
                seen += batch_weight
                for c in self.batch_callbacks:
                    c.on_batch_end(batch, {"loss": batch_loss, "size": size})
            if reducer.interrupted(interrupt):
                # The partial epoch is not logged: history holds complete epochs only.
                stop(model, f"interrupted (Ctrl-C) during epoch {epoch + 1}, after batch {batch + 1}; "
                            f"{epoch} complete epoch(s) recorded")
                return EpochOutcome(interrupted=True)
        if not np.isfinite(model.parameters).all():  # an update overflowed without a bad loss yet
            return EpochOutcome(divergence=diverged(model, epoch, batch, "non-finite weights", last_good))
        return EpochOutcome(logs=self.epoch_logs(total, seen, trained, batches.weights, lr))

    def epoch_logs(self, total, seen, trained, weights, lr) -> dict:
        """Loss and metric of the epoch (sample-weighted over the rows trained on), validation's."""
        model, reducer, metric = self.model, self.reducer, self.model.head.metric
        Y, outputs = self.Y, self.outputs
        if not trained.all():
            Y, outputs = Y[trained], outputs[trained]
            weights = None if weights is None else weights[trained]
        logs = {"loss": total / seen if seen else math.nan,
                metric: reducer.score(model.head, Y, outputs, weights)}
        if self.X_val is not None:
            val_loss = model.objective(self.X_val, self.Y_val, self.val_outputs)
            logs["val_loss"] = reducer.mean(val_loss, len(self.X_val))
            logs["val_" + metric] = reducer.score(model.head, self.Y_val, self.val_outputs)
        logs["lr"] = lr
        return logs


def diverged(model, epoch, batch, value, last_good) -> DivergenceError:
    """Keep finite weights and describe the divergence (raised after the callbacks ran)."""
    if not np.isfinite(model.parameters).all():
        model.parameters[...] = last_good
    what = value if isinstance(value, str) else f"the loss became {value}"
    stop(model, f"diverged: {what} at epoch {epoch + 1}, batch {batch + 1}")
    return DivergenceError(
        f"training diverged: {what} at epoch {epoch + 1}, batch {batch + 1}. "
        f"Try a smaller learning_rate (now {model.current_learning_rate:g}), standardised "
        "inputs, or an adaptive optimizer such as 'adam'. The weights were left finite "
        "(rolled back to the start of the epoch if needed).", model.history_)
