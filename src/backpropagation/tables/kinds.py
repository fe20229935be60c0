"""What a column is, decided from counts over the whole file: one rule for every path.

A table in memory counts its cells at once; a streamed table counts them block by block in its
exact pass; MPI ranks add their counts. Each then asks the same functions here, so that the same
file gives the same kinds however it is read.

A feature column is *numeric* when every present cell of the labelled rows is a finite number,
*text* when fewer than half are numbers, and refused as *mixed* in between (a typo in a column of
numbers); ``--text``/``--numeric`` force a kind. The target is *numeric* (regression), *labels*
(text classes) or *integer-labels* (whole numbers as classes: under ``task="auto"`` when at most
:data:`MAX_AUTO_CLASSES` distinct values occur). Advice that does not change a kind comes from
:func:`column_warnings`: a numeric column that runs like a row number. A numeric column of group codes
(1, 2, 3, ... numbering trees or firms) is read as categories: :mod:`.group_codes`.

The refusals here are decided from the whole file's counts, the same on every MPI rank, and are
marked so (:func:`~backpropagation.collective.mark_on_every_rank`): a distributed command says
them once instead of stopping every rank as for an error of one rank alone.
"""

from __future__ import annotations

import numpy as np

from ..collective import mark_on_every_rank
from .csv_source import arrow_of, is_number_text
from .dates import date_cells

#: Whole-number targets with at most this many distinct values are classes under ``task="auto"``.
MAX_AUTO_CLASSES = 10
#: A column that mixes numbers and text reads as categories (a list of codes such as 0, 1, 2, 3+
#: or K, 1, 2, 3) where it holds at most MAX_MIXED_LEVELS distinct cells and its text cells are at
#: least MIN_MIXED_TEXT of its present ones (a code used on many rows); else its text is refused
#: as a typo among numbers (``three`` once among 29 numbers).
MAX_MIXED_LEVELS, MIN_MIXED_TEXT = 20, 0.05


def forced_kinds(target: str, text: list, numeric: list, embed: dict, drop: list) -> dict:
    """``{column: "text" | "numeric"}`` as ``--text``/``--embed`` and ``--numeric`` force them;
    ValueError where the options contradict each other (a column both, the target, a dropped column)."""
    both = set([*text, *embed]) & set(numeric)
    if both:
        raise ValueError(f"--text and --numeric: {sorted(both)[0]!r} cannot be both")
    for option, names in (("--text", text), ("--numeric", numeric), ("--embed", embed), ("--drop", drop)):
        if target in names:
            raise ValueError(f"{option}: {target!r} is the target (--target); it is predicted, not read as "
                             "an input")
        dropped = set(names) & set(drop) if option != "--drop" else set()
        if dropped:
            raise ValueError(f"{option} and --drop: {sorted(dropped)[0]!r} is left out (--drop) and read as an "
                             f"input ({option}); give one of them")
    return {**dict.fromkeys([*text, *embed], "text"), **dict.fromkeys(numeric, "numeric")}


def all_whole(numbers: np.ndarray) -> bool:
    """Whether every value is a whole number that a float holds exactly (below 2**53)."""
    return bool(np.all((numbers == np.round(numbers)) & (np.abs(numbers) < 2**53)))


def first_text(column, rows: np.ndarray, row_numbers: np.ndarray, totals):
    """(data row, cell) of ``column``'s first present cell among ``rows`` that is not a finite
    number, over all ranks (``totals``); None if there is none."""
    return first_where(column, rows[~column.missing[rows] & ~column.is_number[rows]], row_numbers, totals)


def first_where(column, rows: np.ndarray, row_numbers: np.ndarray, totals):
    """(data row, cell) of ``column``'s first cell among ``rows`` over all ranks; None if none."""
    local = (int(row_numbers[rows[0]]), column.cell(rows[0])) if len(rows) else None
    found = [part for part in totals.gather(local) if part is not None]
    return min(found) if found else None


def refuse_dates_among_numbers(name: str, n_numbers: int, n_dates: int, first_odd, source: str,
                               target: bool = False) -> None:
    """ValueError where a numeric column's ``n_numbers`` values (dates counted as their days) mix
    ``n_dates`` dates with plain numbers: ``2012`` among dates is no day of 2012, nor a date
    among years a year. ``first_odd(plain)`` gives (data row, cell) of the first plain number
    (``plain``: the dates are the most) or the first date (otherwise); ``target``: the column is
    the target, whose rows with such a cell emptied are dropped."""
    if not 0 < n_dates < n_numbers:
        return
    plain = 2 * n_dates >= n_numbers
    row, cell = first_odd(plain)
    most, odd = ("dates", "a plain number") if plain else ("plain numbers", "a date")
    fix = "write such cells as dates (2017-01-31)" if plain else "write such cells as numbers"
    what, ways = (f"target {name!r}", "(the row is then dropped)") if target else \
        (f"{source}: column {name!r}", f"(missing), read the column as categories (--text {name!r}), or leave it "
                                       f"out (--drop {name!r})")
    raise mark_on_every_rank(ValueError(
        f"{what} mixes dates and plain numbers: {max(n_dates, n_numbers - n_dates)} of {n_numbers} values are "
        f"{most}, but data row {row} holds {odd}, {cell!r}; {fix} or make them empty {ways}"))


