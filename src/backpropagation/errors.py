"""The errors the library raises beyond ValueError and TypeError."""

from __future__ import annotations


class DivergenceError(FloatingPointError):
    """Training produced a non-finite loss. ``history`` holds the epochs completed before it."""

    #: Under MPI every rank reaches it alike: the losses it sees were combined over the ranks.
    on_every_rank = True

    def __init__(self, message: str, history) -> None:
        super().__init__(message)
        self.history = history


class NotFittedError(ValueError, AttributeError):
    """Raised when a method needs what ``fit`` learns (e.g. the class labels) before ``fit`` ran."""
