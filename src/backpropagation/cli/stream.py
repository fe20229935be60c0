"""``backprop train --stream``: a table read in blocks, never whole in memory.

The file is read as :func:`backpropagation.read_table` reads it (:class:`~..tables.streamed_table.StreamedTable`:
kinds, exact statistics, classes and the hashed validation rows in one read), and trained on by
``NeuralNetwork.fit`` through the same loop as a table in memory: class weights, schedules, early
stopping and callbacks alike. The report is the in-memory one (:mod:`.report`), fed by the
table's counts.
"""

from __future__ import annotations

import os
import time

import numpy as np

from ..tables.file_summary import SAMPLE_ROWS
from ..tables.streamed_table import StreamedTable
from .build import batch_size_for, drawn_seed, network_for, penalty_callbacks, preprocessor, stopper_for, text_format
from .report import Trained, class_report, metrics_in_units, training_report

#: In-memory bytes per byte of file, roughly (text parsed, columns decoded, the encoded matrix):
#: a Parquet file is compressed, a CSV is not.
MEMORY_PER_FILE_BYTE = {"parquet": 12, "csv": 5}


def should_stream(args) -> bool:
    """Whether ``train`` streams: asked (``--stream``), or the file would need more memory than
    ``--memory`` (default half the machine's) to train whole. Refuses what streaming cannot do."""
    from ..tables.streaming import machine_memory

    if args.data == "-":
        if args.stream:
            raise ValueError("--stream: reads a file on disk in blocks (not standard input)")
        return False
    budget = args.memory or machine_memory() // 2
    kind = "parquet" if str(args.data).endswith((".parquet", ".pq")) else "csv"
    try:
        need = os.path.getsize(args.data) * MEMORY_PER_FILE_BYTE[kind]
    except OSError:                   # (no such file: the reader says so in its words)
        need = 0
    args.stream_reason = None if args.stream or not budget or need <= budget else \
        f"the file would need about {need / 2**30:.1f} GiB to train whole, over --memory {budget / 2**30:.1f} GiB"
    if (args.stream or args.stream_reason) and args.plots and not args.validation_split:
        raise ValueError("--plots: a streamed run draws its predictions on the validation rows; give "
                         "--validation-split above 0" + (f" ({args.stream_reason})" if args.stream_reason else ""))
    return bool(args.stream or args.stream_reason)


def train_streaming(args, comm=None):
    """Train on ``args.data`` block by block; what :func:`.train.finish` ends. Under MPI (``comm``)
    the blocks are dealt to the ranks and only rank 0 writes the model."""
    started = time.perf_counter()
    drawn_seed(args, comm)
    pre, dtype = preprocessor(args), np.float32 if args.float32 else np.float64
    table = StreamedTable(args.data, pre.target, pre.task, pre.drop, args.text or (), args.numeric or (),
                          args.max_categories, pre.embed, text_format(args), args.validation_split,
                          args.shuffle_rows, args.seed, dtype, args.memory, comm,
                          scaling=args.scaling)
    pre = table.preprocessing
    model = network_for(args, pre, table.n_features, len(table.classes), dtype)
    initial, stopper = model.parameters.copy(), stopper_for(args, bool(table.validation_rows))
    history = model.fit(table, epochs=args.epochs, batch_size=batch_size_for(args, table.train_rows),
                        verbose=0 if args.json or args.quiet else 1, early_stopping=stopper,
                        lr_schedule=args.lr_schedule, comm=comm, class_weight=args.class_weight,
                        callbacks=penalty_callbacks(args))
    seconds = time.perf_counter() - started
    X_val, y_val = table.validation()
    last = {key: values[-1] for key, values in history.history.items()
            if values and key in ("loss", model.task_.metric)} or None
    counts = {"rows_used": table.train_rows + table.validation_rows, "rows_train": table.train_rows,
              "rows_validation": table.validation_rows,
              "rows_dropped_missing_target": table.rows - table.summary.labelled}
    report = training_report(
        args, data=str(args.data), model=model, history=history, stopper=stopper, counts=counts,
        preprocessing=table.summary.report.lines(), warnings=pre.warnings + table.notes, seconds=seconds,
        comm=comm, train=last, streamed=_streamed(args, table, 0 if X_val is None else len(X_val), comm),
        validation=None if X_val is None else metrics_in_units(model, pre, X_val, y_val),
        classes=None if X_val is None else class_report(model, X_val, y_val))
    return Trained(model, initial, report, (X_val, y_val, X_val, y_val))


def _streamed(args, table: StreamedTable, kept: int, comm) -> dict:
    """How the run streamed, for the report."""
    size = 1 if comm is None else comm.Get_size()
    return {"blocks": table.blocks.count, "pool_rows": table.pool_rows, "file_rows": table.rows,
            "medians": f"from a sample of up to {SAMPLE_ROWS} rows",
            "why": getattr(args, "stream_reason", None) or "--stream",
            "validation_rows_kept": kept,
            "train_metrics": "the last epoch's means over its batches, as they trained (no second pass)",
            "blocks_dealt": None if comm is None else
            f"{table.blocks.count // size} whole block(s) per rank an epoch, the rows of "
            f"{table.blocks.count % size} more split among the {size} ranks"}
