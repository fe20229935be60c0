"""Input validation at the public edge, and the train/validation split.

Every check raises ``ValueError`` or ``TypeError`` whose message starts with the argument's name
and says what was expected and what was given, so that the training loop can trust its inputs.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterator

import numpy as np


def check_int(name: str, value, minimum: int = 1, *, allow_none: bool = False) -> int | None:
    """Return ``value`` as int if it is an integer >= ``minimum`` (or None when allowed)."""
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def check_float(name: str, value, minimum: float = 0.0, *, strict: bool = False) -> float:
    """Return ``value`` as float if it is a finite real > (strict) or >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    value = float(value)
    bad = not np.isfinite(value) or (value <= minimum if strict else value < minimum)
    if bad:
        relation = ">" if strict else ">="
        raise ValueError(f"{name}: expected a finite number {relation} {minimum}, got {value!r}")
    return value


def check_range(name: str, value, low: float, high: float = math.inf, *, low_open=False, high_open=True) -> float:
    """``value`` as a float if it is a finite number in ``[low, high)`` (each bound open or closed
    as asked); ValueError naming ``name`` and the interval otherwise (hyper-parameters)."""
    ok = isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)
    ok = ok and math.isfinite(value)
    ok = ok and (value > low if low_open else value >= low)
    ok = ok and (value < high if high_open else value <= high)
    if not ok:
        lo = "(" if low_open else "["
        hi = ")" if high_open else "]"
        raise ValueError(f"{name}: expected a number in {lo}{low}, {high}{hi}, got {value!r}")
    return float(value)