def table_target_kind(column, rows: np.ndarray, row_numbers: np.ndarray, totals, target: str, task: str) -> str:
    """:func:`target_kind` of a table's target ``column`` from its cells at ``rows`` over all ranks
    (``totals``), a numeric target of dates and plain numbers both refused."""
    numbers = column.numbers[rows]
    if not np.isfinite(numbers).all():
        numbers = numbers[np.isfinite(numbers)]
    whole = all_whole(numbers[:1000]) and all_whole(numbers)   # (measurements: a sample tells)
    dated = date_cells(column)[rows] if column.dates else np.zeros(len(rows), dtype=bool)
    n_values, n_numbers, n_not_whole, n_dates = totals.sum([len(rows), len(numbers), int(not whole),
                                                            int(np.count_nonzero(dated))]).tolist()
    distinct = np.unique(np.concatenate(totals.gather(few_distinct(numbers))))
    kind = target_kind(target, task, n_values, n_numbers, not n_not_whole, len(distinct),
                       lambda: first_text(column, rows, row_numbers, totals))
    if kind == "numeric":
        refuse_dates_among_numbers(target, n_numbers, n_dates, lambda plain: first_where(
            column, rows[column.is_number[rows] & (dated != plain)], row_numbers, totals), "", target=True)
    return kind


def present_cells(column, rows: np.ndarray) -> list | None:
    """The distinct present cells of ``column`` among ``rows`` (trimmed texts), or None where
    there are more than :data:`MAX_MIXED_LEVELS`."""
    codes = column.codes[rows]
    seen = np.flatnonzero(np.bincount(codes[codes >= 0], minlength=len(column.categories)))
    return None if len(seen) > MAX_MIXED_LEVELS else column.categories.take(arrow_of(seen)).to_pylist()


def distinct_cells(column, rows: np.ndarray, totals) -> int:
    """How many distinct present cells ``column`` holds among ``rows`` over all ranks, counted up
    to :data:`MAX_MIXED_LEVELS` + 1."""
    parts = totals.gather(present_cells(column, rows))
    return MAX_MIXED_LEVELS + 1 if any(part is None for part in parts) else len(set().union(*parts))


def column_kind(name: str, forced: dict, n_training: int, n_present: int, n_numbers: int, first_text,
                source: str, levels=None, notes: list | None = None) -> str:
    """"numeric", "text" or "empty" (no value in the training rows) for column ``name``.

    ``n_present``/``n_numbers`` count the present cells and the finite numbers among them in every
    labelled row of the file; ``first_text()`` gives ``(data row, cell)`` of the first present cell
    that is not a finite number, for the message refusing a mostly-numeric column with text.
    Such a column of at most :data:`MAX_MIXED_LEVELS` distinct cells (``levels()``), a twentieth
    or more of them text, is a list of codes (``0, 1, 2, 3+``; ``K, 1, 2``) and reads as text,
    said in ``notes``.
    """
    if not n_training:
        return "empty"
    if name in forced:
        return forced[name]
    if n_numbers == n_present:
        return "numeric"
    if n_numbers and n_numbers >= n_present / 2:
        row, cell = first_text()
        if levels is not None and n_present - n_numbers >= MIN_MIXED_TEXT * n_present \
                and (count := levels()) <= MAX_MIXED_LEVELS:
            notes.append(f"column {name!r} mixes numbers and text in {count} distinct values ({cell!r} among "
                         f"them, data row {row}): read as categories; --numeric {name!r} reads its numbers with "
                         "the text as missing")
            return "text"
        why = " (not a finite number)" if is_number_text(cell) else ""
        raise mark_on_every_rank(ValueError(
            f"{source}: column {name!r} mixes numbers and text: {n_numbers} of {n_present} "
            f"values are numbers, but data row {row} holds {cell!r}{why}; make such cells empty "
            f"(missing), read the column as numbers with its text as missing (--numeric {name!r}) "
            f"or as categories (--text {name!r}), or leave it out (--drop {name!r})"))
    return "text"


