"""Callbacks: objects whose hooks ``fit`` calls at the start and end of training, epochs and batches.

Hooks receive a ``logs`` dict. At ``on_train_begin`` it holds ``epochs``, ``samples``,
``batch_size`` and ``validation`` (whether validation data exists); at ``on_epoch_end`` the
epoch's ``loss``, the task's metric (``accuracy`` or ``r2``), their ``val_`` counterparts when
validation data exists, and ``lr``; at ``on_batch_end`` the batch's ``loss`` and ``size``.
A callback stops training by setting ``self.model.stop_training = True`` (and may explain why in
``self.model.stop_reason``) and changes the learning rate through
``self.model.current_learning_rate``.
"""

from __future__ import annotations

import math
import numbers
import sys
import time
from typing import Callable, Iterable

import numpy as np

from ..files import check_output
from ..nn import schedules
from ..nn.schedules import Schedule


class Callback:
    """Base class with empty hooks; override the ones you need.

    The protocol: ``fit`` calls ``set_model(model)``, then ``on_train_begin`` with ``epochs``,
    ``samples`` (training rows over all processes), ``batch_size``, ``validation`` (bool) and
    ``rank`` (this process's MPI rank, 0 in one process); per epoch ``on_epoch_begin`` and
    ``on_epoch_end`` with ``loss``, the metric, their ``val_`` versions and ``lr``; after each
    batch ``on_batch_end`` with ``loss`` and ``size`` (only for callbacks that override it); and
    ``on_train_end`` with ``allreduce_seconds`` (time spent summing gradients over MPI ranks),
    however training ends. A callback stops training by setting ``model.stop_training`` (and
    ``model.stop_reason``) and may change ``model.current_learning_rate`` between epochs.
    """

    model = None

    def set_model(self, model) -> None:
        """Attach the network being trained (called by ``fit``)."""
        self.model = model

    def on_train_begin(self, logs: dict) -> None:
        """Called once before the first epoch."""

    def on_epoch_begin(self, epoch: int, logs: dict) -> None:
        """Called before each epoch (0-based)."""

    def on_batch_end(self, batch: int, logs: dict) -> None:
        """Called after each mini-batch update (only for callbacks that override it)."""

    def on_epoch_end(self, epoch: int, logs: dict) -> None:
        """Called after each epoch with its losses and metrics."""

    def on_train_end(self, logs: dict) -> None:
        """Called once when training ends, however it ends."""


class History(Callback):
    """Records every epoch's logs; ``fit`` returns it.

    Attributes
    ----------
    history : dict of str to list
        One value per epoch for each key: ``loss``, the metric, ``val_*`` and ``lr``.
    epoch : list of int
        The epochs run (0-based).
    stop_reason : str
        Why training ended: ``"completed"``, or the reason a callback or the divergence check gave.
    kernel_seconds : float
        Seconds the engine spent compiling or loading its kernels before the first epoch (the
        numba engine compiles on first use, then loads from its cache; 0 for numpy).
    """

    def __init__(self) -> None:
        self.history: dict[str, list[float]] = {}
        self.epoch: list[int] = []
        self.stop_reason = "completed"
        self.kernel_seconds = 0.0

    def on_train_begin(self, logs):
        # Every key from the start: a fit stopped before its first epoch still names them.
        metric = self.model.task_.metric
        keys = ["loss", metric] + (["val_loss", "val_" + metric] if logs.get("validation") else []) + ["lr"]
        for key in keys:
            self.history.setdefault(key, [])

    def on_epoch_end(self, epoch, logs):
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)

    def on_train_end(self, logs):
        self.stop_reason = getattr(self.model, "stop_reason", None) or "completed"

    @property
    def interrupted(self) -> bool:
        """Whether training ended because the user pressed Ctrl-C."""
        return self.stop_reason.startswith("interrupted")


