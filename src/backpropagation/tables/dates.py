"""Dates: an ISO 8601 date (or one written year first with slashes, or as ``Jan 31 2017``) is a
number, its days since 1970-01-01, and a date column's encoding adds where the day falls in the
year and in the week, as a sine and a cosine each.

A date as a category is one level a day, nearly every new day unseen; as a number it carries a
trend, and its phases carry the seasons a network would otherwise have to find as waves of
365.2425 and 7 days among the periodic embeddings' slow initial frequencies. The phases of a
gap are the training median's, as its number is. The ONNX graph computes them from its days
input with ``Sin`` and ``Cos``.
"""

from __future__ import annotations

import numpy as np

from .csv_source import arrow_of, numpy_of, pyarrow

#: A date as ISO 8601 writes it, with a time or without: ``2012-01-31``, ``2012-01-31 08:30:00``,
#: ``2012-01-31T08:30``, and a time with its zone (``2012-01-31T08:30:00Z``, ``...+01:00``).
_ZONE = r"(?:Z|[+-]\d{2}:?\d{2})"
ISO_DATE = r"^\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?" + _ZONE + r"?)?$"
#: The zone of :data:`ISO_DATE`'s time, where it has one.
ZONE = _ZONE + "$"
#: A date written year first with slashes (``2012/01/31``, ``2012/01/31 08:30``), as spreadsheets
#: and vega's Seattle files write them: read as :data:`ISO_DATE` with hyphens. Day-first and
#: month-first dates (``31/01/2012``, ``01/31/2012``) are not: ``01/02/2012`` would be a guess.
SLASHED = r"^(\d{4})/(\d{2})/(\d{2})"
AS_ISO = r"\1-\2-\3"
#: A date written with its month's English abbreviation first, as vega's stocks file writes it
#: (``Jan 31 2017``, ``Jan 1 2000``): read as the ISO date of that day.
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
NAMED = rf"^(?:{'|'.join(MONTHS)}) \d{{1,2}} \d{{4}}$"
SECONDS_A_DAY = 86400.0


def days_of_dates(texts) -> np.ndarray:
    """Days since 1970-01-01 (a time adds its fraction of a day; a time with a zone counts in UTC)
    of each text that is an ISO date (:data:`ISO_DATE`), one written year first with slashes
    (:data:`SLASHED`) or with its month's name (:data:`NAMED`), NaN for the others, a date no
    calendar has (``2012-02-30``) included."""
    pa, pc = pyarrow()
    days = np.full(len(texts), np.nan)
    texts = _named_as_iso(pc, pc.replace_substring_regex(texts, SLASHED, AS_ISO))
    looks = numpy_of(pc.match_substring_regex(texts, ISO_DATE))
    if not looks.any():
        return days
    zoned = looks & numpy_of(pc.match_substring_regex(texts, ZONE))
    for rows, kind in ((looks & ~zoned, pa.timestamp("us")), (zoned, pa.timestamp("us", tz="UTC"))):
        dated = pc.filter(texts, arrow_of(rows))
        try:
            days[rows] = _days(pa, pc, dated, kind)
        except pa.ArrowInvalid:              # (one impossible date fails the whole cast: one at a time)
            for position, text in zip(np.flatnonzero(rows), dated.to_pylist()):
                try:
                    days[position] = _days(pa, pc, pa.array([text]), kind)[0]
                except pa.ArrowInvalid:
                    pass
    return days


#: The days of 0001-01-01 and of 10000-01-01: the ISO dates of four-digit years lie between.
FIRST_DAY, END_DAY = -719162, 2932897


def date_texts(days: np.ndarray):
    """The ISO text of each day count, to the microsecond (a pyarrow string array: null for NaN,
    infinities and days outside the years 1 to 9999), which :func:`days_of_dates` reads back."""
    pa, pc = pyarrow()
    days = np.asarray(days, dtype=np.float64)
    valid = np.isfinite(days) & (days >= FIRST_DAY) & (days < END_DAY)
    microseconds = np.round(np.where(valid, days, 0.0) * (1e6 * SECONDS_A_DAY)).astype(np.int64)
    return pc.cast(pa.array(microseconds, type=pa.timestamp("us"), mask=~valid), pa.string())


def _named_as_iso(pc, texts):
    """``texts`` with each :data:`NAMED` date rewritten as ISO (``Jan 1 2000`` as ``2000-01-01``),
    whose reading then refuses a day no calendar has (``Feb 30 2000``) as any ISO date's does."""
    if not pc.any(pc.match_substring_regex(texts, NAMED)).as_py():
        return texts
    texts = pc.replace_substring_regex(texts, r"^([A-Z][a-z]{2}) (\d) (\d{4})$", r"\1 0\2 \3")
    for number, month in enumerate(MONTHS, start=1):
        texts = pc.replace_substring_regex(texts, rf"^{month} (\d{{2}}) (\d{{4}})$", rf"\2-{number:02d}-\1")
    return texts


def date_cells(column) -> np.ndarray:
    """Which cells of a decoded :class:`~backpropagation.tables.readers.Column` hold a date (all
    False where none does): decided cell by cell, from the column's distinct cells."""
    if not column.dates:
        return np.zeros(len(column), dtype=bool)
    return np.append(~np.isnan(days_of_dates(column.categories)), False)[column.codes]


def _days(pa, pc, texts, kind) -> np.ndarray:
    microseconds = pc.cast(pc.cast(texts, kind), pa.int64())
    return microseconds.to_numpy(zero_copy_only=False).astype(np.float64) / (1e6 * SECONDS_A_DAY)


#: The cycles a date column's encoding follows: (name, days a turn); the day's only where the
#: column holds times (a day's fraction), since a date alone sits at midnight.
CYCLES = (("year", 365.2425), ("week", 7.0), ("day", 1.0))


def cycles(spec: dict) -> tuple:
    """The cycles of a numeric column's description: none for numbers, the year's and the week's
    for dates, and the day's too where the training dates held times (``"times"``)."""
    if not spec.get("date"):
        return ()
    return CYCLES if spec.get("times") else CYCLES[:2]


def phase_width(spec: dict) -> int:
    """How many encoded columns a column's phases take: a sine and a cosine per cycle."""
    return 2 * len(cycles(spec))


def phase_names(spec: dict) -> list[str]:
    """The names of a column's phase features, in :func:`phases`' order."""
    return [f"{spec['name']} ({cycle} {wave})" for cycle, _ in cycles(spec) for wave in ("sin", "cos")]


def phases(spec: dict, days: np.ndarray, out: np.ndarray) -> None:
    """Write each day's phase in every cycle of the column (:func:`cycles`) into ``out`` (rows ×
    :func:`phase_width`): ``sin(2π days / period)``, ``cos(2π days / period)``, computed in
    ``out``'s dtype as the ONNX graph computes them from its input (float32 days are to a minute
    or two: the week's phase then differs from float64's by about 1e-3, the day's by 1e-2)."""
    days = days.astype(out.dtype, copy=False)
    for k, (_, period) in enumerate(cycles(spec)):
        angle = days * out.dtype.type(2 * np.pi / period)
        out[:, 2 * k], out[:, 2 * k + 1] = np.sin(angle), np.cos(angle)


def holds_times(days: np.ndarray) -> bool:
    """Whether some of a date column's present values (days) are not at midnight."""
    return bool(np.any(days != np.floor(days)))
