"""Tables bigger than memory: read in blocks, summarised in one pass, shuffled through a pool.

``backprop train --stream`` never holds the table: it reads the file in blocks
(:class:`Blocks`: Parquet row groups, CSV byte ranges moved to record starts, as ``--distributed``
reads a rank's part) and

1. fixes each column's kind, the target's kind and the medians from a sample of up to
   :data:`SAMPLE_ROWS` rows taken evenly from every block (the medians are the sample's: a stated
   approximation);
2. counts exactly, in one read of every block: each numeric column's values, sum and sum of
   squares (the means and spreads training uses), each text column's categories, the target's
   classes or its mean and spread;
3. trains: each epoch reads the blocks in a shuffled order into a pool of at most ``pool_rows``
   rows, shuffles the pool's rows and trains on them (``NeuralNetwork.fit``, one epoch a pool);
   a reader thread reads the next block meanwhile (:func:`read_ahead`).

Validation rows are chosen by a hash of the seed, the block and the row's place in it: nothing
is held to remember them, and a rerun with the seed picks the same rows (up to
:data:`VALIDATION_ROWS` of them are kept to score each epoch).
"""

from __future__ import annotations

import math
import os
import time
from collections import Counter

import numpy as np

from .csv_source import TextFormat, pyarrow
from .readers import Table, read_table, unchanged_while_read
from .preprocessing import TabularPreprocessor

#: Rows of the sample that fixes the columns' kinds and the medians.
SAMPLE_ROWS = 100_000
#: Bytes of the file a block holds: small, so that a pool holds many blocks (a sorted file mixes),
#: large enough that a read is worth it.
BLOCK_BYTES = 2 << 20
#: Most validation rows kept in memory to score each epoch.
VALIDATION_ROWS = 100_000


class Blocks:
    """A table file as ``count`` blocks of rows, each read on its own (:meth:`read`).

    A CSV or Arrow file is cut into byte ranges of about ``block_bytes``. A Parquet file is cut
    along its row groups, a large row group into slices of about ``block_bytes``: a row group
    is decoded whole (Parquet cannot start mid-group), so the last decoded group is kept and its
    slices read from it, and :meth:`order` visits a group's slices together.
    """

    def __init__(self, path, fmt: TextFormat, text_columns=(), block_bytes: int | None = None) -> None:
        self.path, self.fmt, self.text_columns = path, fmt, list(text_columns)
        size, block_bytes = os.path.getsize(path), block_bytes or BLOCK_BYTES
        self.slices = _parquet_slices(path, size, block_bytes)      # [(group, first row, stop row)] or None
        self.count = len(self.slices) if self.slices else max(1, math.ceil(size / block_bytes))
        self._decoded = (None, None)                                # (group, its rows as Arrow)
        if self.slices:                                             # each group's first row in the file
            rows = {}
            for group, _, stop in self.slices:
                rows[group] = max(rows.get(group, 0), stop)
            self._first_row = dict(zip(rows, np.cumsum([0] + list(rows.values()))[:-1].tolist()))

    def read(self, k: int, as_text: bool = False) -> Table:
        """Block ``k`` (of :attr:`count`)."""
        if not self.slices:
            return read_table(self.path, part=(k, self.count), text_columns=self.text_columns, fmt=self.fmt,
                              as_text=as_text)
        group, start, stop = self.slices[k]
        if self._decoded[0] != group:
            self._decoded = (None, None)                            # (free the last group first)
            self._decoded = (group, _read_row_group(self.path, group))
        pa, _ = pyarrow()
        # A copy of the slice, not a view: the decoded group is then held by this cache alone,
        # and freed before the next group is decoded (never two groups in memory).
        rows = self._decoded[1].take(pa.array(np.arange(start, stop)))
        return Table.from_arrow(rows, self.path, self._first_row[group] + start, self.fmt)

    def order(self, rng: np.random.Generator) -> np.ndarray:
        """An epoch's block order: a permutation; for Parquet the row groups in a random order,
        each group's slices shuffled among themselves (a group is decoded once an epoch)."""
        if not self.slices:
            return rng.permutation(self.count)
        groups = np.array([group for group, _, _ in self.slices])
        parts = [rng.permutation(np.flatnonzero(groups == g)) for g in rng.permutation(np.unique(groups))]
        return np.concatenate(parts)


