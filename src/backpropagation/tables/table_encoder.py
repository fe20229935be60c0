"""The command line's table preprocessing as a scikit-learn transformer (:class:`TableEncoder`).

Imported by :mod:`backpropagation.sklearn`, which re-exports it; needs scikit-learn.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .csv_source import pyarrow
from .preprocessing import TabularPreprocessor
from .preprocessing_state import in_python_words
from .table_model import arrow_of_frame, read_as_text, table_of


#: The stand-in target column :class:`TableEncoder` fits with (the encoder learns no target).
_NO_TARGET = "__backpropagation_no_target__"


class TableEncoder(TransformerMixin, BaseEstimator):
    """The command line's table preprocessing as a scikit-learn transformer.

    A pandas or polars DataFrame or a pyarrow Table as it is, text and missing values included,
    becomes numbers exactly as ``backprop train`` encodes a file: numeric columns scaled (robust
    scaling with a smooth clip by default) with gaps filled by the median and an indicator column
    where ``fit`` saw gaps, text columns one-hot encoded with gaps as a level of their own and
    categories unseen in ``fit`` as zeros. Usable in a ``Pipeline``.

    Parameters
    ----------
    drop : sequence of str
        Columns to leave out.
    text, numeric : sequence of str
        Columns to read as categories (and every categorical column of ``X``, a pandas ``category``
        say, unless in ``numeric``), or as numbers with their text cells missing.
    max_categories : int, optional
        Most indicator columns per text column (rare categories become one ``(other)`` level).
    embed : dict of str to int or None, optional
        Text columns encoded as one column of category codes, for an embedding of that width
        (None: the default width), instead of one indicator per category.
    scaling : {"robust", "standard"}, default "robust"
        Numeric columns: median, quartile spread and a smooth clip, or mean and standard deviation
        (:mod:`backpropagation.tables.scaling`), as ``--scaling``.

    Attributes
    ----------
    preprocessing_ : TabularPreprocessor
    feature_names_in_ : ndarray of str
    report_ : TransformReport
        What the last ``transform`` filled or found unseen.
    """

    def __init__(self, drop=(), text=(), numeric=(), max_categories=None, embed=None, scaling="robust"):
        self.drop, self.text, self.numeric, self.max_categories = drop, text, numeric, max_categories
        self.embed, self.scaling = embed, scaling

    def fit(self, X, y=None):
        """Learn each column's kind, statistics and categories from the table ``X``."""
        pa, _ = pyarrow()
        arrow = arrow_of_frame(X)
        arrow = arrow.append_column(_NO_TARGET, pa.array(np.zeros(arrow.num_rows)))
        self.preprocessing_ = TabularPreprocessor(_NO_TARGET, "regression", list(self.drop),
                                                  read_as_text(arrow, self.text, self.numeric), list(self.numeric),
                                                  self.max_categories, dict(self.embed or {}), scaling=self.scaling)
        self.preprocessing_.fit(table_of(arrow, source="X"))
        for advice in self.preprocessing_.warnings:     # (the command's report warnings, in this class's words)
            warnings.warn(f"TableEncoder: {in_python_words(advice)}", UserWarning, stacklevel=2)
        self.feature_names_in_ = np.array(arrow.column_names[:-1], dtype=object)
        self.n_features_in_ = len(self.feature_names_in_)
        return self

    def transform(self, X):
        """``X``'s rows as the fitted encoding's numbers (a float64 array)."""
        check_is_fitted(self, "preprocessing_")
        encoded, _, self.report_ = self.preprocessing_.transform(table_of(X, source="X"), with_target=False)
        return encoded

    def get_feature_names_out(self, input_features=None):
        """The encoded columns' names (``column`` or ``column=category``)."""
        check_is_fitted(self, "preprocessing_")
        return np.array(self.preprocessing_.feature_names, dtype=object)
