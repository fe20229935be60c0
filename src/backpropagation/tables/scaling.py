"""How a numeric column's numbers become the network's inputs: standard or robust scaling.

Two rules, chosen by ``--scaling`` (``scaling=`` in :class:`~backpropagation.tables.preprocessing.
TabularPreprocessor` and the estimators) and saved in each column's description:

* ``"standard"``: ``z = (x - mean) / std``, the textbook rule. One house of 5,600 sq ft among
  houses of 1,500 becomes ``z ≈ 8``, and a first layer fitted on ``|z| < 3`` extrapolates from it;
* ``"robust"`` (the default): the median and the spread of the middle half, then a smooth clip
  (RealMLP's preprocessing; Holzmüller et al., 2024)::

      z = (x - median) / (q₇₅ - q₂₅)            (a column whose quartiles tie: (max - min) / 2)
      z ← z / sqrt(1 + (z / 5)²)                (about z near 0; tends to ±5 far out)

  so an outlier or a heavy tail (film budgets) neither sets the scale of every other row nor
  reaches the first layer as a huge number, while the order of the values is kept. A column with
  a *long tail* (vote counts: a twentieth of the rows more than :data:`TAIL_SPREADS` spreads from
  the median, where the clip would squeeze them all within 11% of its bound and their order would
  be lost to the network) first goes through ``z ← asinh(z)`` (about ``z`` near 0, logarithmic
  far out), then the clip.

Quartiles and the 5% and 95% points are exact order statistics of the training rows (merged over
MPI ranks like the median, :func:`backpropagation.statistics.order_statistics`). A streamed table
takes them from the even sample that fixes its columns' kinds and medians
(:mod:`backpropagation.tables.file_summary`): an estimate from that many rows, said in the report.
"""

from __future__ import annotations

import numpy as np

from ..collective import Totals
from ..statistics import order_statistics

#: The scaling rules a numeric column can have.
SCALINGS = ("robust", "standard")
#: Where the smooth clip bends: values far beyond ±CLIP come out near ±CLIP. RealMLP bends at 3;
#: at 5 the bulk of a column stays closer to linear (2 spreads out: 7% bent instead of 17%), which
#: won on the tables that lose to gradient boosting, over six seeds (bench/README.md).
CLIP = 5.0
#: Quartile spreads from the median beyond which the 5% or 95% point marks a long tail (there the
#: clip leaves the last 11% of its range to a twentieth of the rows): asinh compresses it first.
TAIL_SPREADS = 10.0
#: The order statistics a robust column is described by: the quartiles and the tails' 5% points.
QUANTILES = (0.05, 0.25, 0.75, 0.95)
#: Fewest rows whose 5% points are looked at: in fewer, a twentieth is a handful of outliers.
TAIL_ROWS = 100


def check_scaling(scaling: str) -> str:
    """``scaling`` if it names a rule; ValueError listing them otherwise."""
    if scaling not in SCALINGS:
        raise ValueError(f"scaling: expected one of {', '.join(map(repr, SCALINGS))}, got {scaling!r}")
    return scaling


def quantiles(present: np.ndarray, totals: Totals) -> tuple[float, ...]:
    """The :data:`QUANTILES` of a column's present values over every rank: the order statistics at
    ``round(p (n - 1))`` (NaN for no values; the 5% points NaN for fewer than :data:`TAIL_ROWS`)."""
    n = int(totals.sum(len(present)))
    if n == 0:
        return (float("nan"),) * len(QUANTILES)
    positions = [int(round(p * (n - 1))) for p in QUANTILES]
    if totals.comm is None:
        found = [float(v) for v in np.partition(present, positions)[positions]]
    else:
        found = order_statistics([present] * len(positions), positions, totals)
    if n < TAIL_ROWS:
        found[0] = found[-1] = float("nan")
    return tuple(found)


def robust_statistics(median: float, low_tail: float, lower: float, upper: float, high_tail: float,
                      low: float, high: float) -> dict:
    """A robust column description's entries from its median, :data:`QUANTILES` and range; a long
    tail (:data:`TAIL_SPREADS`) is marked ``"tail": "asinh"``."""
    spread = upper - lower
    if not spread > 0:
        spread = (high - low) / 2 if high > low else 1.0
    spec = {"scaling": "robust", "center": float(median), "spread": float(spread), "clip": CLIP}
    if max(high_tail - median, median - low_tail) > TAIL_SPREADS * spread:
        spec["tail"] = "asinh"
    return spec


def scale(spec: dict, numbers: np.ndarray) -> np.ndarray:
    """``numbers`` (gaps already filled) scaled by the column's rule, in place; returns them."""
    if spec.get("scaling", "standard") == "standard":
        numbers -= spec["mean"]
        numbers /= spec["std"]
        return numbers
    numbers -= spec["center"]
    numbers /= spec["spread"]
    if spec.get("tail") == "asinh":
        np.arcsinh(numbers, out=numbers)
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
        if spec.get("tail", "asinh") != "asinh":
            raise ValueError(f"column {spec['name']!r}: unknown tail {spec['tail']!r} (expected 'asinh')")


def describe(spec: dict) -> str:
    """How the column is scaled, in words."""
    if spec.get("scaling", "standard") == "standard":
        return f"standardised (mean {spec['mean']:.4g}, std {spec['std']:.4g})"
    tail = ", asinh on its long tail" if spec.get("tail") == "asinh" else ""
    return (f"robust (median {spec['center']:.4g}, quartile spread {spec['spread']:.4g}{tail}, "
            f"smooth clip at ±{spec['clip']:g})")
