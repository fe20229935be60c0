"""``backprop train``: check the outputs, read, split, preprocess, train, save, plot, report.

The pipeline behind the command (and ``backprop demo``); :mod:`backpropagation.cli` parses the
options. A table is trained on in memory (here) or streamed from its file (:mod:`.stream`,
``--stream`` or a file over the memory budget); both train through ``NeuralNetwork.fit`` and
end alike (:func:`finish`: the model written, the plots drawn, one report). Under
``--distributed`` every function runs on every MPI rank: statistics, the validation split and
training are shared, and only rank 0 writes files and prints.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from ..collective import Totals, collectively, mpi, share_cores
from ..data import validation_split
from ..files import check_output
from ..interrupt import InterruptGuard
from ..tables.readers import Table, number_rows_across, read_file
from ..tables.transform_report import TransformReport
from ..training.reducers import MPIReducer
from ..training.table_defaults import AUTO_SPREADS
from .build import (batch_size_for, check_outputs, check_option_pairs, drawn_seed, network_for, penalty_callbacks,
                    preprocessor, spelled_columns, stopper_for, text_format)
from .option_types import spread_text
from .report import Trained, class_report, metrics_in_units, print_report, training_report, write_plots
from .stream import should_stream, train_streaming


def run_training(args) -> dict:
    """``backprop train`` (under ``mpiexec`` with ``--distributed``, on every rank); returns the report."""
    shuffled = shuffle_once(args) if getattr(args, "shuffle_once", None) is not None else None
    comm = None
    if args.distributed:
        comm = mpi().COMM_WORLD
        share_cores(comm)            # ranks sharing a machine: no thread oversubscription
        collectively(comm, lambda: comm.Get_rank() == 0 and check_outputs(args))
    else:
        check_outputs(args)
    check_option_pairs(args)
    several = f"--ensemble {args.ensemble}" if getattr(args, "ensemble", 1) > 1 else \
        "--periodic-sigma auto" if getattr(args, "periodic_sigma", None) == "auto" else None
    if several and (args.distributed or should_stream(args)):
        raise ValueError(f"{several}: trains its networks one after another on a table held in "
                         "memory, not streamed (--stream, or a file beyond the memory budget) nor over MPI "
                         "(--distributed)")
    if should_stream(args):
        trained = train_streaming(args, comm)
    elif comm is None:
        trained = train(args, read_file(args.data, text_columns=spelled_columns(args), fmt=text_format(args)))
    else:
        table = collectively(comm, lambda: with_columns(args, read_file(
            args.data, part=(comm.Get_rank(), comm.Get_size()), text_columns=spelled_columns(args),
            fmt=text_format(args))))
        trained = train(args, number_rows_across(table, comm), comm)
    result = finish(args, trained, comm)
    if shuffled:
        result["shuffled_copy"] = shuffled
    if comm is None or comm.Get_rank() == 0:
        print_report(result, args.json)
    return result


def with_columns(args, table: Table) -> Table:
    """``table``, once the columns the options name are found in it (ValueError naming the first
    missing one: under MPI every rank's header is the same, so every rank refuses alike)."""
    for name in [args.target, *args.drop, *(args.text or ()), *(args.numeric or ()),
                 *(name for name, _ in (args.embed or ()))]:
        table.require(name)
    return table


def finish(args, trained: Trained, comm=None) -> dict:
    """Write the model, draw the plots (rank 0), and return the report. A Ctrl-C from here on
    must not lose the trained model: it is saved whole, then reported."""
    chief, result = comm is None or comm.Get_rank() == 0, trained.report
    with InterruptGuard(announce=False) as late:
        if chief:
            trained.model.save(args.output)
        if args.plots and chief and not late.requested:   # (under MPI, prediction plots show rank 0's rows)
            result["plots"] = write_plots(trained.model, trained.initial, args.plots, *trained.shown,
                                          result["warnings"])
    if late.requested and not result["interrupted"]:
        result["interrupted"] = True
        result["warnings"].append("interrupted (Ctrl-C) after training: the model was written"
                                  + ("; no plots were drawn" if args.plots and not result["plots"] else ""))
    return result


def train(args, table: Table, comm=None) -> Trained:
    """Preprocess, split and train on a table held in memory.

    With an MPI communicator, ``table`` is this rank's slice of the file: the validation split,
    preprocessing statistics and training are shared over ranks (each equal to one process
    reading the whole file).
    """
    started = time.perf_counter()
    drawn_seed(args, comm)
    pre = preprocessor(args)
    data = prepare(args, table, pre, comm)
    n_classes = 0 if pre.resolved_task == "regression" else \
        len(np.unique(data.y) if comm is None else MPIReducer(comm).union_of_labels(data.y))
    if getattr(args, "periodic_sigma", None) == "auto":
        model, initial, history, stopper = fit_spreads(args, pre, data, n_classes)
    else:
        model, initial, history, stopper = fit_network(args, pre, data, n_classes, comm)
    if getattr(args, "ensemble", 1) > 1 and not history.interrupted:
        chosen = model.periodic.sigma if model.periodic is not None else None     # (auto's spread, or the option's)
        model, initial, cut = fit_ensemble(args, pre, data, n_classes, (model, initial, history), chosen)
        history = cut or history                        # (a Ctrl-C during a later member: reported)
    seconds = time.perf_counter() - started
    held = data.counts["rows_validation"] > 0
    report = training_report(
        args, data=table.source, model=model, history=history, stopper=stopper, counts=data.counts,
        preprocessing=data.report.lines(), warnings=pre.warnings, seconds=seconds, comm=comm,
        train=metrics_in_units(model, pre, data.X, data.y, comm),
        validation=metrics_in_units(model, pre, data.X_val, data.y_val, comm) if held else None,
        classes=class_report(model, data.X_val if held else data.X, data.y_val if held else data.y, comm))
    return Trained(model, initial, report, (data.X, data.y, data.X_val, data.y_val))


def fit_network(args, pre, data: "Prepared", n_classes: int, comm=None, seed: int | None = None,
                sigma=None) -> tuple:
    """One network built (from ``seed``, default ``--seed``; ``sigma``, default ``--periodic-sigma``)
    and fitted as the options say: ``(model, initial parameters, history, stopper)``."""
    model = network_for(args, pre, data.X.shape[1], n_classes, data.X.dtype, seed, sigma)
    initial, stopper = model.parameters.copy(), stopper_for(args, data.has_validation)
    history = model.fit(
        data.X, data.y, epochs=args.epochs, batch_size=batch_size_for(args, data.counts["rows_train"]),
        verbose=0 if args.json or args.quiet else 1,
        validation_data=None if not data.has_validation else (data.X_val, data.y_val),
        early_stopping=stopper, lr_schedule=args.lr_schedule, comm=comm, class_weight=args.class_weight,
        callbacks=penalty_callbacks(args))
    return model, initial, history, stopper


def fit_spreads(args, pre, data: "Prepared", n_classes: int) -> tuple:
    """``--periodic-sigma auto``: a network fitted with each spread of
    :data:`~backpropagation.training.table_defaults.AUTO_SPREADS` on the same rows and seed, and the
    one of lower validation loss (log-loss, or mean squared error in the target's units) kept, as
    :func:`fit_network` returns it; the choice is saved in its metadata (``periodic_choice``). A
    Ctrl-C during the second keeps the first (with the interrupted run's history, reported)."""
    fitted, losses = [], []
    for spread in AUTO_SPREADS:
        if fitted and not args.json and not args.quiet:
            print(f"--periodic-sigma auto: now spread {spread_text(spread)}", file=sys.stderr)
        run = fit_network(args, pre, data, n_classes, sigma=spread)
        if run[2].interrupted:
            if not fitted:
                return run
            return fitted[0][0], fitted[0][1], run[2], fitted[0][3]
        validation = metrics_in_units(run[0], pre, data.X_val, data.y_val)
        fitted.append(run)
        losses.append(validation["log_loss"] if "log_loss" in validation else validation["mse"])
    best = int(np.argmin(losses))
    fitted[best][0].metadata["periodic_choice"] = {
        "spreads": [spread_text(spread) for spread in AUTO_SPREADS], "validation_loss": losses,
        "loss": "log_loss" if n_classes else "mse", "chosen": spread_text(AUTO_SPREADS[best])}
    return fitted[best]


def fit_ensemble(args, pre, data: "Prepared", n_classes: int, first: tuple, sigma=None) -> tuple:
    """``--ensemble K``: K - 1 more networks fitted from seeds ``--seed + 1``, ... on the same rows,
    then averaged into one (:func:`~backpropagation.ensemble.average_networks`); returns it, its
    parameters before training (the members' first weights, averaged alike) and, where Ctrl-C
    stopped a member, that member's history (else None): the ensemble then holds the members
    fitted before it (the first alone stays a plain network). ``sigma``: the members' periodic
    spread (where ``--periodic-sigma auto`` chose it for the first)."""
    from ..ensemble import average_networks

    seed, (model, initial, history), cut = args.seed, first, None
    fitted = [(model, initial, history)]
    for member in range(1, args.ensemble):
        if not args.json and not args.quiet:
            print(f"ensemble: network {member + 1} of {args.ensemble} (seed {seed + member})", file=sys.stderr)
        fitted.append(fit_network(args, pre, data, n_classes, seed=seed + member, sigma=sigma)[:3])
        if fitted[-1][2].interrupted:
            cut = fitted.pop()[2]
            break
    if len(fitted) == 1:
        return model, initial, cut
    members = [member for member, _, _ in fitted]
    merged = average_networks(members)
    merged.engine_, merged.engine_reason_, merged.engine_timing_ = model.engine_, model.engine_reason_, \
        model.engine_timing_
    merged.history_ = model.history_                  # (the first member's curves: the report's and the plots')
    merged.metadata["ensemble"] = {"members": len(members), "seeds": [seed + i for i in range(len(members))],
                                   "epochs_run": [len(h.epoch) for _, _, h in fitted]}
    trained = [member.parameters.copy() for member in members]
    for member, (_, start, _) in zip(members, fitted):
        member.parameters[...] = start
    initial = average_networks(members).parameters.copy()
    for member, weights in zip(members, trained):
        member.parameters[...] = weights
    return merged, initial, cut


@dataclass
class Prepared:
    """A table's rows as the network trains on them: encoded training and validation sets,
    what preprocessing did, and the row counts the report gives (over every rank)."""

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray | None
    y_val: np.ndarray | None
    report: TransformReport
    counts: dict           # rows used, trained on, held out, dropped for a missing target
    has_validation: bool   # (under MPI: on any rank; this rank's X_val may have no rows)


def prepare(args, table: Table, pre, comm=None) -> Prepared:
    """Drop rows without a target, split, fit ``pre`` on the training rows and encode both sets."""
    step = (lambda work: work()) if comm is None else (lambda work: collectively(comm, work))
    missing_target = table.column(args.target).missing
    labelled = np.flatnonzero(~missing_target) if missing_target.any() else np.arange(len(table))
    train_rows, val_rows = split_rows(args, pre, table, labelled, comm)
    pre.fit(table, comm, rows=train_rows)
    dtype = np.float32 if args.float32 else np.float64
    X, y, report = step(lambda: pre.transform(table, with_target=True, dtype=dtype, rows=train_rows))
    if comm is not None:
        report = TransformReport.combined(comm.allgather(report))
    X_val, y_val = step(lambda: pre.transform(table, with_target=True, dtype=dtype, rows=val_rows)[:2]
                        if len(val_rows) else (None, None))
    has_validation = X_val is not None if comm is None else any(comm.allgather(X_val is not None))
    if comm is not None and X_val is None and has_validation:  # this rank holds no validation row
        X_val, y_val = np.empty((0, X.shape[1]), dtype=dtype), y[:0]
    counts = [len(labelled), len(train_rows), len(val_rows), len(table) - len(labelled)]
    if comm is not None:
        counts = [int(total) for total in comm.allreduce(np.array(counts))]
    keys = ("rows_used", "rows_train", "rows_validation", "rows_dropped_missing_target")
    return Prepared(X, y, X_val, y_val, report, dict(zip(keys, counts)), has_validation)


def split_rows(args, pre, table: Table, labelled: np.ndarray, comm=None) -> tuple[np.ndarray, np.ndarray]:
    """This rank's (train, validation) row positions in ``table``, from one split of all rows.

    ``labelled`` holds the positions of rows with a target. Under MPI every rank draws the same
    split of the whole file's labelled rows (stratified by class over all ranks' targets) and
    keeps the positions in its own slice, so the held-out rows are those one process would hold
    out. Only class codes travel between ranks, and only for classification.
    """
    totals = Totals(comm)
    target = table.column(args.target)
    kind = pre.infer_target_kind(target, labelled, table.row_numbers, totals)
    counts = totals.gather(len(labelled))
    offset, n_rows = sum(counts[: 0 if comm is None else comm.Get_rank()]), sum(counts)
    if args.validation_split == 0:
        return labelled, labelled[:0]
    labels = None
    if kind != "numeric":
        local = target.labels()[labelled] if kind == "labels" else target.numbers[labelled]
        classes = np.unique(np.concatenate(totals.gather(np.unique(local))))
        labels = np.concatenate(totals.gather(np.searchsorted(classes, local).astype(np.int32)))
    train_rows, val_rows = validation_split(n_rows, args.validation_split, np.random.default_rng(args.seed), labels,
                                            "--validation-split")

    def local(rows):
        return labelled[rows[(rows >= offset) & (rows < offset + len(labelled))] - offset]

    return local(train_rows), local(val_rows)


def shuffle_once(args) -> dict:
    """``--shuffle-once``: write the shuffled copy, then train on it (``args.data`` is changed)."""
    from ..tables import shuffle
    from ..tables.blocks import Blocks

    if args.distributed or args.data == "-":
        raise ValueError("--shuffle-once: shuffles a file on disk in one process (not standard input, "
                         "not with --distributed)")
    copy = args.shuffle_once or shuffle.shuffled_name(args.data)
    check_output(copy, "--shuffle-once", inputs=[args.data])
    if os.path.abspath(copy) == os.path.abspath(args.output):
        raise ValueError(f"--shuffle-once: {copy} is also the model file (--output)")
    seed = drawn_seed(args)
    done = shuffle.shuffle_file(Blocks(args.data, text_format(args), spelled_columns(args)), copy, seed)
    if not args.json and not args.quiet:
        print(f"shuffled {done['rows']} rows into {copy} ({done['buckets']} bucket(s), {done['seconds']:.1f}s); "
              "later runs can train on it directly", file=sys.stderr)
    args.data = copy
    return done
