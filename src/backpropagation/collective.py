"""The few collective helpers that statistics, the training loop and the command share over MPI.

Importable without MPI: ``mpi4py`` is imported only when :func:`mpi` is called
(``pip install "backpropagation[mpi]"``). :class:`Totals` merges per-rank summaries (one process:
nothing to merge); :func:`collectively` and :func:`failing_together` turn one rank's error into
every rank's, so that no rank waits forever for another.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

import numpy as np


def mpi():
    """The ``mpi4py.MPI`` module, or ImportError saying how to install it."""
    try:
        from mpi4py import MPI
    except ImportError:  # pragma: no cover - the error path when the extra is missing
        raise ImportError('comm: distributed training needs mpi4py; pip install "backpropagation[mpi]" '
                          "(or mpi4py against your cluster's MPI)") from None
    return MPI


def share_cores(comm) -> int:
    """Limit each rank's threads so that the ranks on one machine do not oversubscribe its cores:
    cores // ranks on the machine (at least 1) for BLAS (with ``threadpoolctl``, the extra
    ``mpi``) and for pyarrow's table readers (when installed). Returns the limit. A collective
    call; process-wide."""

    local = comm.Split_type(mpi().COMM_TYPE_SHARED).Get_size()
    threads = max(1, (os.cpu_count() or 1) // local)
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(limits=threads, user_api="blas")
    except ImportError:
        pass
    try:
        import pyarrow
        pyarrow.set_cpu_count(threads)
    except ImportError:
        pass
    return threads


def check_comm(comm) -> None:
    """Raise TypeError unless ``comm`` is an mpi4py communicator (checked before any collective)."""
    if not isinstance(comm, mpi().Comm):
        raise TypeError(f"comm: expected an mpi4py communicator such as MPI.COMM_WORLD, got "
                        f"{type(comm).__name__}")


def collectively(comm, step):
    """Run ``step()`` on every rank; if it raises on any rank, raise on all.

    Input is checked rank by rank, and a rank that stopped with an error would leave the others
    waiting forever in the next collective call; this turns one rank's error into everyone's.
    The errors raised are marked :func:`on_every_rank`.
    """
    try:
        result, failure = step(), None
    except Exception as error:  # noqa: BLE001 - any error: the other ranks must hear of it
        result, failure = None, error
    reports = comm.allgather(None if failure is None else f"{type(failure).__name__}: {failure}")
    if failure is not None:
        raise mark_on_every_rank(failure)
    for rank, report in enumerate(reports):
        if report is not None:
            raise mark_on_every_rank(ValueError(f"rank {rank} refused its data: {report}"))
    return result


def mark_on_every_rank(error: BaseException) -> BaseException:
    """``error``, marked as raised on every rank alike (so no rank waits for another)."""
    error.on_every_rank = True
    return error


def on_every_rank(error: BaseException) -> bool:
    """Whether ``error`` was raised on every rank alike (by :func:`collectively`, or a
    decision every rank took from the same numbers, such as a divergence)."""
    return getattr(error, "on_every_rank", False)


#: Seconds between printing the reason and aborting: the launcher forwards a rank's output
#: asynchronously, and an abort tears the job down with whatever it has not forwarded yet.
ABORT_GRACE_SECONDS = 1.0


def stop_every_rank(comm, error: BaseException, message: str, exit_code: int = 1) -> None:
    """Print ``message`` and end every rank with ``exit_code`` (``MPI_Abort``).

    For an error raised on this rank alone: the other ranks would wait for it forever in their
    next collective call, so the whole job stops with one message and a non-zero exit.
    """
    rank, size = comm.Get_rank(), comm.Get_size()
    print(f"{message} [rank {rank} of {size}; stopping every rank]", file=sys.stderr, flush=True)
    time.sleep(ABORT_GRACE_SECONDS)
    comm.Abort(exit_code)
    os._exit(exit_code)         # (some MPI libraries return from Abort and kill the rank later)



@contextlib.contextmanager
def failing_together(comm, exit_code: int = 1):
    """Run a block of collective work; an error on one rank alone stops every rank.

    Errors raised on every rank alike (see :func:`on_every_rank`) pass through as usual.
    """
    try:
        yield
    except BaseException as error:
        if not on_every_rank(error):
            stop_every_rank(comm, error, f"backprop: error: {type(error).__name__}: {error}", exit_code)
        raise


class Totals:
    """Combine per-rank summaries: ``sum`` (elementwise), ``min``/``max``, ``gather`` (lists).

    Parameters
    ----------
    comm : mpi4py communicator, optional
        None for one process, where every rank's summary is its own.
    """

    def __init__(self, comm=None) -> None:
        self.comm = comm

    def gather(self, part) -> list:
        """Every rank's ``part``, in rank order."""
        return [part] if self.comm is None else self.comm.allgather(part)

    def sum(self, part) -> np.ndarray:
        """Elementwise sum of every rank's array."""
        return np.sum(self.gather(np.asarray(part)), axis=0)

    def min(self, part) -> np.ndarray:
        return np.min(self.gather(np.asarray(part)), axis=0)

    def max(self, part) -> np.ndarray:
        return np.max(self.gather(np.asarray(part)), axis=0)
