"""A model written by ``backprop train`` and its preprocessing as one ONNX graph that takes raw cells.

One input per column, named as the column: numbers as floats (the model's dtype; NaN for a gap),
text as strings. The graph reads a cell as the command's reader does (:mod:`..tables.readers`):

- a text cell is trimmed of :data:`~..tables.csv_source.WHITESPACE` at both ends and compared,
  case and all, with the learned categories; a missing token (``NA``, ``null``, ``--na-values``,
  ...) in any letter case is missing, and so are ``none``, ``?`` and ``-`` unless they are learned
  categories; missing cells take the most frequent category, unseen ones all zeros (one-hot), the
  ``(other)`` level or the embedding's own row. The trimming and comparing are regular
  expressions (``RegexFullMatch``): whether a cell is one of the categories, and the bits of its
  position, each one pattern over the categories (cut into patterns of at most
  :data:`PATTERN_CHARACTERS`), so a column of thousands of categories takes a few dozen patterns;
- a number that is NaN or infinite takes the training median (the reader reads ``inf`` as text,
  read as missing), then is standardised;
- a column of group codes (:mod:`..tables.group_codes`) is numbers too, each looked up among the
  learned codes.

:func:`export_table_model` checks the graph against ``predict`` before anything is written: on
rows made from the model's metadata, on hostile spellings of them (spaces, case, tokens, gaps,
infinities) and on rows read raw from a table (the training file, when it is still where it was).
"""

from __future__ import annotations

import json
import math
import os
import warnings

import numpy as np

from ..tables.csv_source import AMBIGUOUS_MISSING, MISSING, WHITESPACE
from ..tables.dates import cycles, date_cells, date_texts, days_of_dates
from ..tables.group_codes import code_lookup, is_code
from ..tables.kinds import spelled_as_booleans
from .onnx import Graph, compare, network_outputs, run_graph, write

#: Longest regular expression the graph holds (RE2 compiles longer ones slowly, or not at all).
PATTERN_CHARACTERS = 8000
_SPECIAL = set("\\.^$|?*+()[]{}")


def export_table_model(table_model, path=None, data=None):
    """The graph of a model written by ``backprop train`` (a
    :class:`~backpropagation.tables.table_model.TableModel`), checked against ``predict`` (see the
    module docstring; ``data``: a table to check on besides the training file), written to ``path``
    when given. A mismatch raises ValueError and writes nothing."""
    proto = table_graph(table_model)
    rows = [("rows made from the model's metadata", probe_rows(table_model)),
            ("hostile spellings of them", hostile_rows(table_model))]
    for source in dict.fromkeys(p for p in (data, table_model.network.metadata.get("training_data")) if p):
        if data is not None or os.path.isfile(source):
            rows.append((f"rows of {source}", rows_of_file(table_model, source)))
    for what, feeds in rows:
        check_against_predict(proto, table_model, feeds, what)
    if path is not None:
        write(proto, path)
    return proto


def input_kind(spec: dict) -> str:
    """What the graph's input for a column of the command's preprocessing takes: its cells as
    written (text), numbers, or a date column's days since 1970-01-01 (a number)."""
    if spec["kind"] == "text" and not spec.get("codes"):
        return "text"
    return "number: days since 1970-01-01" if spec.get("date") else "number"


def table_graph(table_model):
    """The graph of :func:`export_table_model`, checked by ``onnx.checker``, not yet compared."""
    pre, network = table_model.preprocessing, table_model.network
    graph = Graph(network.dtype, [spec["name"] for spec in pre.columns])
    helper, features, inputs = graph.onnx.helper, [], []
    for spec in pre.columns:
        name = spec["name"]
        if spec["kind"] == "numeric":
            inputs.append(helper.make_tensor_value_info(name, graph.elem, [None, 1], doc_string=input_kind(spec)))
            features.extend(_numeric(graph, name, spec))
            continue
        if spec.get("codes"):
            inputs.append(helper.make_tensor_value_info(name, graph.elem, [None, 1]))
            index = _code_index(graph, name, spec)
        else:
            inputs.append(helper.make_tensor_value_info(name, graph.onnx.TensorProto.STRING, [None, 1]))
            index = _category_index(graph, name, spec, table_model.text_format.na_values)
        if "embed" in spec:              # the code itself: the network's Gather looks it up
            features.append(graph.node("Cast", [index], to=graph.elem))
            continue
        depth = len(spec["categories"]) + bool(spec.get("missing_level"))
        hot = graph.node("OneHot", [index, graph.constant(np.array(depth, np.int64)),
                                    graph.constant(np.array([0, 1], np.int64))], axis=-1)   # (int64: every runtime)
        squeezed = graph.node("Squeeze", [hot, graph.constant(np.array([1], np.int64))])
        features.append(graph.node("Cast", [squeezed], to=graph.elem))
    x = graph.node("Concat", features, axis=1)
    scale = (pre.target_std, pre.target_mean) if pre.target_kind == "numeric" and pre.scales_target else None
    model = graph.model(inputs, network_outputs(graph, network, x, scale))
    # (what a server reads from onnxruntime's get_modelmeta().custom_metadata_map: docs/onnx.md's recipe)
    form = table_model.text_format
    graph.onnx.helper.set_model_props(model, {
        "date_columns": json.dumps([spec["name"] for spec in pre.columns if spec.get("date")]),
        "text_format": json.dumps({"delimiter": form.delimiter, "decimal": form.decimal,
                                   "thousands": form.thousands, "na_values": list(form.na_values)})})
    return model


