"""The training loop: epochs of mini-batches, each a forward pass, a backward pass and an update.

:func:`train` is what ``NeuralNetwork.fit`` runs once its data are checked and encoded, whether
the rows are in memory or streamed from a file (a *source*, :mod:`.sources`)::

    for each epoch:
        for each part of the source (all rows in memory, or one pool of a streamed table):
            for each mini-batch of the part:
                loss, gradients = forward and backward pass on the batch   (the engine)
                reducer.combine(gradients, loss)                           (local: nothing to do)
                add the L2 penalty's gradient; optimizer step
        epoch loss and metric, validation loss and metric → callbacks

A *reducer* is the seam between one process and many: :class:`~.reducers.LocalReducer` combines
nothing, and :class:`~.reducers.MPIReducer` sums each batch's gradient over MPI ranks. The loop
never asks which one it has, nor whether the rows are streamed. Callbacks, Ctrl-C, the
divergence check and the engine decision live here, whatever computes the batches.
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


def train(model, source, validation, reducer, *, epochs: int, callbacks: list,
          interrupt: InterruptGuard) -> cb.History:
    """Train ``model`` on the parts ``source`` hands out each epoch; return the history (see
    ``NeuralNetwork.fit``).

    ``validation`` is ``(X_val, Y_val)`` (both None without validation rows). ``interrupt`` is
    the guard ``fit`` entered before its first check: a Ctrl-C at any moment of ``fit`` (checks,
    engine start, kernel loading, an epoch, validation) stops training at the next batch or
    epoch boundary, and one before the first epoch trains nothing.

    Raises
    ------
    DivergenceError
        After the callbacks' ``on_train_end``, if a loss or the weights became non-finite.
    """
    history = cb.History()
    callbacks = [history] + callbacks
    model.stop_training, model.stop_reason = False, None
    model.current_learning_rate = model.learning_rate
    model.history_ = history
    for c in callbacks:
        c.set_model(model)
        c.on_train_begin({"epochs": epochs, "samples": source.n_rows, "batch_size": source.batch_size,
                          "validation": validation[0] is not None, "rank": reducer.rank})
    X_sample, Y_sample = source.sample()
    blas_threads = engines.decide(model, X_sample, Y_sample, source.n_rows, source.batch_size, epochs,
                                  distributed=not reducer.local)
    divergence = None
    # Overflow is not warned about: the loop finds non-finite losses and weights itself and
    # raises DivergenceError, which says what to do.
    with np.errstate(over="ignore", invalid="ignore"):
        try:
            if reducer.interrupted(interrupt):  # (no need to wait for the numba kernels to load)
                stop(model, "interrupted (Ctrl-C) before the first epoch; 0 complete epoch(s) recorded")
            else:
                engine = engines.create(model.engine_, model, reducer, batch_callbacks(callbacks), source.batch_size)
                history.kernel_seconds = getattr(engine, "load_seconds", 0.0)
                loop = TrainingLoop(model, reducer, engine, source, validation, callbacks)
                # (what measured faster for this fit, or what the engine's threads need)
                with measure.holding_blas(blas_threads or engine.blas_threads):
                    divergence = loop.run(epochs, interrupt)
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


@dataclass
class EpochTotals:
    """What an epoch's batches add up to: the weighted loss, the weight, the metric's tally, and
    the number of the next batch (batches are numbered across a streamed epoch's pools)."""

    tally: object
    loss: float = 0.0
    weight: float = 0.0
    batch: int = 0


class TrainingLoop:
    """The epochs of one :func:`train` call: each hands the engine the source's batches, then
    computes the epoch's loss, metric and validation scores for the callbacks.

    Parameters
    ----------
    model : NeuralNetwork
    reducer : LocalReducer or MPIReducer
    engine : NumpyEngine or NumbaEngine
        What runs the batches (``engine.chunks``) and scores the validation rows (``engine.objective``).
    source : InMemoryRows or StreamedPools
        Each epoch's parts (:mod:`.sources`).
    validation : tuple
        ``(X_val, Y_val)``, both None without validation data.
    callbacks : list of Callback
    """

    def __init__(self, model, reducer, engine, source, validation, callbacks) -> None:
        self.model, self.reducer, self.engine, self.source = model, reducer, engine, source
        self.X_val, self.Y_val = validation
        self.callbacks, self.batch_callbacks = callbacks, batch_callbacks(callbacks)
        self.outputs = np.empty((0, model.layer_sizes[-1]), dtype=model.dtype)   # grown to the largest part
        self.val_outputs = None if self.Y_val is None else np.empty_like(self.Y_val)

    def run(self, epochs, interrupt) -> DivergenceError | None:
        """Every epoch in turn until the last, a stop or a Ctrl-C; the divergence to raise, if any."""
        model = self.model
        for epoch in range(epochs):
            if self.reducer.interrupted(interrupt):   # Ctrl-C between two epochs (or while kernels loaded)
                when = f"after epoch {epoch}" if epoch else "before the first epoch"
                stop(model, f"interrupted (Ctrl-C) {when}; {epoch} complete epoch(s) recorded")
                return None
            for c in self.callbacks:
                c.on_epoch_begin(epoch, {})
            outcome = self.epoch(epoch, interrupt)
            if outcome.logs is None:
                return outcome.divergence
            for c in self.callbacks:
                c.on_epoch_end(epoch, outcome.logs)
            if model.stop_training:
                break
        return None

    def epoch(self, epoch, interrupt) -> EpochOutcome:
        """One pass over every part of the source."""
        model = self.model
        lr, last_good = model.current_learning_rate, model.parameters.copy()
        totals = EpochTotals(model.task_.metric_tally())
        for batches, order in self.source.parts(model.rng):
            outcome = self.part(epoch, batches, order, lr, totals, last_good, interrupt)
            if outcome is not None:
                return outcome
        if not np.isfinite(model.parameters).all():  # an update overflowed without a bad loss yet
            return EpochOutcome(divergence=diverged(model, epoch, totals.batch - 1, "non-finite weights", last_good))
        return EpochOutcome(logs=self.epoch_logs(totals, lr))

    def part(self, epoch, batches, order, lr, totals: EpochTotals, last_good, interrupt) -> EpochOutcome | None:
        """The batches of one part in ``order`` (None: as they are), added to ``totals``; an
        outcome if the epoch ends here (Ctrl-C, divergence), else None."""
        model, reducer = self.model, self.reducer
        n_rows = len(batches.X)
        if len(self.outputs) < n_rows:
            self.outputs = np.empty((n_rows, self.outputs.shape[1]), dtype=model.dtype)
        outputs, trained = self.outputs[:n_rows], np.zeros(n_rows, dtype=bool)
        first_batch, batch = totals.batch, totals.batch - 1
        for first, results in self.engine.chunks(batches, order, lr, outputs, trained, interrupt):
            for batch, (batch_loss, batch_weight, size) in enumerate(results, first_batch + first):
                if batch_weight == 0:
                    continue  # all weights zero: nothing to learn from this batch
                if not math.isfinite(batch_loss):
                    return EpochOutcome(divergence=diverged(model, epoch, batch, batch_loss, last_good))
                totals.loss += batch_loss * batch_weight
                totals.weight += batch_weight
                for c in self.batch_callbacks:
                    c.on_batch_end(batch, {"loss": batch_loss, "size": size})
            if reducer.interrupted(interrupt):
                # The partial epoch is not logged: history holds complete epochs only.
                stop(model, f"interrupted (Ctrl-C) during epoch {epoch + 1}, after batch {batch + 1}; "
                            f"{epoch} complete epoch(s) recorded")
                return EpochOutcome(interrupted=True)
        totals.batch = batch + 1
        weights = None if batches.weights is None else batches.weights[trained]
        model.task_.add_to(totals.tally, batches.Y[trained], outputs[trained], weights)
        return None

    def epoch_logs(self, totals: EpochTotals, lr) -> dict:
        """Loss and metric of the epoch (sample-weighted over the rows trained on), validation's."""
        model, reducer, metric = self.model, self.reducer, self.model.task_.metric
        logs = {"loss": totals.loss / totals.weight if totals.weight else math.nan,
                metric: reducer.merged(totals.tally).value}
        if self.X_val is not None:
            val_loss = self.engine.objective(self.X_val, self.Y_val, self.val_outputs)
            logs["val_loss"] = reducer.mean(val_loss, len(self.X_val))
            tally = model.task_.metric_tally()
            model.task_.add_to(tally, self.Y_val, self.val_outputs)
            logs["val_" + metric] = reducer.merged(tally).value
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
