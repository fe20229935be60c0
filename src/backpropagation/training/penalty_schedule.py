"""The L2 penalty and the dropout rates on a schedule, epoch by epoch.

RealMLP (Holzmüller et al., 2024) keeps weight decay and dropout strong in the first half of a
run and lowers them to zero along half a cosine in the second (``flat_cosine`` in
:mod:`backpropagation.nn.schedules`): regularised while the network finds its shape, fitting the
data closely at the end. :class:`PenaltyScheduler` does that for a network's ``l2`` and its
:class:`~backpropagation.nn.layers.Dropout` rates, with any schedule, and gives the network its
own values back when ``fit`` ends (they are its hyper-parameters; a schedule belongs to one fit).
Both engines read the L2 factor as it stands when a chunk of batches starts; dropout runs on the
reference engine.
"""

from __future__ import annotations

import math

from ..nn import schedules
from .callbacks import Callback


class PenaltyScheduler(Callback):
    """Set ``model.l2`` and each dropout rate at the start of every epoch from a schedule.

    Parameters
    ----------
    l2, dropout : str or Schedule, optional
        The schedule of the L2 factor and of the dropout rates (a name such as
        ``"flat_cosine"`` or ``"cosine"``, or a :class:`~backpropagation.nn.schedules.Schedule`),
        each called as ``schedule(epoch, initial value, epochs)``; at least one.

    Examples
    --------
    >>> model = NeuralNetwork([4, 32, 3], task="classification", l2=1e-3, dropout=0.15)
    >>> model.fit(X, y, callbacks=[PenaltyScheduler(l2="flat_cosine", dropout="flat_cosine")])
    """

    def __init__(self, l2=None, dropout=None) -> None:
        if l2 is None and dropout is None:
            raise ValueError("PenaltyScheduler: give a schedule for l2, dropout or both")
        self.l2_schedule = None if l2 is None else schedules.get(l2)
        self.dropout_schedule = None if dropout is None else schedules.get(dropout)
        self.initial_l2, self.initial_rates, self.epochs = None, [], 0

    def on_train_begin(self, logs):
        model = self.model
        if self.l2_schedule is not None and not model.l2:
            raise ValueError("l2 schedule: the network has no L2 penalty to schedule (l2=0); set l2 > 0")
        self.layers = [d for d in model.dropouts if d is not None]
        if self.dropout_schedule is not None and not self.layers:
            raise ValueError("dropout schedule: the network has no dropout to schedule; set dropout > 0")
        self.initial_l2, self.initial_rates, self.epochs = model.l2, [d.rate for d in self.layers], logs["epochs"]

    def on_epoch_begin(self, epoch, logs):
        if self.l2_schedule is not None:
            self.model.l2 = self._checked("l2", self.l2_schedule(epoch, self.initial_l2, self.epochs), epoch, 1e308)
        if self.dropout_schedule is not None:
            for layer, rate in zip(self.layers, self.initial_rates):
                layer.rate = self._checked("dropout", self.dropout_schedule(epoch, rate, self.epochs), epoch, 1.0)

    def on_train_end(self, logs):
        self.model.l2 = self.initial_l2
        for layer, rate in zip(self.layers, self.initial_rates):
            layer.rate = rate

    @staticmethod
    def _checked(what: str, value, epoch: int, below: float) -> float:
        value = float(value)
        if not (math.isfinite(value) and 0.0 <= value < below):
            raise ValueError(f"{what} schedule: gave {value!r} for epoch {epoch}; expected a number in [0, {below:g})")
        return value