def _numeric(graph: Graph, name: str, spec: dict) -> list:
    """A numeric column standardised, NaN and infinities as the training median; its gap
    indicator (1 where the cell was NaN or infinite) where the model has one; a date column's
    phases in each of its cycles (:func:`~backpropagation.tables.dates.cycles`), of the filled days."""
    gap = graph.node("Or", [graph.node("IsNaN", [name]), graph.node("IsInf", [name])])
    filled = graph.node("Where", [gap, graph.constant([[spec["median"]]]), name])
    features = [_scaled(graph, filled, spec)] + ([graph.node("Cast", [gap], to=graph.elem)]
                                                 if spec.get("indicator") else [])
    for _, period in cycles(spec):
        angle = graph.node("Mul", [filled, graph.constant([[2 * math.pi / period]])])
        features += [graph.node("Sin", [angle]), graph.node("Cos", [angle])]
    return features


def _scaled(graph: Graph, filled: str, spec: dict) -> str:
    """The column's scaling (:mod:`backpropagation.tables.scaling`): ``(x - mean) / std``, or
    ``z = (x - median) / spread`` (through ``asinh`` on a long tail) smoothly clipped,
    ``z / sqrt(1 + (z / clip)²)``."""
    if spec.get("scaling", "standard") == "standard":
        return graph.node("Div", [graph.node("Sub", [filled, graph.constant([[spec["mean"]]])]),
                                  graph.constant([[spec["std"]]])])
    z = graph.node("Div", [graph.node("Sub", [filled, graph.constant([[spec["center"]]])]),
                           graph.constant([[spec["spread"]]])])
    if spec.get("tail") == "asinh":
        z = _asinh(graph, z)
    bend = graph.node("Div", [z, graph.constant([[spec["clip"]]])])
    m, root = _scaled_hypot(graph, bend)
    return graph.node("Div", [z, graph.node("Mul", [m, root])])


def _scaled_hypot(graph: Graph, t: str) -> tuple[str, str]:
    """``(m, r)`` with ``m = max(1, |t|)`` and ``r = sqrt((1/m)² + (t/m)²)``, so that ``m r =
    sqrt(1 + t²)`` without overflow in float32."""
    m = graph.node("Max", [graph.node("Abs", [t]), graph.constant([[1.0]])])
    inverse, ratio = graph.node("Reciprocal", [m]), graph.node("Div", [t, m])
    return m, graph.node("Sqrt", [graph.node("Add", [graph.node("Mul", [inverse, inverse]),
                                                     graph.node("Mul", [ratio, ratio])])])


def _asinh(graph: Graph, z: str) -> str:
    """``asinh z = sign(z) log(|z| + sqrt(1 + z²))``, as ``sign(z) (log m + log(|z|/m + r))`` with
    :func:`_scaled_hypot`'s ``m`` and ``r`` (no overflow); ONNX's ``Asinh`` has no float64 kernel
    in onnxruntime."""
    m, root = _scaled_hypot(graph, z)
    inside = graph.node("Add", [graph.node("Div", [graph.node("Abs", [z]), m]), root])
    magnitude = graph.node("Add", [graph.node("Log", [m]), graph.node("Log", [inside])])
    return graph.node("Mul", [graph.node("Sign", [z]), magnitude])


def escaped(text: str) -> str:
    """``text`` as a literal in a regular expression (RE2's and Python's syntax alike)."""
    return "".join("\\" + c if c in _SPECIAL else c for c in text)


def patterns(texts: list[str], ignore_case: bool = False) -> list[str]:
    """Regular expressions that together match a cell whose trimmed text is one of ``texts``, each
    at most about :data:`PATTERN_CHARACTERS` long."""
    space, flags = f"[{WHITESPACE}]*", "(?i)" if ignore_case else ""
    found, part, length = [], [], 0
    for text in texts:
        if part and length + len(text) > PATTERN_CHARACTERS:
            found.append(part)
            part, length = [], 0
        part.append(escaped(text))
        length += len(text) + 1
    found.append(part)
    return [f"{flags}{space}(?:{'|'.join(part)}){space}" for part in found if part]


