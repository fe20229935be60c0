"""What the training loop trains on, epoch by epoch: the rows held in memory, or a streamed table's pools.

A *source* hands the loop each epoch's *parts*: a mini-batch iterator over some rows and the
order to visit them in. Rows held in memory are one part an epoch; a table streamed from its
file (:func:`backpropagation.read_table`) is one part per pool of blocks read into memory. The
loop treats both alike (:class:`~backpropagation.training.loop.TrainingLoop`): callbacks,
schedules, class weights, early stopping, divergence, Ctrl-C and the engine decision exist once.

Every source has ``n_rows`` (training rows over every process), ``batch_size`` (rows per step,
at most ``n_rows``), ``parts(rng)`` and ``sample()`` (rows the engine decision times).
"""

from __future__ import annotations

import numpy as np


class InMemoryRows:
    """Rows held in memory (under MPI: this process's share of them), one part an epoch, visited
    in a new order each epoch when ``shuffle``.

    Parameters
    ----------
    X, Y : ndarray
        Checked features and encoded targets (as the loss sees them).
    weights : ndarray or None
        Each row's weight (sample and class weights together).
    reducer : LocalReducer or MPIReducer
    batch_size : int or None
        Rows per step over every process; None: every row at once.
    shuffle : bool
    """

    def __init__(self, X, Y, weights, reducer, batch_size: int | None, shuffle: bool) -> None:
        self.n_rows = int(reducer.total(np.array([len(X)]))[0])
        self.batch_size = self.n_rows if batch_size is None else min(batch_size, self.n_rows)
        self.batches = reducer.batches(X, Y, weights, self.batch_size)
        self.shuffle = shuffle

    def parts(self, rng: np.random.Generator):
        """The epoch's one part: every row, in an order drawn from ``rng`` (shared by the ranks)."""
        order = rng.permutation(self.n_rows) if self.shuffle and self.batch_size < self.n_rows else None
        yield self.batches, order

    def sample(self) -> tuple[np.ndarray, np.ndarray]:
        """Rows to time the engines on (this process's)."""
        return self.batches.X, self.batches.Y


class StreamedPools:
    """A table read from its file in pools: each pool of blocks one part, its rows visited in a
    new order (the blocks came in a shuffled order already).

    Parameters
    ----------
    pools : callable
        ``pools(rng)`` yields one epoch's ``(X, Y, weights)`` per pool (this process's share
        under MPI, the same number of pools on every process).
    n_rows : int
        Training rows in the file.
    reducer : LocalReducer or MPIReducer
    batch_size : int
    shuffle : bool
    sample : callable
        ``sample()`` gives a few encoded rows ``(X, Y)`` to time the engines on.
    """

    def __init__(self, pools, n_rows: int, reducer, batch_size: int, shuffle: bool, sample) -> None:
        self.pools, self.n_rows, self.reducer = pools, n_rows, reducer
        self.batch_size = max(1, min(batch_size, n_rows))
        self.shuffle, self.sample = shuffle, sample

    def parts(self, rng: np.random.Generator):
        """Each pool of the epoch, its rows in an order drawn from ``rng`` (shared by the ranks)."""
        for X, Y, weights in self.pools(rng):
            batches = self.reducer.batches(X, Y, weights, self.batch_size)
            yield batches, rng.permutation(batches.n_rows) if self.shuffle else None
