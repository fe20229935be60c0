"""What one read of a streamed table file learns before training: kinds, exact statistics, classes, counts.

1. :func:`sample_table`: up to :data:`SAMPLE_ROWS` rows taken evenly from every block (read in
   file order, which also numbers each block's rows): the preprocessing is fitted on them, so
   that the columns' kinds and the medians that fill gaps are known (the medians are the
   sample's: a stated approximation, as are the quartiles of robust scaling).
2. :func:`summarize`: one read of every block (dealt to the ranks under MPI) counts, for the
   whole file, what the in-memory path counts on the whole table: each column's present cells and
   numbers (the kinds are decided again from these, by :mod:`.kinds`: a column the sample saw
   as numbers but the file holds text in is refused as in memory), the numeric columns'
   :class:`~backpropagation.statistics.Moments`, the text columns' categories, the target's
   kind, classes or moments, the gaps filled and the text cells read as missing. Validation rows
   are picked by a hash of the seed and the row's place in the file (:func:`validation_mask`:
   the same rows however the file is cut into blocks) and up to :data:`VALIDATION_ROWS` of them
   are kept.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from ..collective import collectively
from ..statistics import Moments, merged
from .blocks import Blocks, read_ahead
from .csv_source import arrow_of, pyarrow
from .group_codes import advised_many_codes, codes_of_counts, counted, many_codes_advice, merged_counts, text_counts
from .dates import date_cells
from .kinds import (MAX_AUTO_CLASSES, MAX_MIXED_LEVELS, all_whole, column_kind, present_cells,
                    refuse_dates_among_numbers, target_kind)
from .readers import Table
from .scaling import robust_statistics
from .transform_report import TransformReport

#: Rows of the sample that fixes the columns' kinds and the medians.
SAMPLE_ROWS = 100_000
#: Most validation rows kept in memory (over every process) to score each epoch.
VALIDATION_ROWS = 100_000


def row_hash(seed: int, rows: np.ndarray) -> np.ndarray:
    """A uniform number in [0, 1) for each row number, from a hash of the seed and the row
    (SplitMix64): the same for a row wherever the blocks are cut."""
    with np.errstate(over="ignore"):
        z = np.asarray(rows, dtype=np.uint64) + np.uint64((int(seed) * 0x9E3779B97F4A7C15 + 1) % 2**64)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(11)).astype(np.float64) / 2.0**53


def validation_mask(seed: int, first_row: int, n_rows: int, fraction: float) -> np.ndarray:
    """Which of ``n_rows`` rows, the first being the file's data row ``first_row`` (0-based), are
    validation rows."""
    if not fraction:
        return np.zeros(n_rows, dtype=bool)
    return row_hash(seed, first_row + np.arange(n_rows)) < fraction


def sample_table(blocks: Blocks, seed: int, rows: int | None = None) -> Table:
    """Up to ``rows`` rows (default :data:`SAMPLE_ROWS`) taken evenly from every block, as one table
    (cells as written, rows numbered as in the file); numbers the blocks' rows (:meth:`Blocks.record_rows`)."""
    pa, _ = pyarrow()
    rows = rows or SAMPLE_ROWS
    per_block, rng, parts, numbers, counts = math.ceil(rows / blocks.count), np.random.default_rng(seed), [], [], []
    for _, block in read_ahead(blocks, range(blocks.count), as_text=True):
        counts.append(len(block))
        chosen = np.sort(rng.choice(len(block), min(per_block, len(block)), replace=False))
        parts.append(pa.table({name: block.raw(name).take(pa.array(chosen)) for name in block.header}))
        numbers.append(chosen + sum(counts[:-1]))
    if blocks.first_rows is None:
        blocks.record_rows(counts)
    table = Table.from_arrow(pa.concat_tables(parts), blocks.source, 0, blocks.fmt)
    table.row_numbers = np.concatenate(numbers) + 1
    return table


