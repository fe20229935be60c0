"""The training loop: epochs of mini-batches, each a forward pass, a backward pass and an update.

:func:`train` is what ``NeuralNetwork.fit`` runs once its data are checked and encoded::

    for each epoch:
        for each mini-batch:
            loss, gradients = forward and backward pass on the batch   (the model)
            reducer.combine(gradients, loss)                           (local: nothing to do)
            add the L2 penalty's gradient; optimizer step
        epoch loss and metric, validation loss and metric → callbacks

A *reducer* is the seam between one process and many: :class:`LocalReducer` combines nothing,
and :class:`~backpropagation.training.reducers.MPIReducer` sums each batch's gradient over MPI ranks.
The loop never asks which one it has. Callbacks, Ctrl-C and the divergence check live here,
whatever computes the batches.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import callbacks as cb
from .. import engines
from ..engines import measure
from ..errors import DivergenceError
from ..interrupt import InterruptGuard


def fit_streamed(model, table, y, epochs, batch_size, verbose, validation_split, validation_data, early_stopping,
                 lr_schedule, callbacks, sample_weight, comm, class_weight):
    """``fit`` on a streamed table (:func:`backpropagation.read_table`): what does not apply to a
    table read in blocks is refused by name."""
    from ..tables.streamed_table import fit_table

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
