"""A table file bigger than memory, as the Python API trains on it.

::

    from backpropagation import NeuralNetwork, read_table

    table = read_table("big.parquet", target="label")     # one pass: kinds, statistics, classes
    model = NeuralNetwork([table.n_features, 64, 32, len(table.classes)], task="classification")
    model.fit(table, epochs=5, validation_split=0.05, early_stopping=True)

``read_table`` reads the file in blocks as ``backprop train --stream`` does
(:mod:`backpropagation.tables.streaming`): the column kinds and medians from an even sample, exact means,
spreads, categories and classes in one pass, and nothing kept. ``fit`` then reads the blocks in a
shuffled order every epoch, mixes them in a pool of ``pool_rows`` rows, and trains on the pool's
shuffled rows; validation rows are picked by a hash of the seed and their place in the file, and
gathered during the first epoch. Iterating the table gives its blocks as encoded ``(X, y)``.
"""

from __future__ import annotations

import math
import os
import sys
import time

import numpy as np

from ..training import callbacks as cb
from .csv_source import TextFormat
from ..training.callbacks import EarlyStopping
from .streaming import Blocks, encoded_rows, fit_exactly, fit_stream, history_of, pools, read_ahead, sample_table
from .preprocessing import TabularPreprocessor


class StreamedTable:
    """A table file read block by block (see the module docstring); made by :func:`read_table`.

    Attributes
    ----------
    n_features : int
        Width of the encoded rows (the network's input size).
    feature_names : list of str
        The encoded columns (``column`` or ``column=category``).
    classes : list
        The target's classes (classification), else empty.
    preprocessing : TabularPreprocessor
        The fitted encoding (the same as ``backprop train``'s).
    rows : int
        Rows in the file.
    """

    #: What tells ``NeuralNetwork.fit`` to stream this table.
    streams_blocks = True

    def __init__(self, path, target: str, task: str = "auto", drop=(), text=(), numeric=(),
                 max_categories=None, fmt: TextFormat | None = None, pool_rows: int = 200_000, seed: int = 0,
                 dtype="float64") -> None:
        self.path, self.fmt, self.pool_rows, self.seed = os.fspath(path), fmt or TextFormat(), pool_rows, seed
        self.dtype = np.dtype(dtype)
        pre = TabularPreprocessor(target, task, drop, text=text, numeric=numeric, max_categories=max_categories)
        self.blocks = Blocks(self.path, self.fmt, pre.spelled_columns)
        pre.fit(sample_table(self.blocks, seed))
        seen = fit_exactly(pre, self.blocks, seed, 0.0)
        self.preprocessing, self.rows, self.class_counts = pre, seen["rows"], seen["class_counts"]
        self.classes = seen["classes"]
        self.n_features, self.feature_names = len(pre.feature_names), pre.feature_names

    @property
    def task(self) -> str:
        """``"regression"`` or ``"classification"``, from the target's kind."""
        return self.preprocessing.resolved_task

    def __iter__(self):
        """Each block in file order as ``(X, y)``: encoded features, targets as written (labels, or
        numbers in the target's units); rows without a target are left out."""
        for _, table in read_ahead(self.blocks, range(self.blocks.count)):
            part = encoded_rows(self.preprocessing, table, np.arange(len(table)), self.dtype)
            if part is not None:
                yield part

    def pools(self, rng: np.random.Generator, fraction: float, held: list):
        """One epoch's shuffled pools of training rows (:func:`backpropagation.tables.streaming.pools`);
        the hashed validation rows go to ``held`` until it is closed."""
        return pools(self.blocks, self.preprocessing, rng, self.pool_rows, self.seed, fraction, self.dtype, held)

    def __repr__(self) -> str:
        return (f"StreamedTable({self.path!r}, target={self.preprocessing.target!r}: {self.rows} rows in "
                f"{self.blocks.count} blocks, {self.n_features} features)")


class _Held(list):
    """The validation rows gathered during the first epoch (closed after it)."""

    closed = False