def _matches(graph: Graph, name: str, texts: list[str], ignore_case: bool = False) -> str:
    """Whether each cell's trimmed text is one of ``texts`` (bool, shape (rows, 1))."""
    found = [graph.node("RegexFullMatch", [name], pattern=p) for p in patterns(texts, ignore_case)]
    while len(found) > 1:
        found = [graph.node("Or", found[i:i + 2]) if i + 1 < len(found) else found[i]
                 for i in range(0, len(found), 2)]
    return found[0]


def _category_index(graph: Graph, name: str, spec: dict, na_values) -> str:
    """Each cell's position among the learned categories (int64, shape (rows, 1)): missing cells
    the missing level's (one past the categories) where the model has one, else the mode's;
    unseen ones the ``(other)`` level's or past every column (all zeros)."""
    kept = spec["categories"][:-1] if spec.get("other") else spec["categories"]
    level = bool(spec.get("missing_level"))
    unseen = len(kept) if spec.get("other") else len(spec["categories"]) + level
    mode = len(spec["categories"]) if level else spec["categories"].index(spec["mode"])
    index, any_case = graph.constant(np.zeros((1, 1), np.int64)), spelled_as_booleans(kept)   # (True, TRUE, true)
    for bit in range(max(1, math.ceil(math.log2(len(kept)))) if len(kept) > 1 else 0):
        chosen = [c for i, c in enumerate(kept) if i >> bit & 1]
        hits = graph.node("Cast", [_matches(graph, name, chosen, any_case)], to=graph.onnx.TensorProto.INT64)
        index = graph.node("Add", [index, graph.node("Mul", [hits, graph.constant(np.array([[1 << bit]], np.int64))])])
    known = _matches(graph, name, kept, any_case)
    tokens = sorted(set(MISSING) | set(na_values) | set(AMBIGUOUS_MISSING))
    missing = _matches(graph, name, tokens, ignore_case=True)
    other = graph.node("Where", [missing, graph.constant(np.array([[mode]], np.int64)),
                                 graph.constant(np.array([[unseen]], np.int64))])
    return graph.node("Where", [known, index, other])


def _code_index(graph: Graph, name: str, spec: dict) -> str:
    """A column of group codes (:mod:`..tables.group_codes`): each number's position among the
    learned codes (int64, shape (rows, 1)), looked up in a table indexed by the code; NaN takes
    the missing level's or the mode's position, any other number that is no learned code (a
    fraction, 0, a new code, an infinity) the ``(other)`` level's or past every column."""
    level = bool(spec.get("missing_level"))
    unseen = len(spec["categories"]) - 1 if spec.get("other") else len(spec["categories"]) + level
    mode = len(spec["categories"]) if level else spec["categories"].index(spec["mode"])
    lookup = code_lookup(spec, unseen)
    inside = graph.node("And", [graph.node("GreaterOrEqual", [name, graph.constant([[0.0]])]),
                                graph.node("Less", [name, graph.constant([[float(len(lookup))]])])])
    known = graph.node("And", [inside, graph.node("Equal", [graph.node("Floor", [name]), name])])
    at = graph.node("Cast", [graph.node("Where", [known, name, graph.constant([[0.0]])])],
                    to=graph.onnx.TensorProto.INT64)
    found = graph.node("Gather", [graph.constant(lookup.astype(np.int64)), at])
    index = graph.node("Where", [known, found, graph.constant(np.array([[unseen]], np.int64))])
    return graph.node("Where", [graph.node("IsNaN", [name]), graph.constant(np.array([[mode]], np.int64)), index])


def probe_rows(table_model) -> dict:
    """A few raw rows made from the model's own metadata, gaps and an unseen category included:
    a column of numbers as floats, of text as strings (shape (n, 1) each)."""
    columns = {}
    for spec in table_model.preprocessing.columns:
        if spec["kind"] == "numeric":
            mean, std = spec["mean"], spec["std"]
            columns[spec["name"]] = [spec["median"], mean, mean + std, float("nan"), mean - std]
        elif spec.get("codes"):
            known = [float(c) for c in spec["categories"] if is_code(c)]
            columns[spec["name"]] = known[:3] + [float("nan"), known[-1] + 1] + known[-2:]
        else:
            known = [c for c in spec["categories"] if c != "(other)"][:3]
            columns[spec["name"]] = (known + ["", "an unseen category", "NA"] + known * 2)[:5]
    return _feeds(table_model, columns)