@dataclass
class ColumnTally:
    """One feature column's counts over the blocks read (see :func:`summarize`)."""

    n_training: int = 0              # present cells in training rows
    n_present: int = 0               # present cells in labelled rows
    n_numbers: int = 0               # finite numbers among them
    first_text: tuple | None = None  # (data row, cell) of the first present cell that is not a number
    moments: Moments = field(default_factory=Moments.empty)   # of the numbers in training rows
    n_filled: int = 0                # training cells the median fills (gaps and text cells)
    gaps: int = 0                    # missing training cells
    categories: Counter = field(default_factory=Counter)       # training rows' categories (text columns)
    codes: np.ndarray | None = field(default_factory=lambda: np.zeros(0, np.int64))   # labelled rows per
    train_codes: np.ndarray | None = field(default_factory=lambda: np.zeros(0, np.int64))  # code (training)
    levels: set | None = field(default_factory=set)     # labelled rows' distinct cells, while few (text columns)
    dates: "DateMix" = field(default_factory=lambda: DateMix())   # dates and plain numbers among the numbers

    def add(self, column, labelled, train, row_numbers, wants_numbers: bool, wants_categories: bool,
            wants_codes: bool) -> None:
        present, numbers = ~column.missing, column.is_number
        self.n_training += int(np.count_nonzero(present & train))
        self.n_present += int(np.count_nonzero(present & labelled))
        self.n_numbers += int(np.count_nonzero(numbers & labelled))
        self.gaps += int(np.count_nonzero(~present & train))
        if self.first_text is None:
            bad = np.flatnonzero(present & ~numbers & labelled)
            self.first_text = (int(row_numbers[bad[0]]), column.cell(bad[0])) if len(bad) else None
        self.dates.add(column, numbers & labelled, row_numbers)
        if wants_numbers:
            values = column.numbers[train & numbers]
            self.moments = self.moments.merge(Moments.of(values))
            self.n_filled += int(np.count_nonzero(train)) - len(values)
        if wants_codes and self.codes is not None:       # (while every number could be a group's code)
            self.codes = counted(self.codes, column.numbers[numbers & labelled])
            self.train_codes = counted(self.train_codes, column.numbers[numbers & train])
        else:
            self.codes = self.train_codes = None
        if self.levels is not None:     # (a text column's distinct cells, while they are few)
            cells = present_cells(column, labelled) if wants_categories else None
            self.levels = None if cells is None or len(self.levels.union(cells)) > MAX_MIXED_LEVELS \
                else self.levels.union(cells)
        if wants_categories:
            codes = column.codes[train]
            tally = np.bincount(codes[codes >= 0], minlength=len(column.categories))
            seen = np.flatnonzero(tally)
            self.categories.update(dict(zip(column.categories.take(arrow_of(seen)).to_pylist(), tally[seen].tolist())))

    def merge(self, other: "ColumnTally") -> "ColumnTally":
        return ColumnTally(self.n_training + other.n_training, self.n_present + other.n_present,
                           self.n_numbers + other.n_numbers, earliest(self.first_text, other.first_text),
                           self.moments.merge(other.moments), self.n_filled + other.n_filled,
                           self.gaps + other.gaps, self.categories + other.categories,
                           merged_counts(self.codes, other.codes), merged_counts(self.train_codes, other.train_codes),
                           None if self.levels is None or other.levels is None else self.levels | other.levels,
                           self.dates.merge(other.dates))


def earliest(a: tuple | None, b: tuple | None) -> tuple | None:
    """The earlier of two (data row, cell) places, either of which may be None."""
    return min(f for f in (a, b) if f is not None) if a is not None or b is not None else None


@dataclass
class DateMix:
    """Dates and plain numbers among a column's numbers, over the blocks read, for
    :func:`~.kinds.refuse_dates_among_numbers`."""

    n_dates: int = 0                  # dates among the numbers (counted as their days)
    first_plain: tuple | None = None  # (data row, cell) of the first number that is no date
    first_date: tuple | None = None   # ... and of the first date

    def add(self, column, numbers: np.ndarray, row_numbers) -> None:
        """Count the dates among a block's ``numbers`` (a mask of its rows), and note the first
        number that is no date and the first date."""
        if self.first_plain is not None and not column.dates:
            return
        dated = date_cells(column)
        self.n_dates += int(np.count_nonzero(dated & numbers))
        for attribute, cells in (("first_plain", numbers & ~dated), ("first_date", numbers & dated)):
            if getattr(self, attribute) is None and cells.any():
                first = np.flatnonzero(cells)[0]
                setattr(self, attribute, (int(row_numbers[first]), column.cell(first)))

    def merge(self, other: "DateMix") -> "DateMix":
        return DateMix(self.n_dates + other.n_dates, earliest(self.first_plain, other.first_plain),
                       earliest(self.first_date, other.first_date))

    def refuse(self, name: str, n_numbers: int, source: str, target: bool = False) -> None:
        """:func:`~.kinds.refuse_dates_among_numbers` for a column of ``n_numbers`` numbers."""
        refuse_dates_among_numbers(name, n_numbers, self.n_dates,
                                   lambda plain: self.first_plain if plain else self.first_date, source, target)


