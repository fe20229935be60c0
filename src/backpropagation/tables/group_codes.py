"""Columns of numbers that number groups (trees, people, firms: 1, 2, 3, ...), read as categories.

Panel tables number their groups and ship the numbers as a numeric column. As a measurement,
tree 7 is taken to be like tree 8 and the network fits a curve through the codes; as categories,
each tree gets its own level (gradient boosting gets there by cutting the codes into ranges).
A numeric column is read as codes (:func:`are_codes`) when, over every labelled row of the
table, its present values are whole numbers, the smallest 1, at least :data:`MIN_CODES` and at
most :data:`MAX_CODES` of them distinct, nine in ten of ``1..max`` present, each on
:data:`ROWS_PER_CODE` rows or more on average, and its rows per value do not run like a
measurement's histogram (:func:`histogram_like`: ages, years of experience, temperatures and
durations pass every other test). ``--numeric COLUMN`` keeps such a column numbers;
more codes than :data:`MAX_CODES` (one indicator each would widen the first layer by thousands),
or a one-hot block past :data:`CODES_BYTES` (a million rows of a thousand firms), stay numbers
with the report's advice.

A codes column's description is a text column's with ``"codes": true``: its categories are the
codes' texts (``"7"``), and a cell finds its category by its *number* (:func:`code_positions`),
however the file spells it (``7``, ``7.0``, ``007``): the same in memory, streamed, over MPI
ranks, by ``TableModel`` and in the ONNX graph, which takes the column as numbers.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from .kinds import all_whole

#: Fewest distinct whole numbers from 1 that read as the codes of groups rather than as a count.
MIN_CODES = 30
#: Most codes read as categories by default: each becomes one input of the first layer.
MAX_CODES = 1000
#: Fewest labelled rows per code on average: a group seen once or twice teaches the network little.
ROWS_PER_CODE = 3
#: Most bytes a codes column's one-hot block may take over the labelled rows (rows × codes × 8):
#: beyond, a table that trained as numbers would need gigabytes (a million rows of a thousand
#: firms: 8 GB); the codes stay numbers, with the report's advice.
CODES_BYTES = 1 << 28
#: Largest value a column of codes can hold (nine in ten of ``1..max`` present, at most MAX_CODES).
HIGHEST_CODE = int(MAX_CODES / 0.9)
#: A measurement's histogram: rows per value that vary (coefficient of variation at least
#: SMOOTH_SPREAD) and vary smoothly with the value (each value's count correlated at least
#: SMOOTH_CORRELATION with the mean count of its four neighbours). Over 85 columns of R's tables
#: that pass the other tests, on 60% samples of their rows: ages, experience, durations,
#: temperatures, ozone levels, game counts and grid rows read 0.44-0.99; codes of groups mostly
#: -0.3-0.3, a few 0.5 (then they stay numbers, as before codes were read), or equal counts (a
#: balanced panel), or near-equal ones (UK firms: 7 to 9 years each, spread 0.09).
SMOOTH_SPREAD, SMOOTH_CORRELATION = 0.15, 0.35


def are_codes(counts: np.ndarray, readable: bool = True) -> bool:
    """Whether a column whose present whole numbers are counted by value in ``counts`` (rows per
    value ``0..max``) looks like the codes of groups (see the module docstring); ``readable``:
    and few enough to read as categories (:func:`readable_codes`)."""
    seen = np.flatnonzero(counts)
    if not len(seen):
        return False
    distinct, n_rows = len(seen), int(counts.sum())
    return seen[0] == 1 and MIN_CODES <= distinct and distinct >= 0.9 * seen[-1] \
        and n_rows >= ROWS_PER_CODE * distinct and not histogram_like(counts[1:seen[-1] + 1]) \
        and (not readable or readable_codes(distinct, n_rows))


def readable_codes(distinct: int, n_rows: int) -> bool:
    """Whether ``distinct`` codes on ``n_rows`` labelled rows are few enough to read as categories:
    at most :data:`MAX_CODES`, their one-hot block within :data:`CODES_BYTES`."""
    return distinct <= MAX_CODES and n_rows * distinct * 8 <= CODES_BYTES


def histogram_like(counts: np.ndarray) -> bool:
    """Whether rows per value ``1..max`` vary, and vary smoothly with the value, as a
    measurement's do (:data:`SMOOTH_SPREAD`, :data:`SMOOTH_CORRELATION`)."""
    counts = counts.astype(np.float64)
    padded = np.pad(counts, 2, mode="edge")
    neighbours = (padded[:-4] + padded[1:-3] + padded[3:-1] + padded[4:]) / 4
    if counts.std() < SMOOTH_SPREAD * counts.mean() or not neighbours.std():
        return False
    return float(np.corrcoef(counts, neighbours)[0, 1]) >= SMOOTH_CORRELATION


def distinct_codes(numbers: np.ndarray, totals) -> tuple | None:
    """``(distinct values, rows)`` of a numeric column's present labelled ``numbers`` (this rank's;
    merged over ranks by ``totals``) where they look like codes (:func:`are_codes`, however many:
    :func:`readable_codes` says whether to read them), else None.

    Cheap tests over every rank come first (count, smallest, largest, whole), so that a column of
    measurements costs no sort; every rank takes the same branches, as it holds the same totals.
    """
    local = (len(numbers), float(numbers.min(initial=np.inf)), float(numbers.max(initial=-np.inf)))
    parts = totals.gather(local)
    n_rows, low, high = sum(p[0] for p in parts), min(p[1] for p in parts), max(p[2] for p in parts)
    if low != 1 or not MIN_CODES <= high <= n_rows / (0.9 * ROWS_PER_CODE):
        return None
    if totals.sum(int(not all_whole(numbers))):
        return None
    counts = totals.sum(np.bincount(numbers.astype(np.int64), minlength=int(high) + 1))
    return (np.flatnonzero(counts).astype(np.float64), n_rows) if are_codes(counts, readable=False) else None


