"""The network, and the command line's preprocessing, as one ONNX graph.

:func:`to_onnx` writes a trained :class:`~backpropagation.NeuralNetwork` with standard operators
only (opset :data:`OPSET`): a ``Gemm`` (or ``MatMul`` without biases) per layer and each
built-in activation; regression outputs ``values`` in the targets' own units, classification
``label`` (the original labels) and ``probabilities`` (columns ordered like ``classes_``).
:func:`export_table_model` puts the command line's preprocessing in front: one input per raw
column (numbers as floats with NaN for gaps, text as strings), gaps filled as in training,
standardisation, one-hot encoding with unseen categories as zeros. Needs the ``onnx`` extra.
"""

from __future__ import annotations

import itertools

import numpy as np

from ..tables.csv_source import MISSING

#: The ONNX opset the graphs use (ai.onnx.ml 3 for the string lookups).
OPSET = 17
#: Activations by class name: (ONNX operator, attribute names read from the activation).
#: (ONNX's LeakyRelu and Elu take alpha as a float32 attribute, and onnxruntime has no double
#: Elu: those three are written out with constants of the graph's dtype.)
ACTIVATIONS = {"ReLU": "Relu", "Sigmoid": "Sigmoid", "Tanh": "Tanh", "Linear": None, "Softmax": "Softmax",
               "LeakyReLU": "LeakyReLU", "ELU": "ELU", "Softplus": "Softplus", "Swish": "Swish"}


def _onnx():
    try:
        import onnx
    except ImportError:
        raise ImportError("ONNX export needs onnx: pip install \"backpropagation[onnx]\"") from None
    return onnx


class _Graph:
    """Nodes and constants of a graph under construction, with fresh names."""

    def __init__(self, dtype) -> None:
        self.onnx = _onnx()
        self.dtype = np.dtype(dtype)
        self.elem = self.onnx.helper.np_dtype_to_tensor_dtype(self.dtype)
        self.nodes, self.constants, self.count = [], [], itertools.count()

    def name(self, stem: str) -> str:
        return f"{stem}_{next(self.count)}"

    def constant(self, value, stem: str = "c") -> str:
        array = np.asarray(value)
        array = array.astype(self.dtype) if array.dtype.kind == "f" else array
        name = self.name(stem)
        self.constants.append(self.onnx.numpy_helper.from_array(array, name))
        return name

    def node(self, op: str, inputs: list[str], domain: str = "", **attributes) -> str:
        out = self.name(op.lower())
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [out], domain=domain, **attributes))
        return out


def _activation(graph: _Graph, layer, x: str) -> str:
    kind = type(layer.activation).__name__
    if kind not in ACTIVATIONS:
        raise ValueError(f"ONNX export: the activation {kind} is not a built-in one; only built-in "
                         f"activations ({', '.join(ACTIVATIONS)}) have an ONNX form")
    op = ACTIVATIONS[kind]
    if op is None:
        return x
    if op == "Swish":                                          # x · σ(x)
        return graph.node("Mul", [x, graph.node("Sigmoid", [x])])
    if op == "Softmax":
        return graph.node("Softmax", [x], axis=-1)
    positive = graph.node("Greater", [x, graph.constant(0.0)])
    if op == "LeakyReLU":                                      # x > 0 ? x : α x
        return graph.node("Where", [positive, x, graph.node("Mul", [x, graph.constant(layer.activation.alpha)])])
    if op == "ELU":                                            # x > 0 ? x : α (eˣ - 1)
        below = graph.node("Sub", [graph.node("Exp", [graph.node("Min", [x, graph.constant(0.0)])]),
                                   graph.constant(1.0)])
        return graph.node("Where", [positive, x, graph.node("Mul", [below, graph.constant(layer.activation.alpha)])])
    if op == "Softplus":                                       # max(x, 0) + log(1 + e^-|x|), stable
        tail = graph.node("Log", [graph.node("Add", [graph.constant(1.0), graph.node(
            "Exp", [graph.node("Neg", [graph.node("Abs", [x])])])])])
        return graph.node("Add", [graph.node("Relu", [x]), tail])
    return graph.node(op, [x])


def _embedded(graph: _Graph, model, x: str) -> str:
    """``x`` with each code column replaced by its embedding row (a Gather on the table)."""
    pieces = []
    for column, embedding, _ in model.embedded_input.pieces:
        part = graph.node("Slice", [x, graph.constant(np.array([column], np.int64)),
                                    graph.constant(np.array([column + 1], np.int64)),
                                    graph.constant(np.array([1], np.int64))])
        if embedding is not None:
            codes = graph.node("Cast", [graph.node("Squeeze", [part, graph.constant(np.array([1], np.int64))])],
                               to=graph.onnx.TensorProto.INT64)
            part = graph.node("Gather", [graph.constant(embedding.E, "E"), codes], axis=0)
        pieces.append(part)
    return graph.node("Concat", pieces, axis=1)


