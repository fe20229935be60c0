"""``backprop train --stream``: training on a table read in blocks, never whole in memory.

The data side (blocks, the sample, the exact pass, the shuffled pools) is :mod:`.streaming`;
this module runs the epochs, early stopping on the hashed validation rows, and the report,
as ``backprop train`` does in memory.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np

from ..tables import streaming
from .train import (class_report, metrics_in_units, network_for, preprocessor, spelled_columns, text_format,
                        write_plots)


#: In-memory bytes per byte of file, roughly (text parsed, columns decoded, the encoded matrix):
#: a Parquet file is compressed, a CSV is not.
MEMORY_PER_FILE_BYTE = {"parquet": 12, "csv": 5}


def machine_memory() -> int:
    """Bytes of physical memory (0 where the system does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def should_stream(args) -> bool:
    """Whether ``train`` streams: asked (``--stream``), or the file would need more memory than
    ``--memory`` (default half the machine's) to train whole. Refuses what streaming cannot do."""
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


def train_streaming(args, comm=None) -> dict:
    """Train ``args.data`` block by block; the report (as :func:`cli_train.train` gives it).
    Under MPI (``comm``) the blocks are dealt to the ranks and only rank 0 writes the model."""
    started = time.perf_counter()
    if args.seed is None:      # reproducible as in memory: the seed is drawn, used and reported
        args.seed = int(np.random.SeedSequence().entropy % 2**63)
        args.seed = args.seed if comm is None else comm.bcast(args.seed, root=0)
    blocks = streaming.Blocks(args.data, text_format(args), spelled_columns(args))
    pre = preprocessor(args)
    if comm is None or comm.Get_rank() == 0:
        pre.fit(streaming.sample_table(blocks, args.seed))
    if comm is not None:       # (one rank reads the sample; every rank gets its kinds and medians)
        fitted = comm.bcast((pre.to_dict(), pre.warnings), root=0)
        warnings, pre = fitted[1], type(pre).from_dict(fitted[0])
        pre.warnings = warnings
    seen = streaming.fit_exactly(pre, blocks, args.seed, args.validation_split, comm)
    dtype = np.float32 if args.float32 else np.float64
    X_val, y_val = _validation(pre, seen["validation"], dtype)
    width = len(pre.feature_names)
    model = network_for(args, pre, np.empty((0, width), dtype), np.array(seen["classes"] or [0.0]), dtype)
    if model.head.is_classifier:
        model.head.fit_encode(np.array(seen["classes"]), model.dtype)    # every class, whichever pool
    initial = model.parameters.copy()
    history = _epochs(args, model, pre, blocks, X_val, y_val, dtype, comm)
    chief = comm is None or comm.Get_rank() == 0
    if chief:
        model.save(args.output)
    warnings = list(pre.warnings)
    plots = write_plots(model, pre, initial, args.plots, X_val, y_val, X_val, y_val, warnings) \
        if args.plots and chief and X_val is not None else []
    n_val = 0 if X_val is None else len(X_val)
    return {"data": str(args.data), "task": model.head.name, "rows_used": seen["train_rows"] + n_val,
            "rows_train": seen["train_rows"], "rows_validation": n_val, "rows_dropped_missing_target": 0,
            "features": width, "layers": list(model.layer_sizes), "epochs_run": len(history["loss"]),
            "stop_reason": history["stop_reason"], "early_stopping": history["early_stopping"],
            "seconds": round(time.perf_counter() - started, 3), "train": history["train"],
            "validation": None if X_val is None else metrics_in_units(model, pre, X_val, y_val),
            "classes": None if X_val is None else class_report(model, X_val, y_val),
            "preprocessing": [], "warnings": warnings, "model": str(args.output), "plots": plots,
            "interrupted": history["stop_reason"].startswith("interrupted"),
            "processes": 1 if comm is None else comm.Get_size(),
            "engine": model.engine_, "engine_reason": model.engine_reason_, "seed": args.seed,
            "kernel_seconds": 0.0, "still_improving": False,
            "streamed": {"blocks": blocks.count, "pool_rows": args.shuffle_rows, "file_rows": seen["rows"],
                         "medians": f"from a sample of up to {streaming.SAMPLE_ROWS} rows",
                         "why": getattr(args, "stream_reason", None) or "--stream",
                         "train_metrics": "the last epoch's means over its batches, as they trained (no second pass)",
                         "blocks_dealt": None if comm is None else
                         f"{blocks.count // comm.Get_size()} whole block(s) per rank an epoch, the rows of "
                         f"{blocks.count % comm.Get_size()} more split among the {comm.Get_size()} ranks"}}


def _validation(pre, held: list, dtype):
    """The hashed validation rows kept in the exact pass, encoded (None without any)."""
    if not held:
        return None, None
    parts = [pre.transform(table, with_target=True, dtype=dtype)[:2] for table in held]
    return np.concatenate([X for X, _ in parts]), np.concatenate([y for _, y in parts])


def _epochs(args, model, pre, blocks, X_val, y_val, dtype, comm=None) -> dict:
    """Every epoch over the shuffled pools (:func:`streaming.fit_stream`), early stopping on the
    validation loss with the best weights kept; Ctrl-C ends after the current pool."""
    rng = np.random.default_rng(args.seed)
    patience = (10 if X_val is not None else 0) if args.early_stopping is None else args.early_stopping

    def chunks():
        pools = streaming.pools(blocks, pre, rng, args.shuffle_rows, args.seed, args.validation_split, dtype) \
            if comm is None else streaming.dealt_pools(blocks, pre, rng, args.shuffle_rows, args.seed,
                                                       args.validation_split, dtype, comm.Get_rank(), comm.Get_size())
        for X, y in pools:
            yield X, pre.scale_target(y)

    started = time.perf_counter()

    def progress(epoch, loss, val_loss, speed):
        if not args.quiet and not args.json and (comm is None or comm.Get_rank() == 0):
            left = (time.perf_counter() - started) / (epoch + 1) * (args.epochs - epoch - 1)
            print(f"epoch {epoch + 1}/{args.epochs}: loss {loss:.4g}, val_loss {val_loss:.4g} ({speed:,.0f} rows/s, "
                  f"at most about {left:.0f} s left)", file=sys.stderr)

    done = streaming.fit_stream(model, chunks, args.epochs, args.batch_size,
                                None if X_val is None else (X_val, pre.scale_target(y_val)), patience, progress,
                                comm=comm)
    stopping = None if not patience else {"monitor": "val_loss", "patience": patience, "best_epoch": done["best_epoch"],
                                          "restored_best_weights": done["best_epoch"] > 0}
    metric = model.head.metric
    last = {"loss": done["loss"][-1], metric: done[metric][-1]} if done["loss"] else None
    streaming.history_of(model, done, X_val is not None)        # (the loss curve's epochs)
    return {"loss": done["loss"], "stop_reason": done["stop_reason"], "early_stopping": stopping, "train": last}
