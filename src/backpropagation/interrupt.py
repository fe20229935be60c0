"""Ctrl-C during training: finish the current batch, then stop with the model intact.

A ``KeyboardInterrupt`` raised at an arbitrary point could land half-way through an optimizer
update, leaving weights that no batch produced. While ``fit`` runs, :class:`InterruptGuard`
therefore replaces Python's SIGINT handler with one that only records the request; the training
loop checks it after every batch and ends as if a callback had stopped it (callbacks' ``on_train_end``
still run, so early stopping restores its best weights). A second Ctrl-C raises
``KeyboardInterrupt`` at once, for a user who will not wait.

The guard is installed only in the main thread and only over Python's default handler: a
program (or notebook kernel) that set its own SIGINT handler keeps it.
"""

from __future__ import annotations

import signal
import sys
import threading


class InterruptGuard:
    """Context manager turning the first SIGINT into ``requested = True``."""

    def __init__(self, announce: bool = True) -> None:
        self.requested = False
        self.announce = announce
        self._previous = None

    def __enter__(self) -> "InterruptGuard":
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self.announce:
            print("\nInterrupted: stopping after the current batch (Ctrl-C again to abort at once)",
                  file=sys.stderr, flush=True)

    def __exit__(self, *exc_info) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
