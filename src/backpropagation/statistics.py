"""Statistics that merge in constant size: moments (count, mean, M2) and exact medians.

Every path that needs a mean or a spread (the in-memory table, a table streamed block by block,
MPI ranks, the target's scaling, an epoch's R² over a streamed table's pools) summarises its rows
as :class:`Moments` and merges the summaries with Chan, Golub and LeVeque's update::

    n = n_a + n_b,   δ = mean_b - mean_a
    mean = mean_a + δ · n_b / n
    M2   = M2_a + M2_b + δ² · n_a n_b / n          (M2: the sum of squared deviations)

Each part's M2 is computed about its own mean (two passes over rows already in memory), so a
column at an offset of 1e9 with a spread of 1 keeps its spread, where the one-pass
``E[x²] - mean²`` loses every digit.

The median is found exactly, not estimated: :func:`medians` selects the middle order statistics
by radix selection over the bits of the float64 values, eight bits per round, so each round
merges a 256-bin histogram per column whatever the number of rows. Filling gaps with the median
(not the mean) keeps one outlier or a skewed column from shifting every filled cell, and the
selection makes it as cheap to merge as a mean.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .collective import Totals, mark_on_every_rank
from .data import check_magnitude

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
    """Mean and population standard deviation of each column with ``n_missing`` cells set to ``fill``
    (over every rank's rows: each rank's :class:`Moments` merged).

    ``names`` (the columns' names): refuse a column whose squares would overflow, naming it.
    """
    largest = totals.max([np.abs(c).max(initial=0.0) for c in columns])
    if names is not None:
        try:
            check_magnitude(largest[None, :], "", names)
        except ValueError as error:      # (from merged numbers: every rank refuses alike)
            raise mark_on_every_rank(error) from None
    moments = [merged(totals.gather(Moments.of(column))) for column in columns]
    filled = [m.merge(Moments.constant(value, gaps)) for m, value, gaps in zip(moments, fill, n_missing)]
    return np.array([m.mean[0] for m in filled]), np.array([m.std[0] for m in filled])


@dataclass
class Moments:
    """Count, mean and M2 (sum of squared deviations from the mean) of each column of some rows,
    weighted or not: a summary that merges with another part's (:meth:`merge`) in constant size.

    Attributes
    ----------
    count, mean, m2 : ndarray of shape (n_columns,)
        The (weighted) number of rows, their mean and their sum of squared deviations.
    low, high : ndarray of shape (n_columns,) or None
        The smallest and largest value (±inf for no rows; None where not tracked).
    """

    count: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None

    @classmethod
    def of(cls, values, weights=None) -> "Moments":
        """The moments of ``values`` (shape (n,) or (n, columns); finite) weighted by ``weights``
        (shape (n,); default 1 each): two passes, the deviations about this part's own mean."""
        values = np.asarray(values, dtype=np.float64)
        values = values[:, None] if values.ndim == 1 else values
        w = np.ones(len(values)) if weights is None else np.asarray(weights, dtype=np.float64)
        count = np.full(values.shape[1], w.sum())
        if not count.any():
            return cls.empty(values.shape[1])
        mean = w @ values / count
        counted = None if weights is None else (w > 0)[:, None]          # (no copy of the rows)
        low = values.min(axis=0, where=counted, initial=np.inf) if counted is not None else values.min(axis=0)
        high = values.max(axis=0, where=counted, initial=-np.inf) if counted is not None else values.max(axis=0)
        return cls(count, mean, w @ np.square(values - mean), low, high)

    @classmethod
    def empty(cls, n_columns: int = 1) -> "Moments":
        """No rows: merging it changes nothing."""
        return cls(np.zeros(n_columns), np.zeros(n_columns), np.zeros(n_columns),
                   np.full(n_columns, np.inf), np.full(n_columns, -np.inf))

    @classmethod
    def constant(cls, value: float, count: float) -> "Moments":
        """``count`` rows all equal to ``value`` (gaps filled with a median)."""
        bounds = np.array([float(value) if count else np.inf]), np.array([float(value) if count else -np.inf])
        return cls(np.array([float(count)]), np.array([float(value)]), np.zeros(1), *bounds)

    def merge(self, other: "Moments") -> "Moments":
        """The moments of both parts' rows together (Chan, Golub and LeVeque)."""
        count = self.count + other.count
        safe = np.where(count > 0, count, 1.0)
        delta = other.mean - self.mean
        mean = np.where(count > 0, self.mean + delta * other.count / safe, 0.0)
        m2 = self.m2 + other.m2 + np.square(delta) * self.count * other.count / safe
        tracked = self.low is not None and other.low is not None
        return Moments(count, mean, m2, np.minimum(self.low, other.low) if tracked else None,
                       np.maximum(self.high, other.high) if tracked else None)

    @property
    def variance(self) -> np.ndarray:
        """Population variance (M2 / count; 0 for no rows)."""
        return np.where(self.count > 0, self.m2 / np.where(self.count > 0, self.count, 1.0), 0.0)

    @property
    def std(self) -> np.ndarray:
        """Population standard deviation."""
        return np.sqrt(self.variance)


def merged(parts) -> Moments:
    """The moments of every part's rows together (parts in order; at least one)."""
    parts = list(parts)
    total = parts[0]
    for part in parts[1:]:
        total = total.merge(part)
    return total