def network_outputs(graph: _Graph, model, x: str) -> list:
    """Append ``model``'s layers to ``graph`` from the tensor ``x``; the graph's output values."""
    helper = graph.onnx.helper
    if model.embedded_input is not None:
        x = _embedded(graph, model, x)
    for layer in model.layers:
        W = graph.constant(layer.W, "W")
        x = graph.node("Gemm", [x, W, graph.constant(layer.b, "b")]) if layer.b is not None else \
            graph.node("MatMul", [x, W])
        x = _activation(graph, layer, x)
    head = model.head
    if not head.is_classifier:
        if getattr(head, "target_mean_", None) is not None:   # back to the targets' units
            x = graph.node("Add", [graph.node("Mul", [x, graph.constant(head.target_scale_)]),
                                   graph.constant(head.target_mean_)])
        graph.nodes.append(helper.make_node("Identity", [x], ["values"]))
        return [helper.make_tensor_value_info("values", graph.elem, [None, model.layer_sizes[-1]])]
    if model.layer_sizes[-1] == 1:                             # sigmoid: [1 - p, p]
        x = graph.node("Concat", [graph.node("Sub", [graph.constant([[1.0]]), x]), x], axis=1)
    graph.nodes.append(helper.make_node("Identity", [x], ["probabilities"]))
    index = graph.node("ArgMax", ["probabilities"], axis=1, keepdims=0)
    classes = model.classes_
    labels = classes.astype(object) if classes.dtype.kind in "USO" else classes
    graph.nodes.append(helper.make_node("Gather", [graph.constant(labels, "classes"), index], ["label"], axis=0))
    label_type = graph.onnx.TensorProto.STRING if classes.dtype.kind in "USO" else \
        helper.np_dtype_to_tensor_dtype(classes.dtype)
    return [helper.make_tensor_value_info("label", label_type, [None]),
            helper.make_tensor_value_info("probabilities", graph.elem, [None, len(classes)])]


def _model(graph: _Graph, inputs: list, outputs: list, path=None):
    onnx = graph.onnx
    helper = onnx.helper
    model = helper.make_model(helper.make_graph(graph.nodes, "backpropagation", inputs, outputs, graph.constants),
                              opset_imports=[helper.make_opsetid("", OPSET), helper.make_opsetid("ai.onnx.ml", 3)],
                              producer_name="backpropagation")
    onnx.checker.check_model(model, full_check=True)
    if path is not None:
        from ..files import write_atomically

        write_atomically(path, lambda handle: handle.write(model.SerializeToString()))
    return model


def to_onnx(model, path=None, dtype=None):
    """``model`` (trained) as an ONNX ``ModelProto``, written to ``path`` when given.

    The input is ``X`` (rows of ``n_features`` numbers of the model's dtype, or ``dtype``); a
    model fitted on a DataFrame takes one input per column instead, named as the column, of
    shape ``(rows, 1)``. Custom building blocks have no ONNX form and are refused, naming the block.
    """
    if model.head.is_classifier and not model.head.fitted:
        raise ValueError("ONNX export: fit the classifier first (its labels go into the graph)")
    graph = _Graph(dtype or model.dtype)
    helper, names = graph.onnx.helper, model.feature_names_in_
    if names is None:
        inputs, x = [helper.make_tensor_value_info("X", graph.elem, [None, model.layer_sizes[0]])], "X"
    else:
        inputs = [helper.make_tensor_value_info(str(name), graph.elem, [None, 1]) for name in names]
        x = graph.node("Concat", [str(name) for name in names], axis=1)
    outputs = network_outputs(graph, model, x)
    return _model(graph, inputs, outputs, path)


def _missing_spellings(na_values) -> list[str]:
    """Every upper/lower-case spelling of the tokens read as missing in a text column."""
    tokens = set(MISSING) | set(na_values)
    return sorted({"".join(letters) for token in tokens
                   for letters in itertools.product(*[(c.lower(), c.upper()) for c in token])})


def export_table_model(table_model, path=None):
    """A model written by ``backprop train`` (a :class:`~backpropagation.tables.table_model.TableModel`)
    with its preprocessing in front: one input per raw column, named as the column. Before
    ``path`` is written, the graph is run on rows made from the model's metadata (gaps and an
    unseen category included) and compared with ``predict``: a mismatch writes nothing."""
    model = _table_graph(table_model)
    check_against_predict(model, table_model)
    if path is not None:
        from ..files import write_atomically

        write_atomically(path, lambda handle: handle.write(model.SerializeToString()))
    return model


