"""The saved form of a fitted :class:`~backpropagation.tables.preprocessing.TabularPreprocessor`, checked field
by field: a model file's metadata comes from anywhere, so every type is checked when it is read,
not when it is used; and how it reads to a user (:func:`describe`, :func:`in_python_words`)."""

from __future__ import annotations

import re

import numpy as np

from . import scaling
from .dates import cycles, phase_width
from .group_codes import HIGHEST_CODE, is_code

#: The level that stands for a text column's rare categories under ``max_categories``.
OTHER = "(other)"
#: The indicator of a text column's missing cells, and the suffix of a numeric column's gap indicator.
MISSING_LEVEL = "(missing)"


def encoded_width(spec: dict) -> int:
    """How many matrix columns a column's description encodes to: a number (and its gap
    indicator where training saw gaps, and a date's phases), an embedding's code, or one indicator
    per category (and one for missing cells where training saw them)."""
    if spec["kind"] == "numeric":
        return 1 + bool(spec.get("indicator")) + phase_width(spec)
    if "embed" in spec:
        return 1
    return len(spec["categories"]) + bool(spec.get("missing_level"))


def empty_matrix(columns: list, n_rows: int, width: int, dtype) -> np.ndarray:
    """The empty encoded matrix of ``n_rows`` rows of ``columns``; MemoryError naming the widest
    text columns if it does not fit."""
    try:
        return np.empty((n_rows, width), dtype=dtype)
    except MemoryError:
        size = n_rows * width * np.dtype(dtype).itemsize / 2**30
        texts = sorted((c for c in columns if c["kind"] == "text"), key=lambda c: -len(c["categories"]))
        widest = ", ".join(f"{c['name']!r} ({len(c['categories'])} categories)" for c in texts[:3])
        advice = (f"; each category of a text column is one feature, the most from {widest}: leave "
                  f"identifier-like columns out with --drop") if texts else ""
        raise MemoryError(f"the encoded table needs {n_rows} x {width} values ({size:.1f} GiB), more "
                          f"memory than this machine can give{advice}") from None


def require(state: dict, key: str, kind: type):
    """``state[key]``, which must be a ``kind``; TypeError naming the key otherwise."""
    value = state[key]
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise TypeError(f"{key}: expected {kind.__name__}, got {value!r}"[:200])
    return value


def number(state: dict, key: str) -> float:
    value = state[key]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{key}: expected a number, got {value!r}"[:200])
    return float(value)


def checked_column(column) -> dict:
    """One column's saved description, with every field's type checked."""
    if not isinstance(column, dict):
        raise TypeError(f"columns: expected objects, got {column!r}"[:200])
    require(column, "name", str)
    for flag in ("indicator", "missing_level", "date", "times"):
        if not isinstance(column.get(flag, False), bool):
            raise TypeError(f"column {column['name']!r}: {flag!r} must be true or false")
    if column.get("kind") == "numeric":
        for key in ("mean", "std", "median"):
            number(column, key)
        scaling.check_spec(column, number)
    elif column.get("kind") == "text":
        categories = require(column, "categories", list)
        if not all(isinstance(c, str) for c in categories) or not isinstance(column.get("mode"), str):
            raise TypeError(f"column {column['name']!r}: categories and mode must be text")
        if not isinstance(column.get("other", False), bool) or column.get("other") and categories[-1:] != [OTHER]:
            raise ValueError(f"column {column['name']!r}: 'other' must be true or false, its level last")
        codes = column.get("codes", False)
        if not isinstance(codes, bool) or codes and not all(is_code(c) for c in categories if c != OTHER):
            raise ValueError(f"column {column['name']!r}: 'codes' must be true or false, its categories whole "
                             f"numbers from 1 to {HIGHEST_CODE}")
        embed = column.get("embed", 1)
        if isinstance(embed, bool) or not isinstance(embed, int) or embed < 1:
            raise ValueError(f"column {column['name']!r}: 'embed' must be a whole number >= 1, got {embed!r}")
    else:
        raise ValueError(f"column {column['name']!r}: unknown kind {column.get('kind')!r}")
    return dict(column)


def describe(pre) -> str:
    """One line per input column of a fitted preprocessing: how it is encoded."""
    detail = {"labels": ", text labels", "integer-labels": ", integer labels",
              "numeric": f", standardised: mean {pre.target_mean:.4g}, std {pre.target_std:.4g}"}
    lines = [f"target: {pre.target} ({pre.resolved_task}{detail.get(pre.target_kind, '')})"]
    for column in pre.columns:
        if column["kind"] == "numeric":
            flag = f", and an indicator column {column['name']} {MISSING_LEVEL}" if column.get("indicator") else ""
            dates = f" (dates: days since 1970-01-01, and their phases: {', '.join(c for c, _ in cycles(column))})" \
                if column.get("date") else ""
            lines.append(f"  {column['name']}: numeric{dates}, {scaling.describe(column)}, "
                         f"missing -> median {column['median']:.4g}{flag}")
        else:
            cats = column["categories"]
            shown = ", ".join(cats[:8]) + (", ..." if len(cats) > 8 else "")
            how = f"embedded in {column['embed']} numbers" if "embed" in column else "one-hot"
            how = f"group codes read as categories, {how}" if column.get("codes") else f"text, {how}"
            unseen = "its own row" if "embed" in column else "all zeros"
            missing = f"its own level {MISSING_LEVEL}" if column.get("missing_level") else repr(column["mode"])
            lines.append(f"  {column['name']}: {how} over {len(cats)} categories ({shown}), "
                         f"missing -> {missing}, unseen -> {unseen}")
    if pre.drop:
        lines.append(f"  ignored: {', '.join(pre.drop)}")
    return "\n".join(lines)


def in_python_words(advice: str) -> str:
    """A report warning with the command's options spelled as the Python API's arguments
    (``--text 'tree'`` becomes ``text=['tree']``)."""
    return re.sub(r"--(drop|text|numeric|embed) '([^']*)'", r"\1=['\2']", advice).replace("--max-categories",
                                                                                          "max_categories")
