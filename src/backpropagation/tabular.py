"""CSV tables to numeric matrices, for the command line: column types, categories, scaling, gaps.

:func:`read_csv` reads a header and rows with the standard library (a BOM, quoted commas and
Windows line endings are handled). :class:`TabularPreprocessor` learns, from training rows only:

- which columns are numeric (every present value reads as a number) and which are text;
- numeric columns: the median (to fill missing values), then mean and standard deviation
  (to standardise);
- text columns: the sorted categories (one-hot encoded; a category never seen in training
  encodes as all zeros, and is counted) and the most frequent one (to fill missing values);
- the target: rows without one are dropped; text targets are class labels.

Its state is plain JSON, stored inside the model file, so ``backprop predict`` applies exactly
the transformation that training used.
"""

from __future__ import annotations

import csv
import math
import os
from dataclasses import dataclass, field

import numpy as np

from .column_stats import merge_summaries, number, numeric_counts, weighted_mean_std, weighted_median

#: Cell values read as "missing" (compared after stripping surrounding whitespace).
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?", "-"})


def is_missing(value: str) -> bool:
    """Whether a CSV cell counts as a missing value."""
    return value.strip().lower() in MISSING


@dataclass
class Table:
    """A CSV file's header and rows of text cells; ``source`` names it in error messages."""

    header: list[str]
    rows: list[list[str]]
    source: str = "data"
    #: Data rows of the file before ``rows[0]`` (non-zero for one rank's slice of a file).
    first_row: int = 0
    #: The file's data row number (1-based) of each row, once rows were picked by :meth:`subset`.
    row_numbers: list[int] | None = None

    def row_number(self, i: int) -> int:
        """The data row number (1-based, as a user counts them in the file) of ``rows[i]``."""
        return self.row_numbers[i] if self.row_numbers is not None else self.first_row + i + 1

    def column(self, name: str) -> list[str]:
        """The cells of column ``name``."""
        index = self.index(name)
        return [row[index] for row in self.rows]

    def subset(self, rows) -> "Table":
        """A table with the rows at the given positions."""
        rows = list(rows)
        return Table(self.header, [self.rows[i] for i in rows], self.source,
                     row_numbers=[self.row_number(i) for i in rows])

    def index(self, name: str) -> int:
        """Position of column ``name``; ValueError listing the columns if absent."""
        if name not in self.header:
            raise ValueError(f"{self.source}: no column named {name!r}; columns: {', '.join(self.header)}")
        return self.header.index(name)


def read_csv(path, part: tuple[int, int] | None = None) -> Table:
    """Read a CSV file with a header row.

    Parameters
    ----------
    path : str or path-like
    part : (k, n), optional
        Keep only the k-th of n contiguous, near-equal slices of the data rows (0-based; for
        MPI rank k of n). The file is read twice, row by row, and only the slice is held.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    ValueError
        If it is empty, has no header (the first row is all numbers), repeats a column name,
        or has a row with the wrong number of fields (the message gives the line number).
    """
    source = os.fspath(path)
    if not os.path.exists(source):
        raise FileNotFoundError(f"{source}: no such file")
    start, stop = 0, math.inf
    if part is not None:
        k, n = part
        n_rows = max(_count_rows(source) - 1, 0)
        start, stop = k * n_rows // n, (k + 1) * n_rows // n
    with open(source, newline="", encoding="utf-8-sig") as handle:
        try:
            lines = [(reader_line, row) for index, (reader_line, row) in enumerate(_rows(csv.reader(handle)))
                     if index == 0 or start < index <= stop]
        except (csv.Error, UnicodeDecodeError) as error:
            raise ValueError(f"{source}: not a readable CSV file: {error}") from None
    if not lines:
        raise ValueError(f"{source}: the file is empty; expected a header row and data rows")
    header = [name.strip() for name in lines[0][1]]
    if all(number(name) is not None for name in header):
        raise ValueError(f"{source}: the first row ({','.join(header[:5])}...) looks like data; "
                         "the file needs a header row naming the columns")
    if any(name == "" for name in header):
        raise ValueError(f"{source}: column {header.index('') + 1} of the header has no name")
    duplicates = sorted({name for name in header if header.count(name) > 1})
    if duplicates:
        raise ValueError(f"{source}: column names repeat: {', '.join(duplicates)}")
    rows = []
    for line, row in lines[1:]:
        if len(row) != len(header):
            raise ValueError(f"{source}: line {line} has {len(row)} fields, the header has {len(header)}")
        rows.append(row)
    if not rows:
        if part is not None:
            raise ValueError(f"{source}: slice {part[0] + 1} of {part[1]} holds no data rows; "
                             "use fewer processes than the file has rows")
        raise ValueError(f"{source}: the file has a header but no data rows")
    return Table(header, rows, source, first_row=start)