def _table_graph(table_model):
    """The graph of :func:`export_table_model`, checked by ``onnx.checker``, not yet compared."""
    graph = _Graph(table_model.network.dtype)
    helper, features, inputs = graph.onnx.helper, [], []
    for spec in table_model.preprocessing.columns:
        name = spec["name"]
        if spec["kind"] == "numeric":
            inputs.append(helper.make_tensor_value_info(name, graph.elem, [None, 1]))
            filled = graph.node("Where", [graph.node("IsNaN", [name]), graph.constant([[spec["median"]]]), name])
            features.append(graph.node("Div", [graph.node("Sub", [filled, graph.constant([[spec["mean"]]])]),
                                               graph.constant([[spec["std"]]])]))
            continue
        inputs.append(helper.make_tensor_value_info(name, graph.onnx.TensorProto.STRING, [None, 1]))
        categories = spec["categories"][:-1] if spec.get("other") else spec["categories"]
        depth, mode = len(spec["categories"]), spec["categories"].index(spec["mode"])
        missing = [token for token in _missing_spellings(table_model.text_format.na_values) if token not in categories]
        # Unseen categories take the index ``depth`` (all zeros: ONNX OneHot wraps negative ones),
        # or the '(other)' level's; missing spellings the mode's.
        index = graph.node("LabelEncoder", [name], domain="ai.onnx.ml",
                           keys_strings=categories + missing,
                           values_int64s=list(range(len(categories))) + [mode] * len(missing),
                           default_int64=len(categories) if spec.get("other") else depth)
        if "embed" in spec:              # the code itself: the network's Gather looks it up
            features.append(graph.node("Cast", [index], to=graph.elem))
            continue
        hot = graph.node("OneHot", [index, graph.constant(np.array(depth, np.int64)),
                                    graph.constant(np.array([0, 1], np.int64))], axis=-1)   # (int64: every runtime)
        squeezed = graph.node("Squeeze", [hot, graph.constant(np.array([1], np.int64))])
        features.append(graph.node("Cast", [squeezed], to=graph.elem))
    x = graph.node("Concat", features, axis=1)
    outputs = network_outputs(graph, table_model.network, x)
    pre = table_model.preprocessing
    if not table_model.network.head.is_classifier and pre.target_kind == "numeric" and pre.scales_target:
        # (the command line standardised the target itself: undo it after the network's output)
        last = graph.nodes.pop()
        scaled = graph.node("Mul", [last.input[0], graph.constant([[pre.target_std]])])
        graph.nodes.append(helper.make_node("Add", [scaled, graph.constant([[pre.target_mean]])], ["values"]))
    return _model(graph, inputs, outputs)


def probe_rows(table_model) -> dict:
    """A few raw rows made from the model's own metadata, gaps and an unseen category included:
    a column of numbers as floats, of text as strings (shape (n, 1) each)."""
    columns = {}
    for spec in table_model.preprocessing.columns:
        if spec["kind"] == "numeric":
            mean, std = spec["mean"], spec["std"]
            values = [spec["median"], mean, mean + std, float("nan"), mean - std]
            columns[spec["name"]] = np.array(values, dtype=table_model.network.dtype).reshape(-1, 1)
        else:
            known = [c for c in spec["categories"] if c != "(other)"][:3]
            values = (known + ["", "an unseen category", "NA"] + known * 2)[:5]
            columns[spec["name"]] = np.array(values, dtype=object).reshape(-1, 1)
    return columns


def check_against_predict(model_proto, table_model, rows: dict | None = None) -> None:
    """Run the graph on ``rows`` (default :func:`probe_rows`) with ONNX's reference evaluator and
    compare with ``table_model``'s predictions; ValueError saying where they differ."""
    from onnx.reference import ReferenceEvaluator

    from ..tables.csv_source import pyarrow

    rows = probe_rows(table_model) if rows is None else rows
    pa, _ = pyarrow()
    frame = pa.table({name: pa.array([None if isinstance(v, float) and np.isnan(v) else v
                                      for v in values[:, 0].tolist()]) for name, values in rows.items()})
    got = ReferenceEvaluator(model_proto).run(None, rows)
    network = table_model.network
    if network.head.is_classifier:
        expected_labels, expected = table_model.predict(frame), table_model.predict_proba(frame)
        if got[0].tolist() != expected_labels.tolist():
            raise ValueError(f"ONNX export: the graph's labels {got[0].tolist()} differ from predict's "
                             f"{expected_labels.tolist()} on rows made from the model's metadata; nothing written")
        got = got[1]
    else:
        expected, got = np.asarray(table_model.predict(frame)).reshape(len(got[0]), -1), got[0]
    tolerance = 1e-9 if network.dtype == np.float64 else 1e-4
    if not np.allclose(got, expected, rtol=tolerance, atol=tolerance):
        raise ValueError(f"ONNX export: the graph's outputs differ from predict's by up to "
                         f"{np.max(np.abs(got - expected)):.3g} on rows made from the model's metadata; "
                         "nothing written")
