"""A pandas DataFrame given to the scikit-learn estimators: whether it is a raw table (text,
categories, booleans) for :class:`~backpropagation.tables.table_encoder.TableEncoder` or a frame
of numbers, and a frame of numbers' text cells and gaps read as ``backprop`` reads a file's."""

from __future__ import annotations

import warnings

import numpy as np

from .csv_source import AMBIGUOUS_MISSING
from .dates import date_cells
from .readers import Column
from .table_model import arrow_of_frame


def is_frame(X) -> bool:
    """Whether ``X`` is a pandas DataFrame (its ``dtypes`` a Series, its gaps found by ``isna``)."""
    return hasattr(getattr(X, "dtypes", None), "items") and hasattr(X, "isna") and hasattr(X, "fillna")


def numbers_read(X):
    """``X`` with each column of text read as ``backprop`` reads a file's numeric column (the
    readers' :class:`~backpropagation.tables.readers.Column`): missing tokens (``na``, ``n/a``,
    ...) become gaps; other text is a ValueError naming the column, the row and the cell."""
    texts = [position for position, dtype in enumerate(X.dtypes) if getattr(dtype, "kind", "O") not in "iufb"]
    if not texts:
        return X
    arrow, X = arrow_of_frame(X.iloc[:, texts]), X.copy()
    for k, position in enumerate(texts):
        name, cells = X.columns[position], X.iloc[:, position]
        try:
            column = Column.decode(arrow.column(k))
        except ValueError as error:                   # (numbers written with a comma: the reader's hint is the CLI's)
            raise ValueError(f"X column {name!r} {str(error).split(': add')[0]}; give them as numbers") from None
        ambiguous = cells.astype(str).str.strip().str.lower().isin(AMBIGUOUS_MISSING).to_numpy()
        words = np.flatnonzero((np.isnan(column.numbers) | date_cells(column)) & ~column.missing & ~ambiguous)
        if len(words):
            raise ValueError(f"X column {name!r}: row {X.index[words[0]]!r} holds {cells.iloc[words[0]]!r} where the "
                             "training frame held numbers; give a number, or leave the cell empty (missing)")
        X.isetitem(position, column.numbers)          # ('?', '-' or 'none' among numbers: gaps)
    return X


def column_medians(X) -> np.ndarray:
    """Each column's median of a frame of numbers (NaN for a column of none)."""
    values = X.to_numpy(dtype=np.float64, na_value=np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)           # (an all-empty column: NaN)
        return np.nanmedian(values, axis=0) if len(values) else np.full(X.shape[1], np.nan)


def raw_table_kind(X) -> str | bool:
    """Whether ``X`` is a pandas DataFrame holding text, categories or booleans (True), or only
    numbers with gaps (``"gaps"``); False for anything else."""
    if not is_frame(X):
        return False
    if any(getattr(t, "kind", "O") not in "iuf" for _, t in X.dtypes.items()):
        return True
    return "gaps" if bool(X.isna().to_numpy().any()) else False