def _count_rows(source: str) -> int:
    with open(source, newline="", encoding="utf-8-sig") as handle:
        try:
            return sum(1 for _ in _rows(csv.reader(handle)))
        except (csv.Error, UnicodeDecodeError) as error:
            raise ValueError(f"{source}: not a readable CSV file: {error}") from None


def _rows(reader):
    """(line number, row) for each non-blank row."""
    for row in reader:
        if any(cell.strip() for cell in row):
            yield reader.line_num, row


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


@dataclass
class TransformReport:
    """What a transformation did: rows dropped for a missing target, cells filled, unseen categories."""

    rows_dropped: int = 0
    imputed: dict[str, int] = field(default_factory=dict)
    unseen: dict[str, int] = field(default_factory=dict)

    @classmethod
    def combined(cls, reports: list["TransformReport"]) -> "TransformReport":
        """One report for the union of the rows the ``reports`` describe (e.g. of all MPI ranks)."""
        total = cls(rows_dropped=sum(r.rows_dropped for r in reports))
        for r in reports:
            for mine, theirs in ((total.imputed, r.imputed), (total.unseen, r.unseen)):
                for column, count in theirs.items():
                    mine[column] = mine.get(column, 0) + count
        return total

    def lines(self) -> list[str]:
        """Human-readable sentences, one per fact (empty when nothing happened)."""
        out = []
        if self.rows_dropped:
            out.append(f"dropped {self.rows_dropped} row(s) with a missing target")
        for column, count in self.imputed.items():
            out.append(f"filled {count} missing value(s) in {column!r}")
        for column, count in self.unseen.items():
            out.append(f"{count} value(s) of {column!r} were categories unseen in training (encoded as zeros)")
        return out