@dataclass
class TargetTally:
    """The target's counts over the blocks read: for its kind, its classes and its moments."""

    n_values: int = 0
    n_numbers: int = 0
    whole: bool = True
    distinct: set = field(default_factory=set)        # distinct finite numbers, up to a few
    first_text: tuple | None = None
    moments: Moments = field(default_factory=Moments.empty)   # numbers of the training rows
    classes: set = field(default_factory=set)          # labels of every labelled row
    class_counts: Counter = field(default_factory=Counter)    # labels of the training rows
    shares: list = field(default_factory=list)         # per block: its training labels or mean
    dates: DateMix = field(default_factory=DateMix)    # dates and plain numbers among the numbers

    def add(self, column, labelled, train, row_numbers, as_labels: bool, counts_classes: bool) -> None:
        numbers = column.numbers[labelled]
        finite = np.isfinite(numbers)
        self.n_values += int(np.count_nonzero(labelled))
        self.n_numbers += int(np.count_nonzero(finite))
        self.whole = self.whole and all_whole(numbers[finite])
        if len(self.distinct) <= MAX_AUTO_CLASSES:
            self.distinct.update(np.unique(numbers[finite])[:MAX_AUTO_CLASSES + 1].tolist())
        if self.first_text is None and not finite.all():
            first = np.flatnonzero(labelled)[np.flatnonzero(~finite)[0]]
            self.first_text = (int(row_numbers[first]), column.cell(first))
        self.dates.add(column, column.is_number & labelled, row_numbers)
        trained = column.numbers[train]
        self.moments = self.moments.merge(Moments.of(trained[np.isfinite(trained)]))
        if counts_classes:
            labels = column.labels() if as_labels else column.numbers
            self.classes.update(np.unique(labels[labelled]).tolist())
            self.class_counts.update(Counter(labels[train].tolist()))
        if np.count_nonzero(train):     # (how the target is spread over the blocks: a sorted file shows)
            self.shares.append(Counter(column.labels()[train].tolist()) if as_labels else
                               float(np.nanmean(trained)))

    def merge(self, other: "TargetTally") -> "TargetTally":
        return TargetTally(self.n_values + other.n_values, self.n_numbers + other.n_numbers,
                           self.whole and other.whole, self.distinct | other.distinct,
                           earliest(self.first_text, other.first_text), self.moments.merge(other.moments),
                           self.classes | other.classes, self.class_counts + other.class_counts,
                           self.shares + other.shares, self.dates.merge(other.dates))


@dataclass
class Summary:
    """What :func:`summarize` counted over the whole file (every rank's blocks)."""

    rows: int                    # data rows in the file
    labelled: int                # rows with a target
    train_rows: int
    validation_rows: int         # hashed validation rows with a target (every one, counted)
    held: list                   # validation rows kept (tables), at most VALIDATION_ROWS in all
    classes: list                # the classes of every labelled row (classification)
    class_counts: dict           # training rows per class
    report: TransformReport      # the training rows' filled gaps and text cells read as missing

    def merge(self, other: "Summary") -> "Summary":
        return Summary(self.rows + other.rows, self.labelled + other.labelled, self.train_rows + other.train_rows,
                       self.validation_rows + other.validation_rows, self.held + other.held,
                       sorted(set(self.classes) | set(other.classes)),
                       dict(Counter(self.class_counts) + Counter(other.class_counts)),
                       TransformReport.combined([self.report, other.report]))


