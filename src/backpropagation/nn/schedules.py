"""Learning-rate schedules: the learning rate of each epoch as a function of the epoch number.

A :class:`Schedule` maps ``(epoch, initial_lr, epochs)`` to the learning rate used during that
epoch (``epoch`` counts from 0 within one call to ``fit``; ``epochs`` is that call's total).
``fit(lr_schedule=...)`` also accepts a plain callable ``f(epoch, lr) -> new_lr`` that receives
the current learning rate, like Keras' ``LearningRateScheduler``, and ``"plateau"``, which is
:class:`~backpropagation.training.callbacks.ReduceLROnPlateau` (it reacts to the monitored loss, so it
lives with the callbacks).

The same schedules set the L2 factor and the dropout rates epoch by epoch
(:class:`~backpropagation.training.penalty_schedule.PenaltyScheduler`; ``flat_cosine`` is made
for them), with the initial value in place of the initial learning rate.
"""

from __future__ import annotations

import math

from .._registry import Component, Registry
from ..data import check_range


class Schedule(Component):
    """Base class: implement ``__call__``."""

    name = "schedule"

    def __call__(self, epoch: int, initial_lr: float, epochs: int) -> float:
        """Learning rate for ``epoch`` (0-based) of a run of ``epochs`` epochs."""
        raise NotImplementedError


registry: Registry[Schedule] = Registry("schedule", Schedule, "lr_schedule")
#: ``register(name)`` decorates a class; ``get(name_or_instance)`` returns an instance;
#: ``names()`` lists the registered names.
register, get, names = registry.register, registry.get, registry.names


@register("constant")
class Constant(Schedule):
    """The initial learning rate throughout."""

    def __call__(self, epoch, initial_lr, epochs):
        return initial_lr


@register("step")
class StepDecay(Schedule):
    """Multiply by ``gamma`` every ``step_size`` epochs: ``lr0 · gamma^⌊epoch / step_size⌋``."""

    def __init__(self, step_size: int = 10, gamma: float = 0.5) -> None:
        if isinstance(step_size, bool) or not isinstance(step_size, int) or step_size < 1:
            raise ValueError(f"step_size: expected an integer >= 1, got {step_size!r}")
        self.step_size = step_size
        self.gamma = check_range("gamma", gamma, 0.0, 1.0, low_open=True, high_open=False)

    def __call__(self, epoch, initial_lr, epochs):
        return initial_lr * self.gamma ** (epoch // self.step_size)

    def get_config(self):
        return {"step_size": self.step_size, "gamma": self.gamma}


@register("exponential")
class ExponentialDecay(Schedule):
    """``lr0 · gamma^epoch``."""

    def __init__(self, gamma: float = 0.95) -> None:
        self.gamma = check_range("gamma", gamma, 0.0, 1.0, low_open=True, high_open=False)

    def __call__(self, epoch, initial_lr, epochs):
        return initial_lr * self.gamma**epoch

    def get_config(self):
        return {"gamma": self.gamma}


@register("inverse_time")
class InverseTimeDecay(Schedule):
    """``lr0 / (1 + decay_rate · epoch)``."""

    def __init__(self, decay_rate: float = 0.1) -> None:
        self.decay_rate = check_range("decay_rate", decay_rate, 0.0)

    def __call__(self, epoch, initial_lr, epochs):
        return initial_lr / (1.0 + self.decay_rate * epoch)

    def get_config(self):
        return {"decay_rate": self.decay_rate}


@register("cosine")
class CosineDecay(Schedule):
    """Half a cosine from ``lr0`` down to ``min_lr`` over the run's epochs."""

    def __init__(self, min_lr: float = 0.0) -> None:
        self.min_lr = check_range("min_lr", min_lr, 0.0)

    def __call__(self, epoch, initial_lr, epochs):
        progress = epoch / max(epochs - 1, 1)
        return self.min_lr + 0.5 * (initial_lr - self.min_lr) * (1.0 + math.cos(math.pi * progress))

    def get_config(self):
        return {"min_lr": self.min_lr}


@register("flat_cosine")
class FlatCosine(Schedule):
    """The initial value for the first ``flat`` fraction of the run, then half a cosine down to
    ``minimum`` at the last epoch: RealMLP's schedule for weight decay and dropout (strong early,
    none at the end, so that the last epochs fit the data closely)."""

    def __init__(self, flat: float = 0.5, minimum: float = 0.0) -> None:
        self.flat = check_range("flat", flat, 0.0, 1.0, high_open=False)
        self.minimum = check_range("minimum", minimum, 0.0)

    def __call__(self, epoch, initial_lr, epochs):
        start = self.flat * (epochs - 1)
        if epoch <= start:
            return initial_lr
        progress = (epoch - start) / max(epochs - 1 - start, 1e-12)
        return self.minimum + 0.5 * (initial_lr - self.minimum) * (1.0 + math.cos(math.pi * min(progress, 1.0)))

    def get_config(self):
        return {"flat": self.flat, "minimum": self.minimum}
