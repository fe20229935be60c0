"""How numbers are spelled in a table's text: the formats read, and numbers written otherwise.

A CSV file holds text; so may a Parquet column.
:class:`~backpropagation.tables.csv_source.TextFormat` says how the file spells its fields and numbers
(``--delimiter``, ``--decimal``, ``--thousands``): ``3,46`` is a number with ``decimal=","``,
``12,345`` with ``thousands=","``. Without such options, a column whose
every cell is a number written with a comma would silently become one-hot text categories
(and a regression target a classifier with a class per value): :func:`refuse_misspelled_numbers`
stops that, naming the option that reads it.
"""

from __future__ import annotations

import numpy as np

from .csv_source import arrow_of, numpy_of, pyarrow

NUMBER = r"^[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN])$"


class MisspelledNumbers(ValueError):
    """A text column whose every cell is a number written with a decimal comma or digit groups."""


#: Numbers as spreadsheets in many countries write them: a decimal comma (``3,46``, with dots
#: between digit groups: ``1.204,50``), or commas between digit groups (``12,345``).
DECIMAL_COMMA = r"^[+-]?(\d+|\d{1,3}(\.\d{3})+),\d+$"
DIGIT_GROUPS = r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$"


def refuse_misspelled_numbers(categories, values: np.ndarray, missing: np.ndarray) -> None:
    """MisspelledNumbers if every distinct cell that is not a number or missing reads as a
    number with a decimal comma or with digit groups (at least one such cell)."""
    _, pc = pyarrow()
    other = ~missing & np.isnan(values)
    if not other.any():
        return
    texts = pc.filter(categories, arrow_of(other))
    comma, grouped = (numpy_of(pc.match_substring_regex(texts, p)) for p in (DECIMAL_COMMA, DIGIT_GROUPS))
    if not (comma | grouped).all():
        return
    example = texts[int(np.argmax(comma | grouped))].as_py()
    dots = numpy_of(pc.match_substring_regex(texts, r"\.\d{3},")).any()
    hint = ("--decimal ," + (" --thousands ." if dots else "") if comma.all() and not grouped.all() else
            "--thousands ," if grouped.all() and not comma.all() else
            "--decimal , if the comma is a decimal mark, or --thousands , if it separates thousands")
    raise MisspelledNumbers(f"holds numbers written with a comma ({example!r}), which would otherwise be read "
                            f"as text categories: add {hint} to read them as numbers")


def numbers_of_texts(texts) -> np.ndarray:
    """float64 of each text that reads as a number (``inf`` included), NaN for the others."""
    pa, pc = pyarrow()
    try:
        return numpy_of(pc.cast(texts, pa.float64()))
    except pa.ArrowInvalid:
        looks = numpy_of(pc.match_substring_regex(texts, NUMBER))
        values = np.full(len(texts), np.nan)
        values[looks] = numpy_of(pc.cast(pc.filter(texts, arrow_of(looks)), pa.float64()))
        return values