class _Monitor:
    """Tracks the best value of one logged quantity and decides what counts as improvement."""

    _maximised = ("accuracy", "r2")

    def __init__(self, monitor: str, mode: str, min_delta: float) -> None:
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"mode: expected 'auto', 'min' or 'max', got {mode!r}")
        if not math.isfinite(min_delta) or min_delta < 0:
            raise ValueError(f"min_delta: expected a finite number >= 0, got {min_delta!r}")
        self.requested = monitor
        self.mode = mode
        self.min_delta = float(min_delta)
        self.monitor = monitor
        self.best = math.inf

    def start(self, has_validation: bool) -> None:
        if self.requested == "auto":
            self.monitor = "val_loss" if has_validation else "loss"
        elif self.requested.startswith("val_") and not has_validation:
            raise ValueError(
                f"monitor: {self.requested!r} needs validation data; "
                "pass validation_split or validation_data to fit, or monitor 'loss'"
            )
        mode = self.mode
        if mode == "auto":
            mode = "max" if self.monitor.removeprefix("val_") in self._maximised else "min"
        self.sign = -1.0 if mode == "max" else 1.0
        self.best = math.inf

    def value(self, logs: dict) -> float:
        if self.monitor not in logs:
            raise ValueError(f"monitor: {self.monitor!r} is not logged; available: {', '.join(logs)}")
        return self.sign * logs[self.monitor]

    def improved(self, logs: dict) -> bool:
        """Record the value; True if it beats the best so far by more than min_delta."""
        value = self.value(logs)
        if value < self.best - self.min_delta:
            self.best = value
            return True
        return False


class EarlyStopping(Callback):
    """Stop when the monitored quantity has not improved for ``patience`` epochs.

    Parameters
    ----------
    monitor : str, default "auto"
        A logged key; ``"auto"`` means ``val_loss`` when validation data exists, else ``loss``.
    min_delta : float, default 0.0
        Smallest change that counts as an improvement.
    patience : int, default 10
        Epochs without improvement before stopping.
    restore_best_weights : bool, default True
        At the end of training, put back the weights of the best epoch.
    mode : {"auto", "min", "max"}, default "auto"
        Whether lower or higher is better; "auto" maximises accuracy and r2, minimises the rest.

    Attributes
    ----------
    best_epoch : int or None
        The epoch (0-based) with the best monitored value.
    stopped_epoch : int or None
        The epoch after which training stopped, if it stopped early.
    """

    def __init__(self, monitor: str = "auto", min_delta: float = 0.0, patience: int = 10,
                 restore_best_weights: bool = True, mode: str = "auto") -> None:
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ValueError(f"patience: expected an integer >= 0, got {patience!r}")
        self._monitor = _Monitor(monitor, mode, min_delta)
        self.patience = patience
        self.restore_best_weights = bool(restore_best_weights)

    @property
    def monitor(self) -> str:
        """The logged key being watched (resolved from "auto" when training starts)."""
        return self._monitor.monitor

    @property
    def min_delta(self) -> float:
        """The smallest change that counts as an improvement."""
        return self._monitor.min_delta

    def on_train_begin(self, logs):
        self._monitor.start(logs["validation"])
        self.wait = 0
        self.best_epoch = None
        self.stopped_epoch = None
        self.best_parameters = None

    def on_epoch_end(self, epoch, logs):
        if self._monitor.improved(logs):
            self.wait = 0
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_parameters = self.model.parameters.copy()
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.model.stop_training = True
            self.model.stop_reason = (
                f"early stopping: {self.monitor} did not improve for {self.patience} epochs "
                f"(best at epoch {self.best_epoch + 1})"
                if self.best_epoch is not None
                else f"early stopping: {self.monitor} never improved"
            )

    def on_train_end(self, logs):
        if self.restore_best_weights and self.best_parameters is not None:
            self.model.parameters[...] = self.best_parameters


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when the monitored quantity stops improving.

    Parameters
    ----------
    monitor : str, default "auto"
        As in :class:`EarlyStopping`.
    factor : float, default 0.5
        Multiplier in (0, 1).
    patience : int, default 5
        Epochs without improvement before reducing.
    min_delta : float, default 1e-4
        Smallest change that counts as an improvement.
    cooldown : int, default 0
        Epochs to wait after a reduction before counting again.
    min_lr : float, default 0.0
        The learning rate never goes below this.
    mode : {"auto", "min", "max"}, default "auto"
    """

    def __init__(self, monitor: str = "auto", factor: float = 0.5, patience: int = 5,
                 min_delta: float = 1e-4, cooldown: int = 0, min_lr: float = 0.0,
                 mode: str = "auto") -> None:
        if not (0.0 < factor < 1.0):
            raise ValueError(f"factor: expected a number in (0, 1), got {factor!r}")
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name}: expected an integer >= 0, got {value!r}")
        if not math.isfinite(min_lr) or min_lr < 0:
            raise ValueError(f"min_lr: expected a finite number >= 0, got {min_lr!r}")
        self._monitor = _Monitor(monitor, mode, min_delta)
        self.factor = float(factor)
        self.patience = patience
        self.cooldown = cooldown
        self.min_lr = float(min_lr)

    def on_train_begin(self, logs):
        self._monitor.start(logs["validation"])
        self.wait = 0
        self.cooldown_left = 0

    def on_epoch_end(self, epoch, logs):
        if self.cooldown_left > 0:
            self.cooldown_left -= 1
            self.wait = 0
        if self._monitor.improved(logs):
            self.wait = 0
            return
        self.wait += 1
        if self.wait >= self.patience and self.cooldown_left == 0:
            lr = self.model.current_learning_rate
            self.model.current_learning_rate = max(lr * self.factor, self.min_lr)
            self.cooldown_left = self.cooldown
            self.wait = 0


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of every epoch.

    Parameters
    ----------
    schedule : Schedule or callable
        A :class:`~backpropagation.nn.schedules.Schedule` (called with the epoch, the initial
        learning rate and the number of epochs) or a function ``f(epoch, lr) -> new_lr`` that
        receives the current learning rate, as in Keras.
    """

    def __init__(self, schedule: Schedule | Callable[[int, float], float]) -> None:
        if not callable(schedule):
            raise TypeError(f"schedule: expected a Schedule or a callable, got {type(schedule).__name__}")
        self.schedule = schedule

    def on_train_begin(self, logs):
        self.initial_lr = self.model.current_learning_rate
        self.epochs = logs["epochs"]

    def on_epoch_begin(self, epoch, logs):
        if isinstance(self.schedule, Schedule):
            lr = self.schedule(epoch, self.initial_lr, self.epochs)
        else:
            try:
                lr = self.schedule(epoch, self.model.current_learning_rate)
            except TypeError as error:
                raise TypeError(f"lr_schedule: calling it as f(epoch, lr) failed: {error}") from None
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
            raise TypeError(f"lr_schedule: expected the function to return a number (the learning "
                            f"rate), got {lr!r} for epoch {epoch}")
        lr = float(lr)
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(f"lr_schedule: returned learning rate {lr!r} for epoch {epoch}; "
                             "expected a finite number >= 0")
        self.model.current_learning_rate = lr