def _read_row_group(path, group: int):
    """Row group ``group`` of a Parquet file as a pyarrow Table (a file changed meanwhile, or
    unreadable, is a ValueError naming it)."""
    import pyarrow.parquet as pq

    pa, _ = pyarrow()
    try:
        with unchanged_while_read(path), pq.ParquetFile(path) as file:
            # Column by column: decoding a whole group at once holds every column's buffers at
            # the same time (about 1.5x the group's size more at the peak).
            names = file.schema_arrow.names
            return pa.table({name: file.read_row_group(group, columns=[name], use_threads=False).column(0)
                             for name in names})
    except OSError as error:
        raise ValueError(f"{path}: not a readable Parquet file: {error}") from None


def _parquet_slices(path, size: int, block_bytes: int) -> list | None:
    """Blocks of a Parquet file along its row groups (None for other files): a group of more
    rows than about ``block_bytes`` hold is sliced."""
    if not str(path).endswith((".parquet", ".pq")):
        return None
    try:
        import pyarrow.parquet as pq

        with pq.ParquetFile(path) as file:
            rows = [file.metadata.row_group(i).num_rows for i in range(file.num_row_groups)]
    except Exception:           # (not readable as Parquet: the reader says why, in its words)
        return None
    per_slice = max(1, int(block_bytes * sum(rows) / max(size, 1)))
    cuts = [np.linspace(0, n, math.ceil(n / per_slice) + 1).astype(int) for n in rows]   # (equal slices)
    return [(group, int(a), int(b)) for group, edges in enumerate(cuts) for a, b in zip(edges[:-1], edges[1:])
            if b > a] or None


def read_ahead(blocks: Blocks, order, as_text: bool = False):
    """``(k, table)`` for each block ``k`` of ``order``, the next block read by a thread while
    this one is used (pyarrow reads without holding the interpreter, so reading overlaps work)."""
    from concurrent.futures import ThreadPoolExecutor

    order = [int(k) for k in order]
    with ThreadPoolExecutor(1, thread_name_prefix="backprop-reader") as reader:
        pending = reader.submit(blocks.read, order[0], as_text) if order else None
        for i, k in enumerate(order):
            table = pending.result()
            pending = reader.submit(blocks.read, order[i + 1], as_text) if i + 1 < len(order) else None
            yield k, table


def validation_mask(seed: int, block: int, n_rows: int, fraction: float) -> np.ndarray:
    """Which rows of block ``block`` are validation rows: a hash of (seed, block, row)."""
    return np.random.default_rng([seed, block, 7]).random(n_rows) < fraction


def sample_table(blocks: Blocks, seed: int, rows: int = SAMPLE_ROWS) -> Table:
    """Up to ``rows`` rows taken evenly from every block, as one table (cells as written)."""
    pa, _ = pyarrow()
    per_block, rng, parts = math.ceil(rows / blocks.count), np.random.default_rng(seed), []
    for k in range(blocks.count):
        block = blocks.read(k, as_text=True)
        chosen = np.sort(rng.choice(len(block), min(per_block, len(block)), replace=False))
        parts.append(pa.table({name: block.raw(name).take(pa.array(chosen)) for name in block.header}))
    return Table.from_arrow(pa.concat_tables(parts), f"{blocks.path} (sample)", 0, blocks.fmt)


