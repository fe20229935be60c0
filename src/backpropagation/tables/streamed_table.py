"""A table file bigger than memory, as the network trains on it: :func:`read_table` and :class:`StreamedTable`.

::

    from backpropagation import NeuralNetwork, read_table

    table = read_table("big.parquet", target="label", validation_split=0.05)   # one read: kinds, statistics
    model = NeuralNetwork([table.n_features, 64, 32, len(table.classes)], task="classification")
    model.fit(table, epochs=5, early_stopping=True)

``read_table`` reads the file once as ``backprop train --stream`` does (:mod:`.file_summary`):
the columns' kinds and medians from an even sample, then exact means, spreads, categories,
classes and counts, and the validation rows (picked by a hash of ``seed`` and the row's place in
the file; statistics and categories are the training rows'). ``fit`` then trains through the same
loop as for arrays: each epoch reads the blocks in a shuffled order into pools of ``pool_rows``
rows (:mod:`.streaming`) and trains on each pool's rows in a new order. Iterating the table gives
its blocks as encoded ``(X, y)``.
"""

from __future__ import annotations

import os

import numpy as np

from ..collective import collectively
from ..data import check_dtype, check_float, check_int
from ..training.prepare import class_index, class_weights
from ..training.sources import StreamedPools
from .blocks import Blocks, read_ahead
from .csv_source import TextFormat
from .file_summary import sample_table, summarize
from .preprocessing import TabularPreprocessor
from .scaling import check_scaling
from .streaming import pool_rows_for, pools

