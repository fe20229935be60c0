"""Class labels as a model file can store them: one plain dtype (bool, integers, floats, text,
bytes), refused at ``fit`` with the first bad row named rather than when a saved model loads."""

from __future__ import annotations

import numpy as np


#: dtype kinds a model file can store labels of: bool, integers, floats, text, bytes.
STORABLE_KINDS = "biufUS"


def storable_labels(y: np.ndarray, name: str = "y") -> np.ndarray:
    """Return the 1-D labels ``y`` as an array of a plain dtype (``STORABLE_KINDS``).

    Object arrays (from pandas ``object``, ``category`` or ``string`` columns) become text,
    integers, floats or booleans when all their labels are of that kind; numbers mixed with text,
    missing labels (None, NaN, ``pd.NA``) and labels of other types are refused here, at ``fit``,
    rather than when a saved model is loaded.

    Raises
    ------
    ValueError
        For missing labels or integers beyond 64 bits.
    TypeError
        For mixed or unsupported label types (the message names the first offending row).
    """
    kind = y.dtype.kind
    if kind in "OT":  # objects, or NumPy's variable-width StringDType
        y = _labels_from_objects(y, name)
    elif kind not in STORABLE_KINDS:
        raise TypeError(f"{name}: labels of dtype {y.dtype} cannot be stored in a model file; "
                        "convert them to text (y.astype(str)) or integers first")
    if y.dtype.kind == "f" and not np.isfinite(y).all():
        row = int(np.flatnonzero(~np.isfinite(y))[0])
        what = "NaN labels (missing values)" if np.isnan(y[row]) else "infinite labels"
        raise ValueError(f"{name}: contains {what}, first at row {row}; drop those rows first")
    return y


def _label_family(value) -> str:
    """'missing', 'bool', 'int', 'float', 'text', 'bytes' or the type's name."""
    if value is None or type(value).__name__ in ("NAType", "NaTType") or \
            (isinstance(value, (float, np.floating)) and value != value):
        return "missing"
    for family, types in (("bool", (bool, np.bool_)), ("int", (int, np.integer)),
                          ("float", (float, np.floating)), ("text", (str,)), ("bytes", (bytes,))):
        if isinstance(value, types):
            return family
    return type(value).__name__


def _labels_from_objects(y: np.ndarray, name: str) -> np.ndarray:
    """An object array of labels as a plain array, or a refusal naming the first bad row."""
    families = [_label_family(value) for value in y.tolist()]
    if not families:
        return np.array([], dtype=np.float64)
    found = dict.fromkeys(families)
    if "missing" in found:
        row = families.index("missing")
        raise ValueError(f"{name}: contains missing labels ({y[row]!r} at row {row}); "
                         "drop those rows first")
    numeric = {"int", "float"}
    if len(found) == 1 or set(found) <= numeric:
        family = "float" if len(found) > 1 else next(iter(found))
        if family == "int":
            for dtype in (np.int64, np.uint64):
                try:
                    return np.array(y.tolist(), dtype=dtype)
                except OverflowError:
                    pass
            raise ValueError(f"{name}: integer labels beyond 64 bits cannot be stored; "
                             "convert them to text (y.astype(str))")
        dtype = {"bool": bool, "float": np.float64, "text": str, "bytes": bytes}.get(family)
        if dtype is not None:
            return np.array(y.tolist(), dtype=dtype)
        raise TypeError(f"{name}: labels of type {family} cannot be stored in a model file; "
                        "use text, integers, floats or booleans")
    first, other = list(found)[:2]
    row = families.index(other)
    raise TypeError(f"{name}: labels must all be of one type, found {first} and {other} "
                    f"(row {row} holds {y[row]!r}); convert them, e.g. y.astype(str)")