def fit_exactly(pre: TabularPreprocessor, blocks: Blocks, seed: int, fraction: float, comm=None) -> dict:
    """Replace ``pre``'s sample statistics by exact ones from one read of every block's training
    rows (the medians stay the sample's); return what the pass saw: rows, validation rows kept
    (as a table), classes. With an MPI communicator the blocks are dealt to the ranks (block
    ``k`` to rank ``k mod size``) and the counts merged: every rank gets the whole file's."""
    numeric = {c["name"]: np.zeros(3) for c in pre.columns if c["kind"] == "numeric"}
    text = {c["name"]: Counter() for c in pre.columns if c["kind"] == "text"}
    target, classes, held, n_rows, n_train, shares = np.zeros(3), Counter(), [], 0, 0, []
    mine = range(blocks.count) if comm is None else range(comm.Get_rank(), blocks.count, comm.Get_size())
    for k, table in read_ahead(blocks, mine):
        n_rows += len(table)
        labelled = ~table.column(pre.target).missing
        validation = validation_mask(seed, k, len(table), fraction) & labelled
        train = np.flatnonzero(labelled & ~validation)
        n_train += len(train)
        if validation.any() and sum(len(t) for t in held) < VALIDATION_ROWS:
            held.append(table.subset(np.flatnonzero(validation)))
        for name, sums in numeric.items():
            values = table.column(name).numbers[train]
            present = values[np.isfinite(values)]
            sums += [len(present), present.sum(), np.square(present).sum()]
        for name, counts in text.items():
            column = table.column(name)
            codes = column.codes[train]
            tally = np.bincount(codes[codes >= 0], minlength=len(column.categories))
            counts.update(dict(zip(column.categories.to_pylist(), tally.tolist())))
        goal = table.column(pre.target)
        if len(train):     # (how the target is spread over the blocks: a sorted file shows)
            shares.append(Counter(goal.labels()[train].tolist()) if pre.target_kind == "labels"
                          else float(np.nanmean(goal.numbers[train])))
        if pre.target_kind == "numeric":
            target += [len(train), goal.numbers[train].sum(), np.square(goal.numbers[train]).sum()]
        else:
            classes.update(goal.labels()[train].tolist() if pre.target_kind == "labels" else
                           goal.numbers[train].astype(np.int64).tolist())
    if comm is not None:
        numeric, text, target, classes, n_rows, n_train, shares, held = _merged(
            comm, numeric, text, target, classes, n_rows, n_train, shares, held)
    _apply(pre, numeric, text, target, n_train)
    if pre.target_kind == "labels" and classes:        # each block's share of the first class
        first = sorted(classes)[0]
        shares = [counts[first] / sum(counts.values()) for counts in shares]
    if clustered(shares, pre.target_kind, target, n_train):
        pre.warnings.append(f"the target {pre.target!r} is sorted or clustered in the file (its blocks differ "
                            "far more than random rows would): only a pool holding many blocks mixes it; "
                            "raise --shuffle-rows, or shuffle the file's rows once (--shuffle-once)")
    return {"rows": n_rows, "train_rows": n_train, "validation": held, "classes": sorted(classes),
            "class_counts": dict(classes)}


def _merged(comm, numeric, text, target, classes, n_rows, n_train, shares, held):
    """The exact pass's counts summed over the ranks (the same on every rank); the validation
    tables gathered to every rank, in block order of the ranks (a rank keeps its share of the cap)."""
    numeric = {name: comm.allreduce(sums) for name, sums in numeric.items()}
    text = {name: sum(comm.allgather(counts), Counter()) for name, counts in text.items()}
    classes = sum(comm.allgather(classes), Counter())
    shares = [share for part in comm.allgather(shares) for share in part]
    held = [table for part in comm.allgather(held) for table in part]
    return (numeric, text, comm.allreduce(target), classes, comm.allreduce(n_rows), comm.allreduce(n_train),
            shares, held)


def clustered(per_block: list, kind: str, target: np.ndarray, n_train: int) -> bool:
    """Whether the target's per-block summaries (a class share, or a mean) spread far more than
    blocks of random rows would: the file is sorted or grouped by its target."""
    if len(per_block) < 4 or not n_train:
        return False
    spread = float(np.std(per_block))
    if kind == "numeric":
        variance = max(target[2] / target[0] - (target[1] / target[0]) ** 2, 0.0) if target[0] else 0.0
        return spread > 0.5 * np.sqrt(variance)
    return spread > 0.25


def _apply(pre: TabularPreprocessor, numeric: dict, text: dict, target: np.ndarray, n_train: int) -> None:
    """The exact statistics into ``pre``: means and spreads after filling gaps with the median."""
    pre.warnings = [w for w in pre.warnings if "categories" not in w and "identifier" not in w]
    for i, spec in enumerate(pre.columns):
        if spec["kind"] == "numeric":
            present, total, squares = numeric[spec["name"]]
            gaps, median = max(n_train - present, 0), spec["median"]
            n = present + gaps
            mean = (total + gaps * median) / n
            std = math.sqrt(max((squares + gaps * median * median) / n - mean * mean, 0.0))
            spec.update(mean=float(mean), std=float(std) if std > 0 else 1.0)
        else:
            pre.columns[i] = {**pre.text_spec(spec["name"], +text[spec["name"]]), "name": spec["name"]}
    if pre.target_kind == "numeric" and target[0]:
        mean = target[1] / target[0]
        std = math.sqrt(max(target[2] / target[0] - mean * mean, 0.0))
        pre.target_mean, pre.target_std = float(mean), float(std) or 1.0


