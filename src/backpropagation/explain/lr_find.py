"""The learning-rate range test (:func:`lr_find`): train a copy while the rate grows exponentially,
watch the smoothed loss, stop when it explodes; suggest the rate at its minimum divided by 10."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np

from ..data import check_float, check_int
from ..training.prepare import training_sets
from ..training.reducers import LocalReducer


#: Steps of the range test whose smoothed loss the suggestion ignores: an average of a handful of
#: batches can sit below the true curve by chance (fastai skips 10 as well).
SKIP_START = 10


@dataclass
class LRFinderResult:
    """What :func:`lr_find` saw.

    Attributes
    ----------
    rates, losses, smoothed : ndarray
        The rate of each step, the batch's loss at it, and the bias-corrected exponential
        moving average of the losses.
    suggestion : float
        The suggested learning rate.
    rule : str
        How ``suggestion`` was chosen.
    stopped : str
        Why the test ended.
    """

    rates: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float
    rule: str
    stopped: str

    def __getitem__(self, key: str):
        """Dictionary access: ``result["suggestion"]``."""
        return getattr(self, key)

    def to_dict(self) -> dict:
        """JSON-ready: the suggestion, its rule, why the test stopped, and every step's numbers."""
        return {"suggestion": self.suggestion, "rule": self.rule, "stopped": self.stopped,
                "rates": self.rates.tolist(), "losses": self.losses.tolist(), "smoothed": self.smoothed.tolist()}

    def plot(self, path=None):
        """Smoothed loss against the rate (log scale), the suggestion marked (needs matplotlib)."""
        from .plotting import plot_lr_find

        return plot_lr_find(self, path)


def checked_range_test(start, end, smoothing, diverge) -> tuple[float, float, float, float]:
    """:func:`lr_find`'s ``start``, ``end``, ``smoothing`` and ``diverge``, checked (ValueError naming
    the argument otherwise)."""
    start, end = check_float("start", start, 0.0, strict=True), check_float("end", end, 0.0, strict=True)
    if not end > start:
        raise ValueError(f"end: expected a rate above start={start}, got {end}")
    if not (1e-12 <= start and end <= 1e6):
        raise ValueError(f"start and end: learning rates from 1e-12 to 1e6 are tried, got {start:g} to {end:g}")
    smoothing = check_float("smoothing", smoothing, 0.0)
    if smoothing >= 1:
        raise ValueError(f"smoothing: expected a number in [0, 1), got {smoothing}")
    return start, end, smoothing, check_float("diverge", diverge, 1.0, strict=True)


def lr_find(model, X, y, start: float = 1e-7, end: float = 10.0, steps: int | None = None,
            batch_size: int = 32, smoothing: float = 0.98, diverge: float = 4.0,
            sample_weight=None, class_weight=None) -> LRFinderResult:
    """The learning-rate range test (Smith 2015; fastai's and Lightning's ``lr_find``).

    A copy of ``model`` trains on shuffled batches of ``X``, ``y`` while the learning rate grows
    exponentially from ``start`` to ``end`` over ``steps`` steps (default: one pass over the data,
    at least 100 steps); the losses are smoothed by an exponential moving average
    (``smoothing``, bias-corrected), and the test stops once the smoothed loss exceeds
    ``diverge`` times its minimum, or is not finite. ``model`` itself is never changed (weights,
    optimizer state and random generator stay as they were).

    Returns
    -------
    LRFinderResult
        Its ``suggestion`` is the rate at the smoothed loss's minimum (after the first
        :data:`SKIP_START` steps) divided by 10: the minimum sits where training is about to
        become unstable, and a tenth of it still learns fast (fastai's "minimum" rule).
    """
    start, end, smoothing, diverge = checked_range_test(start, end, smoothing, diverge)
    trial = copy.deepcopy(model)
    X, Y, _, _, weights = training_sets(trial, LocalReducer(), X, y, sample_weight, 0.0, None, class_weight)
    batch_size = min(check_int("batch_size", batch_size, 1), len(X))
    steps = max(100, math.ceil(len(X) / batch_size)) if steps is None else check_int("steps", steps, 2)
    rates = start * (end / start) ** (np.arange(steps) / (steps - 1))
    losses, smoothed, average, stopped = [], [], 0.0, f"reached end={end:g} after {steps} steps"
    order, at = trial.rng.permutation(len(X)), 0
    with np.errstate(over="ignore", invalid="ignore"):
        for i, rate in enumerate(rates):
            if at + batch_size > len(X):                 # a new pass, newly shuffled
                order, at = trial.rng.permutation(len(X)), 0
            rows = order[at:at + batch_size]
            at += batch_size
            loss = trial.backprop.loss_and_gradients(X[rows], Y[rows], None if weights is None else weights[rows],
                                            penalty_gradient=False)
            if not math.isfinite(loss):
                stopped = f"the loss became {loss} at rate {rate:.3g}"
                break
            average = smoothing * average + (1 - smoothing) * loss
            losses.append(loss)
            smoothed.append(average / (1 - smoothing ** (i + 1)))
            if i > 0 and smoothed[-1] > diverge * min(smoothed):
                stopped = f"the smoothed loss exceeded {diverge:g}x its minimum at rate {rate:.3g}"
                break
            trial.backprop.update(rate)
    if not smoothed:
        raise ValueError(f"lr_find: the loss was not finite at the first rate ({start:g}); lower start")
    smoothed = np.array(smoothed)
    skip = SKIP_START if len(smoothed) > 2 * SKIP_START else 0      # (the first averages rest on few batches)
    best = skip + int(np.argmin(smoothed[skip:]))
    return LRFinderResult(rates[:len(smoothed)], np.array(losses), smoothed, float(rates[best] / 10),
                          f"the rate at the smoothed loss's minimum ({rates[best]:.3g}) divided by 10"
                          + (f", after the first {skip} steps" if skip else ""), stopped)
