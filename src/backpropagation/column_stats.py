"""Column statistics from value counts: what a CSV column's summary turns into.

:class:`~backpropagation.tabular.TabularPreprocessor` summarises each column as counts of its
distinct cells; counts add up over parts of a table (MPI ranks), and the functions here derive
the median, mean and standard deviation of the whole from them, exactly as NumPy would from the
expanded column.
"""

from __future__ import annotations

import math

import numpy as np


def number(value: str) -> float | None:
    """The finite number a CSV cell holds, or None."""
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def numeric_counts(counts: dict[str, int]) -> list[tuple[float, int]]:
    """(number, count) pairs of numeric cells, sorted by number (then text, for determinism)."""
    return [(number(cell), c) for cell, c in sorted(counts.items(), key=lambda item: (number(item[0]), item[0]))]


def weighted_median(pairs: list[tuple[float, int]]) -> float:
    """The median of the values with their multiplicities, as ``np.median`` of the expanded list."""
    n = sum(c for _, c in pairs)
    wanted = [(n - 1) // 2, n // 2]           # positions of the middle value(s)
    found, seen = [], 0
    for value, c in pairs:
        while wanted and wanted[0] < seen + c:
            found.append(value)
            wanted.pop(0)
        seen += c
    return (found[0] + found[1]) / 2 if found[0] != found[1] else found[0]


def weighted_mean_std(pairs: list[tuple[float, int]]) -> tuple[float, float]:
    """Mean and (population) standard deviation of values with multiplicities."""
    values = np.array([v for v, _ in pairs])
    weights = np.array([c for _, c in pairs], dtype=np.float64)
    mean = float(np.dot(weights, values) / weights.sum())
    return mean, float(np.sqrt(np.dot(weights, (values - mean) ** 2) / weights.sum()))


def merge_summaries(parts: list[dict]) -> dict:
    """Add up the per-rank summaries of :meth:`TabularPreprocessor._summarize`."""
    merged = {"columns": {}, "target": {}, "order": parts[0]["order"]}
    for part in parts:
        for cell, c in part["target"].items():
            merged["target"][cell] = merged["target"].get(cell, 0) + c
        for name, column in part["columns"].items():
            into = merged["columns"].setdefault(name, {"counts": {}, "missing": 0, "first_text": None})
            for cell, c in column["counts"].items():
                into["counts"][cell] = into["counts"].get(cell, 0) + c
            into["missing"] += column["missing"]
            into["first_text"] = into["first_text"] or column["first_text"]
    return merged