def pools(blocks: Blocks, pre: TabularPreprocessor, rng: np.random.Generator, pool_rows: int, seed: int,
          fraction: float, dtype, held: list | None = None):
    """One epoch: ``(X, y)`` of each pool of training rows, blocks in a shuffled order, rows
    shuffled within the pool; the pool holds whole blocks, at least one. ``held``, unless it is
    None or ``held.closed``, gathers the hashed validation rows as encoded ``(X, y)`` (up to
    :data:`VALIDATION_ROWS`): the Python API's first epoch keeps them so."""
    X_parts, y_parts, count = [], [], 0
    for k, table in read_ahead(blocks, blocks.order(rng)):
        validation = validation_mask(seed, k, len(table), fraction)
        room = held is not None and not getattr(held, "closed", False) and \
            sum(len(x) for x, _ in held) < VALIDATION_ROWS
        kept = encoded_rows(pre, table, np.flatnonzero(validation), dtype) if room and validation.any() else None
        if kept is not None:
            held.append(kept)
        part = encoded_rows(pre, table, np.flatnonzero(~validation), dtype)
        if part is None:
            continue
        X_parts.append(part[0])
        y_parts.append(part[1])
        count += len(part[0])
        if count >= pool_rows:
            yield shuffled_pool(X_parts, y_parts, rng)
            X_parts, y_parts, count = [], [], 0
    if X_parts:
        yield shuffled_pool(X_parts, y_parts, rng)


def dealt_pools(blocks: Blocks, pre: TabularPreprocessor, rng: np.random.Generator, pool_rows: int, seed: int,
                fraction: float, dtype, rank: int, size: int):
    """:func:`pools` for MPI rank ``rank`` of ``size``: the epoch's shuffled block order (the same
    on every rank: ``rng`` is shared) dealt in turn, ``count // size`` whole blocks to each rank,
    and the rows of the ``count % size`` blocks left over split among the ranks, so that every
    row is trained on once an epoch and every rank yields the same number of pools (each a share
    of ``pool_rows``) whatever its blocks hold."""
    order = blocks.order(rng)
    whole = blocks.count // size
    mine, shared = order[rank:whole * size:size], order[whole * size:]
    per_pool = max(1, math.ceil(pool_rows / size / max(1, _rows_per_block(blocks))))
    groups = [list(mine[i:i + per_pool]) for i in range(0, len(mine), per_pool)] or [[]]
    groups[-1] = groups[-1] + [(k, True) for k in shared]
    for group in groups:
        X_parts, y_parts = [], []
        for item in group:
            k, split = (item if isinstance(item, tuple) else (item, False))
            table = blocks.read(int(k))
            rows = np.flatnonzero(~validation_mask(seed, int(k), len(table), fraction))
            part = encoded_rows(pre, table, rows[rank::size] if split else rows, dtype)
            if part is not None:
                X_parts.append(part[0])
                y_parts.append(part[1])
        # (a draw from the shared generator seeds this pool's shuffle: ranks stay in step)
        yield shuffled_pool(X_parts, y_parts, np.random.default_rng(rng.integers(2**63)))


def _rows_per_block(blocks: Blocks) -> int:
    """Rows a block holds, roughly (from the first block; read once)."""
    if not hasattr(blocks, "rows_per_block"):
        blocks.rows_per_block = len(blocks.read(0))
    return blocks.rows_per_block


def encoded_rows(pre: TabularPreprocessor, table: Table, rows: np.ndarray, dtype):
    """``(X, y)`` of the rows at ``rows`` that have a target (None when none has: a block of
    validation rows only, or of rows without a target, adds nothing to a pool)."""
    rows = rows[~table.column(pre.target).missing[rows]]
    return pre.transform(table, with_target=True, dtype=dtype, rows=rows)[:2] if len(rows) else None


def shuffled_pool(X_parts, y_parts, rng):
    """The parts' rows together, in an order ``rng`` draws."""
    X, y = np.concatenate(X_parts), np.concatenate(y_parts)
    order = rng.permutation(len(X))
    return X[order], y[order]