class TabularPreprocessor:
    """Learns a CSV table's column encoding on training rows and applies it to any rows.

    Parameters
    ----------
    target : str
        The column to predict.
    task : {"auto", "regression", "binary", "multiclass", "classification"}
        ``"auto"`` treats text, or whole numbers with at most ``max_auto_classes`` distinct
        values, as classes, and anything else as a regression target.
    drop : sequence of str
        Columns to ignore (identifiers, leaks).
    """

    max_auto_classes = 10

    def __init__(self, target: str, task: str = "auto", drop=()) -> None:
        self.target = target
        self.task = task
        self.drop = list(drop)
        self.columns: list[dict] = []
        self.target_kind: str | None = None
        self.target_mean, self.target_std = 0.0, 1.0
        #: Advice found while fitting (identifier-like or constant columns).
        self.warnings: list[str] = []

    # ---------------------------------------------------------------- fitting
    def fit(self, table: Table, comm=None) -> "TabularPreprocessor":
        """Learn column types and statistics from ``table`` (the training rows).

        With an MPI communicator ``comm``, ``table`` is this rank's part of the rows: each rank
        summarises its part (value counts per column), the summaries are merged over ranks, and
        every rank derives the same statistics, exactly those of the whole table.
        """
        table.index(self.target)
        for name in self.drop:
            table.index(name)
        summary = self._summarize(table)
        if comm is not None:
            summary = merge_summaries(comm.allgather(summary))
        return self._fit_summary(summary, table.source)

    def _summarize(self, table: Table) -> dict:
        """Per-column counts of each distinct present cell, missing cells and the first non-number.

        Only rows with a target count; counts merge by addition, so summaries of parts of a table
        merge into the summary of the whole.
        """
        target = [value.strip() for value in table.column(self.target)]
        kept = [i for i, value in enumerate(target) if not is_missing(value)]
        columns = {}
        for name in table.header:
            if name == self.target or name in self.drop:
                continue
            index = table.index(name)
            counts, missing, first_text = {}, 0, None
            for i in kept:
                cell = table.rows[i][index].strip()
                if is_missing(cell):
                    missing += 1
                    continue
                counts[cell] = counts.get(cell, 0) + 1
                if first_text is None and number(cell) is None:
                    first_text = (table.row_number(i), cell)
            columns[name] = {"counts": counts, "missing": missing, "first_text": first_text}
        target_counts = {}
        for i in kept:
            target_counts[target[i]] = target_counts.get(target[i], 0) + 1
        return {"columns": columns, "target": target_counts, "order": list(columns)}

    def _fit_summary(self, summary: dict, source: str) -> "TabularPreprocessor":
        """Derive the encoding from a (merged) summary."""
        if not summary["target"]:
            raise ValueError(f"{source}: the target column {self.target!r} has no values")
        self.target_kind = self.infer_target_kind(list(summary["target"]))  # (checked with rows by the caller)
        if self.target_kind == "numeric":
            self._encode_target(list(summary["target"]), source)  # refuses non-numbers
            self.target_mean, self.target_std = weighted_mean_std(numeric_counts(summary["target"]))
            self.target_std = self.target_std or 1.0
        self.columns = []
        self.warnings = []
        for name in summary["order"]:
            column = summary["columns"][name]
            counts, n_missing = column["counts"], column["missing"]
            n_present = sum(counts.values())
            if not n_present:
                self.warnings.append(f"column {name!r} has no values in the training rows: ignored")
                continue
            if len(counts) == 1:
                self.warnings.append(f"column {name!r} is constant in the training rows "
                                     f"({next(iter(counts))!r}): it carries no information")
            n_numbers = sum(c for cell, c in counts.items() if number(cell) is not None)
            if 0 < n_numbers < n_present and n_numbers >= n_present / 2:
                row, cell = column["first_text"]
                why = " (not a finite number)" if _is_float(cell) else ""
                raise ValueError(
                    f"{source}: column {name!r} mixes numbers and text: {n_numbers} of {n_present} values "
                    f"are numbers, but data row {row} holds {cell!r}{why}; make such cells empty (missing) "
                    f"or leave the column out (--drop {name!r})")
            if n_numbers == n_present:
                numbers = numeric_counts(counts)
                median = weighted_median(numbers)
                mean, std = weighted_mean_std(numbers + [(median, n_missing)] if n_missing else numbers)
                self.columns.append({"name": name, "kind": "numeric", "median": median,
                                     "mean": mean, "std": std if std > 0 else 1.0})
            else:
                categories = sorted(counts)
                if len(categories) > 20 and len(categories) > 0.5 * n_present:
                    self.warnings.append(
                        f"column {name!r} looks like an identifier ({len(categories)} distinct texts in "
                        f"{n_present} rows, one feature each); consider --drop {name!r}")
                frequencies = [counts[c] for c in categories]
                self.columns.append({"name": name, "kind": "text", "categories": categories,
                                     "mode": categories[frequencies.index(max(frequencies))]})
        if not self.columns:
            raise ValueError(f"{source}: no feature columns left besides the target {self.target!r}")
        return self

    def infer_target_kind(self, values: list[str], row_numbers: list[int] | None = None) -> str:
        """"numeric", "labels" or "integer-labels" for these target cells, under ``task``.

        A target that is mostly numbers with some text (a typo, ``n.a.``) is refused unless the
        task is a classification one, naming the first such cell (and its data row, given the
        values' ``row_numbers``). Whole numbers beyond 2**53 are not class codes: they
        would not survive a float, so they count as measurements.
        """
        numbers = [number(v) for v in values]
        n_numbers = sum(n is not None for n in numbers)
        numeric = n_numbers == len(values)
        if self.task in ("auto", "regression") and 0 < n_numbers < len(values) and \
                (self.task == "regression" or n_numbers >= len(values) / 2):
            self._refuse_mixed_target(values, numbers, n_numbers, row_numbers)
        if self.task == "regression":
            if not numeric:
                bad = next(v for v, n in zip(values, numbers) if n is None)
                raise ValueError(f"target {self.target!r}: regression needs numbers, found {bad!r}")
            return "numeric"
        whole = numeric and all(float(n).is_integer() and abs(n) < 2**53 for n in numbers)
        if self.task != "auto":
            return "integer-labels" if whole else "labels"
        if not numeric:
            return "labels"
        return "integer-labels" if whole and len(set(numbers)) <= self.max_auto_classes else "numeric"

    def _refuse_mixed_target(self, values, numbers, n_numbers, row_numbers) -> None:
        index = next(i for i, n in enumerate(numbers) if n is None)
        where = f"data row {row_numbers[index]}" if row_numbers is not None else "a row"
        why = " (not a finite number)" if _is_float(values[index]) else ""
        raise ValueError(
            f"target {self.target!r} mixes numbers and text: {n_numbers} of {len(values)} values are "
            f"numbers, but {where} holds {values[index]!r}{why}; make such cells empty (the row is "
            "then dropped) or, if the values are class labels, pass --task classification")

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
                names.append(column["name"])
            else:
                names.extend(f"{column['name']}={c}" for c in column["categories"])
        return names

    # ---------------------------------------------------------------- applying
    def transform(self, table: Table, *, with_target: bool | None = None, dtype=np.float64):
        """Encode ``table`` as ``(X, y, report)``.

        ``with_target``: True requires the target column, False ignores it, None (default) uses
        it when present. Rows with a missing target are dropped only when the target is used;
        ``y`` is None otherwise.
        """
        use_target = self.target in table.header if with_target is None else with_target
        report = TransformReport()
        rows = table.rows
        positions = range(len(rows))
        y = None
        if use_target:
            target = [value.strip() for value in table.column(self.target)]
            keep = [i for i, value in enumerate(target) if not is_missing(value)]
            report.rows_dropped = len(rows) - len(keep)
            rows, positions = [rows[i] for i in keep], keep
            y = self._encode_target([target[i] for i in keep], table.source)
            if not rows:
                raise ValueError(f"{table.source}: every row lacks the target {self.target!r}")
        blocks = []
        for column in self.columns:
            cells = [row[table.index(column["name"])].strip() for row in rows]
            missing = [is_missing(c) for c in cells]
            if any(missing):
                report.imputed[column["name"]] = sum(missing)
            if column["kind"] == "numeric":
                blocks.append(self._numeric(column, cells, missing, table, positions)[:, None])
            else:
                block, unseen = self._one_hot(column, cells, missing)
                if unseen:
                    report.unseen[column["name"]] = unseen
                blocks.append(block)
        return np.hstack(blocks).astype(dtype), y, report

    def _numeric(self, column, cells, missing, table, positions) -> np.ndarray:
        values = np.empty(len(cells))
        for i, (cell, gap) in enumerate(zip(cells, missing)):
            value = column["median"] if gap else number(cell)
            if value is None:
                raise ValueError(f"{table.source}: column {column['name']!r} is numeric in the training rows, "
                                 f"but data row {table.row_number(positions[i])} holds {cell!r}")
            values[i] = value
        return (values - column["mean"]) / column["std"]

    def _one_hot(self, column, cells, missing):
        categories = column["categories"]
        lookup = {c: i for i, c in enumerate(categories)}
        block = np.zeros((len(cells), len(categories)))
        unseen = 0
        for i, (cell, gap) in enumerate(zip(cells, missing)):
            index = lookup.get(column["mode"] if gap else cell)
            if index is None:
                unseen += 1
            else:
                block[i, index] = 1.0
        return block, unseen

    def _encode_target(self, values, source) -> np.ndarray:
        if self.target_kind == "labels":
            return np.array(values)
        numbers = [number(v) for v in values]
        if any(n is None for n in numbers):
            bad = next(v for v, n in zip(values, numbers) if n is None)
            raise ValueError(f"{source}: target {self.target!r} holds {bad!r}, expected a number")
        if self.target_kind == "integer-labels":
            fraction = next((v for v, n in zip(values, numbers) if not float(n).is_integer()
                             or abs(n) >= 2**53), None)
            if fraction is not None:
                raise ValueError(f"{source}: target {self.target!r} holds {fraction!r}, but the "
                                 "classes are whole numbers")
            return np.array(numbers).astype(np.int64)
        return np.array(numbers)

    def scale_target(self, y: np.ndarray) -> np.ndarray:
        """Standardise a numeric target (networks learn faster on unit scale)."""
        return (y - self.target_mean) / self.target_std if self.target_kind == "numeric" else y

    def unscale_target(self, y: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`scale_target`: back to the target's own units."""
        return y * self.target_std + self.target_mean if self.target_kind == "numeric" else y

    # ---------------------------------------------------------------- persistence
    def to_dict(self) -> dict:
        """JSON-ready state (stored in the model file's metadata)."""
        return {"target": self.target, "task": self.task, "drop": self.drop,
                "target_kind": self.target_kind, "target_mean": self.target_mean,
                "target_std": self.target_std, "columns": self.columns}

    @classmethod
    def from_dict(cls, state: dict) -> "TabularPreprocessor":
        """Rebuild from :meth:`to_dict`; ValueError if the state is malformed."""
        try:
            pre = cls(state["target"], state["task"], state["drop"])
            pre.target_kind = state["target_kind"]
            pre.target_mean, pre.target_std = float(state["target_mean"]), float(state["target_std"])
            pre.columns = [dict(c) for c in state["columns"]]
            for column in pre.columns:
                if column["kind"] == "numeric":
                    float(column["mean"]), float(column["std"]), float(column["median"])
                elif column["kind"] == "text":
                    list(column["categories"]), str(column["mode"])
                else:
                    raise ValueError(f"unknown column kind {column['kind']!r}")
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"invalid preprocessing description: {error}") from None
        return pre

    def describe(self) -> str:
        """One line per input column: how it is encoded."""
        detail = {"labels": ", text labels", "integer-labels": ", integer labels",
                  "numeric": f", standardised: mean {self.target_mean:.4g}, std {self.target_std:.4g}"}
        lines = [f"target: {self.target} ({self.resolved_task}{detail.get(self.target_kind, '')})"]
        for column in self.columns:
            if column["kind"] == "numeric":
                lines.append(f"  {column['name']}: numeric, standardised (mean {column['mean']:.4g}, "
                             f"std {column['std']:.4g}), missing -> median {column['median']:.4g}")
            else:
                cats = column["categories"]
                shown = ", ".join(cats[:8]) + (", ..." if len(cats) > 8 else "")
                lines.append(f"  {column['name']}: text, one-hot over {len(cats)} categories ({shown}), "
                             f"missing -> {column['mode']!r}, unseen -> all zeros")
        if self.drop:
            lines.append(f"  ignored: {', '.join(self.drop)}")
        return "\n".join(lines)