class ModelCheckpoint(Callback):
    """Save the model to ``filepath`` after epochs that improve the monitored quantity.

    The file is replaced atomically, so a process killed at any moment leaves the last good model
    on disk and loses at most the epochs since. The path is checked when training begins (a
    missing directory or a path that is not a regular file stops ``fit`` before the first epoch).

    Parameters
    ----------
    filepath : str or path-like
        Where to write the model (``.npz``).
    monitor : str, default "auto"
        As in :class:`EarlyStopping`.
    save_best_only : bool, default True
        If False, save after every epoch.
    mode : {"auto", "min", "max"}, default "auto"
    """

    def __init__(self, filepath, monitor: str = "auto", save_best_only: bool = True,
                 mode: str = "auto") -> None:
        self.filepath = filepath
        self._monitor = _Monitor(monitor, mode, 0.0)
        self.save_best_only = bool(save_best_only)

    def on_train_begin(self, logs):
        # A path that cannot be written must fail now, not after the first good epoch.
        self.writes = logs.get("rank", 0) == 0  # under MPI, rank 0 writes
        if self.writes:
            check_output(self.filepath, "ModelCheckpoint filepath")
        self._monitor.start(logs["validation"])

    def on_epoch_end(self, epoch, logs):
        improved = self._monitor.improved(logs)  # tracked on every rank, written by rank 0
        if (improved or not self.save_best_only) and self.writes:
            self.model.save(self.filepath)