def fit_stream(model, chunks, epochs: int, batch_size: int = 32, validation_data=None, patience: int = 0,
               progress=None, class_weight=None, comm=None, callbacks=()) -> dict:
    """Train ``model`` on data that arrive in chunks, never all in memory.

    Parameters
    ----------
    model : NeuralNetwork
        Built for the chunks' width (a classifier's classes set first, e.g. with
        ``model.head.fit_encode(all_labels, model.dtype)``, since a chunk may miss some).
    chunks : callable
        ``chunks()`` gives one epoch's ``(X, y)`` pairs, in the order to train on them (shuffle
        inside and across them as the data need: see :func:`pools`). A generator function works.
    epochs, batch_size : int
    validation_data : tuple (X_val, y_val) or callable returning one (or None), optional
        Scored after each epoch; with ``patience``, training stops when its loss has not improved
        for that many epochs, and the best epoch's weights are kept.
    progress : callable, optional
        ``progress(epoch, loss, val_loss, rows_per_second)`` after each epoch.
    class_weight : dict, optional
        Classification: ``{label: weight}`` for every chunk (see ``NeuralNetwork.fit``).
    comm : mpi4py.MPI.Comm, optional
        Data-parallel over MPI: each rank's ``chunks()`` yields its share of each chunk (the same
        number of chunks on every rank), and the validation data is the same on every rank.
    callbacks : list of Callback, optional
        Epoch-level hooks (``ModelCheckpoint``, ``EarlyStopping``, your own): ``on_train_begin``,
        ``on_epoch_end`` with the epoch's logs, ``on_train_end``; batch hooks are not called.

    Returns
    -------
    dict
        ``loss`` and the metric (``accuracy`` or ``r2``; each epoch's mean over the chunks),
        ``val_loss`` and ``val_`` + the metric, ``stop_reason`` and ``best_epoch``.

    Examples
    --------
    >>> def chunks():                                   # doctest: +SKIP
    ...     for path in sorted(glob.glob("parts/*.npz")):
    ...         part = np.load(path)
    ...         yield part["X"], part["y"]
    >>> fit_stream(model, chunks, epochs=5)             # doctest: +SKIP
    """
    from ..training.callbacks import EarlyStopping

    metric, stop = model.head.metric, "completed"
    record = {"loss": [], metric: [], "val_loss": [], f"val_{metric}": []}
    stopper = EarlyStopping(patience=patience) if patience else None    # (val_loss, best weights kept)
    callbacks = [*callbacks, *([stopper] if stopper else [])]
    for callback in callbacks:
        callback.set_model(model)
        callback.on_train_begin({"epochs": epochs, "validation": validation_data is not None,
                                 "rank": 0 if comm is None else comm.Get_rank()})
    for epoch in range(epochs):
        began = time.perf_counter()
        rows, stop = _stream_epoch(model, chunks, epoch, batch_size, class_weight, comm, record)
        if stop != "completed":
            break
        held = validation_data() if callable(validation_data) else validation_data
        scores = model.evaluate(*held) if held is not None else {}
        record["val_loss"].append(scores.get("loss", math.nan))
        record[f"val_{metric}"].append(scores.get(metric, math.nan))
        if progress:
            progress(epoch, record["loss"][-1], record["val_loss"][-1], rows / max(time.perf_counter() - began, 1e-9))
        logs = {key: values[-1] for key, values in record.items() if held is not None or not key.startswith("val_")}
        for callback in callbacks:
            callback.on_epoch_end(epoch, logs)
        if callbacks and model.stop_training:
            stop = model.stop_reason or f"stopped by a callback after epoch {epoch + 1}"
            break
    for callback in callbacks:
        callback.on_train_end({})
    best = 0 if stopper is None or stopper.best_epoch is None else stopper.best_epoch + 1
    return {**record, "stop_reason": stop, "best_epoch": best}


def _stream_epoch(model, chunks, epoch: int, batch_size: int, class_weight, comm, record: dict) -> tuple[int, str]:
    """One epoch over ``chunks()``: each chunk one ``fit`` epoch; the means of the loss and the
    metric over the epoch's rows (every rank's) appended to ``record``. Returns the rows and
    ``"completed"``, or why the epoch ended early (Ctrl-C: nothing appended)."""
    from ..interrupt import InterruptGuard

    metric, total, scored, rows = model.head.metric, 0.0, 0.0, 0
    with InterruptGuard(announce=False) as interrupt:
        for X, y in chunks():
            history = model.fit(X, y, epochs=1, batch_size=batch_size, verbose=0, class_weight=class_weight, comm=comm)
            share = len(X) if comm is None else comm.allreduce(len(X))   # (the loss is every rank's)
            total, scored, rows = (total + history.history["loss"][0] * share,
                                   scored + history.history[metric][0] * share, rows + share)
            if interrupt.requested or history.interrupted:
                return rows, f"interrupted (Ctrl-C) during epoch {epoch + 1}"
    record["loss"].append(total / max(rows, 1))
    record[metric].append(scored / max(rows, 1))
    return rows, "completed"


def history_of(model, done: dict, validation: bool):
    """``fit_stream``'s record as the ``History`` an in-memory ``fit`` returns."""
    from ..training.callbacks import History

    history = History()
    metric = model.head.metric
    history.history = {"loss": done["loss"], metric: done[metric]}
    if validation:
        history.history.update(val_loss=done["val_loss"], **{f"val_{metric}": done[f"val_{metric}"]})
    history.history["lr"] = [model.current_learning_rate] * len(done["loss"])
    history.epoch = list(range(len(done["loss"])))
    history.stop_reason = done["stop_reason"]
    model.history_ = history
    return history
