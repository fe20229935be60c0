"""The ``backprop`` command: a network on a table file from the shell, one module per group.

========================================  ==========================================
``train`` (``--stream`` for big files)    :mod:`.train`, :mod:`.stream`, :mod:`.build`
``predict``, ``evaluate``, ``summary``,   :mod:`.use`
``export``
``demo``, ``trace``, ``explore``          :mod:`.learn`
``explain``, ``lr-find``                  :mod:`.explain`
========================================  ==========================================

The options are in :mod:`.parser` (their value types in :mod:`.option_types`) and the report
``train`` prints in :mod:`.report`. Every subcommand has ``--help``. Bad input ends with exit
code 2 and one line on stderr (``backprop: error: ...``), never a traceback.
"""

from __future__ import annotations

import os
import sys

from ..errors import DivergenceError
from ..tables.readers import release_memory_promptly
from .explain import command_explain, command_lr_find
from .learn import command_demo, command_explore, command_trace, demo_data_path
from .parser import EXIT_BAD_INPUT, build_parser
from .train import run_training
from .use import command_evaluate, command_export, command_predict, command_summary

EXIT_DIVERGED = 1
EXIT_INTERRUPTED = 130  # the shell convention for a process stopped by SIGINT
EXIT_BROKEN_PIPE = 141  # likewise for SIGPIPE: what `yes | head -1` leaves in PIPESTATUS


def command_train(args) -> int:
    """``backprop train``: see :mod:`backpropagation.cli.train`."""
    return EXIT_INTERRUPTED if run_training(args)["interrupted"] else 0


def main(argv=None) -> int:
    """Entry point of ``backprop``; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        if args.command in ("train", "predict", "evaluate"):
            release_memory_promptly()      # large tables: parse peaks are not kept
        return HANDLERS[args.command](args)
    except BrokenPipeError:  # `backprop predict ... | head -1`: the reader left, as Unix tools do
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit flush
        except (OSError, ValueError):
            pass
        return EXIT_BROKEN_PIPE
    except (Exception, KeyboardInterrupt) as error:
        if getattr(args, "distributed", False):
            return _fail_on_every_rank(error)
        failure = _failure(error)
        if failure is None:
            raise
        print(failure[1], file=sys.stderr)
        return failure[0]


def _failure(error: BaseException) -> tuple[int, str] | None:
    """The exit code and one-line message for an error the command expects; None for a bug."""
    if isinstance(error, (ValueError, TypeError, OSError, ImportError)):
        return EXIT_BAD_INPUT, f"backprop: error: {error}"
    if isinstance(error, MemoryError):
        return EXIT_BAD_INPUT, (f"backprop: error: out of memory: {error or 'the data do not fit in this machine'}"
                                "; nothing was written")
    if isinstance(error, DivergenceError):
        return EXIT_DIVERGED, f"backprop: error: {error} No model was written."
    if isinstance(error, KeyboardInterrupt):  # outside training, or a second Ctrl-C during it
        return EXIT_INTERRUPTED, "backprop: interrupted; nothing was written"
    return None


def _fail_on_every_rank(error: BaseException) -> int:
    """``--distributed``: an error every rank raised alike is printed once (by rank 0); an
    error on one rank alone stops every rank (the others would wait for it forever)."""
    from ..collective import mpi, on_every_rank, stop_every_rank

    comm = mpi().COMM_WORLD
    code, message = _failure(error) or (1, f"backprop: error: {type(error).__name__}: {error}")
    if not on_every_rank(error):
        stop_every_rank(comm, error, message, code)
    if comm.Get_rank() == 0:
        print(message, file=sys.stderr)
    return code


#: What runs each subcommand.
HANDLERS = {"train": command_train, "predict": command_predict, "evaluate": command_evaluate,
            "summary": command_summary, "demo": command_demo, "trace": command_trace, "explore": command_explore,
            "explain": command_explain, "lr-find": command_lr_find, "export": command_export}

__all__ = ["main", "build_parser", "demo_data_path", "EXIT_BAD_INPUT"]
