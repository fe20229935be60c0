"""A model that ``backprop train`` wrote, used from Python on a table as it is.

``backprop train`` keeps its preprocessing (column kinds, statistics, categories) and the way it
read the file in the model's metadata. :class:`TableModel` applies both to a pandas or polars
DataFrame or a pyarrow Table, raw: text columns, missing values and all, so that Python gets the
predictions ``backprop predict`` writes for the same rows::

    from backpropagation import TableModel

    model = TableModel.load("model.npz")
    model.predict(frame)            # labels, or values in the target's units
    model.predict_proba(frame)      # classification: a column per class of model.classes_

Needs pyarrow (installed with the package), and pandas or polars for their frames.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from .csv_source import PLAIN, TextFormat, pyarrow
from ..network import NeuralNetwork
from .readers import Table
from .preprocessing import TabularPreprocessor
from .transform_report import TransformReport


class TableModel:
    """A :class:`~backpropagation.NeuralNetwork` and the table preprocessing it was trained with.

    Parameters
    ----------
    network : NeuralNetwork
        A network trained on the preprocessing's encoded columns.
    preprocessing : TabularPreprocessor
        The fitted preprocessing (``backprop train`` stores it in ``network.metadata``).
    text_format : TextFormat, optional
        How numbers written as text are spelled (``--decimal``, ``--thousands``, ``--na-values``).
    """

    def __init__(self, network: NeuralNetwork, preprocessing: TabularPreprocessor,
                 text_format: TextFormat = PLAIN) -> None:
        self.network, self.preprocessing, self.text_format = network, preprocessing, text_format
        #: What the last :meth:`transform` did (gaps filled, unseen categories, stray text cells).
        self.report: TransformReport | None = None

    @classmethod
    def load(cls, path) -> "TableModel":
        """Read a model file written by ``backprop train``; ValueError for any other file."""
        network = NeuralNetwork.load(path)
        if "preprocessing" not in network.metadata:
            raise ValueError(f"{os.fspath(path)}: this model was not trained by 'backprop train' "
                             "(no preprocessing stored); use NeuralNetwork.load")
        try:
            preprocessing = TabularPreprocessor.from_dict(network.metadata["preprocessing"])
            text_format = TextFormat.from_dict(network.metadata.get("text_format", PLAIN.to_dict()))
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as error:
            raise ValueError(f"model file {os.fspath(path)!r}: invalid preprocessing in its metadata: "
                             f"{type(error).__name__}: {error}") from None
        return cls(network, preprocessing, text_format)

    @property
    def classes_(self) -> np.ndarray:
        """The class labels (classification)."""
        return self.network.classes_

    def transform(self, frame) -> np.ndarray:
        """``frame``'s rows encoded as the network's input (the target column, if present, is
        ignored); :attr:`report` says what was filled or unseen. A UserWarning says what was read
        otherwise than written, as ``backprop predict`` notes it: categories unseen in training,
        text in a numeric column read as missing."""
        return self._encoded(frame)

    def _encoded(self, frame) -> np.ndarray:
        X, _, self.report = self.preprocessing.transform(table_of(frame, self.text_format), with_target=False,
                                                         dtype=self.network.dtype)
        self._say_surprises(stacklevel=4)       # (stack: that, this, the public method, its caller)
        return X

    def _say_surprises(self, stacklevel: int) -> None:
        surprises = self.report.surprises()
        if surprises:
            warnings.warn(f"TableModel: {'; '.join(surprises)}", UserWarning, stacklevel=stacklevel)

    def predict(self, frame) -> np.ndarray:
        """Labels (classification) or values in the target's own units, one per row of ``frame``
        (warning as :meth:`transform` does)."""
        predicted = self.network.predict(self._encoded(frame))
        if self.network.task_.is_classifier:
            return predicted
        return self.preprocessing.unscale_target(predicted.astype(np.float64))

    def predict_proba(self, frame) -> np.ndarray:
        """Class probabilities, a column per class of :attr:`classes_` (warning as :meth:`transform`
        does)."""
        return self.network.predict_proba(self._encoded(frame))

    def feature_importance(self, frame, method: str = "permutation", n_repeats: int = 5, random_state=None,
                           max_rows: int | None = None):
        """Importance of each column of ``frame`` (a text column's indicators together) to the
        model's predictions, as ``backprop explain`` reports it; permutation needs the target
        column in ``frame``. Returns a :class:`~backpropagation.explain.importance.FeatureImportance`
        (warning as :meth:`transform` does)."""
        result = self.importance_of_table(table_of(frame, self.text_format), method, n_repeats, random_state,
                                          max_rows)
        self._say_surprises(stacklevel=3)
        return result

    def importance_of_table(self, table: Table, method: str, n_repeats: int, random_state, max_rows=None,
                            scoring=None):
        """:meth:`feature_importance` of a table the readers read (on a random ``max_rows`` of its
        rows when it has more, drawn with ``random_state``), scored by ``scoring`` (see
        :func:`~backpropagation.explain.importance.scorer_of`)."""
        from ..explain.importance import METHODS, raw_column_groups

        if method not in METHODS:
            raise ValueError(f"method: expected one of {', '.join(map(repr, METHODS))}, got {method!r}")
        pre, network, permutation = self.preprocessing, self.network, method == "permutation"
        if permutation and pre.target not in table.columns:
            raise ValueError(f"{table.source}: permutation importance needs the target column {pre.target!r} "
                             "(the metric's drop is measured on it); without it use the gradient method "
                             "(--method gradient)")
        X, y, self.report = pre.transform(table, with_target=permutation, dtype=network.dtype)
        rows = np.arange(len(X))
        if max_rows is not None and len(X) > max_rows:     # (every repeat of every column predicts every row)
            rows = np.sort(np.random.default_rng(random_state).choice(len(X), max_rows, replace=False))
        groups = raw_column_groups(pre.columns)
        if not permutation:
            result = network.feature_importance(X[rows], method="gradient", groups=groups)
            scale = pre.unscale_target(1.0) - pre.unscale_target(0.0)   # regression: the target's units
            result.importances_mean, result.importances_std = result.importances_mean * scale, \
                result.importances_std * scale
            return result
        if network.task_.is_classifier:
            unseen = ~np.isin(y, network.classes_)
            if unseen.any():
                raise ValueError(f"{table.source}: target {pre.target!r} holds {y[unseen][0]!r}, a class the "
                                 f"model never saw (it knows {network.classes_.tolist()})")
        return network.feature_importance(X[rows], pre.scale_target(y[rows]), "permutation", n_repeats,
                                          random_state, scoring=scoring, groups=groups)


def arrow_of_frame(frame):
    """A pandas or polars DataFrame, or a pyarrow Table, as a pyarrow Table. A pandas column that
    mixes numbers and text (an ``object`` column pyarrow cannot type) becomes text, as a file's
    cells are: the reader then decides, as for a file (text in a numeric column is missing)."""
    pa, _ = pyarrow()
    if isinstance(frame, pa.Table):
        return frame
    if hasattr(frame, "to_arrow"):                                 # polars
        return frame.to_arrow()
    if hasattr(frame, "columns") and hasattr(frame, "dtypes"):     # pandas
        frame = frame.rename(columns=str)                          # (column names as text, as a header's)
        try:
            return pa.Table.from_pandas(frame, preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            return pa.table({name: _arrow_column(pa, frame[name]) for name in frame.columns})
    raise TypeError(f"expected a pandas or polars DataFrame or a pyarrow Table, got {type(frame).__name__}")


def _arrow_column(pa, column):
    """One pandas column as pyarrow reads it, or, if its cells mix types, as their text (gaps null)."""
    try:
        return pa.Array.from_pandas(column)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        missing = column.isna().to_numpy()
        return pa.array([None if gap else str(cell) for cell, gap in zip(column.tolist(), missing)], pa.string())


def read_as_text(arrow, text=(), numeric=()) -> list[str]:
    """The columns of a pyarrow Table to read as categories (``--text``): those of ``text``, and every
    column categorical by type (dictionary-encoded: a pandas ``category``, a polars ``Categorical``)
    not in ``numeric``, even where every category is a number: the frame's own dtype says what it is."""
    pa, _ = pyarrow()
    typed = [name for name, kind in zip(arrow.column_names, arrow.schema.types) if pa.types.is_dictionary(kind)]
    return [*text, *(name for name in typed if name not in text and name not in numeric)]


def table_of(frame, text_format: TextFormat = PLAIN, source: str = "DataFrame") -> Table:
    """A pandas or polars DataFrame, or a pyarrow Table, as the readers' :class:`Table`
    (columns decoded as ``backprop`` decodes a file's; a frame's column names may be numbers)."""
    return Table.from_arrow(arrow_of_frame(frame), source, 0, text_format)