def read_table(path, target: str, *, task: str = "auto", drop=(), text=(), numeric=(), max_categories=None,
               delimiter=None, decimal=".", thousands=None, na_values=(), pool_rows: int = 200_000,
               seed: int = 0, dtype="float64") -> StreamedTable:
    """A table file (CSV, compressed CSV, Parquet, Feather) to train on without holding it.

    Reads the file once (in blocks) to fix the column kinds, statistics, categories and classes;
    ``NeuralNetwork.fit(table, ...)`` then streams it every epoch. Arguments are those of
    ``backprop train`` (``--target``, ``--task``, ``--drop``, ``--text``, ``--numeric``,
    ``--max-categories``, ``--delimiter``, ``--decimal``, ``--thousands``, ``--na-values``);
    ``pool_rows`` is the shuffling pool (``--shuffle-rows``), ``seed`` picks the sample, the
    validation rows and nothing else (the network's ``random_state`` orders the blocks and rows).
    """
    fmt = TextFormat(delimiter, decimal, thousands, tuple(na_values))
    if isinstance(pool_rows, bool) or not isinstance(pool_rows, int) or pool_rows < 1:
        raise ValueError(f"pool_rows: expected a whole number >= 1, got {pool_rows!r}")
    return StreamedTable(path, target, task, drop, text, numeric, max_categories, fmt, pool_rows, seed, dtype)


def fit_table(model, table: StreamedTable, *, epochs: int, batch_size: int, verbose: int, validation_split: float,
              early_stopping, class_weight, callbacks=()) -> cb.History:
    """``NeuralNetwork.fit`` on a :class:`StreamedTable` (see the module docstring)."""
    _prepare(model, table)
    if early_stopping and not validation_split:
        raise ValueError("early_stopping: a streamed table is scored on validation rows only; give "
                         "validation_split (e.g. 0.05)")
    if isinstance(class_weight, str) and class_weight == "balanced":
        total = sum(table.class_counts.values())
        class_weight = {c: total / (len(table.class_counts) * n) for c, n in table.class_counts.items()}
    held = _Held()

    def chunks():
        for X, y in table.pools(model.rng, validation_split, held):
            yield X, y

    def validation():
        held.closed = True
        return None if not held else (np.concatenate([x for x, _ in held]), np.concatenate([y for _, y in held]))

    started = time.perf_counter()

    def progress(epoch, loss, val_loss, speed):
        if verbose:
            left = (time.perf_counter() - started) / (epoch + 1) * (epochs - epoch - 1)
            shown = "" if math.isnan(val_loss) else f", val_loss {val_loss:.4g}"
            print(f"epoch {epoch + 1}/{epochs}: loss {loss:.4g}{shown} ({speed:,.0f} rows/s, about {left:.0f} s left)",
                  file=sys.stderr)

    stopper = [] if not early_stopping else [EarlyStopping() if early_stopping is True else early_stopping]
    done = fit_stream(model, chunks, epochs, batch_size, validation if validation_split else None, 0,
                      progress, class_weight=class_weight, callbacks=[*callbacks, *stopper])
    return history_of(model, done, bool(validation_split))


def _prepare(model, table: StreamedTable) -> None:
    """Check the network fits the table; give its head the classes or the target's statistics,
    and its metadata the encoding (so that ``backprop predict`` and ``TableModel`` read raw rows)."""
    if model.layer_sizes[0] != table.n_features:
        raise ValueError(f"X: the streamed table has {table.n_features} encoded features "
                         f"(table.n_features) but the network's input layer has {model.layer_sizes[0]}")
    pre = table.preprocessing
    if model.head.is_classifier != (pre.target_kind != "numeric"):
        raise ValueError(f"X: the target {pre.target!r} is {'numeric' if pre.target_kind == 'numeric' else 'labels'} "
                         f"but the network's task is {model.task!r}; pass task= to read_table or build the "
                         f"network for task={table.task!r}")
    if model.head.is_classifier and not model.head.fitted:
        model.head.fit_encode(np.array(table.classes), model.dtype)
    elif not model.head.is_classifier and not model.head.fitted:
        state = {"target_ndim": 1}
        if model.standardize_target:
            state.update(target_mean=[pre.target_mean], target_scale=[pre.target_std])
        model.head.set_state(state)
    encoding = pre.to_dict()
    encoding.update(target_mean=0.0, target_std=1.0)     # (the network's head undoes the target's scaling)
    model.metadata.update(preprocessing=encoding, feature_names=pre.feature_names, text_format=table.fmt.to_dict())
