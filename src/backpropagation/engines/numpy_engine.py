"""The reference engine: each batch through the model's own forward, backward and optimizer step.

Every line of the maths lives in ``layers.py``, ``activations.py``, ``losses.py`` and
``optimizers.py``; this engine only strings one batch together, in the order the seeds teach:
forward pass and loss, backward pass, (gradients combined over MPI ranks), L2 gradient, update.
"""

from __future__ import annotations

import math


class Alone:
    """The reducer of one process: a batch's gradient and loss are already the whole batch's."""

    @staticmethod
    def combine(grads, loss: float, weight: float, interrupt) -> tuple[float, float]:
        return loss, weight


class NumpyEngine:
    """Runs batches one at a time through the model (any building block, under MPI too: the
    ``reducer`` combines each batch's gradient over the processes)."""

    name = "numpy"
    #: BLAS threads the whole fit is held to for this engine's sake: none (the fit's measured count).
    blas_threads = None

    def __init__(self, model, reducer=Alone) -> None:
        self.model, self.reducer = model, reducer

    def chunks(self, batches, order, lr, outputs, trained, interrupt):
        """Yield ``(index of the first batch, [(loss, weight, rows), ...])`` per chunk of batches.

        A batch whose weight is zero teaches nothing and is not applied; a batch whose loss is
        not finite is not applied either (the loop then stops with a divergence).
        """
        model, reducer = self.model, self.reducer
        for batch, (rows, X_batch, Y_batch, W_batch) in enumerate(batches(order)):
            weight = len(Y_batch) if W_batch is None else float(W_batch.sum())
            loss = model.backprop.loss_and_gradients(X_batch, Y_batch, W_batch, penalty_gradient=False) \
                if weight > 0 else model.backprop.zero_gradients()
            if weight > 0:
                outputs[rows] = model.layers[-1].A
                trained[rows] = True
            loss, weight = reducer.combine(model.gradients, loss, weight, interrupt)
            if weight > 0 and math.isfinite(loss):
                model.backprop.update(lr)
            yield batch, [(loss, weight, len(Y_batch))]

    def objective(self, X, Y, outputs) -> float:
        """Loss plus L2 penalty on validation rows (the model's own forward pass), each row's
        output into ``outputs``."""
        return self.model.backprop.objective(X, Y, outputs)