def show(value) -> str:
    """``repr`` of a value as the user wrote it (``2``, not ``np.int64(2)``)."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _first_bad_cell(array: np.ndarray) -> str:
    """Describe the first element of an object/text array that is not a number."""
    for index, value in np.ndenumerate(array):
        try:
            float(value)
        except (TypeError, ValueError):
            where = f"row {index[0]}" + (f", column {index[1]}" if len(index) > 1 else "")
            return f"{show(value)} at {where}"
    return "a value that is not a number"


def as_array(data, name: str) -> np.ndarray:
    """``np.asarray`` with readable errors for None, scalars, sparse matrices, iterators and ragged input."""
    if data is None:
        raise TypeError(f"{name}: expected an array-like, got None")
    kind = type(data).__name__
    if hasattr(data, "toarray") and hasattr(data, "nnz"):
        raise TypeError(f"{name}: got a sparse matrix ({kind}); this library trains on dense arrays: "
                        f"pass {name}.toarray()")
    if isinstance(data, (dict, set, frozenset, str, bytes)) or \
            (isinstance(data, Iterator) and not hasattr(data, "__len__")):
        hint = f"; materialise it first, e.g. np.array(list({name}))" if isinstance(data, Iterator) else ""
        raise TypeError(f"{name}: expected an array-like (list, NumPy array, pandas object), got "
                        f"a {kind}{hint}")
    try:
        array = np.asarray(data)
        if isinstance(data, (list, tuple)) and array.dtype.kind in "US":
            # NumPy turns [1, "a"] into ['1', 'a']: keep the values as given, so that a mix of
            # numbers and text can be refused (and text alone becomes text again later).
            array = np.array(data, dtype=object)
    except ValueError as error:
        raise ValueError(f"{name}: rows have different lengths (ragged input): {error}") from None
    if array.ndim == 0:
        raise TypeError(f"{name}: expected an array-like with one entry per sample, got a single "
                        f"{kind} ({data!r})")
    return array


def first_overflowing_cell(array: np.ndarray) -> str:
    """Name the first cell of a 2-D object array whose number does not fit in a float."""
    for (row, column), value in np.ndenumerate(array):
        try:
            float(value)
        except OverflowError:
            return f"the value at row {row}, column {column} ({len(str(value))} digits)"
    return "a value"


def column_names(X) -> list[str] | None:
    """The column names of a pandas or polars DataFrame or an Arrow table; None for arrays."""
    if hasattr(X, "column_names") and hasattr(X, "num_rows"):       # pyarrow.Table
        return [str(n) for n in X.column_names]
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(X, np.ndarray) or not hasattr(X, "shape"):
        return None
    return [str(c) for c in list(columns)]


def check_columns(X, expected, name: str = "X") -> None:
    """ValueError unless a frame's column names are ``expected`` (the names seen by ``fit``).

    Arrays carry no names and pass; a frame whose columns differ is refused naming the missing,
    the unexpected and the reordered columns, as scikit-learn does.
    """
    names = column_names(X)
    if expected is None or names is None or names == list(expected):
        return
    given, known = set(names), set(expected)
    missing = [c for c in expected if c not in given]
    unexpected = [c for c in names if c not in known]
    detail = "; ".join(part for part in (
        f"missing {', '.join(map(repr, missing))}" if missing else "",
        f"unexpected {', '.join(map(repr, unexpected))}" if unexpected else "",
        "same columns in another order" if not missing and not unexpected else "") if part)
    raise ValueError(f"{name}: the columns differ from those seen in fit ({detail}); "
                     f"expected {', '.join(map(repr, expected))}")


def _as_matrix(X):
    """An Arrow table as a 2-D array (column by column); anything else unchanged."""
    if hasattr(X, "column_names") and hasattr(X, "num_rows") and hasattr(X, "columns"):
        return np.column_stack([column.to_numpy(zero_copy_only=False) for column in X.columns]) \
            if X.num_columns else np.empty((X.num_rows, 0))
    return X


def check_features(X, dtype, name: str = "X", n_features: int | None = None,
                   min_samples: int = 1, feature_names=None) -> np.ndarray:
    """Validate a feature matrix and return it as a C-contiguous array of ``dtype``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numbers only (bools count as 0/1); a list, NumPy array, pandas or polars DataFrame,
        Arrow table, or SciPy sparse matrix (made dense: the network's products are dense).
    dtype : numpy dtype
        The network's float dtype.
    name : str
        The argument's name in error messages.
    n_features : int, optional
        The number of columns required (the network's input size).
    feature_names : list of str, optional
        The column names ``fit`` saw: a frame with other columns is refused (see
        :func:`check_columns`).
    min_samples : int, default 1
        Fewest rows accepted (0 for an MPI rank whose slice holds no validation rows).
    """
    check_columns(X, feature_names, name)
    if hasattr(X, "toarray") and hasattr(X, "nnz"):   # a scipy sparse matrix (one-hot output): dense rows
        X = X.toarray()
    X = _as_matrix(X)
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and hasattr(dtypes, "items"):  # a pandas DataFrame: name the columns
        bad = [str(column) for column, t in dtypes.items() if getattr(t, "kind", "O") not in "biuf"]
        if bad:
            raise TypeError(f"{name}: columns must be numeric; non-numeric columns: {', '.join(bad)}")
    array = as_array(X, name)
    if array.ndim != 2:
        hint = ""
        if array.ndim == 1:
            hint = ("; for one feature use X.reshape(-1, 1), for one sample X.reshape(1, -1)")
        raise ValueError(f"{name}: expected a 2-D array of shape (n_samples, n_features), "
                         f"got {array.ndim}-D with shape {array.shape}{hint}")
    if array.shape[0] < min_samples:
        raise ValueError(f"{name}: expected at least one sample (row), got shape {array.shape}")
    if array.shape[1] == 0:
        raise ValueError(f"{name}: expected at least one feature (column), got shape {array.shape}")
    if n_features is not None and array.shape[1] != n_features:
        raise ValueError(f"{name}: expected {n_features} features (the network's input size), "
                         f"got {array.shape[1]}")
    array = _real_numbers(array, name)
    with np.errstate(over="ignore"):
        converted = np.ascontiguousarray(array, dtype=dtype)
    if not all_finite(converted):
        rows, cols = np.nonzero(~np.isfinite(converted))
        original = array[rows[0], cols[0]]
        problem = "NaN" if np.isnan(converted[rows[0], cols[0]]) else \
            f"{show(original)} (not finite in {np.dtype(dtype).name})"
        raise ValueError(f"{name}: contains {len(rows)} non-finite value(s); first: {problem} "
                         f"at row {rows[0]}, column {cols[0]}; impute or drop them first")
    return converted


def all_finite(array: np.ndarray, rows: int = 1 << 14) -> bool:
    """Whether every value of a 2-D float array is finite, a block of rows at a time (no full-size
    boolean copy of a large table)."""
    return all(np.isfinite(array[start:start + rows]).all() for start in range(0, len(array), rows))


def _real_numbers(array: np.ndarray, name: str) -> np.ndarray:
    """``array`` if it holds real numbers (or text that reads as numbers, as float64); TypeError
    or ValueError naming what it holds otherwise."""
    kind = array.dtype.kind
    if kind == "c":
        raise TypeError(f"{name}: expected real numbers, got complex dtype {array.dtype}")
    if kind in "mM":  # raw counts depend on the unit ([D] vs [ns]): refused as DataFrame dates are
        raise TypeError(f"{name}: expected numbers, got {array.dtype} values; a date or duration "
                        f"has no scale a network can learn from as it is: convert it to numbers "
                        f"you choose, e.g. days since the first: (d - d.min()) / np.timedelta64(1, 'D')")
    if kind in "biuf":
        return array
    try:  # numbers, or text that reads as numbers (a list mixing 1 and "2.5")
        return array.astype(np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name}: expected numbers, found {_first_bad_cell(array)}") from None
    except OverflowError:
        raise ValueError(f"{name}: {first_overflowing_cell(array)} is too large for a "
                         "floating-point number (at most about 1.8e308)") from None


def check_same_length(X: np.ndarray, y: np.ndarray, x_name: str = "X", y_name: str = "y") -> None:
    """Raise ValueError unless X and y have the same number of samples."""
    if len(X) != len(y):
        raise ValueError(f"{x_name} and {y_name}: expected the same number of samples, "
                         f"got {len(X)} and {len(y)}")


def validation_split(n_samples: int, fraction: float, rng: np.random.Generator,
                     labels: np.ndarray | None = None, name: str = "validation_split") -> tuple[np.ndarray, np.ndarray]:
    """Split ``range(n_samples)`` into (train, validation) index arrays.

    With ``labels`` the split is stratified: each class contributes ``fraction`` of its samples
    (at least one, if it has two or more) to the validation set. ``name`` is the option named in
    errors (``--validation-split`` for the command line).

    Raises
    ------
    ValueError
        If ``fraction`` is not in (0, 1) or leaves either set empty.
    """
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"{name}: expected a fraction in (0, 1), got {fraction!r}")
    groups = [np.arange(n_samples)] if labels is None else \
        [np.flatnonzero(labels == c) for c in np.unique(labels)]
    validation = []
    for group in groups:
        take = int(round(fraction * len(group)))
        if labels is not None and len(group) >= 2:
            take = min(max(take, 1), len(group) - 1)
        validation.append(rng.permutation(group)[:take])
    validation = np.sort(np.concatenate(validation))
    kept = np.ones(n_samples, dtype=bool)
    kept[validation] = False
    train = np.flatnonzero(kept)
    if len(validation) == 0 or len(train) == 0:
        why = (f"the split is stratified by class and each of the {len(groups)} classes has a single row, "
               "so none can be held out" if labels is not None and len(validation) == 0 and
               all(len(group) < 2 for group in groups) else
               f"{fraction} of {n_samples} rows rounds to {len(validation)} held out")
        raise ValueError(f"{name}: {why}, leaving {len(train)} row(s) for training and {len(validation)} "
                         f"for validation; both need at least one (give more rows, or {name} 0 to train "
                         "on every row)")
    return train, validation


class MiniBatches:
    """Mini-batches of a data set in a given order, without copying the data set.

    Calling the object with an order (a permutation of the rows, or None for the stored order)
    yields ``(rows, X_batch, Y_batch, weights_batch)`` per batch, where ``rows`` indexes the
    batch's samples. One path for every batch size and order: the batch's rows are gathered by
    index into buffers allocated once, so training allocates nothing per batch and never holds
    a second copy of the data.
    """

    def __init__(self, X: np.ndarray, Y: np.ndarray, weights: np.ndarray | None, batch_size: int) -> None:
        self.X, self.Y, self.weights, self.batch_size = X, Y, weights, batch_size
        self.n_rows = len(X)
        self._X = np.empty((batch_size, X.shape[1]), dtype=X.dtype)
        self._Y = np.empty((batch_size, Y.shape[1]), dtype=Y.dtype)

    def __call__(self, order: np.ndarray | None):
        order = np.arange(self.n_rows) if order is None else order
        for start in range(0, self.n_rows, self.batch_size):
            rows = order[start:start + self.batch_size]
            yield self.gather(rows)

    def gather(self, rows: np.ndarray):
        """``(rows, X_batch, Y_batch, weights_batch)`` for the given row indices."""
        n = len(rows)
        # mode="clip" lets take write straight into `out` (the indices are valid anyway)
        return (rows, np.take(self.X, rows, axis=0, out=self._X[:n], mode="clip"),
                np.take(self.Y, rows, axis=0, out=self._Y[:n], mode="clip"),
                None if self.weights is None else self.weights[rows])


def check_layer_sizes(layer_sizes) -> tuple[int, ...]:
    """Widths from input to output as a tuple of positive ints (at least two)."""
    if isinstance(layer_sizes, (str, bytes)) or not hasattr(layer_sizes, "__iter__"):
        raise TypeError(f"layer_sizes: expected a list of layer widths such as [4, 16, 1], "
                        f"got {layer_sizes!r}")
    sizes = list(layer_sizes)
    if len(sizes) < 2:
        raise ValueError(f"layer_sizes: expected at least an input and an output size, got {sizes!r}")
    for i, size in enumerate(sizes):
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
            raise ValueError(f"layer_sizes[{i}]: expected a positive integer, got {size!r}")
    return tuple(int(s) for s in sizes)


def check_dtype(dtype) -> np.dtype:
    """float64 or float32 as a NumPy dtype."""
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype: expected 'float64' or 'float32', got {dtype!r}")
    return resolved


def check_random_state(random_state) -> np.random.Generator:
    """A Generator from None, a seed, a Generator or a RandomState (a seed is drawn from it)."""
    if random_state is None or isinstance(random_state, np.random.Generator):
        return np.random.default_rng(random_state)
    if isinstance(random_state, np.random.RandomState):  # scikit-learn's convention: draw a seed from it
        return np.random.default_rng(random_state.randint(0, 2**63 - 1, dtype=np.int64))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool) and random_state >= 0:
        return np.random.default_rng(int(random_state))
    raise ValueError(f"random_state: expected None, a non-negative integer, a numpy Generator or "
                     f"RandomState, got {random_state!r}")


def check_array(value, shape: tuple, name: str) -> np.ndarray:
    """``value`` as a finite numeric array of exactly ``shape``."""
    array = as_array(value, name)
    if array.shape != shape:
        raise ValueError(f"{name}: expected shape {shape}, got {array.shape}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name}: expected numbers, got dtype {array.dtype}")
    if not np.isfinite(array).all():
        raise ValueError(f"{name}: contains non-finite values")
    return array


def check_sample_weight(sample_weight, n_samples: int, dtype) -> np.ndarray | None:
    """None, or the weights as a 1-D array of ``dtype`` (finite, >= 0, not all zero)."""
    if sample_weight is None:
        return None
    weights = as_array(sample_weight, "sample_weight")
    if weights.ndim != 1 or len(weights) != n_samples:
        raise ValueError(f"sample_weight: expected shape ({n_samples},), got {weights.shape}")
    if weights.dtype.kind not in "biuf":
        raise TypeError(f"sample_weight: expected numbers, got dtype {weights.dtype}")
    weights = weights.astype(dtype)
    if not np.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("sample_weight: expected finite values >= 0")
    if not weights.any():
        raise ValueError("sample_weight: all weights are zero; nothing to learn from")
    return weights


def largest_trainable(dtype) -> float:
    """Largest magnitude that training and standardising can square and sum over many rows
    without overflowing ``dtype`` (the square root of its largest value, room for 10^12 rows)."""
    dtype = np.dtype(dtype) if np.dtype(dtype).kind == "f" else np.dtype(np.float64)
    return float(np.sqrt(np.finfo(dtype).max)) / 1e6


def check_magnitude(values: np.ndarray, name: str, columns=None) -> None:
    """Refuse values whose squares overflow (gradients, Adam's second moment and standard
    deviations are sums of squares): ValueError naming the first such column and its size.

    ``values`` is 1-D (one column) or 2-D (rows by columns); ``columns`` names the columns.
    """
    if not values.size:
        return
    # (the largest and smallest of each column: no copy of every value's absolute value)
    largest = np.maximum(values.max(axis=0), -values.min(axis=0)) if values.ndim == 2 else \
        np.array([max(values.max(), -values.min())])
    kind = values.dtype if values.dtype.kind == "f" else np.dtype(np.float64)
    too_large = np.flatnonzero(largest.astype(np.float64) > largest_trainable(kind))
    if too_large.size:
        j = int(too_large[0])
        column = None if values.ndim == 1 else repr(columns[j]) if columns is not None else str(j)
        subject = name if column is None else f"{name + ', ' if name else ''}column {column}"
        raise ValueError(f"{subject}: values as large as {largest[j]:.3g} are too large to train on or "
                         f"standardise (their squares overflow {kind.name}); rescale them (divide by a power "
                         "of ten) or drop the column")


def check_bool(name: str, value) -> bool:
    """``value`` as a bool; TypeError naming ``name`` unless it is True or False."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)