def hostile_rows(table_model) -> dict:
    """Rows of cells spelled as users' files spell them: categories with spaces (tabs, no-break
    spaces) around them and in other letter cases, missing tokens in any case and spacing, the
    text ``None``, empty and blank cells; numbers that are NaN, infinite or huge."""
    columns, na = {}, list(table_model.text_format.na_values)
    for spec in table_model.preprocessing.columns:
        if spec["kind"] == "numeric":
            columns[spec["name"]] = [float("inf"), -float("inf"), float("nan"), spec["median"], 1e30, -1e30,
                                     spec["mean"] + 3 * spec["std"]]
            continue
        if spec.get("codes"):
            known = [float(c) for c in spec["categories"] if is_code(c)]
            columns[spec["name"]] = known[:4] + [k + 0.5 for k in known[:2]] + [0.0, -1.0, float("inf"),
                                                                                 -float("inf"), float("nan"), 1e30]
            continue
        known = [c for c in spec["categories"] if c != "(other)"][:4]
        spaced = [f" {c}" for c in known] + [f"{c} " for c in known] + [f"\t{c}\u00a0" for c in known]
        cased = [c.upper() for c in known] + [c.lower() for c in known] + [c.title() for c in known]
        tokens = ["NA", " na ", "N/a", "NULL", "nan", "NaN ", "", "   ", "None", "none", "?", " - ", "\u3000NA"]
        tokens += [t.upper() for t in na] + [f" {t.title()} " for t in na]
        columns[spec["name"]] = spaced + cased + tokens + ["an unseen category"]
    return _feeds(table_model, columns)


def _feeds(table_model, columns: dict) -> dict:
    """Columns of cells as the graph's inputs, all cycled to the longest column's length."""
    n = max(len(cells) for cells in columns.values())
    kinds = {spec["name"]: "numeric" if spec.get("codes") else spec["kind"]
             for spec in table_model.preprocessing.columns}
    feeds = {}
    for name, cells in columns.items():
        cells = [cells[i % len(cells)] for i in range(n)]
        feeds[name] = np.array(cells, dtype=table_model.network.dtype if kinds[name] == "numeric" else object)
        feeds[name] = feeds[name].reshape(-1, 1)
    return feeds


def rows_of_file(table_model, source, rows: int = 2000) -> dict:
    """Up to ``rows`` rows of a table file as the graph's inputs: text cells as written, numbers
    as read (NaN for gaps and for text in a numeric column), a date column's days (NaN for a cell
    that is no date, and for a date in a column of numbers: as docs/onnx.md's recipe reads them)."""
    from ..tables.readers import stream_table

    chunk = next(iter(stream_table(source, rows=rows, fmt=table_model.text_format)))
    feeds = {}
    for spec in table_model.preprocessing.columns:
        chunk.require(spec["name"])
        if spec["kind"] == "numeric" or spec.get("codes"):
            column = chunk.column(spec["name"])
            numbers = np.where(date_cells(column) != bool(spec.get("date")), np.nan, column.numbers)
            feeds[spec["name"]] = numbers.astype(table_model.network.dtype).reshape(-1, 1)
        else:
            cells = ["" if cell is None else str(cell) for cell in chunk.raw(spec["name"]).to_pylist()]
            feeds[spec["name"]] = np.array(cells, dtype=object).reshape(-1, 1)
    return feeds


def check_against_predict(proto, table_model, feeds: dict, what: str) -> None:
    """Run the graph on ``feeds`` and compare with ``table_model``'s predictions on the same cells
    (a date column's days written as ISO dates for ``predict``, and read back for the graph);
    ValueError saying where they differ."""
    from ..tables.csv_source import pyarrow

    pa, _ = pyarrow()
    dated = {spec["name"] for spec in table_model.preprocessing.columns if spec.get("date")}
    cells, feeds = {}, dict(feeds)
    for name, values in feeds.items():
        if name in dated:
            cells[name] = date_texts(values[:, 0])
            feeds[name] = days_of_dates(cells[name]).astype(values.dtype).reshape(-1, 1)
        else:
            cells[name] = pa.array(values[:, 0].tolist(), type=pa.string() if values.dtype == object else pa.float64())
    frame = pa.table(cells)
    got = run_graph(proto, feeds)
    network = table_model.network
    with warnings.catch_warnings():     # (unseen categories in the sample: both sides meet them alike)
        warnings.simplefilter("ignore", UserWarning)
        expected = table_model.predict(frame)
        proba = table_model.predict_proba(frame) if network.task_.is_classifier else None
    compare(got, expected, proba, network.dtype, what)
