"""How a numeric column's numbers become the network's inputs: standard or robust scaling.

Two rules, chosen by ``--scaling`` (``scaling=`` in :class:`~backpropagation.tables.preprocessing.
TabularPreprocessor` and the estimators) and saved in each column's description:

* ``"standard"``: ``z = (x - mean) / std``, the textbook rule. One house of 5,600 sq ft among
  houses of 1,500 becomes ``z ≈ 8``, and a first layer fitted on ``|z| < 3`` extrapolates from it;
* ``"robust"`` (the default): the median and the spread of the middle half, then a smooth clip
  (RealMLP's preprocessing; Holzmüller et al., 2024)::

      z = (x - median) / (q₇₅ - q₂₅)            (a column whose quartiles tie: (max - min) / 2)
      z ← z / sqrt(1 + (z / 3)²)                (about z near 0; tends to ±3 far out)

  so an outlier or a heavy tail (film budgets, vote counts) neither sets the scale of every other
  row nor reaches the first layer as a huge number, while the order of the values is kept.

Quartiles are exact order statistics of the training rows (merged over MPI ranks like the
median, :func:`backpropagation.statistics.order_statistics`). A streamed table takes them from
the even sample that fixes its columns' kinds and medians
(:mod:`backpropagation.tables.file_summary`): an estimate from that many rows, said in the report.
"""

from __future__ import annotations

import numpy as np

from ..collective import Totals
from ..statistics import order_statistics

#: The scaling rules a numeric column can have.
SCALINGS = ("robust", "standard")
#: Where the smooth clip bends: values far beyond ±CLIP come out near ±CLIP.
CLIP = 3.0


def check_scaling(scaling: str) -> str:
    """``scaling`` if it names a rule; ValueError listing them otherwise."""
    if scaling not in SCALINGS:
        raise ValueError(f"scaling: expected one of {', '.join(map(repr, SCALINGS))}, got {scaling!r}")
    return scaling


def quartiles(present: np.ndarray, totals: Totals) -> tuple[float, float]:
    """The lower and upper quartile of a column's present values over every rank: the order
    statistics at ``round(0.25 (n - 1))`` and ``round(0.75 (n - 1))`` (NaN for no values)."""
    n = int(totals.sum(len(present)))
    if n == 0:
        return float("nan"), float("nan")
    positions = [int(round(0.25 * (n - 1))), int(round(0.75 * (n - 1)))]
    if totals.comm is None:
        low, high = np.partition(present, positions)[positions]
        return float(low), float(high)
    low, high = order_statistics([present, present], positions, totals)
    return low, high


def robust_statistics(median: float, lower: float, upper: float, low: float, high: float) -> dict:
    """A robust column description's entries from its median, quartiles and range."""
    spread = upper - lower
    if not spread > 0:
        spread = (high - low) / 2 if high > low else 1.0
    return {"scaling": "robust", "center": float(median), "spread": float(spread), "clip": CLIP}


def scale(spec: dict, numbers: np.ndarray) -> np.ndarray:
    """``numbers`` (gaps already filled) scaled by the column's rule, in place; returns them."""
    if spec.get("scaling", "standard") == "standard":
        numbers -= spec["mean"]
        numbers /= spec["std"]
        return numbers
    numbers -= spec["center"]
    numbers /= spec["spread"]
    bend = numbers / spec["clip"]
    np.hypot(1.0, bend, out=bend)        # sqrt(1 + (z/clip)²), without overflow for z near 1e300
    numbers /= bend
    return numbers


def check_spec(spec: dict, number) -> None:
    """Type checks of a saved column's scaling entries (``number(spec, key)`` checks one)."""
    scaling = spec.get("scaling", "standard")
    if scaling not in SCALINGS:
        raise ValueError(f"column {spec['name']!r}: unknown scaling {scaling!r}")
    if scaling == "robust":
        for key in ("center", "spread", "clip"):
            number(spec, key)
        if not (spec["spread"] > 0 and spec["clip"] > 0):
            raise ValueError(f"column {spec['name']!r}: 'spread' and 'clip' must be positive")


def describe(spec: dict) -> str:
    """How the column is scaled, in words."""
    if spec.get("scaling", "standard") == "standard":
        return f"standardised (mean {spec['mean']:.4g}, std {spec['std']:.4g})"
    return (f"robust (median {spec['center']:.4g}, quartile spread {spec['spread']:.4g}, "
            f"smooth clip at ±{spec['clip']:g})")
