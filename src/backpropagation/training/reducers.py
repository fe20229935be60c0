"""Data-parallel training over MPI: ``model.fit(X_local, y_local, ..., comm=MPI.COMM_WORLD)``.

Every rank holds a shard of the rows; the global data set is the ranks' shards concatenated in
rank order. Training is synchronous and gives the same result as single-process training on the
global data set, up to the order of floating-point sums:

1. at the start of ``fit`` rank 0's weights and random generator are broadcast, so every rank
   starts from the same point and draws the same permutation of the *global* rows each epoch;
2. each global batch of ``batch_size`` rows is split by ownership: a rank runs forward and
   backward on the rows of the batch it holds (possibly none);
3. one ``Allreduce`` per step sums, over ranks, the flat gradient scaled by the rank's share of
   the batch, together with the share itself, the loss and the Ctrl-C flag (three extra numbers
   appended to the gradient vector, so a step costs one message, not four);
4. every rank divides by the global batch size (the global sum of sample weights) and applies
   the same optimizer update, so optimizer state stays identical without further messages.

Epoch losses, metrics and validation losses are reduced over ranks, so early stopping,
learning-rate schedules and divergence checks reach the same decision on every rank.

``mpi4py`` is imported only when a communicator is given (``pip install "backpropagation[mpi]"``).
"""

from __future__ import annotations

import contextlib
import time

import numpy as np

from ..collective import check_comm, collectively, failing_together, mark_on_every_rank, mpi
from ..data import MiniBatches
from ..statistics import merged


class LocalReducer:
    """One process holds every row: every combination is the identity.

    The interface (shared with :class:`~backpropagation.training.reducers.MPIReducer`): run checks
    ``collectively``, merge labels, sums and summaries over processes, ``start`` training, cut
    the rows into ``batches``, ``combine`` a batch's gradient and loss, average a ``mean`` over
    every process's rows.
    """

    rank = 0
    reduce_seconds = 0.0
    #: Whether every row is in this process (engines that cannot all-reduce need it).
    local = True
    #: Fewest validation rows a process may hold (under MPI a rank may hold none).
    min_validation_rows = 1

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

    def merged(self, summary):
        """A mergeable summary (:class:`~backpropagation.statistics.Moments`, a metric tally)
        of every process's rows: each process's merged in rank order."""
        return summary

    def start(self, model, has_validation: bool) -> None:
        """Agree on the starting point (under MPI, rank 0's weights and random state)."""

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


class ShardBatches(MiniBatches):
    """This rank's part of each global mini-batch.

    Global row ``offset + i`` is local row ``i``. Called with an order over the global rows, it
    yields, for every global batch, ``(rows, X_batch, Y_batch, weights_batch)`` restricted to
    the local rows in it (empty when the rank holds none), gathered into preallocated buffers.
    """

    def __init__(self, X, Y, weights, batch_size: int, n_rows: int, offset: int) -> None:
        super().__init__(X, Y, weights, batch_size)
        self.n_rows, self.offset = n_rows, offset

    def __call__(self, order: np.ndarray | None):
        n_local, size = len(self.X), self.batch_size
        local = (np.arange(self.n_rows) if order is None else order) - self.offset
        mine = (local >= 0) & (local < n_local)
        for start in range(0, self.n_rows, size):
            yield self.gather(local[start:start + size][mine[start:start + size]])


class MPIReducer(LocalReducer):
    """The training loop's reducer over MPI: a shared start, per-step gradient sums, reduced metrics.

    Parameters
    ----------
    comm : mpi4py.MPI.Comm
        The communicator of the ranks that train together.

    Attributes
    ----------
    rank, size : int
        This rank and the number of ranks.
    reduce_seconds : float
        Time spent in the per-step ``Allreduce`` (for the scaling benchmark).
    """

    min_validation_rows = 0
    local = False

    def __init__(self, comm) -> None:
        self.MPI = mpi()
        check_comm(comm)
        self.comm, self.rank, self.size = comm, comm.Get_rank(), comm.Get_size()
        self.reduce_seconds = 0.0
        self.interrupt_agreed = False

    def collectively(self, step):
        return collectively(self.comm, step)

    def failing_together(self):
        return failing_together(self.comm)

    def union_of_labels(self, labels: np.ndarray) -> np.ndarray:
        return np.unique(np.concatenate(self.comm.allgather(np.unique(labels))))

    def total(self, part: np.ndarray) -> np.ndarray:
        return self.comm.allreduce(part)

    def merged(self, summary):
        return merged(self.comm.allgather(summary))

    def start(self, model, has_validation: bool) -> None:
        """Check that the ranks agree, then give every rank rank 0's weights and random state."""
        comm = self.comm
        if len(set(comm.allgather(bool(has_validation)))) != 1:
            raise mark_on_every_rank(ValueError(
                "validation_data/validation_split: give validation data on every rank or on none"))
        shapes = comm.allgather(model.parameters.shape + (model.dtype.str,))
        if len(set(shapes)) != 1:
            raise mark_on_every_rank(ValueError(
                f"comm: the ranks built different networks (parameter vectors {shapes}); "
                "every rank must construct the same NeuralNetwork"))
        comm.Bcast(model.parameters, root=0)
        model.rng.bit_generator.state = comm.bcast(model.rng.bit_generator.state, root=0)
        self._buffer = np.empty(model.n_parameters + 3, dtype=model.dtype)

    def batches(self, X, Y, weights, batch_size: int) -> ShardBatches:
        """Mini-batches of ``batch_size`` rows over every rank's rows (``X``: this rank's share,
        the ranks' shares following one another in rank order)."""
        counts = self.comm.allgather(len(X))
        return ShardBatches(X, Y, weights, batch_size, sum(counts), sum(counts[: self.rank]))

    def combine(self, grads: np.ndarray, loss: float, weight: float, interrupt) -> tuple[float, float]:
        """Sum ``weight * grads``, ``weight``, ``weight * loss`` and the Ctrl-C flag over ranks.

        ``grads`` becomes the gradient of the global batch's mean loss; returns that loss and
        the global batch weight. A Ctrl-C on any rank sets ``interrupt.requested`` on all.
        """
        n, buffer = grads.size, self._buffer
        np.multiply(grads, weight, out=buffer[:n])
        buffer[n] = weight
        buffer[n + 1] = loss * weight if weight else 0.0
        buffer[n + 2] = interrupt.requested
        started = time.perf_counter()
        self.comm.Allreduce(self.MPI.IN_PLACE, buffer, op=self.MPI.SUM)
        self.reduce_seconds += time.perf_counter() - started
        total = float(buffer[n])
        # Ranks stop on the flag they agreed on here, never on their own flag: a Ctrl-C landing
        # on one rank just after this all-reduce would otherwise stop it a batch before the rest.
        self.interrupt_agreed = bool(buffer[n + 2])
        if self.interrupt_agreed:
            interrupt.requested = True
        if total == 0:
            return 0.0, 0.0
        np.multiply(buffer[:n], 1.0 / total, out=grads)
        return float(buffer[n + 1]) / total, total

    def interrupted(self, interrupt) -> bool:
        return self.interrupt_agreed

    def mean(self, value: float, count: int) -> float:
        """The mean over all ranks' rows of a per-rank mean ``value`` over ``count`` rows."""
        # A rank without rows (no validation rows in its slice) adds nothing, not NaN.
        local = value * count if count else 0.0
        total, rows = self.comm.allreduce(np.array([local, count], dtype=np.float64))
        return float(total / rows)
