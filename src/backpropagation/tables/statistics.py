"""Column statistics that merge across MPI ranks in constant size: counts, sums, exact medians.

:class:`Totals` adds up small per-rank arrays (one process: nothing to add). The median is found
exactly, not estimated: :func:`medians` selects the middle order statistics by radix selection
over the bits of the float64 values, eight bits per round, so each round merges a 256-bin
histogram per column whatever the number of rows. Filling gaps with the median (not the mean)
keeps one outlier or a skewed column from shifting every filled cell, and the selection makes it
as cheap to merge as a mean.
"""

from __future__ import annotations

import numpy as np

from ..data import check_magnitude
from ..collective import Totals, mark_on_every_rank

_SIGN = np.uint64(1 << 63)
_BITS_PER_ROUND = 8


def sortable_keys(values: np.ndarray) -> np.ndarray:
    """uint64 keys whose unsigned order is the float64 order of ``values`` (no NaN)."""
    bits = np.ascontiguousarray(values, dtype=np.float64).view(np.uint64)
    return np.where(bits & _SIGN, ~bits, bits | _SIGN)


def float_of_key(key: int) -> float:
    """The float64 value a :func:`sortable_keys` key stands for."""
    key = np.uint64(key)
    bits = key & ~_SIGN if key & _SIGN else ~key
    return float(np.array([bits], dtype=np.uint64).view(np.float64)[0])


def order_statistics(columns: list[np.ndarray], positions: list[int], totals: Totals) -> list[float]:
    """Exact ``positions[i]``-th smallest value (0-based) of column i across all ranks.

    Each rank holds part of each column; the result equals ``np.sort(whole)[position]``. Eight
    rounds, one merged (columns × 256) histogram each.
    """
    if not columns:
        return []
    candidates = [sortable_keys(column) for column in columns]
    prefix = np.zeros(len(columns), dtype=np.uint64)
    remaining = np.asarray(positions, dtype=np.int64).copy()
    for shift in range(64 - _BITS_PER_ROUND, -1, -_BITS_PER_ROUND):
        histograms = np.zeros((len(columns), 1 << _BITS_PER_ROUND), dtype=np.int64)
        digits = []
        for i, keys in enumerate(candidates):
            digit = ((keys >> np.uint64(shift)) & np.uint64(255)).astype(np.intp)
            histograms[i] = np.bincount(digit, minlength=256)
            digits.append(digit)
        histograms = totals.sum(histograms)
        for i in range(len(columns)):
            below = np.cumsum(histograms[i])
            chosen = int(np.searchsorted(below, remaining[i], side="right"))
            remaining[i] -= below[chosen - 1] if chosen else 0
            prefix[i] |= np.uint64(chosen) << np.uint64(shift)
            candidates[i] = candidates[i][digits[i] == chosen]
    return [float_of_key(key) for key in prefix]


def medians(columns: list[np.ndarray], totals: Totals, reorder: bool = False) -> list[float]:
    """The median of each column over all ranks, exactly as ``np.median`` of the whole column.

    With ``reorder`` a column may be left partially sorted (no copy is made of it). The middle
    of the two central values is NumPy's ``(a + b)/2``, except that two values near the float64
    limit give ``a/2 + b/2`` rather than overflowing to infinity.
    """
    if totals.comm is None:
        return [_local_median(column, reorder) for column in columns]
    if not columns:
        return []
    counts = totals.sum([len(c) for c in columns]).astype(np.int64).tolist()
    high = order_statistics(columns, [n // 2 for n in counts], totals)
    # The value below the middle: ``high`` itself when enough values equal it, else the largest
    # value below it (one selection, then two small merges, instead of a second selection).
    masks = [c < h for c, h in zip(columns, high)]
    below = totals.sum([np.count_nonzero(m) for m in masks])
    largest_below = totals.max([np.max(c, where=m, initial=-np.inf) for c, m in zip(columns, masks)])
    low = [h if n % 2 or k <= (n - 1) // 2 else float(b)
           for h, n, k, b in zip(high, counts, below, largest_below)]
    return [_middle(a, b) for a, b in zip(low, high)]


def _local_median(column: np.ndarray, reorder: bool) -> float:
    if not len(column):
        return float("nan")
    high = len(column) // 2
    if reorder:
        column.partition(high)
    else:
        column = np.partition(column, high)
    # (one selection: the value below the middle is the largest of the lower part, which is
    # several times faster than NumPy's selection of both middle positions)
    low = column[high] if len(column) % 2 else column[:high].max()
    return _middle(low, column[high])


def _middle(a: float, b: float) -> float:
    with np.errstate(over="ignore"):
        middle = (np.float64(a) + np.float64(b)) / 2
    return float(middle if np.isfinite(middle) else a / 2 + b / 2)


def filled_mean_std(columns: list[np.ndarray], fill: list[float], n_missing: list[int],
                    totals: Totals, names=None) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population standard deviation of each column with ``n_missing`` cells set to ``fill``.

    ``names`` (the columns' names): refuse a column whose squares would overflow, naming it.

    Two passes (sums, then squared deviations from the merged mean), each a merged vector.
    """
    fill, n_missing = np.asarray(fill, dtype=np.float64), np.asarray(n_missing, dtype=np.float64)
    largest = totals.max([np.abs(c).max(initial=0.0) for c in columns])
    if names is not None:
        try:
            check_magnitude(largest[None, :], "", names)
        except ValueError as error:      # (from merged numbers: every rank refuses alike)
            raise mark_on_every_rank(error) from None
    sums = totals.sum([[c.sum(), len(c)] for c in columns]).reshape(-1, 2)
    n = sums[:, 1] + n_missing
    mean = (sums[:, 0] + n_missing * fill) / n
    squares = totals.sum([np.square(c - m).sum() for c, m in zip(columns, mean)])
    return mean, np.sqrt((squares + n_missing * np.square(fill - mean)) / n)