def summarize(pre, blocks: Blocks, seed: int, fraction: float, comm=None) -> Summary:
    """Count the whole file (see the module docstring) and make ``pre``'s kinds and statistics the
    file's: ``pre`` was fitted on :func:`sample_table`. Under MPI the blocks are dealt to the ranks
    (block ``k`` to rank ``k mod size``) and the counts merged: every rank gets the whole file's."""
    step = (lambda work: work()) if comm is None else (lambda work: collectively(comm, work))
    summary, goal, tallies = step(lambda: _count(pre, blocks, seed, fraction, comm))
    if comm is not None:
        summary, goal, parts = merged(comm.allgather(summary)), merged(comm.allgather(goal)), comm.allgather(tallies)
        names = dict.fromkeys(name for part in parts for name in part)       # (header order; a rank may hold none)
        tallies = {name: merged([part[name] for part in parts if name in part]) for name in names}
    step(lambda: _decide(pre, goal, tallies, blocks.source))
    summary.classes, summary.class_counts = _classes(pre, goal)
    summary.report = _report(pre, tallies)
    if clustered(goal.shares, pre.target_kind, goal.moments):
        pre.warnings.append(f"the target {pre.target!r} is sorted or clustered in the file (its blocks differ "
                            "far more than random rows would): only a pool holding many blocks mixes it; "
                            "raise --shuffle-rows, or shuffle the file's rows once (--shuffle-once)")
    return summary


def _count(pre, blocks: Blocks, seed: int, fraction: float, comm=None) -> tuple:
    """This process's blocks counted: ``(summary, target tally, column tallies)``."""
    rank, size = (0, 1) if comm is None else (comm.Get_rank(), comm.Get_size())
    known = {spec["name"]: "numeric" if spec.get("codes") else spec["kind"] for spec in pre.columns}
    spelled = pre.target in pre.spelled_columns
    summary, goal, tallies = Summary(0, 0, 0, 0, [], [], {}, TransformReport()), TargetTally(), {}
    for k, table in read_ahead(blocks, range(rank, blocks.count, size)):
        target = table.column(pre.target)
        labelled = ~target.missing
        validation = validation_mask(seed, int(blocks.first_rows[k]), len(table), fraction) & labelled
        train = labelled & ~validation
        counting = pre.task != "auto" or pre.target_kind == "labels" or len(goal.classes) <= MAX_AUTO_CLASSES
        goal.add(target, labelled, train, table.row_numbers, spelled, counting and pre.target_kind != "numeric")
        for name in (n for n in table.header if n != pre.target and n not in pre.drop):
            kind = known.get(name)          # None: no value in the sample
            tallies.setdefault(name, ColumnTally()).add(table.column(name), labelled, train, table.row_numbers,
                                                        kind != "text", kind != "numeric",
                                                        kind != "text" and name not in pre.forced)
        room = VALIDATION_ROWS // size - sum(len(part) for part in summary.held)
        kept = np.flatnonzero(validation)[:max(room, 0)]
        summary = summary.merge(Summary(len(table), int(labelled.sum()), int(train.sum()), int(validation.sum()),
                                        [table.subset(kept)] if len(kept) else [], [], {}, TransformReport()))
    return summary, goal, tallies


def robust_entries(pre, sampled: dict | None, median: float, filled: Moments) -> dict:
    """A robust-scaled column's centre and spread: the sample's median and quartiles, or (a column the
    sample read as text) the file's mean and the quartile spread of a normal column of its spread."""
    if pre.scaling != "robust":
        return {}
    if sampled is not None and sampled.get("scaling") == "robust":
        return {key: sampled[key] for key in ("scaling", "center", "spread", "clip", "tail") if key in sampled}
    std = float(filled.std[0])
    return robust_statistics(median, median, median - 0.6745 * std, median + 0.6745 * std, median, 0.0, 0.0)