def target_kind(target: str, task: str, n_values: int, n_numbers: int, whole: bool, distinct: int,
                first_text) -> str:
    """"numeric", "labels" or "integer-labels" for a target of ``n_values`` present cells, of
    which ``n_numbers`` are finite numbers (all whole: ``whole``; ``distinct`` of them different,
    counted up to ``MAX_AUTO_CLASSES + 1``), under ``task``.

    A target that is mostly numbers with some text (a typo, ``n.a.``) is refused unless the task
    is a classification one, naming the first such cell (``first_text()``) and its data row.
    Whole numbers beyond 2**53 are not class codes: they would not survive a float, so they count
    as measurements.
    """
    if not n_values:
        raise mark_on_every_rank(ValueError(f"the target column {target!r} has no values"))
    if task in ("auto", "regression") and 0 < n_numbers < n_values and \
            (task == "regression" or n_numbers >= n_values / 2):
        row, cell = first_text()
        why = " (not a finite number)" if is_number_text(cell) else ""
        raise mark_on_every_rank(ValueError(
            f"target {target!r} mixes numbers and text: {n_numbers} of {n_values} values are "
            f"numbers, but data row {row} holds {cell!r}{why}; make such cells empty (the row is "
            "then dropped) or, if the values are class labels, pass --task classification"))
    numeric = n_numbers == n_values
    if task == "regression":
        if not numeric:
            row, cell = first_text()
            raise mark_on_every_rank(ValueError(f"target {target!r}: regression needs numbers, found {cell!r} "
                                                f"(data row {row})"))
        return "numeric"
    whole = numeric and whole
    if task != "auto":
        return "integer-labels" if whole else "labels"
    if not numeric:
        return "labels"
    if not whole:
        return "numeric"
    return "integer-labels" if distinct <= MAX_AUTO_CLASSES else "numeric"


def few_distinct(numbers: np.ndarray, limit: int = MAX_AUTO_CLASSES + 1) -> np.ndarray:
    """Up to ``limit`` distinct values of ``numbers`` (all of them when there are fewer)."""
    found = np.unique(numbers[:10_000])
    return found[:limit] if len(found) >= limit else np.unique(numbers)[:limit]


def monotonic(values: np.ndarray) -> bool:
    """Whether ``values`` (in file order) strictly rise or strictly fall, as a row number does."""
    steps = np.diff(values)
    return bool(np.all(steps > 0) or np.all(steps < 0))


def column_warnings(name: str, present: np.ndarray, in_file_order: np.ndarray) -> list[str]:
    """Advice on numeric column ``name`` from its present training values (``in_file_order``: its
    training cells in the file's order): a column rising with every row (a row number, which leaks
    a sorted file's order)."""
    if len(present) > 20 and monotonic(in_file_order):
        return [f"column {name!r} rises (or falls) with every row, like a row number: if the file is "
                f"sorted, it leaks that order into the model; consider --drop {name!r}"]
    return []


#: Categories beyond which a one-hot text column draws the advice to embed it (each category is
#: an input of the first layer, and a column of the one-hot matrix).
MANY_CATEGORIES = 1000


def text_warnings(name: str, n_categories: int, n_present: int, one_hot: bool) -> list[str]:
    """Advice on text column ``name`` of ``n_categories`` categories in ``n_present`` training cells:
    most cells their own category (an identifier), or, encoded ``one_hot``, more categories than
    :data:`MANY_CATEGORIES` (causaldata's scorecard, 7,231 names: 2.7 GB one-hot against 0.3 GB
    embedded, 42 s against 27 s; restaurant inspections, 1,618 names: 21 s against 12 s, R² alike)."""
    if n_categories > 20 and n_categories > 0.5 * n_present:
        return [f"column {name!r} looks like an identifier ({n_categories} distinct texts in {n_present} rows, one "
                f"feature each); consider --drop {name!r}, or --embed {name!r}"]
    if one_hot and n_categories > MANY_CATEGORIES:
        return [f"column {name!r}: {n_categories} categories, one input of the first layer each (one-hot); "
                f"--embed {name!r} learns a few numbers per category instead, in less memory and usually less time"]
    return []


def spelled_as_booleans(categories) -> bool:
    """Whether a text column's categories are the two truth values, however spelled (``True``
    from pandas, ``TRUE`` from R, ``true`` from a boolean column of a frame or a Parquet file):
    such a column matches its cells to its categories in any letter case, so that a model trained
    on one spelling reads the others alike."""
    return bool(categories) and all(str(c).lower() in ("true", "false") for c in categories)