class ProgressBar(Callback):
    """Report progress on stderr (or ``file``).

    ``verbose=1`` draws a tqdm bar per epoch on a terminal; when the output is not a terminal
    (a log file, a pipe, CI) it prints plain lines instead, no carriage returns, at most one per
    epoch and about 20 in all for long runs (plus the last epoch). ``verbose=2`` prints one line
    per epoch everywhere.

    Parameters
    ----------
    verbose : {1, 2}
    file : file-like, default sys.stderr
    """

    #: Off a terminal, ``verbose=1`` prints about this many epoch lines per run.
    LINES_PER_RUN = 20

    def __init__(self, verbose: int = 1, file=None) -> None:
        if verbose not in (1, 2):
            raise ValueError(f"verbose: expected 1 or 2, got {verbose!r}")
        self.verbose = verbose
        self.file = file

    def on_train_begin(self, logs):
        self.epochs = logs["epochs"]
        self.samples = logs["samples"]
        self._bar = None
        self._stream = self.file or sys.stderr
        isatty = getattr(self._stream, "isatty", None)
        self._draw_bar = self.verbose == 1 and callable(isatty) and isatty()
        self._every = 1 if self.verbose == 2 else max(1, math.ceil(self.epochs / self.LINES_PER_RUN))
        self._unprinted = None
        self._started = time.perf_counter()

    def on_epoch_begin(self, epoch, logs):
        self._start = time.perf_counter()
        if self._draw_bar:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.samples, desc=f"Epoch {epoch + 1}/{self.epochs}",
                             unit="sample", leave=True, file=self._stream, dynamic_ncols=True)

    def on_batch_end(self, batch, logs):
        if self._bar is not None:
            self._bar.update(logs["size"])

    def on_epoch_end(self, epoch, logs):
        text = " - ".join(f"{k}: {_format(v)}" for k, v in logs.items())
        if self._bar is not None:
            self._bar.set_postfix_str(text, refresh=False)
            self._bar.close()
            self._bar = None
            return
        line = f"Epoch {epoch + 1}/{self.epochs} - {time.perf_counter() - self._start:.2f}s - {text}"
        if epoch == 0 or (epoch + 1) % self._every == 0 or epoch + 1 == self.epochs:
            print(line, file=self._stream, flush=True)
            self._unprinted = None
        else:
            self._unprinted = line  # printed at the end if training stops here

    def on_train_end(self, logs):
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        if self._unprinted is not None:
            print(self._unprinted, file=self._stream, flush=True)
            self._unprinted = None


def _format(value: float) -> str:
    return f"{value:.4g}" if isinstance(value, (float, np.floating)) else str(value)


def for_fit(early_stopping, lr_schedule, callbacks) -> list:
    """The callbacks that ``fit``'s ``early_stopping``, ``lr_schedule`` and ``callbacks`` ask for."""
    return _early_stopping_callbacks(early_stopping) + _schedule_callbacks(lr_schedule) + _user_callbacks(callbacks)


def _early_stopping_callbacks(early_stopping) -> list:
    if early_stopping is True:
        return [EarlyStopping()]
    if early_stopping is False or early_stopping is None:
        return []
    if isinstance(early_stopping, EarlyStopping):
        return [early_stopping]
    raise TypeError(f"early_stopping: expected True, False or an EarlyStopping instance, "
                    f"got {early_stopping!r}")


def _schedule_callbacks(lr_schedule) -> list:
    if lr_schedule is None:
        return []
    if isinstance(lr_schedule, Callback):
        return [lr_schedule]
    if isinstance(lr_schedule, str) and lr_schedule.lower() == "plateau":
        return [ReduceLROnPlateau()]
    if isinstance(lr_schedule, (str, schedules.Schedule)):
        return [LearningRateScheduler(schedules.get(lr_schedule))]
    if callable(lr_schedule):
        return [LearningRateScheduler(lr_schedule)]
    raise TypeError(f"lr_schedule: expected a schedule name ({', '.join(schedules.names() + ['plateau'])}), "
                    f"a Schedule, a callable f(epoch, lr) or a Callback, got {lr_schedule!r}")


def _user_callbacks(callbacks) -> list:
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback) or not isinstance(callbacks, Iterable):
        hint = f"; wrap it in a list: callbacks=[{type(callbacks).__name__}(...)]" \
            if isinstance(callbacks, Callback) else ""
        raise TypeError(f"callbacks: expected a list of Callback instances, got "
                        f"{type(callbacks).__name__}{hint}")
    callbacks = list(callbacks)
    for i, c in enumerate(callbacks):
        if not isinstance(c, Callback):
            raise TypeError(f"callbacks[{i}]: expected a Callback instance, got {type(c).__name__}")
    return callbacks