def _decide(pre, goal: TargetTally, tallies: dict, source: str) -> None:
    """``pre``'s target kind, columns and statistics from the whole file's counts."""
    pre.target_kind = target_kind(pre.target, pre.task, goal.n_values, goal.n_numbers, goal.whole,
                                  len(goal.distinct), lambda: goal.first_text)
    if pre.target_kind == "numeric":
        goal.dates.refuse(pre.target, goal.n_numbers, source, target=True)
        pre.target_mean, pre.target_std = float(goal.moments.mean[0]), float(goal.moments.std[0]) or 1.0
        pre.target_range = (float(goal.moments.low[0]), float(goal.moments.high[0]))
    sample = {spec["name"]: spec for spec in pre.columns}
    pre.warnings = [w for w in pre.warnings
                    if "rises (or falls)" in w or "codes of groups" in w or "no name in the header" in w
                    or "days since 1970" in w]
    pre.columns = []
    for name, tally in tallies.items():
        kind = column_kind(name, pre.forced, tally.n_training, tally.n_present, tally.n_numbers,
                           lambda tally=tally: tally.first_text, source,
                           lambda tally=tally: MAX_MIXED_LEVELS + 1 if tally.levels is None else len(tally.levels),
                           pre.warnings)
        sampled = sample.get(name, {})
        was = "numeric" if sampled.get("codes") else sampled.get("kind")
        if kind == "empty":
            pre.warnings.append(f"column {name!r} has no values in the training rows: ignored")
        elif kind == "numeric":
            if name not in pre.forced:
                tally.dates.refuse(name, tally.n_numbers, source)
            if was == "text":
                raise ValueError(f"{source}: column {name!r}: every value is a number, but the sample read it as "
                                 f"text; read it as numbers (--numeric {name!r}) or as categories (--text {name!r})")
            if name not in pre.forced and codes_of_counts(tally.codes):
                pre.columns.append({**pre.text_spec(name, text_counts(tally.train_codes), tally.gaps, key=int),
                                    "codes": True})
                continue
            if name not in pre.forced and codes_of_counts(tally.codes, readable=False) \
                    and not advised_many_codes(pre.warnings, name):
                pre.warnings.append(many_codes_advice(name, np.flatnonzero(tally.codes), int(tally.codes.sum())))
            median = sampled["median"] if "median" in sampled else float(tally.moments.mean[0])
            filled = tally.moments.merge(Moments.constant(median, tally.n_filled))
            std = float(filled.std[0])
            if std == 0:
                pre.warnings.append(f"column {name!r} is constant in the training rows ({median!r}): "
                                    "it carries no information")
            pre.columns.append({"name": name, "kind": "numeric", "median": median, "mean": float(filled.mean[0]),
                                "std": std if std > 0 else 1.0, "indicator": bool(tally.n_filled),
                                **robust_entries(pre, sample.get(name), median, filled),
                                **{flag: True for flag in ("date", "times") if sampled.get(flag)}})
        else:
            if was == "numeric":
                raise ValueError(f"{source}: column {name!r} holds text in most rows, but the sample of the "
                                 f"file held numbers only; read it as categories (--text {name!r}) or as "
                                 f"numbers with its text as missing (--numeric {name!r})")
            pre.columns.append({**pre.text_spec(name, +tally.categories, tally.gaps), "name": name})
    if not pre.columns:
        raise ValueError(f"{source}: no feature columns left besides the target {pre.target!r}")


def _classes(pre, goal: TargetTally) -> tuple[list, dict]:
    """The classes of every labelled row and the training rows' count of each, as the target's
    kind labels them (whole numbers read as text become integers)."""
    if pre.target_kind == "numeric":
        return [], {}

    def label(value):
        return value if pre.target_kind == "labels" else int(float(value))
    counts = Counter()
    for value, count in goal.class_counts.items():
        counts[label(value)] += count
    return sorted({label(value) for value in goal.classes}), dict(counts)


def _report(pre, tallies: dict) -> TransformReport:
    """The gaps the training rows' encoding fills and the text cells a numeric column reads as
    missing (what ``TabularPreprocessor.transform`` reports in memory)."""
    report = TransformReport()
    for spec in pre.columns:
        tally = tallies[spec["name"]]
        if tally.gaps:
            report.imputed[spec["name"]] = tally.gaps
        stray = tally.n_filled - tally.gaps if spec["kind"] == "numeric" else 0
        if stray > 0 and tally.first_text is not None:
            report.add_stray(spec["name"], stray, *tally.first_text, dates=bool(spec.get("date")))
    return report


def clustered(per_block: list, kind: str, moments: Moments) -> bool:
    """Whether the target's per-block summaries (counts of labels, or a mean) spread far more than
    blocks of random rows would: the file is sorted or grouped by its target."""
    if len(per_block) < 4:
        return False
    if isinstance(per_block[0], Counter):          # each block's share of one class
        first = sorted(set().union(*per_block))[0]
        per_block = [counts[first] / sum(counts.values()) for counts in per_block]
    spread = float(np.std(per_block))
    return spread > 0.5 * float(moments.std[0]) if kind == "numeric" else spread > 0.25