TASKS = ("auto", "regression", "binary", "multiclass", "classification")


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
    class_counts : dict
        Training rows per class.
    embeddings : dict
        ``{input column: (n_categories, dim)}`` of the embedded text columns (the network's
        ``embeddings`` argument).
    preprocessing : TabularPreprocessor
        The fitted encoding (the same as ``backprop train``'s).
    rows, train_rows, validation_rows : int
        Data rows in the file; rows with a target trained on, and held out.
    validation_split : float
        The fraction of rows held out (by a hash of the seed and the row's place in the file).
    pool_rows : int
        Rows a pool holds (at most the ``pool_rows`` asked for, within the memory budget).
    notes : list of str
        What reading decided that a user should know (a pool held smaller, and why).
    """

    #: What tells ``NeuralNetwork.fit`` to stream this table.
    streams_blocks = True

    def __init__(self, path, target: str, task: str = "auto", drop=(), text=(), numeric=(), max_categories=None,
                 embed=None, fmt: TextFormat | None = None, validation_split: float = 0.0, pool_rows: int = 200_000,
                 seed: int = 0, dtype="float64", memory: int | None = None, comm=None,
                 scaling: str = "robust") -> None:
        self.fmt, self.seed, self.comm = fmt or TextFormat(), seed, comm
        self.dtype, self.validation_split = check_dtype(dtype), _fraction(validation_split)
        pre = TabularPreprocessor(target, task, drop, text=text, numeric=numeric, max_categories=max_categories,
                                  embed=embed, scaling=scaling)
        # Under MPI an error is every rank's (said once), or stops every rank: none waits for another.
        step = (lambda work: work()) if comm is None else (lambda work: collectively(comm, work))
        self.blocks = step(lambda: Blocks(path, self.fmt, pre.spelled_columns))
        step(lambda: (comm is None or comm.Get_rank() == 0) and pre.fit(sample_table(self.blocks, seed)))
        if comm is not None:       # (one rank reads the sample; every rank gets its kinds, medians, rows)
            (pre.columns, pre.target_kind, pre.warnings, self.blocks.first_rows) = comm.bcast(
                (pre.columns, pre.target_kind, pre.warnings, self.blocks.first_rows), root=0)
        self.summary = summarize(pre, self.blocks, seed, self.validation_split, comm)
        self.preprocessing = pre
        self.rows_per_block = self.summary.rows / self.blocks.count
        self.pool_rows, note = pool_rows_for(pre, self.dtype, pool_rows, memory, self.rows_per_block)
        self.notes = [note] if note else []

    # ------------------------------------------------------------------ what reading found
    rows = property(lambda self: self.summary.rows, doc="Data rows in the file.")
    train_rows = property(lambda self: self.summary.train_rows, doc="Rows with a target, trained on.")
    validation_rows = property(lambda self: self.summary.validation_rows, doc="Rows with a target, held out.")
    classes = property(lambda self: self.summary.classes, doc="The target's classes (classification).")
    class_counts = property(lambda self: self.summary.class_counts, doc="Training rows per class.")
    n_features = property(lambda self: len(self.preprocessing.feature_names), doc="Encoded width.")
    feature_names = property(lambda self: self.preprocessing.feature_names, doc="The encoded columns.")
    embeddings = property(lambda self: self.preprocessing.embeddings, doc="The embedded columns.")

    @property
    def task(self) -> str:
        """``"regression"`` or ``"classification"``, from the target's kind."""
        return self.preprocessing.resolved_task

    @property
    def path(self) -> str:
        return self.blocks.source

    def __iter__(self):
        """Each block in file order as ``(X, y)``: encoded features, targets as written (labels, or
        numbers in the target's units); rows without a target are left out."""
        pre = self.preprocessing
        for _, table in read_ahead(self.blocks, range(self.blocks.count)):
            rows = np.flatnonzero(~table.column(pre.target).missing)
            if len(rows):
                yield pre.transform(table, with_target=True, dtype=self.dtype, rows=rows)[:2]

    def pools(self, rng: np.random.Generator, rank: int = 0, size: int = 1, shuffle: bool = True):
        """One epoch's pools of training rows, ``(X, y)`` (see :func:`.streaming.pools`)."""
        return pools(self.blocks, self.preprocessing, rng, self.pool_rows, self.seed, self.validation_split,
                     self.dtype, self.rows_per_block, rank, size, shuffle)

    def validation(self):
        """The held validation rows as ``(X, y)`` (features encoded, targets as written), or
        ``(None, None)`` without any (this process's share under MPI)."""
        parts = [self.preprocessing.transform(table, with_target=True, dtype=self.dtype)[:2]
                 for table in self.summary.held]
        if not parts:
            return None, None
        return np.concatenate([X for X, _ in parts]), np.concatenate([y for _, y in parts])

    def __repr__(self) -> str:
        return (f"StreamedTable({self.path!r}, target={self.preprocessing.target!r}: {self.rows} rows in "
                f"{self.blocks.count} blocks, {self.n_features} features)")

    # ------------------------------------------------------------------ training on it
    def training_source(self, model, reducer, y=None, *, sample_weight=None, validation_split=0.0,
                        validation_data=None, class_weight=None, batch_size=32, shuffle=True):
        """What ``NeuralNetwork.fit`` trains on for this table: the loop's source of pools and the
        validation rows. What does not apply to a table is refused by name."""
        for name, value in (("y", y), ("validation_data", validation_data), ("sample_weight", sample_weight)):
            if value is not None:
                raise ValueError(f"{name}: not available when X is a streamed table: the table holds the targets "
                                 "(rows weigh alike; class_weight weighs classes) and its validation rows")
        fraction = _fraction(validation_split)
        if fraction and fraction != self.validation_split:
            raise ValueError(f"validation_split: this table holds out {self.validation_split} of its rows, chosen "
                             f"when it was read (statistics and categories are those of the other rows); read "
                             f"it with read_table(..., validation_split={fraction}) to hold out {fraction}")
        if (getattr(reducer, "comm", None) is not self.comm) and self.comm is not None:
            raise ValueError("comm: a table read over MPI (read_table(..., comm=...)) trains with the same comm")
        self._prepare(model)
        per_class = None if class_weight is None else \
            class_weights(model, class_weight, np.array([self.class_counts.get(c, 0) for c in model.classes_.tolist()],
                                                        dtype=np.float64))
        X_val, y_val = self.validation()
        validation = (X_val, None if X_val is None else model.task_.encode(y_val, model.dtype))
        if self.comm is not None and validation[0] is None and self.validation_split:
            validation = (np.empty((0, self.n_features), model.dtype),
                          np.empty((0, model.layer_sizes[-1]), model.dtype))
        reducer.start(model, validation[0] is not None)
        rank, size = getattr(reducer, "rank", 0), getattr(reducer, "size", 1)
        batch_size = self.train_rows if batch_size is None else batch_size

        def parts(rng):
            for X, labels in self.pools(rng, rank, size, shuffle):
                if len(X) or size > 1:          # (under MPI every process takes part in every pool)
                    Y = model.task_.encode(labels, model.dtype)
                    yield X, Y, None if per_class is None else per_class[class_index(Y)].astype(model.dtype)

        def sample():
            X, labels = next(iter(self), (np.empty((0, self.n_features), self.dtype), np.empty(0)))
            rows = slice(0, 8 * batch_size)
            return X[rows], model.task_.encode(labels[rows], model.dtype)
        return StreamedPools(parts, self.train_rows, reducer, batch_size, shuffle, sample), validation

    def _prepare(self, model) -> None:
        """Check the network fits the table; give its task (its output) the classes or the target's statistics,
        and its metadata the encoding (so that ``backprop predict`` and ``TableModel`` read raw rows)."""
        pre = self.preprocessing
        if model.layer_sizes[0] != self.n_features:
            raise ValueError(f"X: the streamed table has {self.n_features} encoded features "
                             f"(table.n_features) but the network's input layer has {model.layer_sizes[0]}")
        if model.task_.is_classifier != (pre.target_kind != "numeric"):
            raise ValueError(f"X: the target {pre.target!r} is "
                             f"{'numeric' if pre.target_kind == 'numeric' else 'labels'} but the network's task is "
                             f"{model.task!r}; pass task= to read_table or build the network for task={self.task!r}")
        if model.task_.is_classifier and not model.task_.fitted:
            model.task_.fit_encode(np.array(self.classes), model.dtype)
        elif not model.task_.is_classifier and not model.task_.fitted:
            model.task_.set_state({"target_ndim": 1})
            if model.standardize_target:
                model.task_.set_target_statistics(pre.target_mean, pre.target_std)
            if model.clip_predictions and pre.target_range is not None:
                model.task_.set_target_range(*pre.target_range)
        model.metadata.update(preprocessing=pre.to_dict(), feature_names=pre.feature_names,
                              text_format=self.fmt.to_dict())


def _fraction(value) -> float:
    """A validation fraction in [0, 1), checked as ``fit`` checks ``validation_split``."""
    value = check_float("validation_split", value, 0.0)
    if value >= 1:
        raise ValueError(f"validation_split: expected a fraction in [0, 1), got {value!r}")
    return value


def read_table(path, target: str, *, task: str = "auto", drop=(), text=(), numeric=(), max_categories=None,
               embed=None, delimiter=None, decimal=".", thousands=None, na_values=(), validation_split: float = 0.0,
               pool_rows: int = 200_000, seed: int = 0, dtype="float64", memory=None, comm=None,
               scaling: str = "robust") -> StreamedTable:
    """A table file (CSV, compressed CSV, Parquet, Arrow/Feather) to train on without holding it.

    Reads the file once (in blocks) to fix the column kinds, statistics, categories and classes;
    ``NeuralNetwork.fit(table, ...)`` then streams it every epoch. Arguments are those of
    ``backprop train`` (``--target``, ``--task``, ``--drop``, ``--text``, ``--numeric``,
    ``--max-categories``, ``--embed``, ``--scaling``, ``--delimiter``, ``--decimal``, ``--thousands``,
    ``--na-values``, ``--validation-split``, ``--memory``); ``embed`` maps text columns to their
    embedding width (None: the default rule). ``pool_rows`` is the shuffling pool
    (``--shuffle-rows``), held within ``memory`` bytes (default half the machine's); ``seed``
    picks the sample and the validation rows (the network's ``random_state`` orders the blocks
    and rows). With an MPI communicator ``comm`` the ranks share the reading; give ``fit`` the same.
    """
    if not isinstance(target, str):
        raise TypeError(f"target: expected a column name, got {target!r}")
    if task not in TASKS:
        raise ValueError(f"task: expected one of {', '.join(map(repr, TASKS))}, got {task!r}")
    check_scaling(scaling)
    check_int("pool_rows", pool_rows, 1)
    check_int("seed", seed, 0)
    if max_categories is not None:
        check_int("max_categories", max_categories, 2)
    if memory is not None:
        check_int("memory", memory, 1)
    if isinstance(na_values, str):
        na_values = (na_values,)
    fmt = TextFormat(delimiter, decimal, thousands, tuple(na_values))
    if isinstance(path, (str, bytes, os.PathLike)) and not os.path.exists(path):
        raise FileNotFoundError(f"{os.fspath(path)}: no such file")
    return StreamedTable(path, target, task, drop, text, numeric, max_categories, embed, fmt, validation_split,
                         pool_rows, seed, dtype, memory, comm, scaling=scaling)