def code_counts(numbers: np.ndarray, totals) -> Counter:
    """Rows per code among ``numbers`` (whole codes, gaps already out), over every rank, keyed by
    the code's text (``"7"``): a codes column's categories and their counts."""
    return text_counts(totals.sum(np.bincount(numbers.astype(np.int64), minlength=HIGHEST_CODE + 1)))


def counted(counts: np.ndarray | None, values: np.ndarray) -> np.ndarray | None:
    """``counts`` (rows per value ``0..``) with ``values`` added, while every value could still be
    a code (whole, from 1 to :data:`HIGHEST_CODE`); None once one cannot: a streamed column's
    running tally, one block at a time, that never outgrows ``HIGHEST_CODE + 1`` entries."""
    if counts is None or not len(values):
        return counts
    if values.min() < 1 or values.max() > HIGHEST_CODE or not all_whole(values):
        return None
    added = np.bincount(values.astype(np.int64), minlength=len(counts))
    added[:len(counts)] += counts
    return added


def merged_counts(a: np.ndarray | None, b: np.ndarray | None) -> np.ndarray | None:
    """Two running tallies of :func:`counted` as one (None where either gave up)."""
    if a is None or b is None:
        return None
    total = np.zeros(max(len(a), len(b)), dtype=np.int64)
    total[:len(a)] += a
    total[:len(b)] += b
    return total


def codes_of_counts(counts: np.ndarray | None, readable: bool = True) -> bool:
    """Whether a streamed column's tally of its labelled rows (:func:`counted`) shows codes (few
    enough to read as categories, where ``readable``)."""
    return counts is not None and are_codes(counts, readable)


def text_counts(counts: np.ndarray) -> Counter:
    """Rows per code (``counts[code]``, as :func:`counted` tallies them) keyed by the code's text:
    ``7`` reads ``"7"``."""
    seen = np.flatnonzero(counts)
    return Counter(dict(zip(map(str, seen.tolist()), counts[seen].tolist())))


def is_code(text: str) -> bool:
    """Whether a saved category is a code's text: a whole number from 1 to :data:`HIGHEST_CODE`."""
    return text.isascii() and text.isdigit() and 1 <= int(text) <= HIGHEST_CODE


def code_lookup(spec: dict, unseen: int) -> np.ndarray:
    """Each whole number ``0..max code``'s position among a codes column's learned categories
    (``unseen`` where it is none of them: code 0, a code seen only in validation rows)."""
    kept = [c for c in spec["categories"] if is_code(c)]
    lookup = np.full(max(map(int, kept), default=0) + 1, unseen, dtype=np.intp)
    lookup[[int(c) for c in kept]] = [spec["categories"].index(c) for c in kept]
    return lookup


def code_positions(spec: dict, numbers: np.ndarray, missing: np.ndarray, missing_code: int,
                   unseen_code: int) -> np.ndarray:
    """Each cell's position among a codes column's categories, from its number: ``missing_code``
    where the cell is missing, the ``(other)`` level's (where the column has one) or
    ``unseen_code`` where its number is no learned code (text, a fraction, a new code)."""
    unseen = len(spec["categories"]) - 1 if spec.get("other") else unseen_code
    lookup = code_lookup(spec, unseen)
    with np.errstate(invalid="ignore"):            # (NaN compares False: not a code)
        whole = (numbers >= 0) & (numbers < len(lookup)) & (numbers == np.floor(numbers))
    positions = np.full(len(numbers), unseen, dtype=np.intp)
    positions[whole] = lookup[numbers[whole].astype(np.intp)]
    positions[missing] = missing_code
    return positions


def _advice_start(name: str) -> str:
    return f"column {name!r} looks like the codes of groups"


def advised_many_codes(warnings: list, name: str) -> bool:
    """Whether ``warnings`` already hold :func:`many_codes_advice` for column ``name``."""
    return any(warning.startswith(_advice_start(name)) for warning in warnings)


def codes_note(name: str, spec: dict) -> str:
    """The report's line for a column read as codes."""
    codes = [int(c) for c in spec["categories"] if is_code(c)]
    return (f"{name!r} read as the codes of {len(codes)} groups ({min(codes)} to {max(codes)}: whole numbers from 1, "
            f"each on several rows), one category each; --numeric {name!r} keeps them numbers")


def many_codes_advice(name: str, distinct: np.ndarray, n_rows: int) -> str:
    """The report's advice on a column that looks like more codes than :func:`readable_codes` reads."""
    return (f"{_advice_start(name)} ({len(distinct)} whole numbers from 1 to "
            f"{distinct[-1]:.0f}, each on about {n_rows / len(distinct):.0f} rows), too many to read as categories "
            f"by default (more than {MAX_CODES} codes, or a one-hot block of more than {CODES_BYTES >> 20} MiB: "
            f"{n_rows} rows x {len(distinct)} codes): as numbers, neighbouring codes are taken to be alike; if they "
            f"number trees, people or firms, --text {name!r} reads them as categories, or --embed {name!r} "
            f"learns a few numbers for each")
