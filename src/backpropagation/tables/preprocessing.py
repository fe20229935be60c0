"""Table columns to numeric matrices, for the command line: column types, categories, scaling, gaps.

:class:`TabularPreprocessor` learns, from training rows only (columns decoded by
:mod:`backpropagation.tables.readers`):

- which columns are numeric (every present value a finite number, or an ISO date: its days since
  1970-01-01, with its phases in the year and the week beside it, :mod:`.dates`) and which are text;
- numeric columns: the median (to fill gaps), then their scaling's statistics (:mod:`.scaling`:
  median and quartile spread with a smooth clip by default, or mean and standard deviation);
  where training rows had gaps, an indicator (1 where the cell was missing) beside the number;
- text columns: the sorted categories, one-hot (a category never seen in training encodes as all
  zeros, and is counted); missing cells are a level of their own where training rows had them,
  else (and in an embedded column) the most frequent category;
- the target: rows without one are dropped; text targets are class labels.

Every step works on whole columns with NumPy and pyarrow compute, never cell by cell. Under MPI
each rank's summaries merge in constant size per numeric column (:mod:`backpropagation.statistics`).
The state is plain JSON, stored inside the model file, so ``backprop predict`` applies exactly
the transformation that training used.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..collective import Totals
from ..statistics import filled_mean_std, medians
from . import scaling as scalings
from .preprocessing_state import (MISSING_LEVEL, OTHER, checked_column, describe, empty_matrix, encoded_width, number,
                                  require)
from .dates import date_cells, holds_times, phase_names, phase_width, phases
from .group_codes import code_counts, code_positions, distinct_codes, many_codes_advice, readable_codes
from .kinds import (MAX_AUTO_CLASSES, column_kind, column_warnings, distinct_cells, first_text, first_where,
                    forced_kinds, refuse_dates_among_numbers, spelled_as_booleans, table_target_kind, text_warnings)
from .readers import Column, Table, arrow_of, numpy_of, pyarrow
from .transform_report import TransformReport


def embedding_dim(n_categories: int) -> int:
    """The default width of a column's embedding: fastai's rule ``1.6 · n^0.56``, at most 50."""
    return int(min(50, max(2, round(1.6 * n_categories ** 0.56))))


#: What :meth:`TabularPreprocessor._category_positions` gives a cell that is missing, or a category
#: not learned (then all zeros, or the embedding's own row).
MISSING_CODE, UNSEEN_CODE = -1, -2


class TabularPreprocessor:
    """Learns a table's column encoding on training rows and applies it to any rows.

    Parameters
    ----------
    target : str
        The column to predict.
    task : {"auto", "regression", "binary", "multiclass", "classification"}
        ``"auto"`` treats text, or whole numbers with at most ``max_auto_classes`` distinct
        values, as classes, and anything else as a regression target.
    drop : sequence of str
        Columns to ignore (identifiers, leaks).
    text, numeric : sequence of str
        Columns to read as categories (codes, zip codes) or as numbers whatever they hold (their
        text cells are then missing), instead of deciding from their cells.
    max_categories : int, optional
        Most indicator columns a text column becomes: its ``max_categories - 1`` most frequent
        categories, and one :data:`OTHER` level for the rest (and for categories unseen in training).
    embed : dict of str to int or None, optional
        Text columns to encode as one column of category codes (for an
        :class:`~backpropagation.nn.layers.Embedding` of that width; None: :func:`embedding_dim`)
        instead of indicators. Code ``len(categories)`` stands for a category unseen in training.
    scaling : {"robust", "standard"}, default "robust"
        How numeric columns are scaled (:mod:`backpropagation.tables.scaling`): median, quartile
        spread and a smooth clip, or mean and standard deviation.
    """

    max_auto_classes = MAX_AUTO_CLASSES

    def __init__(self, target: str, task: str = "auto", drop=(), text=(), numeric=(), max_categories=None,
                 embed=None, scaling: str = "robust") -> None:
        self.target, self.task, self.drop, self.max_categories = target, task, list(drop), max_categories
        self.scaling = scalings.check_scaling(scaling)
        self.embed = dict(embed or {})
        self.forced = forced_kinds(target, list(text), list(numeric), self.embed, self.drop)
        self.columns: list[dict] = []
        self.target_kind: str | None = None
        self.target_mean, self.target_std = 0.0, 1.0
        #: A streamed file's smallest and largest training target (for ``clip_predictions``).
        self.target_range: tuple | None = None
        #: Whether :meth:`scale_target` standardises the target (models written before the
        #: network's task took that over); new models leave it to the network.
        self.scales_target = False
        #: Advice found while fitting (identifier-like or constant columns).
        self.warnings: list[str] = []

    # ---------------------------------------------------------------- fitting
    def fit(self, table: Table, comm=None, rows=None) -> "TabularPreprocessor":
        """Learn column types and statistics from ``table``'s training rows (positions ``rows``;
        default all) that have a target.

        With an MPI communicator ``comm``, ``table`` is this rank's part of the rows: each rank
        summarises its part, the summaries are merged over ranks (constant size per numeric
        column), and every rank derives the statistics of the whole table.
        """
        totals, self.warnings = Totals(comm), []
        target = table.column(self.target)
        for name in [*self.drop, *self.forced]:
            table.require(name)            # (present, but never decoded)
        labelled = np.flatnonzero(~target.missing)          # (a column's kind is the whole file's)
        rows = np.arange(len(table)) if rows is None else np.asarray(rows, dtype=np.int64)
        rows = rows[~target.missing[rows]]
        self.target_kind = self.infer_target_kind(target, rows, table.row_numbers, totals)
        if self.target_kind == "numeric":
            mean, std = filled_mean_std([target.numbers[rows]], [0.0], [0], totals, [self.target])
            self.target_mean, self.target_std = float(mean[0]), float(std[0]) or 1.0
            if totals.max(float(target.dates)):
                self.warnings.append(f"the target {self.target!r} holds dates: predicted as days since 1970-01-01")
        names = [name for name in table.header if name != self.target and name not in self.drop]
        kinds = self._column_kinds(table, names, rows, labelled, totals)
        numeric = [name for name in names if kinds[name] == "numeric"]
        stats = dict(zip(numeric, self._numeric_statistics(numeric, [table.column(name) for name in numeric],
                                                           rows, totals)))
        self.columns = []
        for name in names:
            if kinds[name] == "numeric":
                self.columns.append({"name": name, "kind": "numeric", **stats[name]})
            elif kinds[name] == "text":
                self.columns.append(self._text_column(name, table.column(name), rows, totals))
            elif kinds[name] == "codes":
                self.columns.append(self.codes_spec(name, table.column(name), rows, totals))
        if not self.columns:
            raise ValueError(f"{table.source}: no feature columns left besides the target {self.target!r}")
        return self

    def _column_kinds(self, table: Table, names, rows, labelled, totals: Totals) -> dict:
        """"numeric", "text" or "empty" for each column (as forced, else by the cells of every
        labelled row of the file: :func:`~.kinds.column_kind`)."""
        columns = [table.column(name) for name in names]
        counts = totals.sum([[np.count_nonzero(~c.missing[rows]), np.count_nonzero(~c.missing[labelled]),
                              np.count_nonzero(c.is_number[labelled]),
                              c.dates and np.count_nonzero(date_cells(c)[labelled])] for c in columns]).reshape(-1, 4)
        kinds = {}
        for name, column, (n_training, n_present, n_numbers, n_dates) in zip(names, columns, counts.tolist()):
            kinds[name] = column_kind(name, self.forced, n_training, n_present, n_numbers,
                                      lambda column=column: first_text(column, labelled, table.row_numbers, totals),
                                      table.source, lambda column=column: distinct_cells(column, labelled, totals),
                                      self.warnings)
            if kinds[name] == "numeric" and name not in self.forced:
                refuse_dates_among_numbers(name, n_numbers, n_dates, lambda plain, c=column: first_where(
                    c, labelled[c.is_number[labelled] & (date_cells(c)[labelled] != plain)], table.row_numbers,
                    totals), table.source)
                kinds[name] = self._numbers_or_codes(name, column, labelled, totals)
            if kinds[name] == "empty":
                self.warnings.append(f"column {name!r} has no values in the training rows: ignored")
            elif name.startswith("Unnamed: "):
                self.warnings.append(f"column {name!r} has no name in the header (a CSV written by pandas with "
                                     f"its index has one): if it numbers the rows, leave it out (--drop {name!r})")
        return kinds

    def _numbers_or_codes(self, name: str, column: Column, labelled, totals: Totals) -> str:
        """"codes" where a numeric column's values read as categories (:mod:`.group_codes`), else "numeric"."""
        numbers = column.numbers[labelled]
        found = distinct_codes(numbers[~column.missing[labelled]], totals)
        readable = found is not None and readable_codes(len(found[0]), found[1])
        if found is not None and not readable:
            self.warnings.append(many_codes_advice(name, *found))
        return "codes" if readable else "numeric"

    def codes_spec(self, name: str, column: Column, rows, totals: Totals) -> dict:
        """A column of group codes described as a text column of the codes' texts (``"codes"``)."""
        present = column.numbers[rows][~column.missing[rows]]
        n_missing = totals.sum(len(rows) - len(present))
        return {**self.text_spec(name, code_counts(present, totals), int(n_missing), key=int), "codes": True}

    def _numeric_statistics(self, names, columns: list[Column], rows, totals: Totals) -> list[dict]:
        """Median of the present values; mean and std once gaps hold the median.

        One column at a time through one buffer, so that the statistics never hold a copy of
        every numeric column at once (fresh memory is a large part of their cost).
        """
        stats, buffer = [], np.empty(len(rows))
        for name, column in zip(names, columns):
            present = np.take(column.numbers, rows, out=buffer)
            missing = ~np.isfinite(present)      # gaps, and the text cells of a --numeric column
            if missing.any():
                present = present[~missing]
            n_missing = totals.sum(len(rows) - len(present))
            median = medians([present], totals, reorder=True)[0]     # (present is ours to reorder)
            mean, std = filled_mean_std([present], [median], [n_missing], totals, [name])
            low, high = totals.min(present.min(initial=np.inf)), totals.max(present.max(initial=-np.inf))
            dated = bool(totals.max(float(column.dates)))          # (a rank may hold none of its dates)
            times = dated and bool(totals.max(float(holds_times(present))))
            stats.append({"median": median, "mean": float(mean[0]), "std": float(std[0]) if std[0] > 0 else 1.0,
                          "indicator": bool(n_missing), **({"date": True} if dated else {}),
                          **({"times": True} if times else {})})
            if self.scaling == "robust":
                stats[-1].update(scalings.robust_statistics(median, *scalings.quantiles(present, totals), low, high))
            if low == high:
                self._constant(name, repr(float(low)))
            elif not dated:          # (dates rise with the rows of a time series: no row number)
                self.warnings += column_warnings(name, present, column.numbers[np.sort(rows)])
        return stats

    def _constant(self, name, value) -> None:
        self.warnings.append(f"column {name!r} is constant in the training rows ({value}): "
                             "it carries no information")

    def _text_column(self, name: str, column: Column, rows, totals: Totals) -> dict:
        """Sorted categories (merged over ranks) and the most frequent one."""
        codes = column.codes[rows]
        tally = np.bincount(codes[codes >= 0], minlength=len(column.categories))
        seen = np.flatnonzero(tally)
        local = dict(zip(column.categories.take(arrow_of(seen)).to_pylist(), tally[seen].tolist()))
        counts = Counter()
        for part in totals.gather(local):
            counts.update(part)
        return self.text_spec(name, counts, totals.sum(int(np.count_nonzero(column.missing[rows]))))

    def text_spec(self, name: str, counts: Counter, n_missing: int = 0, key=None) -> dict:
        """A text column's description from the count of each of its categories and of its
        missing cells (with the warnings ``fit`` gives: constant, identifier-like, many categories,
        folded by ``max_categories``); categories sorted by ``key`` (default: as texts)."""
        categories = sorted(counts, key=key)
        n_present = sum(counts.values())
        if len(categories) == 1:
            self._constant(name, repr(categories[0]))
        folded = bool(self.max_categories) and len(categories) > self.max_categories
        self.warnings += text_warnings(name, len(categories), n_present, name not in self.embed and not folded)
        frequencies = [counts[c] for c in categories]
        mode = categories[frequencies.index(max(frequencies))]
        spec = {"name": name, "kind": "text", "categories": categories, "mode": mode}
        if folded:
            kept = sorted(sorted(categories, key=lambda c: -counts[c])[: self.max_categories - 1], key=key)
            self.warnings.append(f"column {name!r}: {len(categories)} categories; the {len(kept)} most frequent kept, "
                                 f"the other {len(categories) - len(kept)} as one level {OTHER!r} (--max-categories)")
            spec.update(categories=kept + [OTHER], other=True)
        if name in self.embed:
            spec["embed"] = self.embed[name] or embedding_dim(len(spec["categories"]))
        elif n_missing:
            spec["missing_level"] = True
        return spec

    def infer_target_kind(self, column: Column, rows: np.ndarray, row_numbers: np.ndarray,
                          totals: Totals | None = None) -> str:
        """"numeric", "labels" or "integer-labels" for the target cells at ``rows``, under ``task``.

        A target that is mostly numbers with some text (a typo, ``n.a.``) is refused unless the
        task is a classification one, naming the first such cell and its data row, as is a
        numeric one that mixes dates and plain numbers. Whole numbers beyond 2**53 are not class
        codes: they would not survive a float, so they count as measurements. Under MPI
        (``totals`` over a communicator) the answer is the whole table's."""
        return table_target_kind(column, rows, row_numbers, totals or Totals(), self.target, self.task)

    @property
    def spelled_columns(self) -> list[str]:
        """Columns to read as written: the target when its classes are labels (a label ``1.50``
        is not the number 1.5), and the text columns (forced ones included). Before fitting the
        target's kind is known from the task alone: under ``auto`` and ``regression`` a target of
        numbers is never a label, so it can be parsed as numbers (no column of text to convert)."""
        if self.target_kind is None:
            target = [] if self.task in ("auto", "regression") else [self.target]
            return target + [name for name, kind in self.forced.items() if kind == "text"]
        # (text columns as written: a column of codes such as 01, 02 keeps its leading zeros)
        return ([self.target] if self.target_kind == "labels" else []) + \
            [c["name"] for c in self.columns if c["kind"] == "text" and not c.get("codes")]

    @property
    def resolved_task(self) -> str:
        """The network task: "regression" or "classification" (or the task asked for)."""
        if self.target_kind == "numeric":
            return "regression"
        return "classification" if self.task == "auto" else self.task

    @property
    def feature_names(self) -> list[str]:
        """Names of the matrix columns, in table order: a numeric column keeps its name, a text column
        becomes one ``column=category`` indicator per category."""
        names = []
        for column in self.columns:
            if column["kind"] == "numeric":
                names += [column["name"]] + ([f"{column['name']} {MISSING_LEVEL}"] if column.get("indicator") else []) \
                    + phase_names(column)
            elif "embed" in column:
                names.append(f"{column['name']} (code)")
            else:
                names.extend(f"{column['name']}={c}" for c in column["categories"])
                names += [f"{column['name']}={MISSING_LEVEL}"] if column.get("missing_level") else []
        return names

    # ---------------------------------------------------------------- applying
    def transform(self, table: Table, *, with_target: bool | None = None, dtype=np.float64, rows=None):
        """Encode ``table`` (or its rows at positions ``rows``) as ``(X, y, report)``.

        ``with_target``: True requires the target column, False ignores it, None (default) uses
        it when present. Rows with a missing target are dropped only when the target is used;
        ``y`` is None otherwise. ``report.rows`` holds the positions of the rows kept.
        """
        use_target = self.target in table.columns if with_target is None else with_target
        report = TransformReport()
        rows = np.arange(len(table)) if rows is None else np.asarray(rows, dtype=np.int64)
        y = None
        if use_target:
            target = table.column(self.target)
            given, rows = len(rows), rows[~target.missing[rows]]
            report.rows_dropped = given - len(rows)
            if not len(rows):
                raise ValueError(f"{table.source}: every row lacks the target {self.target!r}")
            y = self._encode_target(target, rows, table)
        report.rows = rows
        X = empty_matrix(self.columns, len(rows), len(self.feature_names), dtype)
        positions = {spec["name"]: self._category_positions(spec, table.column(spec["name"]))
                     for spec in self.columns if spec["kind"] == "text" and not spec.get("codes")}
        # Row blocks of about 2 MB: each column is written into a block that stays in cache.
        block = max(1024, (1 << 21) // max(1, X.shape[1] * X.itemsize))
        for start in range(0, len(rows), block):
            self._encode_rows(table, rows[start:start + block], X[start:start + block], positions, report)
        order = [spec["name"] for spec in self.columns]       # (the columns' order, whatever the blocks)
        report.imputed = {name: report.imputed[name] for name in order if name in report.imputed}
        report.unseen = {name: report.unseen[name] for name in order if name in report.unseen}
        return X, y, report

    def _encode_rows(self, table: Table, rows, X, positions: dict, report: "TransformReport") -> None:
        """Write the encoded features of the rows at positions ``rows`` into ``X``; count the
        imputed cells and unseen categories into ``report``."""
        start = 0
        for spec in self.columns:
            name = spec["name"]
            column = table.column(name)
            if spec["kind"] == "numeric":
                missing = column.missing[rows]
            elif spec.get("codes"):
                index = code_positions(spec, column.numbers[rows], column.missing[rows], MISSING_CODE, UNSEEN_CODE)
                missing = index == MISSING_CODE
            else:
                index = positions[name][column.spelled_codes[0][rows]]
                missing = index == MISSING_CODE
            if missing.any():
                report.imputed[name] = report.imputed.get(name, 0) + int(np.count_nonzero(missing))
            width = encoded_width(spec)
            if spec["kind"] == "numeric":
                block = X[:, start:start + width]
                block[:, 0], filled = self._numeric(spec, column, rows, missing, table, report, block)
                if spec.get("indicator"):
                    block[:, 1] = filled
                start += width
                continue
            encode = self._code if "embed" in spec else self._one_hot
            unseen = encode(spec, index, missing, X[:, start:start + width])
            if unseen:
                report.unseen[name] = report.unseen.get(name, 0) + unseen
                report.embedded |= {name} if "embed" in spec else set()
            start += width

    def _numeric(self, spec, column: Column, rows, missing, table: Table, report, out) -> tuple:
        """The column's standardised numbers, and which cells were filled: gaps, and cells that
        hold text (a stray ``rotary`` in a column of numbers: counted in ``report``), take the
        training median. A date column's phases go into ``out``, its block of the matrix."""
        numbers = column.numbers[rows]
        stray = ~missing & ~np.isfinite(numbers)
        if column.dates or spec.get("date"):     # (a date where training saw numbers, or a number where it
            stray |= ~missing & (date_cells(column)[rows] != bool(spec.get("date")))    # saw dates: text)
        if stray.any():
            first = rows[np.flatnonzero(stray)[0]]
            report.add_stray(spec["name"], int(np.count_nonzero(stray)), int(table.row_numbers[first]),
                             column.cell(first), bool(spec.get("date")))
            missing = missing | stray
        numbers[missing] = spec["median"]
        if spec.get("date"):                    # (the block's last columns: after the number and its indicator)
            phases(spec, numbers, out[:, out.shape[1] - phase_width(spec):])
        return scalings.scale(spec, numbers), missing

    @staticmethod
    def _category_positions(spec, column: Column) -> np.ndarray:
        """For each of ``column``'s distinct cells, its position among the learned categories, or
        :data:`MISSING_CODE` (a missing token; ``none``, ``?`` or ``-`` unless a learned category),
        or :data:`UNSEEN_CODE` (the :data:`OTHER` level's position where the column has one); one
        more :data:`MISSING_CODE` at the end, for the code -1 of a null. Decided cell by cell:
        the same row gets the same features whatever other rows the table holds."""
        _, pc = pyarrow()
        _, categories, tokens = column.spelled_codes
        kept = spec["categories"][:-1] if spec.get("other") else spec["categories"]
        if spelled_as_booleans(kept):                # (True, TRUE and true alike)
            categories, kept = pc.utf8_lower(categories), [c.lower() for c in kept]
        unseen = len(kept) if spec.get("other") else UNSEEN_CODE
        position = numpy_of(pc.index_in(categories, value_set=arrow_of(kept)), fill=-1).astype(np.intp)
        missing = (tokens == 1) | ((tokens == 2) & (position < 0))
        position = np.where(missing, MISSING_CODE, np.where(position < 0, unseen, position))
        return np.append(position, MISSING_CODE).astype(np.intp)

    def _code(self, spec, index, missing, out) -> int:
        """Write the category codes of an embedded column (unseen: ``len(categories)``, the
        table's extra row); return how many cells were unseen categories."""
        index[missing] = spec["categories"].index(spec["mode"])
        unseen = index == UNSEEN_CODE
        index[unseen] = len(spec["categories"])
        out[:, 0] = index
        return int(np.count_nonzero(unseen))

    @property
    def embeddings(self) -> dict:
        """``{matrix column: (rows of the table, width, True)}`` of the embedded text columns (the
        ``embeddings`` argument of the network; the last row stands for categories unseen in training)."""
        found, at = {}, 0
        for spec in self.columns:
            if "embed" in spec:
                found[at] = (len(spec["categories"]) + 1, spec["embed"], True)     # (the last row: unseen)
            at += encoded_width(spec)
        return found

    @property
    def numeric_positions(self) -> list[int]:
        """The matrix columns that hold a numeric column's scaled number (not its gap indicator):
        where the network may place periodic embeddings."""
        found, at = [], 0
        for spec in self.columns:
            if spec["kind"] == "numeric":
                found.append(at)
            at += encoded_width(spec)
        return found

    def _one_hot(self, spec, index, missing, block) -> int:
        """Write the indicator columns of the rows whose category positions are ``index`` into
        ``block``; return how many cells were unseen categories."""
        level = spec.get("missing_level")
        index[missing] = len(spec["categories"]) if level else spec["categories"].index(spec["mode"])
        block[...] = 0
        known = np.flatnonzero(index >= 0)
        block[known, index[known]] = 1
        return len(index) - len(known)

    def _encode_target(self, column: Column, rows, table: Table) -> np.ndarray:
        if self.target_kind == "labels":
            return column.labels()[rows]
        numbers = column.numbers[rows]
        bad = np.flatnonzero(~np.isfinite(numbers))
        if len(bad):
            raise ValueError(f"{table.source}: target {self.target!r} holds {column.cell(rows[bad[0]])!r} "
                             f"(data row {table.row_numbers[rows[bad[0]]]}), expected a number")
        if self.target_kind == "integer-labels":
            fraction = np.flatnonzero((numbers != np.round(numbers)) | (np.abs(numbers) >= 2**53))
            if len(fraction):
                raise ValueError(f"{table.source}: target {self.target!r} holds "
                                 f"{column.cell(rows[fraction[0]])!r}, but the classes are whole numbers")
            return numbers.astype(np.int64)
        return numbers

    def scale_target(self, y: np.ndarray) -> np.ndarray:
        """The target as the network of a model written before its task standardised targets learnt
        it (``scales_target``); unchanged otherwise: the network's task scales it."""
        return (y - self.target_mean) / self.target_std if self.target_kind == "numeric" and self.scales_target else y

    def unscale_target(self, y: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`scale_target`: back to the target's own units."""
        return y * self.target_std + self.target_mean if self.target_kind == "numeric" and self.scales_target else y

    # ---------------------------------------------------------------- persistence
    def to_dict(self) -> dict:
        """JSON-ready state (stored in the model file's metadata)."""
        return {"target": self.target, "task": self.task, "drop": self.drop,
                "target_kind": self.target_kind, "target_mean": self.target_mean,
                "target_std": self.target_std, "scales_target": self.scales_target, "columns": self.columns}

    @classmethod
    def from_dict(cls, state: dict) -> "TabularPreprocessor":
        """Rebuild from :meth:`to_dict`; ValueError saying what is malformed (a model file's
        metadata comes from anywhere: every field is checked for its type here, not at use)."""
        try:
            if not isinstance(state, dict):
                raise TypeError(f"expected a JSON object, got {type(state).__name__}")
            require(state, "target", str), require(state, "task", str), require(state, "drop", list)
            if not all(isinstance(name, str) for name in state["drop"]):
                raise TypeError("drop: expected column names")
            pre = cls(state["target"], state["task"], state["drop"])
            if state["target_kind"] not in ("numeric", "labels", "integer-labels"):
                raise ValueError(f"target_kind: unknown kind {state['target_kind']!r}")
            pre.target_kind = state["target_kind"]
            pre.target_mean, pre.target_std = number(state, "target_mean"), number(state, "target_std")
            pre.scales_target = state.get("scales_target", True)     # (older files: the preprocessing scaled it)
            if not isinstance(pre.scales_target, bool):
                raise TypeError(f"scales_target: expected true or false, got {pre.scales_target!r}")
            pre.columns = [checked_column(c) for c in require(state, "columns", list)]
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"invalid preprocessing description: {type(error).__name__}: {error}") from None
        return pre

    def describe(self) -> str:
        """One line per input column: how it is encoded (:func:`.preprocessing_state.describe`)."""
        return describe(self)
